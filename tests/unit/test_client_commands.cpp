// Commands over a fake transport: dispatch to handlers, replies and their codes (1101 no handler,
// 1102 handler failed, 1220 malformed), RRPC, raw, async responders, handlers that make requests.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
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

namespace {

/// Log lines of a client, kept for checks.
struct CapturedLog {
    std::mutex mutex;
    std::vector<std::string> lines;
    LogSink sink() {
        return [this](LogLevel level, std::string_view text) {
            std::lock_guard lock(mutex);
            lines.push_back(std::string(to_string(level)) + ": " + std::string(text));
        };
    }
    bool contains(const std::string& part) {
        std::lock_guard lock(mutex);
        return std::any_of(lines.begin(), lines.end(),
                           [&](const std::string& l) { return l.find(part) != std::string::npos; });
    }
};

ClientOptions logged_options(CapturedLog& log) {
    ClientOptions options = ClientRig::default_options();
    options.log_sink = log.sink();
    options.log_level = LogLevel::trace;
    return options;
}

/// A command whose params hold a string of `bytes` characters.
std::string command_of_size(const std::string& id, const std::string& method, std::size_t bytes) {
    return command_json(id, method, R"({"blob":")" + std::string(bytes, 'p') + "\"}");
}

} // namespace

TEST_CASE("commands: hostile commands with a readable id are answered with an error code, never handled",
          "[unit][client]") {
    struct Case {
        std::string name, topic, payload;
        int code;
        std::string reason; ///< part of the reply's message
    };
    const std::string deep = std::string(300, '[') + std::string(300, ']');
    const std::string sp = "/sys/pk/dk/thing/service/setPower";
    const std::string mp_set = "/sys/pk/dk/thing/service/measurepoint/set";
    const std::string mp_get = "/sys/pk/dk/thing/service/measurepoint/get";
    const std::vector<Case> cases = {
        {"too deep", sp, command_json("c1", "thing.service.setPower", deep), 1220, "deeper"},
        {"too deep before the id", sp,
         R"({"params":)" + deep + R"(,"id":"c2","method":"thing.service.setPower"})", 1220, "deeper"},
        {"invalid UTF-8", sp, command_json("c3", "thing.service.setPower", "{\"a\":\"\xc3\x28\"}"), 1220,
         "encoding"},
        {"too large", sp, command_of_size("c4", "thing.service.setPower", limits::max_payload_bytes), 1008,
         "too large"},
        {"too large, just", sp,
         command_of_size("c5", "thing.service.setPower",
                         limits::max_payload_bytes -
                             command_of_size("c5", "thing.service.setPower", 0).size()),
         1008, "too large"},
        {"method of another service", sp, command_json("c6", "thing.service.reboot", "{}"), 1260, "reboot"},
        {"service method on measurepoint set", mp_set, command_json("c7", "thing.service.setPower", "{}"),
         1260, "thing.service.measurepoint.set"},
        {"unknown method", "/sys/pk/dk/thing/enable", command_json("c8", "thing.explode", "{}"), 1260,
         "thing.enable"},
        {"rrpc without a service method", "/sys/pk/dk/rrpc/request/m1",
         command_json("c9", "combine.enable", "{}"), 1260, "service method"},
        {"measurepoint set with params 5", mp_set, command_json("c10", "thing.service.measurepoint.set", "5"),
         460, "object"},
        {"measurepoint set without params", mp_set,
         R"({"id":"c11","method":"thing.service.measurepoint.set"})", 460, "object"},
        {"measurepoint get with an object", mp_get,
         command_json("c12", "thing.service.measurepoint.get", "{}"), 460, "array"},
        {"service with an array", sp, command_json("c13", "thing.service.setPower", "[1]"), 460, "object"},
        {"sub-device notice with an object", "/ext/session/pk/dk/combine/enable",
         command_json("c14", "combine.enable", "{}"), 460, "array"},
    };
    std::atomic<int> handled{0};
    ClientRig rig;
    rig.client.on_service(std::string(any_service), [&](const ServiceCall&) {
        ++handled;
        return CommandReply::ok();
    });
    for (CommandKind kind : {CommandKind::measurepoint_set, CommandKind::measurepoint_get,
                             CommandKind::device_enable, CommandKind::sub_device_enable})
        rig.client.on_command(kind, [&](const Command&) {
            ++handled;
            return CommandReply::ok();
        });
    rig.client.on_rrpc([&](const RrpcCall&) {
        ++handled;
        return CommandReply::ok();
    });
    REQUIRE(rig.client.connect());
    std::map<std::string, std::size_t> seen_on; // replies so far per reply topic
    for (const Case& c : cases) {
        INFO(c.name);
        rig.broker->deliver(c.topic, c.payload);
        const std::string reply_topic =
            c.topic.find("/rrpc/") != std::string::npos ? "/sys/pk/dk/rrpc/response/m1" : c.topic + "_reply";
        Reply reply = reply_on(rig, reply_topic, seen_on[reply_topic]++);
        CHECK(reply.id == "c" + std::to_string(&c - cases.data() + 1));
        CHECK(reply.code == c.code);
        CHECK(reply.message.find(c.reason) != std::string::npos);
    }
    // The counter follows the publish, which the test may have seen first.
    CHECK(eventually([&] { return rig.client.stats().commands_replied == cases.size(); }));
    CHECK(rig.client.stats().commands_malformed == cases.size());
    CHECK(handled == 0);

    // The same commands done right reach the handlers.
    rig.broker->deliver(mp_set, command_json("ok1", "thing.service.measurepoint.set", R"({"t":1})"));
    rig.broker->deliver(sp, command_json("ok2", "thing.service.setPower", R"({"a":"\u00e9"})"));
    REQUIRE(eventually([&] { return handled == 2; }));
}

TEST_CASE("commands: hostile commands without a readable id are counted and logged without their contents",
          "[unit][client]") {
    CapturedLog log;
    ClientRig rig(logged_options(log));
    std::atomic<int> handled{0};
    rig.client.on_service("setPower", [&](const ServiceCall&) {
        ++handled;
        return CommandReply::ok();
    });
    REQUIRE(rig.client.connect());
    const std::vector<std::string> junk = {
        R"({"method":"thing.service.setPower","params":{"secretish":"Xyzzy-1"}})",
        "{\"id\":\"\xff\",\"params\":\"Xyzzy-2\"}",
        R"({"id":1.5,"params":"Xyzzy-3"})",
        R"({"params":")" + std::string(limits::max_payload_bytes, 'x') + R"(","id":"late"})",
        std::string(limits::max_payload_bytes * 2, '['),
    };
    for (const std::string& j : junk)
        rig.broker->deliver(service_topic, j);
    REQUIRE(eventually([&] { return rig.client.stats().commands_malformed == junk.size(); }));
    CHECK(rig.client.stats().commands_replied == 0);
    CHECK(FakeBroker::count_on(rig.broker->published(), service_reply) == 0);
    CHECK(handled == 0);
    CHECK(log.contains("no readable id, not answered"));
    CHECK_FALSE(log.contains("Xyzzy"));
    CHECK_FALSE(log.contains("xxxxxxxx"));
}

TEST_CASE("commands: a raw-down handler's reply of 10 MB is never published", "[unit][client]") {
    CapturedLog log;
    ClientRig rig(logged_options(log));
    std::atomic<std::size_t> reply_size{10 * 1024 * 1024};
    rig.client.on_command(CommandKind::raw_down, [&](const Command&) {
        return CommandReply::bytes(std::string(reply_size.load(), 'r'));
    });
    REQUIRE(rig.client.connect());
    const std::string raw_topic = "/sys/pk/dk/thing/model/down_raw";
    const std::string raw_reply = "/sys/pk/dk/thing/model/down_raw_reply";
    rig.broker->deliver(raw_topic, std::string("\x01\x02", 2));
    REQUIRE(eventually([&] { return rig.client.stats().commands_failed == 1; }));
    CHECK(FakeBroker::count_on(rig.broker->published(), raw_reply) == 0);
    CHECK(log.contains("error: reply to the raw command on " + raw_topic + " not sent"));
    CHECK(log.contains("10485760 bytes"));

    // Exactly at the limit is too large as well (a payload must be smaller); one byte less goes out.
    reply_size = limits::max_payload_bytes;
    rig.broker->deliver(raw_topic, std::string("\x03", 1));
    REQUIRE(eventually([&] { return rig.client.stats().commands_failed == 2; }));
    reply_size = limits::max_payload_bytes - 1;
    rig.broker->deliver(raw_topic, std::string("\x04", 1));
    auto sent = rig.broker->wait_for_topic(raw_reply);
    REQUIRE(sent);
    CHECK(sent->payload.size() == limits::max_payload_bytes - 1);
    CHECK(FakeBroker::count_on(rig.broker->published(), raw_reply) == 1);
    CHECK(eventually([&] { return rig.client.stats().commands_replied == 1; }));
}

TEST_CASE("commands: a handler reply of 512 KB or more is replaced by a 1102 failure", "[unit][client]") {
    CapturedLog log;
    ClientRig rig(logged_options(log));
    const std::string big = "\"" + std::string(limits::max_payload_bytes, 'd') + "\"";
    rig.client.on_service("dump", [&](const ServiceCall&) { return CommandReply::ok_json(big); });
    rig.client.on_rrpc([&](const RrpcCall&) { return CommandReply::ok_json(big); });
    rig.client.on_command(CommandKind::measurepoint_get,
                          [&](const Command&) { return CommandReply::ok_json(R"({"v":)" + big + "}"); });
    rig.client.on_command(CommandKind::measurepoint_set, [&](const Command&) {
        return CommandReply::error(2001, std::string(limits::max_payload_bytes, 'm'));
    });
    rig.client.on_service_async(
        "later", [&](const ServiceCall&, Responder r) { r.reply(CommandReply::ok_json(big)); });
    REQUIRE(rig.client.connect());
    const std::vector<std::pair<std::string, std::string>> commands = {
        {"/sys/pk/dk/thing/service/dump", command_json("1", "thing.service.dump", "{}")},
        {"/sys/pk/dk/rrpc/request/m9", command_json("2", "thing.service.dump", "{}")},
        {"/sys/pk/dk/thing/service/measurepoint/get",
         command_json("3", "thing.service.measurepoint.get", "[]")},
        {"/sys/pk/dk/thing/service/measurepoint/set",
         command_json("4", "thing.service.measurepoint.set", "{}")},
        {"/sys/pk/dk/thing/service/later", command_json("5", "thing.service.later", "{}")},
    };
    for (const auto& [topic, payload] : commands) {
        INFO(topic);
        rig.broker->deliver(topic, payload);
        const std::string reply_topic =
            topic.find("/rrpc/") != std::string::npos ? "/sys/pk/dk/rrpc/response/m9" : topic + "_reply";
        auto message = rig.broker->wait_for_topic(reply_topic);
        REQUIRE(message);
        CHECK(message->payload.size() < 1000);
        auto reply = decode_reply(message->payload);
        REQUIRE(reply);
        CHECK(reply->id == payload.substr(7, 1));
        CHECK(reply->code == 1102);
        CHECK(reply->message.find("its reply could not be encoded") != std::string::npos);
        CHECK(reply->message.find("bytes") != std::string::npos);
    }
    CHECK(rig.client.stats().commands_failed == commands.size());
    CHECK(log.contains("error: reply to the command on /sys/pk/dk/thing/service/dump (id '1') replaced by"));
}

TEST_CASE("commands: commands for other devices are ignored and counted, never handled", "[unit][client]") {
    std::atomic<int> handled{0};
    ClientRig rig;
    rig.client.on_service(std::string(any_service), [&](const ServiceCall& c) {
        ++handled;
        return CommandReply::ok_json("\"" + c.product_key + "/" + c.device_key + "\"");
    });
    rig.client.on_command(CommandKind::raw_down, [&](const Command&) {
        ++handled;
        return CommandReply::bytes("x");
    });
    REQUIRE(rig.client.connect());
    const std::vector<std::string> foreign = {
        "/sys/pk/other/thing/service/setPower", "/sys/otherPk/dk/thing/service/setPower",
        "/sys/otherPk/other/rrpc/request/m1",   "/sys/pk/other/thing/model/down_raw",
        "/ext/session/pk/other/combine/enable", "/ext/session/pk/other/thing/activate/info",
    };
    for (const std::string& topic : foreign)
        rig.broker->deliver(topic, command_json("f", "thing.service.setPower", "{}"));
    auto stats = rig.client.stats();
    CHECK(stats.messages_ignored == foreign.size()); // counted on delivery, before any queueing
    CHECK(stats.commands_received == 0);

    // A command for this device after them is handled: nothing of theirs was queued before it.
    rig.broker->deliver(service_topic, command_json("own", "thing.service.setPower", "{}"));
    Reply reply = reply_on(rig, service_reply);
    CHECK(reply.data_json == R"("pk/dk")");
    CHECK(handled == 1);
    CHECK(rig.broker->published().size() == 1);
}

/// Logs sub-device subPk/subDk in through the rig's gateway, the broker answering 200.
static void log_in_sub_device(ClientRig& rig) {
    up::SubDeviceLogin request;
    request.device.product_key = "subPk";
    request.device.device_key = "subDk";
    request.device.secret = "subSecret";
    auto login = std::async(std::launch::async, [&] { return rig.client.send(request); });
    auto sent = rig.broker->wait_for_topic("/ext/session/pk/dk/combine/login");
    REQUIRE(sent);
    rig.broker->deliver("/ext/session/pk/dk/combine/login_reply",
                        reply_json(request_id(*sent), 200, R"({"productKey":"subPk","deviceKey":"subDk"})"));
    REQUIRE(login.get());
}

TEST_CASE("commands: a sub-device logged in through the gateway gets its commands, until it logs out",
          "[unit][client]") {
    std::atomic<int> handled{0};
    ClientRig rig;
    rig.client.on_service("setPower", [&](const ServiceCall& c) {
        ++handled;
        return CommandReply::ok_json("\"" + c.product_key + "/" + c.device_key + "\"");
    });
    REQUIRE(rig.client.connect());
    const std::string sub_topic = "/sys/subPk/subDk/thing/service/setPower";
    const std::string sub_reply = sub_topic + "_reply";
    rig.broker->deliver(sub_topic, command_json("before", "thing.service.setPower", "{}"));
    CHECK(rig.client.stats().messages_ignored == 1);

    // Log in: the sub-device's commands are the gateway's to answer.
    log_in_sub_device(rig);
    rig.broker->deliver(sub_topic, command_json("during", "thing.service.setPower", "{}"));
    Reply reply = reply_on(rig, sub_reply);
    CHECK(reply.id == "during");
    CHECK(reply.data_json == R"("subPk/subDk")");

    // A forged (unmatched) login reply opens nothing.
    rig.broker->deliver("/ext/session/pk/dk/combine/login_reply",
                        reply_json("999", 200, R"({"productKey":"subPk","deviceKey":"forged"})"));
    rig.broker->deliver("/sys/subPk/forged/thing/service/setPower",
                        command_json("forged", "thing.service.setPower", "{}"));
    CHECK(rig.client.stats().messages_ignored == 2);

    // Log out: its commands are foreign again.
    auto logout = std::async(std::launch::async, [&] {
        return rig.client.send(up::SubDeviceLogout{"subPk", "subDk"});
    });
    auto sent = rig.broker->wait_for_topic("/ext/session/pk/dk/combine/logout");
    REQUIRE(sent);
    rig.broker->deliver("/ext/session/pk/dk/combine/logout_reply",
                        reply_json(request_id(*sent), 200, R"({"productKey":"subPk","deviceKey":"subDk"})"));
    REQUIRE(logout.get());
    rig.broker->deliver(sub_topic, command_json("after", "thing.service.setPower", "{}"));
    CHECK(rig.client.stats().messages_ignored == 3);
    CHECK(handled == 1);
}

TEST_CASE("commands: a sub-device's login subscribes its command topics before it completes",
          "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto subscribed = [&](const std::string& topic) {
        for (const auto& subscribe : rig.broker->subscriptions())
            if (std::find(subscribe.begin(), subscribe.end(), topic) != subscribe.end()) return true;
        return false;
    };
    CHECK_FALSE(subscribed("/sys/subPk/subDk/thing/service/measurepoint/set"));
    SECTION("granted") {}
    SECTION("refused: the login still succeeds") {
        rig.broker->refused_topics = {"/sys/subPk/subDk/thing/service/measurepoint/set"};
    }
    log_in_sub_device(rig); // returns once the login completed
    CHECK(subscribed("/sys/subPk/subDk/thing/service/measurepoint/set"));
    CHECK(subscribed("/sys/subPk/subDk/thing/service/+"));
    CHECK(subscribed("/sys/subPk/subDk/rrpc/request/+"));
    // Sub-device notices belong to the gateway's session topics, not the sub-device's.
    CHECK_FALSE(subscribed("/ext/session/subPk/subDk/combine/disable"));
}

TEST_CASE("commands: a sub-device's commands are foreign again once the gateway reconnected", "[unit][client]") {
    std::atomic<int> handled{0};
    ClientRig rig;
    rig.client.on_service("setPower", [&](const ServiceCall&) {
        ++handled;
        return CommandReply::ok();
    });
    REQUIRE(rig.client.connect());
    log_in_sub_device(rig);

    // The platform ends sub-device sessions with the gateway's link: a new link starts with none.
    rig.broker->lose_link("broker went away");
    REQUIRE(eventually([&] { return rig.client.state() == ConnectionState::waiting_retry; }));
    rig.advance(std::chrono::minutes(1));
    REQUIRE(rig.broker->wait_connects(2));
    REQUIRE(eventually([&] { return rig.client.connected(); }));
    rig.broker->deliver("/sys/subPk/subDk/thing/service/setPower",
                        command_json("after-reconnect", "thing.service.setPower", "{}"));
    CHECK(rig.client.stats().messages_ignored == 1);
    CHECK(handled == 0);
}

TEST_CASE("commands: replies with unknown ids are counted as unmatched and kept nowhere", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    constexpr int strays = 20000;
    for (int i = 0; i < strays; ++i)
        rig.broker->deliver("/sys/pk/dk/thing/measurepoint/post_reply",
                            reply_json("stray-" + std::to_string(i)));
    rig.broker->deliver("/sys/pk/dk/thing/measurepoint/post_reply", "{not json");
    auto stats = rig.client.stats();
    CHECK(stats.unmatched_replies == strays + 1);
    CHECK(stats.pending_requests == 0);
    CHECK(stats.replies_received == 0);

    // A real request still gets its own reply.
    auto posted = std::async(std::launch::async, [&] {
        return rig.client.send(up::MeasurepointPost{{{"temp", 1}}});
    });
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/thing/measurepoint/post");
    REQUIRE(sent);
    rig.broker->deliver("/sys/pk/dk/thing/measurepoint/post_reply", reply_json(request_id(*sent)));
    CHECK(posted.get());
    CHECK(rig.client.stats().unmatched_replies == strays + 1);
}

TEST_CASE("commands: commands waiting for a stuck handler are bounded, the excess is dropped and counted",
          "[unit][client]") {
    CapturedLog log;
    auto options = logged_options(log);
    options.shutdown_timeout = 200ms;
    auto started = std::make_shared<std::promise<void>>();
    auto release = std::make_shared<std::promise<void>>();
    auto release_future = std::make_shared<std::shared_future<void>>(release->get_future().share());
    std::atomic<int> handled{0};
    ClientRig rig(options);
    rig.client.on_service("slow", [&, started, release_future](const ServiceCall& c) {
        if (c.id == "0") {
            started->set_value();
            release_future->wait();
        }
        ++handled;
        return CommandReply::ok();
    });
    REQUIRE(rig.client.connect());
    const std::string topic = "/sys/pk/dk/thing/service/slow";
    rig.broker->deliver(topic, command_json("0", "thing.service.slow", "{}"));
    started->get_future().wait(); // the dispatcher is stuck from here on
    constexpr int flood = 100;
    const std::size_t size = 400 * 1024;
    for (int i = 1; i <= flood; ++i)
        rig.broker->deliver(topic, command_of_size(std::to_string(i), "thing.service.slow", size));
    auto stats = rig.client.stats();
    CHECK(stats.commands_received == flood + 1);
    // 16 MiB of 400 KiB commands: 40 wait, the other 60 are dropped.
    CHECK(stats.commands_dropped == 60);
    CHECK(log.contains("warn: commands dropped: more than 16777216 bytes"));
    release->set_value();
    REQUIRE(eventually([&] { return rig.client.stats().commands_replied == 41; }, 60s));
    CHECK(handled == 41);

    // Once the queue drained, commands are taken again.
    rig.broker->deliver(topic, command_json("again", "thing.service.slow", "{}"));
    REQUIRE(eventually([&] { return rig.client.stats().commands_replied == 42; }));
    CHECK(log.contains("commands are queued again"));
}
