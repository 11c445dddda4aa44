// Commands over a fake transport: dispatch to handlers, replies and their codes (1101 no handler,
// 1102 handler failed, 1220 malformed), RRPC, raw, async responders, handlers that make requests.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <algorithm>
#include <future>
#include <stdexcept>
#include <thread>

using namespace enos::device;
using namespace enos::test;

namespace {

std::string command_json(const std::string& id, const std::string& method, const std::string& params) {
    return R"({"id":")" + id + R"(","version":"1.0","method":")" + method + R"(","params":)" + params + "}";
}

/// The reply the client published on `topic` (waits for it).
Reply reply_on(ClientRig& rig, const std::string& topic, std::size_t nth = 0) {
    auto message = rig.broker->wait_for_topic(topic, nth);
    REQUIRE(message);
    CHECK(message->qos == 0);
    auto reply = decode_reply(message->payload);
    REQUIRE(reply);
    return *reply;
}

/// Commands as handlers saw them. Catch2 assertions are not thread-safe, so handlers (on the
/// dispatcher thread) only record; the test thread checks.
struct Seen {
    std::mutex mutex;
    std::vector<Command> commands;
    std::vector<std::thread::id> threads;
    void add(const Command& c) {
        std::lock_guard lock(mutex);
        commands.push_back(c);
        threads.push_back(std::this_thread::get_id());
    }
    std::vector<Command> all() {
        std::lock_guard lock(mutex);
        return commands;
    }
};

const std::string service_topic = "/sys/pk/dk/thing/service/setPower";
const std::string service_reply = "/sys/pk/dk/thing/service/setPower_reply";

} // namespace

TEST_CASE("commands: the client subscribes every command topic after connecting", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto subs = rig.broker->subscriptions();
    REQUIRE_FALSE(subs.empty());
    const std::vector<std::string> expected = {"/sys/pk/dk/thing/service/+",
                                               "/sys/pk/dk/thing/service/measurepoint/set",
                                               "/sys/pk/dk/thing/service/measurepoint/get",
                                               "/sys/pk/dk/rrpc/request/+",
                                               "/sys/pk/dk/thing/model/down_raw",
                                               "/ext/session/pk/dk/combine/enable",
                                               "/ext/session/pk/dk/combine/disable",
                                               "/ext/session/pk/dk/combine/delete",
                                               "/sys/pk/dk/thing/enable",
                                               "/sys/pk/dk/thing/disable",
                                               "/sys/pk/dk/thing/delete",
                                               "/sys/pk/dk/ota/device/upgrade",
                                               "/sys/pk/dk/traffic/control"};
    for (const std::string& topic : expected) {
        INFO(topic);
        CHECK(std::count(subs[0].begin(), subs[0].end(), topic) == 1); // in the SUBSCRIBE of the connect
    }
}

TEST_CASE("commands: a service handler's result becomes the reply", "[unit][client]") {
    Seen seen; // outlives the client, whose handlers write to it
    ClientRig rig;
    rig.client.on_service("setPower", [&](const ServiceCall& call) {
        seen.add(call);
        return CommandReply::ok(Value::object({{"result", 1}}));
    });
    REQUIRE(rig.client.connect());
    rig.broker->deliver(service_topic, command_json("5003", "thing.service.setPower", R"({"Power":"on"})"));
    Reply reply = reply_on(rig, service_reply);
    CHECK(reply.id == "5003");
    CHECK(reply.code == 200);
    CHECK(reply.data_json == R"({"result":1})");
    REQUIRE(seen.all().size() == 1);
    const Command call = seen.all()[0];
    CHECK(call.kind == CommandKind::service);
    CHECK(call.service_id == "setPower");
    CHECK(call.product_key == "pk");
    CHECK(call.device_key == "dk");
    CHECK(call.topic == service_topic);
    auto params = call.params();
    REQUIRE(params);
    CHECK(params->find("Power")->as_string() == "on");
    CHECK(seen.threads[0] != std::this_thread::get_id()); // the dispatcher, not the transport's thread
    // The echo of our own reply through the thing/service/+ subscription is not a command.
    rig.broker->deliver(service_reply, reply_json("5003"));
    REQUIRE(eventually([&] { return rig.client.stats().commands_replied == 1; }));
    auto stats = rig.client.stats();
    CHECK(stats.commands_received == 1);
    CHECK(stats.messages_ignored == 0);
}

TEST_CASE("commands: default replies 1101 and 1102", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());

    SECTION("no handler") {
        rig.broker->deliver(service_topic, command_json("1", "thing.service.setPower", "{}"));
        Reply reply = reply_on(rig, service_reply);
        CHECK(reply.code == 1101);
        CHECK(reply.message == "downstream command handler not registered");
        CHECK(eventually([&] { return rig.client.stats().commands_unhandled == 1; }));
    }
    SECTION("handler throws") {
        rig.client.on_service(
            "setPower", [](const ServiceCall&) -> CommandReply { throw std::runtime_error("relay stuck"); });
        rig.broker->deliver(service_topic, command_json("2", "thing.service.setPower", "{}"));
        Reply reply = reply_on(rig, service_reply);
        CHECK(reply.code == 1102);
        CHECK(reply.message == "command handler execution failed, relay stuck");
    }
    SECTION("handler returns an error") {
        rig.client.on_service("setPower", [](const ServiceCall&) -> CommandReply {
            return Error{errc::invalid_argument, "power must be on or off"};
        });
        rig.broker->deliver(service_topic, command_json("3", "thing.service.setPower", "{}"));
        Reply reply = reply_on(rig, service_reply);
        CHECK(reply.code == 1102);
        CHECK(reply.message.find("power must be on or off") != std::string::npos);
    }
    SECTION("handler answers with invalid JSON data") {
        rig.client.on_service("setPower", [](const ServiceCall&) { return CommandReply::ok_json("{oops"); });
        rig.broker->deliver(service_topic, command_json("4", "thing.service.setPower", "{}"));
        CHECK(reply_on(rig, service_reply).code == 1102);
    }
    SECTION("application-defined failure") {
        rig.client.on_service("setPower",
                              [](const ServiceCall&) { return CommandReply::error(2001, "busy"); });
        rig.broker->deliver(service_topic, command_json("5", "thing.service.setPower", "{}"));
        Reply reply = reply_on(rig, service_reply);
        CHECK(reply.code == 2001);
        CHECK(reply.message == "busy");
    }
}

TEST_CASE("commands: the catch-all service handler takes services without their own", "[unit][client]") {
    ClientRig rig;
    rig.client.on_service("setPower", [](const ServiceCall&) { return CommandReply::ok_json(R"("own")"); });
    rig.client.on_service(std::string(any_service),
                          [](const ServiceCall& c) { return CommandReply::ok(Value(c.service_id)); });
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/thing/service/reboot", command_json("1", "thing.service.reboot", "{}"));
    rig.broker->deliver(service_topic, command_json("2", "thing.service.setPower", "{}"));
    CHECK(reply_on(rig, "/sys/pk/dk/thing/service/reboot_reply").data_json == R"("reboot")");
    CHECK(reply_on(rig, service_reply).data_json == R"("own")");
}

TEST_CASE("commands: RRPC answers on rrpc/response/{messageId}, falling back to the service handler",
          "[unit][client]") {
    Seen seen; // outlives the client, whose handlers write to it
    ClientRig rig;
    rig.client.on_service("echo", [&](const ServiceCall& c) {
        seen.add(c);
        return CommandReply::ok_json(c.params_json);
    });
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/rrpc/request/m42",
                        command_json("77", "thing.service.echo", R"({"a":[1,2]})"));
    Reply reply = reply_on(rig, "/sys/pk/dk/rrpc/response/m42");
    CHECK(reply.id == "77");
    CHECK(reply.code == 200);
    CHECK(reply.data_json == R"({"a":[1,2]})");
    REQUIRE(seen.all().size() == 1);
    CHECK(seen.all()[0].kind == CommandKind::rrpc);
    CHECK(seen.all()[0].message_id == "m42");
    CHECK(seen.all()[0].service_id == "echo");

    rig.client.on_rrpc([](const RrpcCall&) { return CommandReply::ok_json(R"("rrpc")"); });
    rig.broker->deliver("/sys/pk/dk/rrpc/request/m43", command_json("78", "thing.service.echo", "{}"));
    CHECK(reply_on(rig, "/sys/pk/dk/rrpc/response/m43").data_json == R"("rrpc")");
}

TEST_CASE("commands: every other command kind reaches its handler and is answered on its reply topic",
          "[unit][client]") {
    struct Case {
        CommandKind kind;
        std::string topic, reply_topic, method, params;
    };
    const std::vector<Case> cases = {
        {CommandKind::measurepoint_set, "/sys/pk/dk/thing/service/measurepoint/set",
         "/sys/pk/dk/thing/service/measurepoint/set_reply", "thing.service.measurepoint.set",
         R"({"temp":30.5})"},
        {CommandKind::measurepoint_get, "/sys/pk/dk/thing/service/measurepoint/get",
         "/sys/pk/dk/thing/service/measurepoint/get_reply", "thing.service.measurepoint.get", R"(["temp"])"},
        {CommandKind::traffic_control, "/sys/pk/dk/traffic/control", "/sys/pk/dk/traffic/control_reply",
         "traffic.control", R"({"rate":5})"},
        {CommandKind::device_enable, "/sys/pk/dk/thing/enable", "/sys/pk/dk/thing/enable_reply",
         "thing.enable", "{}"},
        {CommandKind::device_disable, "/sys/pk/dk/thing/disable", "/sys/pk/dk/thing/disable_reply",
         "thing.disable", "{}"},
        {CommandKind::device_delete, "/sys/pk/dk/thing/delete", "/sys/pk/dk/thing/delete_reply",
         "thing.delete", "{}"},
        {CommandKind::ota_upgrade, "/sys/pk/dk/ota/device/upgrade", "/sys/pk/dk/ota/device/upgrade_reply",
         "ota.device.upgrade", R"({"version":"1.1.0","fileUrl":"/fw","fileSize":1024})"},
        {CommandKind::sub_device_enable, "/ext/session/pk/dk/combine/enable",
         "/ext/session/pk/dk/combine/enable_reply", "combine.enable",
         R"([{"productKey":"s","deviceKey":"d"}])"},
        {CommandKind::sub_device_disable, "/ext/session/pk/dk/combine/disable",
         "/ext/session/pk/dk/combine/disable_reply", "combine.disable",
         R"([{"productKey":"s","deviceKey":"d"}])"},
        {CommandKind::sub_device_delete, "/ext/session/pk/dk/combine/delete",
         "/ext/session/pk/dk/combine/delete_reply", "combine.delete",
         R"([{"productKey":"s","deviceKey":"d"}])"},
    };
    Seen seen; // outlives the client, whose handlers write to it
    ClientRig rig;
    for (const Case& c : cases) {
        rig.client.on_command(c.kind, [&](const Command& command) {
            seen.add(command);
            return CommandReply::ok_json(R"({"kind":")" + std::string(to_string(command.kind)) + R"("})");
        });
    }
    REQUIRE(rig.client.connect());
    for (std::size_t i = 0; i < cases.size(); ++i)
        rig.broker->deliver(cases[i].topic,
                            command_json(std::to_string(100 + i), cases[i].method, cases[i].params));
    for (std::size_t i = 0; i < cases.size(); ++i) {
        Reply reply = reply_on(rig, cases[i].reply_topic);
        CHECK(reply.id == std::to_string(100 + i));
        CHECK(reply.code == 200);
        CHECK(reply.data_json == R"({"kind":")" + std::string(to_string(cases[i].kind)) + R"("})");
    }
    auto commands = seen.all();
    REQUIRE(commands.size() == cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        CHECK(commands[i].kind == cases[i].kind);
        CHECK(commands[i].method == cases[i].method);
        CHECK(commands[i].params_json == cases[i].params);
    }
}

TEST_CASE("commands: raw down gets the handler's bytes back, without a handler nothing is sent",
          "[unit][client]") {
    Seen seen;
    ClientRig rig;
    REQUIRE(rig.client.connect());
    const std::string bytes("\x11\x00\x04\xd2", 4);
    rig.broker->deliver("/sys/pk/dk/thing/model/down_raw", bytes);
    REQUIRE(eventually([&] { return rig.client.stats().commands_unhandled == 1; }));

    rig.client.on_command(CommandKind::raw_down, [&](const Command& c) {
        seen.add(c);
        return CommandReply::bytes(std::string("\xc8\x00", 2));
    });
    rig.broker->deliver("/sys/pk/dk/thing/model/down_raw", bytes);
    auto reply = rig.broker->wait_for_topic("/sys/pk/dk/thing/model/down_raw_reply");
    REQUIRE(reply);
    CHECK(reply->payload == std::string("\xc8\x00", 2));
    CHECK(FakeBroker::count_on(rig.broker->published(), "/sys/pk/dk/thing/model/down_raw_reply") == 1);
    REQUIRE(seen.all().size() == 1);
    CHECK(seen.all()[0].payload == bytes);
    CHECK(seen.all()[0].id.empty());
}

TEST_CASE("commands: malformed commands are answered when an id is readable, else counted, the client stays "
          "healthy",
          "[unit][client]") {
    ClientRig rig;
    rig.client.on_service("setPower", [](const ServiceCall&) { return CommandReply::ok(); });
    REQUIRE(rig.client.connect());

    rig.broker->deliver(service_topic, R"({"id":"7","params":{}})"); // no method
    Reply reply = reply_on(rig, service_reply);
    CHECK(reply.id == "7");
    CHECK(reply.code == 1220);
    CHECK(reply.message.find("method") != std::string::npos);

    const std::vector<std::string> junk = {"",
                                           "{",
                                           "[]",
                                           "null",
                                           R"({"id":{}})",
                                           std::string("\xff\xfe\x00", 3),
                                           R"({"id":"8","method":5})",
                                           std::string(4096, '{')};
    for (int round = 0; round < 50; ++round)
        for (const std::string& j : junk)
            rig.broker->deliver(service_topic, j);
    rig.broker->deliver(service_topic, command_json("9", "thing.service.setPower", "{}"));
    REQUIRE(eventually([&] { return rig.client.stats().commands_replied == 52; }));
    CHECK(reply_on(rig, service_reply, 51).id == "9");
    auto stats = rig.client.stats();
    CHECK(stats.commands_malformed == 1 + 50 * junk.size());
    CHECK(rig.client.connected());
}

TEST_CASE("commands: an async responder answers later, exactly once", "[unit][client]") {
    ClientRig rig;
    auto handed_over = std::make_shared<std::promise<Responder>>();
    rig.client.on_service_async("longJob", [handed_over](const ServiceCall&, Responder responder) {
        handed_over->set_value(std::move(responder));
    });
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/thing/service/longJob",
                        command_json("11", "thing.service.longJob", "{}"));
    Responder responder = handed_over->get_future().get();
    CHECK(responder.pending());
    CHECK(responder.command().id == "11");
    CHECK(FakeBroker::count_on(rig.broker->published(), "/sys/pk/dk/thing/service/longJob_reply") == 0);
    bool answered = false;
    std::thread worker(
        [r = responder, &answered] { answered = r.reply(CommandReply::ok_json(R"({"done":true})")); });
    worker.join();
    CHECK(answered);
    CHECK_FALSE(responder.reply(CommandReply::ok()));
    CHECK_FALSE(responder.pending());
    Reply reply = reply_on(rig, "/sys/pk/dk/thing/service/longJob_reply");
    CHECK(reply.data_json == R"({"done":true})");
    responder = Responder{};
    CHECK(FakeBroker::count_on(rig.broker->published(), "/sys/pk/dk/thing/service/longJob_reply") == 1);
}

TEST_CASE("commands: a responder dropped without a reply answers 1102 \"no reply\"", "[unit][client]") {
    ClientRig rig;
    rig.client.on_service_async("forgetful", [](const ServiceCall&, Responder) {});
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/thing/service/forgetful",
                        command_json("12", "thing.service.forgetful", "{}"));
    Reply reply = reply_on(rig, "/sys/pk/dk/thing/service/forgetful_reply");
    CHECK(reply.code == 1102);
    CHECK(reply.message == "command handler execution failed, no reply");
    CHECK(eventually([&] { return rig.client.stats().commands_failed == 1; }));
}

TEST_CASE("commands: a handler may make a blocking request without deadlock", "[unit][client]") {
    ClientRig rig;
    rig.client.on_service("sync", [&](const ServiceCall&) {
        Result<Response> attrs = rig.client.send(up::AttributeQuery{{"name"}});
        if (!attrs) return CommandReply(attrs.error());
        return CommandReply::ok_json(attrs->data_json);
    });
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/thing/service/sync", command_json("13", "thing.service.sync", "{}"));
    auto query = rig.broker->wait_for_topic("/sys/pk/dk/thing/attribute/query");
    REQUIRE(query);
    rig.broker->deliver("/sys/pk/dk/thing/attribute/query_reply",
                        reply_json(request_id(*query), 200, R"({"name":"pump-01"})"));
    Reply reply = reply_on(rig, "/sys/pk/dk/thing/service/sync_reply");
    CHECK(reply.code == 200);
    CHECK(reply.data_json == R"({"name":"pump-01"})");
}

TEST_CASE("commands: destroying the client inside a handler is safe", "[unit][client]") {
    auto broker = std::make_shared<FakeBroker>();
    auto clock = std::make_shared<ManualClock>();
    auto client = std::make_unique<DeviceClient>(
        detail::create_client(ClientRig::default_options(), std::make_unique<FakeTransport>(broker), clock)
            .value());
    // Shared, so the handler may still be inside set_value() when the test ends.
    auto destroyed = std::make_shared<std::promise<void>>();
    client->on_service("selfDestruct", [&client, destroyed](const ServiceCall&) {
        client.reset();
        destroyed->set_value();
        return CommandReply::ok();
    });
    REQUIRE(client->connect());
    broker->deliver("/sys/pk/dk/thing/service/selfDestruct",
                    command_json("1", "thing.service.selfDestruct", "{}"));
    REQUIRE(destroyed->get_future().wait_for(5s) == std::future_status::ready);
    CHECK(broker->disconnects() >= 1);
}

TEST_CASE("commands: destroying the client while a handler runs is bounded", "[unit][client]") {
    auto options = ClientRig::default_options();
    options.shutdown_timeout = 200ms;
    auto release = std::make_shared<std::promise<void>>();
    auto started = std::make_shared<std::promise<void>>();
    {
        ClientRig rig(options);
        rig.client.on_service("stuck", [release, started](const ServiceCall&) {
            started->set_value();
            release->get_future().wait(); // longer than shutdown_timeout
            return CommandReply::ok();
        });
        REQUIRE(rig.client.connect());
        rig.broker->deliver("/sys/pk/dk/thing/service/stuck", command_json("1", "thing.service.stuck", "{}"));
        started->get_future().wait();
    } // returns after shutdown_timeout although the handler still runs
    release->set_value();
}
