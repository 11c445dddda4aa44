// The downstream commands of enos-hub (invoke, rrpc, set/get-measurepoints, raw-down, ota-upgrade,
// subdevice): a probe plays the device, answers on the reply topic, and the test checks the command
// it received, the one JSON line the command printed and its exit code (0 reply 200, 4 other reply,
// 5 no reply, 2 usage, 3 hub unreachable).
#include "cloud_device.hpp"

#include "support/ports.hpp"

#include <enos/device/core/sign.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <thread>

using namespace enos::test;
using namespace enos::test::cloud;

namespace {

/// A device that answers the first command arriving on `filter` with `answer(topic, request)`,
/// published on the reply topic `reply_topic_of(topic)`.
class AnsweringDevice {
public:
    using Answer = std::function<std::string(const ReceivedMessage&)>;
    using ReplyTopic = std::function<std::string(const std::string&)>;

    AnsweringDevice(
        const HubProcess& hub, const std::string& pk, const std::string& dk, const std::string& secret,
        const std::string& filter, Answer answer,
        ReplyTopic reply_topic_of = [](const std::string& t) { return t + "_reply"; })
        : device_(hub, pk, dk, secret) {
        REQUIRE(device_.probe().subscribe(filter, 1) == 1);
        worker_ = std::async(std::launch::async, [this, filter, answer, reply_topic_of] {
            auto command =
                device_.probe().wait_for([&](const ReceivedMessage& m) { return matches(filter, m.topic); });
            if (!command) return std::optional<ReceivedMessage>();
            device_.probe().publish(reply_topic_of(command->topic), answer(*command), 0);
            return command;
        });
    }

    /// The command the device received (waits for the responder to finish).
    std::optional<ReceivedMessage> command() { return worker_.get(); }

private:
    static bool matches(const std::string& filter, const std::string& topic) {
        const std::size_t plus = filter.find('+');
        if (plus == std::string::npos) return filter == topic;
        return topic.compare(0, plus, filter, 0, plus) == 0 && topic.find('/', plus) == std::string::npos;
    }

    Device device_;
    std::future<std::optional<ReceivedMessage>> worker_;
};

/// The request id of a command payload.
std::string id_of(const std::string& payload) {
    auto request = enos::device::decode_request(payload);
    REQUIRE(request.ok());
    return request->id;
}

Value params_of(const std::string& payload) {
    auto request = enos::device::decode_request(payload);
    REQUIRE(request.ok());
    auto params = enos::device::parse_value(request->params_json);
    REQUIRE(params.ok());
    return std::move(*params);
}

std::string method_of(const std::string& payload) {
    auto request = enos::device::decode_request(payload);
    REQUIRE(request.ok());
    return request->method;
}

std::string reply_with(const ReceivedMessage& m, int code, const std::string& data) {
    return R"({"id":")" + id_of(m.payload) + R"(","code":)" + std::to_string(code) +
           R"(,"message":"","data":)" + data + "}";
}

/// The single JSON line a command printed.
Value printed(const HubProcess::CommandResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(!r.out.empty());
    REQUIRE(r.out.find('\n') == r.out.size() - 1);
    auto line = enos::device::parse_value(r.out);
    REQUIRE(line.ok());
    return std::move(*line);
}

} // namespace

TEST_CASE("hub inject: invoke delivers the service call and prints the device's reply",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    const std::string service = unique_client_id("setPower");
    AnsweringDevice device(hub, "pkTest", "dev1", "devSecret1", "/sys/pkTest/dev1/thing/service/" + service,
                           [](const ReceivedMessage& m) { return reply_with(m, 200, R"({"result":1})"); });
    const auto r = hub.run({"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", service, "--params",
                            R"({"Power":"on","WindState":2})"});
    CHECK(r.exit_code == 0);
    const Value line = printed(r);
    CHECK(at(line, "code").as_int() == 200);
    CHECK(at(at(line, "data"), "result").as_int() == 1);

    const auto command = device.command();
    REQUIRE(command.has_value());
    CHECK(method_of(command->payload) == "thing.service." + service);
    CHECK(at(params_of(command->payload), "WindState").as_int() == 2);
    CHECK(at(line, "id").as_string() == id_of(command->payload));

    const auto rows = query_until(hub, "commands", "pkTest", "dev1", [&](const auto& rows) {
        return with(rows, "requestId", id_of(command->payload)).size() == 1;
    });
    const Value row = with(rows, "requestId", id_of(command->payload))[0];
    CHECK(at(row, "outcome").as_string() == "replied");
    CHECK(at(row, "replyCode").as_int() == 200);
    CHECK(at(row, "command").as_string() == "invoke");
}

TEST_CASE("hub inject: a non-200 reply exits 4, no reply exits 5", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    const std::string service = unique_client_id("reboot");
    {
        AnsweringDevice device(hub, "pkTest", "dev2", "devSecret2",
                               "/sys/pkTest/dev2/thing/service/" + service,
                               [](const ReceivedMessage& m) { return reply_with(m, 2001, R"("busy")"); });
        const auto r = hub.run({"invoke", "--pk", "pkTest", "--dk", "dev2", "--service", service});
        CHECK(r.exit_code == 4);
        CHECK(at(printed(r), "code").as_int() == 2001);
        const Value params = params_of(device.command()->payload); // default params: {}
        CHECK(params.is_object());
        CHECK(params.as_object().empty());
    }
    const auto r =
        hub.run({"invoke", "--pk", "pkTest", "--dk", "dev2", "--service", service, "--timeout-ms", "300"});
    CHECK(r.exit_code == 5);
    CHECK(r.out.empty());
    CHECK(r.err.find("no reply") != std::string::npos);
    query_until(hub, "commands", "pkTest", "dev2",
                [](const auto& rows) { return !with(rows, "outcome", "timeout").empty(); });
}

TEST_CASE("hub inject: rrpc waits on rrpc/response/{messageId}", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    AnsweringDevice device(
        hub, "pkTest", "dev3", "devSecret3", "/sys/pkTest/dev3/rrpc/request/+",
        [](const ReceivedMessage& m) { return reply_with(m, 200, R"({"ok":true})"); },
        [](const std::string& topic) {
            return "/sys/pkTest/dev3/rrpc/response/" + topic.substr(topic.find_last_of('/') + 1);
        });
    const auto r = hub.run({"rrpc", "--pk", "pkTest", "--dk", "dev3", "--service", "syncService", "--params",
                            R"({"power":100})"});
    CHECK(r.exit_code == 0);
    CHECK(at(at(printed(r), "data"), "ok").as_bool());
    const auto command = device.command();
    REQUIRE(command.has_value());
    CHECK(method_of(command->payload) == "thing.service.syncService");
    CHECK(at(params_of(command->payload), "power").as_int() == 100);
}

TEST_CASE("hub inject: set-measurepoints and get-measurepoints", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    {
        AnsweringDevice device(hub, "pkTest", "dev4", "devSecret4",
                               "/sys/pkTest/dev4/thing/service/measurepoint/set",
                               [](const ReceivedMessage& m) { return reply_with(m, 200, "{}"); });
        const auto r = hub.run({"set-measurepoints", "--pk", "pkTest", "--dk", "dev4", "--params",
                                R"({"temperature":30.5,"mode":"eco"})"});
        CHECK(r.exit_code == 0);
        const auto command = device.command();
        REQUIRE(command.has_value());
        CHECK(method_of(command->payload) == "thing.service.measurepoint.set");
        CHECK(at(params_of(command->payload), "mode").as_string() == "eco");
    }
    AnsweringDevice device(
        hub, "pkTest", "dev4", "devSecret4", "/sys/pkTest/dev4/thing/service/measurepoint/get",
        [](const ReceivedMessage& m) { return reply_with(m, 200, R"({"power":"on","temp":23})"); });
    const auto r = hub.run({"get-measurepoints", "--pk", "pkTest", "--dk", "dev4", "--names", "power,temp"});
    CHECK(r.exit_code == 0);
    CHECK(at(at(printed(r), "data"), "temp").as_int() == 23);
    const auto command = device.command();
    REQUIRE(command.has_value());
    CHECK(method_of(command->payload) == "thing.service.measurepoint.get");
    const Value names = params_of(command->payload);
    REQUIRE(names.as_array().size() == 2);
    CHECK(names.as_array()[1].as_string() == "temp");
}

TEST_CASE("hub inject: raw-down sends bytes and prints the raw reply as hex", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    AnsweringDevice device(hub, "pkTest", "dev5", "devSecret5", "/sys/pkTest/dev5/thing/model/down_raw",
                           [](const ReceivedMessage&) { return std::string("\x11\x00\x00\x04\xd2\xc8", 6); });
    const auto r = hub.run({"raw-down", "--pk", "pkTest", "--dk", "dev5", "--hex", "0100000014A1"});
    CHECK(r.exit_code == 0);
    CHECK(at(printed(r), "hex").as_string() == "11000004d2c8");
    const auto command = device.command();
    REQUIRE(command.has_value());
    CHECK(command->payload == std::string("\x01\x00\x00\x00\x14\xa1", 6));
}

TEST_CASE("hub inject: ota-upgrade pushes the firmware description", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    AnsweringDevice device(hub, "pkTest", "dev6", "devSecret6", "/sys/pkTest/dev6/ota/device/upgrade",
                           [](const ReceivedMessage& m) { return reply_with(m, 200, R"("")"); });
    const auto r =
        hub.run({"ota-upgrade", "--pk", "pkTest", "--dk", "dev6", "--version", "1.1.0", "--file-url",
                 "/fw/pkTest/1.1.0", "--file-size", "1024", "--sign", "9e107d9d372bb6826bd81d3542a419d6"});
    CHECK(r.exit_code == 0);
    const auto command = device.command();
    REQUIRE(command.has_value());
    CHECK(method_of(command->payload) == "ota.device.upgrade");
    const Value params = params_of(command->payload);
    CHECK(at(params, "version").as_string() == "1.1.0");
    CHECK(at(params, "fileUrl").as_string() == "/fw/pkTest/1.1.0");
    CHECK(at(params, "fileSize").as_int() == 1024);
    CHECK(at(params, "sign").as_string() == "9e107d9d372bb6826bd81d3542a419d6");
    CHECK(at(params, "signMethod").as_string() == "md5");
}

TEST_CASE("hub inject: subdevice disable reaches the gateway and the cloud refuses the sub-device",
          "[integration][hub][cloud]") {
    // A private hub: disabling changes what every later login of that sub-device gets.
    const HubProcess hub = HubProcess::start();
    {
        AnsweringDevice gateway(hub, "pkGw", "gw1", "gwSecret1", "/ext/session/pkGw/gw1/combine/disable",
                                [](const ReceivedMessage& m) { return reply_with(m, 200, "{}"); });
        const auto r = hub.run({"subdevice", "disable", "--pk", "pkGw", "--dk", "gw1", "--sub-pk", "pkSub",
                                "--sub-dk", "subDev02"});
        CHECK(r.exit_code == 0);
        const auto command = gateway.command();
        REQUIRE(command.has_value());
        CHECK(method_of(command->payload) == "combine.disable");
        const Value subs = params_of(command->payload);
        REQUIRE(subs.as_array().size() == 1);
        CHECK(at(subs.as_array()[0], "deviceKey").as_string() == "subDev02");
    }
    query_until(hub, "devices", "pkSub", "subDev02",
                [](const auto& rows) { return rows.size() == 1 && !at(rows[0], "enabled").as_bool(); });

    Device gw(hub, "pkGw", "gw1", "gwSecret1");
    const auto login = [&](const std::string& dk, const std::string& secret) {
        const std::string client_id = "c." + dk, ts = "1700000000000";
        return gw.request(gw.session("combine/login"), "combine.login",
                          R"({"productKey":"pkSub","deviceKey":")" + dk + R"(","clientId":")" + client_id +
                              R"(","timestamp":")" + ts + R"(","signMethod":"sha256","sign":")" +
                              enos::device::sign({client_id, dk, "pkSub", ts}, secret) + R"("})");
    };
    CHECK(login("subDev02", "subSecret02").code == 723);

    {
        AnsweringDevice gateway(hub, "pkGw", "gw1", "gwSecret1", "/ext/session/pkGw/gw1/combine/enable",
                                [](const ReceivedMessage& m) { return reply_with(m, 200, "{}"); });
        CHECK(hub.run({"subdevice", "enable", "--pk", "pkGw", "--dk", "gw1", "--sub-pk", "pkSub", "--sub-dk",
                       "subDev02"})
                  .exit_code == 0);
    }
    query_until(hub, "devices", "pkSub", "subDev02",
                [](const auto& rows) { return rows.size() == 1 && at(rows[0], "enabled").as_bool(); });
    CHECK(login("subDev02", "subSecret02").code == 200);

    {
        AnsweringDevice gateway(hub, "pkGw", "gw1", "gwSecret1", "/ext/session/pkGw/gw1/combine/delete",
                                [](const ReceivedMessage& m) { return reply_with(m, 200, "{}"); });
        CHECK(hub.run({"subdevice", "delete", "--pk", "pkGw", "--dk", "gw1", "--sub-pk", "pkSub", "--sub-dk",
                       "subDev03"})
                  .exit_code == 0);
    }
    query_until(hub, "topology", "pkSub", "subDev03", [](const auto& rows) { return rows.empty(); });
    CHECK(login("subDev03", "subSecret03").code == 705);
}

TEST_CASE("hub inject: usage errors exit 2, an unreachable hub exits 3", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"invoke", "--dk", "dev1", "--service", "s"},
             {"invoke", "--pk", "pkTest", "--dk", "dev1"},
             {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "s", "--params", "{not json"},
             {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "s", "--bogus", "1"},
             {"set-measurepoints", "--pk", "pkTest", "--dk", "dev1", "--params", "[1]"},
             {"get-measurepoints", "--pk", "pkTest", "--dk", "dev1", "--names", "a,,b"},
             {"raw-down", "--pk", "pkTest", "--dk", "dev1", "--hex", "0g"},
             {"ota-upgrade", "--pk", "pkTest", "--dk", "dev1", "--version", "1", "--file-url", "/f",
              "--file-size", "-1"},
             {"subdevice", "pause", "--pk", "pkGw", "--dk", "gw1", "--sub-pk", "pkSub", "--sub-dk",
              "subDev01"},
             {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "s", "--timeout-ms", "soon"},
         }) {
        const auto r = hub.run(args);
        INFO(args[0] << " " << args[1] << " ...: " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("usage: enos-hub") != std::string::npos);
        CHECK(r.out.empty());
    }
    const auto closed = hub.run({"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "s", "--port",
                                 std::to_string(free_tcp_port()), "--dir", hub.dir()});
    CHECK(closed.exit_code == 3);
    const TempDir empty("enos-no-hub");
    CHECK(hub.run({"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "s", "--dir", empty.path()})
              .exit_code == 3);
    CHECK(hub.run({"query", "measurepoints", "--dir", empty.path()}).exit_code == 3);
    CHECK(hub.run({"query", "nonsense", "--dir", hub.dir()}).exit_code == 2);
}
