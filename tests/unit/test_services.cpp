// Device services of docs/protocol.md §3.8, §3.13–3.15 and §4.9 beyond their JSON shapes
// (test_payload_encode.cpp): the connection-state rules checked before sending, the TSL template
// reply, the traffic-control command, and how the client sends and answers them.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <future>
#include <mutex>

using namespace enos::device;
using namespace enos::test;

namespace {

bool mentions(const Status& s, const std::string& text) {
    return !s && s.error().detail.find(text) != std::string::npos;
}

up::ConnectionStatePost full_graph() {
    up::ConnectionStatePost report;
    report.is_full = true;
    report.nodes = {{"#001", NodeState::connected, "", "plc-1", ""},
                    {"#002", NodeState::disconnected, "", "", ""},
                    {"#003", NodeState::unknown, "", "", ""}};
    report.relations = {{"#001", {"#002", "#003"}}};
    report.report_time_ms = 1700000000000;
    return report;
}

} // namespace

TEST_CASE("services: a change report may not carry relations (§3.15)", "[unit]") {
    std::string out = "previous";
    up::ConnectionStatePost report = full_graph();
    report.is_full = false;
    const Status s = encode(out, "1", report);
    CHECK(s.code() == errc::invalid_argument);
    CHECK(mentions(s, "params.relations"));
    CHECK(mentions(s, "isFull"));
    CHECK(out.empty());
    report.relations.clear(); // the same nodes as a change report
    REQUIRE(encode(out, "1", report));
    CHECK(out.find(R"("isFull":false)") != std::string::npos);
    CHECK(out.find(R"("relations":{})") != std::string::npos);
}

TEST_CASE("services: connection state nodes are checked before sending (§3.15)", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "1", full_graph()));

    up::ConnectionStatePost report = full_graph();
    report.nodes[2].node_id = "#001";
    Status s = encode(out, "1", report);
    CHECK(s.code() == errc::invalid_argument);
    CHECK(mentions(s, "params.nodes[2].nodeId' repeats node '#001' of params.nodes[0]"));

    report = full_graph();
    report.nodes[1].state = static_cast<NodeState>(7);
    s = encode(out, "1", report);
    CHECK(s.code() == errc::invalid_argument);
    CHECK(mentions(s, "params.nodes[1].state' is 7"));

    report = full_graph();
    report.nodes[0].node_id.clear();
    s = encode(out, "1", report);
    CHECK(s.code() == errc::missing_argument);
    CHECK(mentions(s, "params.nodes[0].nodeId"));
}

TEST_CASE("services: relations name only nodes of the full report (§3.15)", "[unit]") {
    std::string out;
    up::ConnectionStatePost report = full_graph();
    report.relations = {{"#009", {"#002"}}};
    Status s = encode(out, "1", report);
    CHECK(s.code() == errc::invalid_argument);
    CHECK(mentions(s, "parent node '#009'"));

    report.relations = {{"#001", {"#002", "#404"}}};
    s = encode(out, "1", report);
    CHECK(s.code() == errc::invalid_argument);
    CHECK(mentions(s, "child node '#404' of '#001'"));

    report.relations = {{"#001", {""}}};
    CHECK(encode(out, "1", report).code() == errc::missing_argument);
}

TEST_CASE("services: the TSL template reply decodes into its four maps (§3.8)", "[unit]") {
    // The reply of docs/protocol.md §3.8, and one with definitions in every map.
    auto reply = decode_reply(
        R"({"id":"17","code":200,"data":{"tslAttributeMap":{},"tslMeasurepointMap":{"temp":{"dataType":"FLOAT"}},"tslEventMap":{},"tslServiceMap":{}}})");
    REQUIRE(reply);
    auto model = decode_tsl_template_reply(reply->data_json);
    REQUIRE(model);
    CHECK(model->attributes.empty());
    REQUIRE(model->measurepoints.size() == 1);
    CHECK(model->measurepoints[0].first == "temp");
    CHECK(to_json(model->measurepoints[0].second) == R"({"dataType":"FLOAT"})");
    CHECK(model->events.empty());
    CHECK(model->services.empty());

    model = decode_tsl_template_reply(
        R"({"tslAttributeMap":{"name":{"dataType":"STRING"}},"tslEventMap":{"overTemp":{"outputData":{}}},"tslServiceMap":{"setPower":{"inputData":{"Power":{"dataType":"STRING"}}}}})");
    REQUIRE(model);
    CHECK(model->attributes.size() == 1);
    CHECK(model->measurepoints.empty()); // left out of the reply
    CHECK(model->events.at(0).first == "overTemp");
    CHECK(to_json(model->services.at(0).second) == R"({"inputData":{"Power":{"dataType":"STRING"}}})");
}

TEST_CASE("services: a malformed TSL template reply is an error that names the field", "[unit]") {
    auto wrong = decode_tsl_template_reply(R"({"tslMeasurepointMap":[]})");
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error() == errc::wrong_type);
    CHECK(wrong.error().detail.find("data.tslMeasurepointMap") != std::string::npos);
    CHECK(decode_tsl_template_reply("").error() == errc::missing_field);
    CHECK(decode_tsl_template_reply("[]").error() == errc::wrong_type);
    CHECK(decode_tsl_template_reply(R"({"tslEventMap":)").error() == errc::malformed_json);
}

TEST_CASE("services: traffic control params decode as they came (§4.9)", "[unit]") {
    auto command = decode_traffic_control("traffic.control", R"({"maxRate":10,"mode":"slow"})");
    REQUIRE(command);
    CHECK(command->method == "traffic.control");
    REQUIRE(command->params.size() == 2);
    CHECK(command->params[0].first == "maxRate");
    CHECK(command->params[0].second.as_int() == 10);
    CHECK(command->params[1].second.as_string() == "slow");

    auto empty = decode_traffic_control("traffic.control", "");
    REQUIRE(empty);
    CHECK(empty->params.empty());
    auto wrong = decode_traffic_control("traffic.control", "[1]");
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error() == errc::wrong_type);
}

TEST_CASE("services: the client answers traffic control on traffic/control_reply", "[unit][client]") {
    ClientRig rig;
    std::promise<TrafficControl> seen;
    rig.client.on_command(CommandKind::traffic_control, [&](const Command& c) -> CommandReply {
        auto decoded = decode_traffic_control(c.method, c.params_json);
        if (!decoded) return decoded.error();
        seen.set_value(*decoded);
        return CommandReply::ok();
    });
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/traffic/control",
                        R"({"id":"55","version":"1.1","method":"traffic.control","params":{"limit":5}})");
    auto reply_message = rig.broker->wait_for_topic("/sys/pk/dk/traffic/control_reply");
    REQUIRE(reply_message);
    CHECK(reply_message->qos == 0);
    auto reply = decode_reply(reply_message->payload);
    REQUIRE(reply);
    CHECK(reply->id == "55");
    CHECK(reply->code == 200);
    auto decoded = seen.get_future().get();
    REQUIRE(decoded.params.size() == 1);
    CHECK(decoded.params[0].first == "limit");
}

TEST_CASE("services: traffic control without a handler is answered 1101", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/traffic/control",
                        R"({"id":"56","version":"1.1","method":"traffic.control","params":{}})");
    auto reply_message = rig.broker->wait_for_topic("/sys/pk/dk/traffic/control_reply");
    REQUIRE(reply_message);
    auto reply = decode_reply(reply_message->payload);
    REQUIRE(reply);
    CHECK(reply->id == "56");
    CHECK(reply->code == 1101);
}

TEST_CASE("services: each service goes out on its topic with its QoS (§2.5, §3.8, §3.13–3.15)",
          "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    REQUIRE(rig.client.send_nowait(up::LogPost{"t-1", "warn", "modbus", "timeout", {}, 5}));
    up::NetworkStatusReport status;
    status.rssi = -70.0;
    REQUIRE(rig.client.send_nowait(status));
    REQUIRE(rig.client.send_nowait(full_graph()));
    REQUIRE(rig.client.send_nowait(up::TslTemplateGet{}));
    auto published = rig.broker->wait_published([](const auto& p) { return p.size() >= 4; });
    REQUIRE(published.size() == 4);
    CHECK(published[0].topic == "/sys/pk/dk/thing/log/post");
    CHECK(published[0].qos == 0); // logs go at QoS 0, as events do
    CHECK(published[1].topic == "/sys/pk/dk/network/status/report");
    CHECK(published[1].qos == 1);
    CHECK(published[2].topic == "/sys/pk/dk/connection/state/post");
    CHECK(published[3].topic == "/sys/pk/dk/thing/tsltemplate/get");
    for (const Published& p : published) {
        auto request = decode_request(p.payload);
        REQUIRE(request);
        CHECK(request->version == "1.1");
        CHECK_FALSE(request->id.empty());
    }
    CHECK(decode_request(published[3].payload)->params_json == "{}");
}

TEST_CASE("services: a connection state the rules refuse is never sent", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    up::ConnectionStatePost report = full_graph();
    report.is_full = false;
    const Status s = rig.client.send_nowait(report);
    CHECK(s.code() == errc::invalid_argument);
    auto result = rig.client.send(report);
    REQUIRE_FALSE(result);
    CHECK(result.error() == errc::invalid_argument);
    CHECK(rig.client.stats().requests_sent == 0);
    for (const Published& p : rig.broker->published())
        CHECK(p.topic.find("connection/state") == std::string::npos);
}

TEST_CASE("services: the TSL template reply reaches the caller and decodes", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto pending = std::async(std::launch::async, [&] { return rig.client.send(up::TslTemplateGet{}); });
    auto request = rig.broker->wait_for_topic("/sys/pk/dk/thing/tsltemplate/get");
    REQUIRE(request);
    rig.broker->deliver(
        "/sys/pk/dk/thing/tsltemplate/get_reply",
        reply_json(
            request_id(*request), 200,
            R"({"tslAttributeMap":{},"tslMeasurepointMap":{"temp":{"dataType":"FLOAT"}},"tslEventMap":{},"tslServiceMap":{}})"));
    auto response = pending.get();
    REQUIRE(response);
    auto model = decode_tsl_template_reply(response->data_json);
    REQUIRE(model);
    CHECK(model->measurepoints.at(0).first == "temp");
}
