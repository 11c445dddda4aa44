// Device reports beyond data points (docs/protocol.md §3.8, §3.13–3.15): thing-model template query,
// device logs, network status and the edge connectivity graph.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/payload/request.hpp>
#include <enos/device/core/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

enum class NodeState : int { connected = 1, disconnected = 2, unknown = 3 };

/// A node of connection.state.post.
struct ConnectionNode {
    std::string node_id; ///< mandatory
    NodeState state = NodeState::unknown;
    std::string asset_id, name, info; ///< left out when empty
};

namespace up {

/// thing.tsltemplate.get: the reply's data is the thing model (decode_tsl_template_reply).
struct TslTemplateGet {
    static constexpr UpMethod method = UpMethod::tsl_template_get;
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"params\":{}");
        return true;
    }
};

/// thing.log.post: the well-known fields of "logs" (left out when empty) plus any others.
struct LogPost {
    static constexpr UpMethod method = UpMethod::log_post;
    std::string trace_id{}, level{}, module{}, content{};
    Points extra{};
    std::optional<std::int64_t> time_ms{}; ///< empty: now
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        w.raw(",\"params\":{\"logs\":{");
        bool first = true;
        auto field = [&](std::string_view fragment, const std::string& text, const char* name) {
            if (text.empty()) return true;
            w.raw(first ? fragment.substr(1) : fragment);
            first = false;
            return w.string(text, name);
        };
        if (!field(",\"traceId\":", trace_id, "params.logs.traceId") ||
            !field(",\"level\":", level, "params.logs.level") ||
            !field(",\"module\":", module, "params.logs.module") ||
            !field(",\"content\":", content, "params.logs.content") ||
            !w.members(extra, "params.logs", !first))
            return false;
        w.raw('}');
        if (!w.time(",\"time\":", time_ms.value_or(now_ms), "params.time")) return false;
        w.raw('}');
        return true;
    }
};

/// network.status.report
struct NetworkStatusReport {
    static constexpr UpMethod method = UpMethod::network_status_report;
    std::optional<std::int64_t> report_time_ms{}; ///< empty: now
    std::optional<std::int64_t> collect_time_ms{};
    std::optional<double> rssi{}, snr{}, packet_loss_rate{};
    std::string network_type{}, error_info{}; ///< left out when empty
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        const std::int64_t report_time = report_time_ms.value_or(now_ms);
        if (report_time < 0) return w.fail(errc::invalid_argument, "field 'params.reportTime' is negative");
        w.raw(",\"params\":{\"reportTime\":");
        w.integer(report_time);
        if (!w.time(",\"collectTime\":", collect_time_ms, "params.collectTime")) return false;
        auto number = [&](std::string_view fragment, const std::optional<double>& v, const char* name) {
            if (!v) return true;
            w.raw(fragment);
            return w.number(*v, name);
        };
        auto text = [&](std::string_view fragment, const std::string& v, const char* name) {
            if (v.empty()) return true;
            w.raw(fragment);
            return w.string(v, name);
        };
        if (!number(",\"rssi\":", rssi, "params.rssi") || !number(",\"snr\":", snr, "params.snr") ||
            !number(",\"packetLossRate\":", packet_loss_rate, "params.packetLossRate") ||
            !text(",\"networkType\":", network_type, "params.networkType") ||
            !text(",\"errorInfo\":", error_info, "params.errorInfo"))
            return false;
        w.raw('}');
        return true;
    }
};

/// connection.state.post (§3.15): the connectivity of the nodes behind an edge or gateway. A full
/// report (is_full) is the whole graph and may carry relations; a change report lists only the
/// nodes whose state changed and must not. "relations" is always written (empty when there are
/// none), as the reference SDK does. Checked before anything is sent: node ids non-empty and
/// unique, states 1..3, and every node id named in relations one of the report's nodes (a full
/// graph names each node it links).
struct ConnectionStatePost {
    static constexpr UpMethod method = UpMethod::connection_state_post;
    bool is_full = false; ///< the full graph (relations are allowed only then) or just changes
    std::vector<ConnectionNode> nodes{};
    std::vector<std::pair<std::string, std::vector<std::string>>> relations{}; ///< parent node id -> children
    std::optional<std::int64_t> report_time_ms{};                              ///< empty: now
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        if (!is_full && !relations.empty())
            return w.fail(errc::invalid_argument,
                          "field 'params.relations' is only allowed in a full report (isFull true); a "
                          "change report lists nodes only");
        const std::int64_t report_time = report_time_ms.value_or(now_ms);
        if (report_time < 0) return w.fail(errc::invalid_argument, "field 'params.reportTime' is negative");
        if (!check_nodes(w) || !check_relations(w)) return false;
        w.raw(",\"params\":{\"isFull\":");
        w.boolean(is_full);
        w.raw(",\"nodes\":[");
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const ConnectionNode& node = nodes[i];
            if (i != 0) w.raw(',');
            w.raw("{\"nodeId\":");
            if (!w.required_string(node.node_id, {"params.nodes", i, ".nodeId"})) return false;
            w.raw(",\"state\":");
            w.integer(static_cast<int>(node.state));
            const std::pair<const char*, const std::string*> optional_fields[] = {
                {",\"assetId\":", &node.asset_id}, {",\"name\":", &node.name}, {",\"info\":", &node.info}};
            for (const auto& [fragment, text] : optional_fields) {
                if (text->empty()) continue;
                w.raw(fragment);
                if (!w.string(*text, {"params.nodes", i})) return false;
            }
            w.raw('}');
        }
        w.raw("],\"relations\":{");
        for (std::size_t i = 0; i < relations.size(); ++i) {
            if (i != 0) w.raw(',');
            if (!w.required_string(relations[i].first, "params.relations")) return false;
            w.raw(':');
            if (!w.names(relations[i].second, "params.relations")) return false;
        }
        w.raw("},\"reportTime\":");
        w.integer(report_time);
        w.raw('}');
        return true;
    }

private:
    bool has_node(const std::string& id) const {
        for (const ConnectionNode& node : nodes)
            if (node.node_id == id) return true;
        return false;
    }
    bool check_nodes(detail::PayloadWriter& w) const {
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const int state = static_cast<int>(nodes[i].state);
            const std::string where = "field 'params.nodes[" + std::to_string(i) + "]";
            if (nodes[i].node_id.empty()) return w.fail(errc::missing_argument, where + ".nodeId' is empty");
            if (state < 1 || state > 3)
                return w.fail(errc::invalid_argument, where + ".state' is " + std::to_string(state) +
                                                          "; it must be 1 (connected), 2 (disconnected) "
                                                          "or 3 (unknown)");
            for (std::size_t j = 0; j < i; ++j)
                if (nodes[j].node_id == nodes[i].node_id)
                    return w.fail(errc::invalid_argument, where + ".nodeId' repeats node '" +
                                                              nodes[i].node_id + "' of params.nodes[" +
                                                              std::to_string(j) + "]");
        }
        return true;
    }
    bool check_relations(detail::PayloadWriter& w) const {
        for (const auto& [parent, children] : relations) {
            if (!parent.empty() && !has_node(parent))
                return w.fail(errc::invalid_argument, "field 'params.relations' names parent node '" +
                                                          parent + "', which is not in params.nodes");
            for (const std::string& child : children)
                if (!child.empty() && !has_node(child))
                    return w.fail(errc::invalid_argument, "field 'params.relations' names child node '" +
                                                              child + "' of '" + parent +
                                                              "', which is not in params.nodes");
        }
        return true;
    }
};

} // namespace up

/// The thing model of a thing.tsltemplate.get reply: identifier -> definition per map. The
/// definitions are platform-defined objects, kept as JSON values; a map the reply leaves out is empty.
struct TslTemplate {
    Points attributes;    ///< tslAttributeMap
    Points measurepoints; ///< tslMeasurepointMap
    Points events;        ///< tslEventMap
    Points services;      ///< tslServiceMap
};

/// "data" of a thing.tsltemplate.get reply.
inline Result<TslTemplate> decode_tsl_template_reply(std::string_view data_json) {
    return detail::decode_object<TslTemplate>(data_json, "data", [](detail::ObjectReader& r, TslTemplate& t) {
        r.optional("tslAttributeMap", t.attributes)
            .optional("tslMeasurepointMap", t.measurepoints)
            .optional("tslEventMap", t.events)
            .optional("tslServiceMap", t.services);
    });
}

} // namespace enos::device
