// Device services against enos-hub (docs/protocol.md §3.8, §3.13–3.15, §4.9): each request as the
// simulator receives and stores it, with the timestamps of the client's wall clock; the cloud's
// checks of the same rules; the TSL template reply; traffic control sent by `enos-hub traffic-control`.
#include "client_support.hpp"

#include <atomic>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;

namespace {

constexpr std::int64_t fixed_ms = 1650000000123;

Response sent(const Result<Response>& r) {
    INFO("request failed: " << (r ? std::string() : r.error().message()));
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_CASE("services: logs, network status, connection state and the TSL template through enos-hub",
          "[integration][client]") {
    const HubProcess& h = hub();
    ClientOptions options = options_for(h, "pkTest", "dev4", "devSecret4");
    options.wall_clock = [] { return fixed_ms; };
    DeviceClient client = connected_client(options);

    // thing.log.post (§3.13)
    sent(client.send(up::LogPost{"trace-1", "warn", "modbus", "poll timeout", {{"slave", 3}}}));
    auto logs =
        cloud::query_until(h, "logs", "pkTest", "dev4", [](const auto& rows) { return rows.size() == 1; });
    const Value& log = cloud::at(logs[0], "logs");
    CHECK(cloud::at(log, "traceId").as_string() == "trace-1");
    CHECK(cloud::at(log, "level").as_string() == "warn");
    CHECK(cloud::at(log, "module").as_string() == "modbus");
    CHECK(cloud::at(log, "content").as_string() == "poll timeout");
    CHECK(cloud::at(log, "slave").as_int() == 3);
    CHECK(cloud::at(logs[0], "time").as_int() == fixed_ms);

    // network.status.report (§3.14)
    up::NetworkStatusReport status;
    status.collect_time_ms = fixed_ms - 10000;
    status.rssi = -71.5;
    status.snr = 12.25;
    status.packet_loss_rate = 0.02;
    status.network_type = "4G";
    sent(client.send(status));
    auto reports = cloud::query_until(h, "network-status", "pkTest", "dev4",
                                      [](const auto& rows) { return rows.size() == 1; });
    CHECK(cloud::at(reports[0], "reportTime").as_int() == fixed_ms);
    const Value& report = cloud::at(reports[0], "report");
    CHECK(cloud::at(report, "collectTime").as_int() == fixed_ms - 10000);
    CHECK(cloud::at(report, "rssi").as_double() == -71.5);
    CHECK(cloud::at(report, "networkType").as_string() == "4G");
    CHECK(report.find("errorInfo") == nullptr); // left out when empty

    // connection.state.post (§3.15): a full graph, then a change
    up::ConnectionStatePost graph;
    graph.is_full = true;
    graph.nodes = {{"#001", NodeState::connected, "", "plc-1", "reconnected"},
                   {"#002", NodeState::disconnected, "aB3dE5fG", "", "no heartbeat"}};
    graph.relations = {{"#001", {"#002"}}};
    sent(client.send(graph));
    up::ConnectionStatePost change;
    change.nodes = {{"#002", NodeState::connected, "", "", ""}};
    change.report_time_ms = fixed_ms + 1;
    sent(client.send(change));
    auto states = cloud::query_until(h, "connection-states", "pkTest", "dev4",
                                     [](const auto& rows) { return rows.size() == 2; });
    CHECK(cloud::at(states[0], "reportTime").as_int() == fixed_ms);
    CHECK(to_json(cloud::at(cloud::at(states[0], "report"), "relations")) == R"({"#001":["#002"]})");
    CHECK(cloud::at(cloud::at(states[1], "report"), "isFull").as_bool() == false);
    CHECK(to_json(cloud::at(cloud::at(states[1], "report"), "relations")) == "{}");
    CHECK(cloud::at(states[1], "reportTime").as_int() == fixed_ms + 1);

    // thing.tsltemplate.get (§3.8)
    const Response tsl = sent(client.send(up::TslTemplateGet{}));
    auto model = decode_tsl_template_reply(tsl.data_json);
    INFO(tsl.data_json);
    REQUIRE(model);
    bool has_temp = false;
    for (const auto& [id, definition] : model->measurepoints)
        has_temp |= id == "temp" && definition.find("dataType") != nullptr;
    CHECK(has_temp);
    CHECK_FALSE(model->services.empty());
}

TEST_CASE("services: the cloud refuses what the rules forbid, with its code", "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev5", "devSecret5"));
    // Bypass the SDK's own checks to see the cloud's (a device with its own encoder may send these).
    auto relations_in_change = client.send(up::JsonRequest{
        UpMethod::connection_state_post,
        R"({"isFull":false,"nodes":[{"nodeId":"a","state":1}],"relations":{"a":["b"]},"reportTime":1})"});
    REQUIRE_FALSE(relations_in_change);
    CHECK(relations_in_change.error().code == make_cloud_error(460));
    CHECK(relations_in_change.error().detail.find("isFull") != std::string::npos);
    auto bad_state = client.send(up::JsonRequest{UpMethod::connection_state_post,
                                                 R"({"isFull":true,"nodes":[{"nodeId":"a","state":4}]})"});
    REQUIRE_FALSE(bad_state);
    CHECK(bad_state.error().code == make_cloud_error(460));
    auto no_report_time = client.send(up::JsonRequest{UpMethod::network_status_report, R"({"rssi":-60})"});
    REQUIRE_FALSE(no_report_time);
    CHECK(no_report_time.error().code == make_cloud_error(460));
    auto text_rssi =
        client.send(up::JsonRequest{UpMethod::network_status_report, R"({"reportTime":1,"rssi":"weak"})"});
    REQUIRE_FALSE(text_rssi);
    CHECK(text_rssi.error().detail.find("rssi") != std::string::npos);
    auto no_logs = client.send(up::JsonRequest{UpMethod::log_post, R"({"time":1})"});
    REQUIRE_FALSE(no_logs);
    CHECK(no_logs.error().code == make_cloud_error(460));
    // Nothing of the refused requests was stored.
    CHECK(cloud::query(h, "connection-states", "pkTest", "dev5").empty());
    CHECK(cloud::query(h, "network-status", "pkTest", "dev5").empty());
}

TEST_CASE("services: traffic control from enos-hub reaches the handler, decoded (§4.9)",
          "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev6", "devSecret6"));
    auto unhandled = inject(h, {"traffic-control", "--pk", "pkTest", "--dk", "dev6"});
    CHECK(unhandled.exit_code == 4);
    CHECK(unhandled.reply.code == 1101);

    std::atomic<std::int64_t> limit{0};
    client.on_command(CommandKind::traffic_control, [&](const Command& c) -> CommandReply {
        auto command = decode_traffic_control(c.method, c.params_json);
        if (!command) return command.error();
        for (const auto& [name, value] : command->params)
            if (name == "maxMessagesPerSecond" && value.is_int()) limit = value.as_int();
        return CommandReply::ok();
    });
    auto handled = inject(h, {"traffic-control", "--pk", "pkTest", "--dk", "dev6", "--params",
                              R"({"maxMessagesPerSecond":20})"});
    INFO(handled.err);
    CHECK(handled.exit_code == 0);
    CHECK(handled.reply.code == 200);
    CHECK(limit.load() == 20);
    auto rows = cloud::query(h, "commands", "pkTest", "dev6");
    REQUIRE(rows.size() == 2);
    CHECK(cloud::at(rows[1], "command").as_string() == "traffic-control");
}
