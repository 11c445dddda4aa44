// Commands from enos-hub to a DeviceClient: every command type, the default and error replies, a
// handler that makes a blocking request, a flood of malformed commands, destroying the client while
// a handler runs.
#include "client_support.hpp"

#include <atomic>
#include <future>
#include <stdexcept>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;

namespace {

/// An admin connection that plays the cloud for commands enos-hub has no sub-command for.
struct Cloud {
    explicit Cloud(const HubProcess& h) : probe(h.port()) { REQUIRE(probe.connect(h.admin()) == 0); }
    /// Publishes `payload` on `topic` and returns the device's answer on `reply_topic`.
    std::optional<Reply> command(const std::string& topic, const std::string& payload,
                                 const std::string& reply_topic) {
        if (subscribed.insert(reply_topic).second) REQUIRE(probe.subscribe(reply_topic, 1) == 1);
        REQUIRE(probe.publish(topic, payload, 1));
        auto message = probe.wait_for(reply_topic, 15s);
        if (!message) return std::nullopt;
        auto reply = decode_reply(message->payload);
        REQUIRE(reply);
        return *reply;
    }
    MqttProbe probe;
    std::set<std::string> subscribed;
};

std::string command_json(const std::string& id, const std::string& method, const std::string& params) {
    return R"({"id":")" + id + R"(","version":"1.0","method":")" + method + R"(","params":)" + params + "}";
}

} // namespace

TEST_CASE("client: services and RRPC invoked through enos-hub", "[integration][client]") {
    const HubProcess& h = hub();
    std::atomic<int> calls{0};
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev1", "devSecret1"));
    client.on_service("setPower", [&](const ServiceCall& call) {
        ++calls;
        auto params = call.params();
        if (!params || !params->find("Power")) return CommandReply::error(2001, "Power missing");
        return CommandReply::ok(Value::object({{"result", 1}, {"power", *params->find("Power")}}));
    });
    client.on_service("explode",
                      [](const ServiceCall&) -> CommandReply { throw std::runtime_error("relay stuck"); });

    Injected ok = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "setPower", "--params",
                             R"({"Power":"on"})"});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(ok.reply.code == 200);
    CHECK(ok.reply.data_json == R"({"result":1,"power":"on"})");

    Injected app_error = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "setPower"});
    CHECK(app_error.exit_code == 4);
    CHECK(app_error.reply.code == 2001);

    Injected none = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "unknownService"});
    CHECK(none.exit_code == 4);
    CHECK(none.reply.code == 1101);

    Injected thrown = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "explode"});
    CHECK(thrown.exit_code == 4);
    CHECK(thrown.reply.code == 1102);
    CHECK(thrown.reply.message.find("relay stuck") != std::string::npos);

    // RRPC with no RRPC handler: the service handler of the method's service id answers.
    Injected rrpc = inject(h, {"rrpc", "--pk", "pkTest", "--dk", "dev1", "--service", "setPower", "--params",
                               R"({"Power":"off"})"});
    INFO(rrpc.out << rrpc.err);
    CHECK(rrpc.exit_code == 0);
    CHECK(rrpc.reply.data_json == R"({"result":1,"power":"off"})");
    client.on_rrpc([](const RrpcCall& call) {
        return CommandReply::ok_json(R"({"via":"rrpc","service":")" + call.service_id + R"("})");
    });
    Injected rrpc2 = inject(h, {"rrpc", "--pk", "pkTest", "--dk", "dev1", "--service", "anything"});
    CHECK(rrpc2.exit_code == 0);
    CHECK(rrpc2.reply.data_json == R"({"via":"rrpc","service":"anything"})");
    CHECK(calls == 3);

    auto rows = cloud::query(h, "commands", "pkTest", "dev1");
    CHECK(rows.size() >= 6);
}

TEST_CASE("client: measure-point set/get, raw down, OTA and sub-device notices through enos-hub",
          "[integration][client]") {
    const HubProcess& h = hub();
    std::mutex mutex;
    Points applied;
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev2", "devSecret2"));
    client.on_command(CommandKind::measurepoint_set, [&](const Command& c) {
        auto points = decode_measurepoint_set(c.params_json);
        if (!points) return CommandReply(points.error());
        std::lock_guard lock(mutex);
        applied = *points;
        return CommandReply::ok();
    });
    client.on_command(CommandKind::measurepoint_get, [&](const Command& c) {
        auto names = decode_measurepoint_get(c.params_json);
        if (!names) return CommandReply(names.error());
        Points values;
        for (const std::string& n : *names)
            values.emplace_back(n, Value(static_cast<int>(n.size())));
        return CommandReply::ok(Value(Value::Object(values.begin(), values.end())));
    });
    client.on_command(CommandKind::raw_down, [](const Command& c) {
        std::string reversed(c.payload.rbegin(), c.payload.rend());
        return CommandReply::bytes(reversed);
    });
    client.on_command(CommandKind::ota_upgrade, [](const Command& c) {
        auto firmware = decode_ota_upgrade(c.params_json);
        if (!firmware) return CommandReply(firmware.error());
        return CommandReply::ok_json(R"({"accepted":")" + firmware->version + R"("})");
    });
    client.on_command(CommandKind::sub_device_disable, [](const Command& c) {
        auto devices = decode_sub_device_notice(c.params_json);
        return devices && devices->size() == 1 ? CommandReply::ok() : CommandReply::failed("bad notice");
    });

    Injected set = inject(h, {"set-measurepoints", "--pk", "pkTest", "--dk", "dev2", "--params",
                              R"({"temperature":30.5,"mode":"eco"})"});
    INFO(set.out << set.err);
    CHECK(set.exit_code == 0);
    {
        std::lock_guard lock(mutex);
        REQUIRE(applied.size() == 2);
        CHECK(applied[0].first == "temperature");
        CHECK(applied[1].second.as_string() == "eco");
    }
    Injected get =
        inject(h, {"get-measurepoints", "--pk", "pkTest", "--dk", "dev2", "--names", "power,temp"});
    CHECK(get.exit_code == 0);
    CHECK(get.reply.data_json == R"({"power":5,"temp":4})");

    Injected raw = inject(h, {"raw-down", "--pk", "pkTest", "--dk", "dev2", "--hex", "0102a0ff"});
    INFO(raw.out << raw.err);
    CHECK(raw.exit_code == 0);
    CHECK(raw.out.find(R"("hex":"ffa00201")") != std::string::npos);

    Injected ota = inject(h, {"ota-upgrade", "--pk", "pkTest", "--dk", "dev2", "--version", "1.1.0",
                              "--file-url", "/fw/pkTest/1.1.0", "--file-size", "1024"});
    CHECK(ota.exit_code == 0);
    CHECK(ota.reply.data_json == R"({"accepted":"1.1.0"})");

    Injected notice = inject(h, {"subdevice", "disable", "--pk", "pkTest", "--dk", "dev2", "--sub-pk",
                                 "pkSub", "--sub-dk", "subDev01"});
    INFO(notice.out << notice.err);
    CHECK(notice.exit_code == 0);

    Injected unhandled = inject(h, {"subdevice", "enable", "--pk", "pkTest", "--dk", "dev2", "--sub-pk",
                                    "pkSub", "--sub-dk", "subDev01"});
    CHECK(unhandled.reply.code == 1101);
}

TEST_CASE("client: traffic control and the legacy device commands", "[integration][client]") {
    const HubProcess& h = hub();
    std::atomic<int> seen{0};
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev3", "devSecret3"));
    client.on_command(CommandKind::traffic_control, [&](const Command& c) {
        ++seen;
        return CommandReply::ok_json(c.params_json);
    });
    client.on_command(CommandKind::device_disable, [&](const Command&) {
        ++seen;
        return CommandReply::ok();
    });
    Cloud cloud(h);
    auto traffic = cloud.command("/sys/pkTest/dev3/traffic/control",
                                 command_json("t1", "traffic.control", R"({"rate":5})"),
                                 "/sys/pkTest/dev3/traffic/control_reply");
    REQUIRE(traffic);
    CHECK(traffic->id == "t1");
    CHECK(traffic->data_json == R"({"rate":5})");
    auto disable = cloud.command("/sys/pkTest/dev3/thing/disable", command_json("d1", "thing.disable", "{}"),
                                 "/sys/pkTest/dev3/thing/disable_reply");
    REQUIRE(disable);
    CHECK(disable->code == 200);
    auto enable = cloud.command("/sys/pkTest/dev3/thing/enable", command_json("e1", "thing.enable", "{}"),
                                "/sys/pkTest/dev3/thing/enable_reply");
    REQUIRE(enable);
    CHECK(enable->code == 1101);
    auto remove = cloud.command("/sys/pkTest/dev3/thing/delete", command_json("x1", "thing.delete", "{}"),
                                "/sys/pkTest/dev3/thing/delete_reply");
    REQUIRE(remove);
    CHECK(remove->code == 1101);
    CHECK(seen == 2);
}

TEST_CASE("client: a flood of malformed commands leaves the client healthy", "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev4", "devSecret4"));
    client.on_service("ping", [](const ServiceCall&) { return CommandReply::ok_json(R"("pong")"); });
    Cloud cloud(h);
    REQUIRE(cloud.probe.subscribe("/sys/pkTest/dev4/thing/service/ping_reply", 1) == 1);
    const std::vector<std::string> junk = {"",
                                           "{",
                                           "[1,2]",
                                           "null",
                                           R"({"id":{}})",
                                           std::string("\xff\xfe\x00", 3),
                                           R"({"id":"7","method":5})",
                                           std::string(8192, '['),
                                           R"({"id":"8","params":{}})"};
    constexpr int rounds = 100;
    for (int i = 0; i < rounds; ++i)
        for (const std::string& j : junk)
            REQUIRE(cloud.probe.publish("/sys/pkTest/dev4/thing/service/ping", j, 0));
    REQUIRE(eventually([&] { return client.stats().commands_malformed == rounds * junk.size(); }));

    // Two of the junk commands carry a readable id: those were answered with 1220.
    auto answered = cloud.probe.wait_for([](const ReceivedMessage& m) {
        auto r = decode_reply(m.payload);
        return r && r->id == "8" && r->code == 1220;
    });
    CHECK(answered);

    Injected ping = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev4", "--service", "ping"});
    CHECK(ping.exit_code == 0);
    CHECK(ping.reply.data_json == R"("pong")");
    CHECK(client.connected());
}

TEST_CASE("client: hostile commands through enos-hub get error codes, a 10 MB raw reply is never sent",
          "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev8", "devSecret8"));
    std::atomic<int> handled{0};
    client.on_service("ping", [&](const ServiceCall&) {
        ++handled;
        return CommandReply::ok_json(R"("pong")");
    });
    client.on_command(CommandKind::measurepoint_set, [&](const Command&) {
        ++handled;
        return CommandReply::ok();
    });
    client.on_command(CommandKind::raw_down, [&](const Command&) {
        return CommandReply::bytes(std::string(10 * 1024 * 1024, 'r'));
    });
    Cloud cloud(h);
    const std::string ping = "/sys/pkTest/dev8/thing/service/ping";
    const std::string mp_set = "/sys/pkTest/dev8/thing/service/measurepoint/set";
    struct Case {
        std::string topic, payload;
        int code;
    };
    const std::vector<Case> cases = {
        {ping, command_json("h1", "thing.service.ping", std::string(500, '[') + std::string(500, ']')), 1220},
        {ping, command_json("h2", "thing.service.ping", "{\"a\":\"\xed\xa0\x80\"}"), 1220}, // a surrogate
        {ping,
         command_json("h3", "thing.service.ping", R"({"blob":")" + std::string(600 * 1024, 'b') + "\"}"),
         1008},
        {mp_set, command_json("h4", "thing.service.measurepoint.set", "5"), 460},
        {ping, command_json("h5", "thing.service.reboot", "{}"), 1260},
    };
    for (const Case& c : cases) {
        INFO(c.payload.substr(0, 60));
        auto reply = cloud.command(c.topic, c.payload, c.topic + "_reply");
        REQUIRE(reply);
        CHECK(reply->id == c.payload.substr(7, 2));
        CHECK(reply->code == c.code);
    }
    CHECK(handled == 0);

    // The raw reply is refused before it is published: the ping after it is answered, the raw not.
    const std::string raw_reply = "/sys/pkTest/dev8/thing/model/down_raw_reply";
    REQUIRE(cloud.probe.subscribe(raw_reply, 1) == 1);
    REQUIRE(cloud.probe.publish("/sys/pkTest/dev8/thing/model/down_raw", std::string("\x01\x02", 2), 1));
    auto pong = cloud.command(ping, command_json("after", "thing.service.ping", "{}"), ping + "_reply");
    REQUIRE(pong);
    CHECK(pong->data_json == R"("pong")");
    CHECK(eventually([&] { return client.stats().commands_failed == 1; }));
    for (const ReceivedMessage& m : cloud.probe.received())
        CHECK(m.topic != raw_reply);
    auto stats = client.stats();
    CHECK(stats.commands_malformed == cases.size());
    CHECK(client.connected());
}

TEST_CASE("client: a handler may make a blocking request", "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev1", "devSecret1"));
    client.on_service("describe", [&](const ServiceCall&) {
        Result<Response> attributes = client.send(up::AttributeQuery{{"name"}});
        if (!attributes) return CommandReply(attributes.error());
        Result<Response> posted = client.send(up::MeasurepointPost{{{"describedAt", 1}}});
        if (!posted) return CommandReply(posted.error());
        return CommandReply::ok_json(attributes->data_json);
    });
    Injected r = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "describe"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.reply.data_json == R"({"name":"pump-01"})");
}

TEST_CASE("client: an async responder answers a long job from another thread", "[integration][client]") {
    const HubProcess& h = hub();
    std::vector<std::thread> workers;
    std::mutex mutex;
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev5", "devSecret5"));
    client.on_service_async("longJob", [&](const ServiceCall& call, Responder responder) {
        std::lock_guard lock(mutex);
        workers.emplace_back([responder, params = call.params_json] {
            responder.reply(CommandReply::ok_json(R"({"done":true,"params":)" + params + "}"));
        });
    });
    Injected r = inject(
        h, {"invoke", "--pk", "pkTest", "--dk", "dev5", "--service", "longJob", "--params", R"({"n":3})"});
    CHECK(r.exit_code == 0);
    CHECK(r.reply.data_json == R"({"done":true,"params":{"n":3}})");
    std::lock_guard lock(mutex);
    for (auto& w : workers)
        w.join();
}

TEST_CASE("client: destroying the client while handlers run is bounded and safe", "[integration][client]") {
    const HubProcess& h = hub();
    auto started = std::make_shared<std::promise<void>>();
    auto release = std::make_shared<std::promise<void>>();
    auto options = options_for(h, "pkTest", "dev6", "devSecret6");
    options.shutdown_timeout = 500ms;
    auto client = std::make_unique<DeviceClient>(connected_client(options));
    client->on_service("slow", [started, release](const ServiceCall&) {
        started->set_value();
        release->get_future().wait();
        return CommandReply::ok();
    });
    auto invoked = std::async(std::launch::async, [&] {
        return inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev6", "--service", "slow"}, 2s);
    });
    started->get_future().wait();
    client.reset(); // returns after shutdown_timeout although the handler still runs
    release->set_value();
    Injected r = invoked.get();
    CHECK((r.exit_code == 5 || r.exit_code == 3 || r.exit_code == 0)); // the link closed under the command
}
