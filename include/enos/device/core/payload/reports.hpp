// Device reports beyond data points (docs/protocol.md §3.8, §3.13–3.15): thing-model template query,
// device logs, network status and the edge connectivity graph.
#pragma once

#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

/// thing.log.post "logs": the well-known fields (left out when empty) plus any others.
struct DeviceLog {
    std::string trace_id, level, module, content;
    Points extra;
};

/// network.status.report
struct NetworkStatus {
    std::optional<std::int64_t> report_time_ms; ///< empty: now
    std::optional<std::int64_t> collect_time_ms;
    std::optional<double> rssi, snr, packet_loss_rate;
    std::string network_type, error_info; ///< left out when empty
};

enum class NodeState : int { connected = 1, disconnected = 2, unknown = 3 };

/// A node of connection.state.post.
struct ConnectionNode {
    std::string node_id; ///< mandatory
    NodeState state = NodeState::unknown;
    std::string asset_id, name, info; ///< left out when empty
};

/// connection.state.post: the connectivity of the nodes behind an edge or gateway.
struct ConnectionStateReport {
    bool is_full = false; ///< the full graph (relations are allowed only then) or just changes
    std::vector<ConnectionNode> nodes;
    std::vector<std::pair<std::string, std::vector<std::string>>> relations; ///< parent node id -> children
    std::optional<std::int64_t> report_time_ms;                              ///< empty: now
};

namespace detail {

inline std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace detail

/// thing.tsltemplate.get: params {}; the reply data is the thing model (opaque JSON).
inline Status encode_tsl_template_get(std::string& out, std::string_view id) {
    return encode_request_raw_params(out, id, "thing.tsltemplate.get", "{}");
}

/// thing.log.post
inline Status encode_log_post(std::string& out, std::string_view id, const DeviceLog& log,
                              std::optional<std::int64_t> time_ms) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "thing.log.post")) return w.error();
    w.raw(",\"params\":{\"logs\":{");
    bool first = true;
    auto field = [&](std::string_view fragment, const std::string& text, const char* name) {
        if (text.empty()) return true;
        w.raw(first ? fragment.substr(1) : fragment);
        first = false;
        return w.string(text, name);
    };
    if (!field(",\"traceId\":", log.trace_id, "params.logs.traceId") ||
        !field(",\"level\":", log.level, "params.logs.level") ||
        !field(",\"module\":", log.module, "params.logs.module") ||
        !field(",\"content\":", log.content, "params.logs.content"))
        return w.error();
    if (!w.members(log.extra, "params.logs", !first)) return w.error();
    w.raw('}');
    if (!w.time(",\"time\":", time_ms, "params.time")) return w.error();
    w.raw("}}");
    return w.finish();
}

/// network.status.report
inline Status encode_network_status_report(std::string& out, std::string_view id,
                                           const NetworkStatus& status) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "network.status.report")) return w.error();
    w.raw(",\"params\":{\"reportTime\":");
    const std::int64_t report_time = status.report_time_ms.value_or(detail::now_ms());
    if (report_time < 0) {
        w.fail(errc::invalid_argument, "field 'params.reportTime' is negative");
        return w.error();
    }
    w.integer(report_time);
    if (!w.time(",\"collectTime\":", status.collect_time_ms, "params.collectTime")) return w.error();
    auto number = [&](std::string_view fragment, const std::optional<double>& v, const char* name) {
        if (!v) return true;
        w.raw(fragment);
        return w.number(*v, name);
    };
    if (!number(",\"rssi\":", status.rssi, "params.rssi") || !number(",\"snr\":", status.snr, "params.snr") ||
        !number(",\"packetLossRate\":", status.packet_loss_rate, "params.packetLossRate"))
        return w.error();
    if (!status.network_type.empty()) {
        w.raw(",\"networkType\":");
        if (!w.string(status.network_type, "params.networkType")) return w.error();
    }
    if (!status.error_info.empty()) {
        w.raw(",\"errorInfo\":");
        if (!w.string(status.error_info, "params.errorInfo")) return w.error();
    }
    w.raw("}}");
    return w.finish();
}

/// connection.state.post; "relations" is always written (empty when there are none).
inline Status encode_connection_state_post(std::string& out, std::string_view id,
                                           const ConnectionStateReport& report) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "connection.state.post")) return w.error();
    if (!report.is_full && !report.relations.empty()) {
        w.fail(errc::invalid_argument, "field 'params.relations' is only allowed in a full report (isFull)");
        return w.error();
    }
    w.raw(",\"params\":{\"isFull\":");
    w.boolean(report.is_full);
    w.raw(",\"nodes\":[");
    for (std::size_t i = 0; i < report.nodes.size(); ++i) {
        const ConnectionNode& node = report.nodes[i];
        if (i != 0) w.raw(',');
        w.raw("{\"nodeId\":");
        if (!w.required_string(node.node_id, {"params.nodes", i, ".nodeId"})) return w.error();
        w.raw(",\"state\":");
        w.integer(static_cast<int>(node.state));
        const std::pair<const char*, const std::string*> optional_fields[] = {
            {",\"assetId\":", &node.asset_id}, {",\"name\":", &node.name}, {",\"info\":", &node.info}};
        for (const auto& [fragment, text] : optional_fields) {
            if (text->empty()) continue;
            w.raw(fragment);
            if (!w.string(*text, {"params.nodes", i})) return w.error();
        }
        w.raw('}');
    }
    w.raw("],\"relations\":{");
    for (std::size_t i = 0; i < report.relations.size(); ++i) {
        if (i != 0) w.raw(',');
        if (!w.required_string(report.relations[i].first, "params.relations")) return w.error();
        w.raw(':');
        if (!w.names(report.relations[i].second, "params.relations")) return w.error();
    }
    w.raw("},\"reportTime\":");
    const std::int64_t report_time = report.report_time_ms.value_or(detail::now_ms());
    if (report_time < 0) {
        w.fail(errc::invalid_argument, "field 'params.reportTime' is negative");
        return w.error();
    }
    w.integer(report_time);
    w.raw("}}");
    return w.finish();
}

} // namespace enos::device
