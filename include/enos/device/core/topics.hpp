// Every MQTT topic of the protocol (docs/protocol.md §2.3, §3, §4): builders for upstream requests, their
// replies and the downstream commands, and parsers for what a device receives (§4.11) and what the
// cloud receives. Builders and parsers read the same route tables, so they cannot drift apart.
#pragma once

#include <enos/device/core/detail/strings.hpp>
#include <enos/device/core/result.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace enos::device {

/// Every upstream request kind, docs/protocol.md §3.
enum class UpMethod {
    measurepoint_post, measurepoint_post_batch, measurepoint_resume, measurepoint_resume_batch,
    event_post, attribute_query, attribute_update, attribute_delete, tag_query, tag_update, tag_delete,
    raw_up, tsl_template_get, device_register, topo_add, topo_get, topo_delete,
    sub_login, sub_login_batch, sub_logout, ota_inform, ota_getversion, ota_progress,
    log_post, network_status_report, connection_state_post,
    integration_measurepoint_post, integration_event_post, integration_attribute_post, integration_raw_up
};

/// Cloud -> device commands (docs/protocol.md §4.1–4.10), plus `reply` for the reply to an upstream request.
enum class DownKind {
    measurepoint_set, measurepoint_get, service_invoke, rrpc_request, raw_down,
    sub_device_enable, sub_device_disable, sub_device_delete, ///< /ext/session/.../combine/{enable,disable,delete}
    device_enable, device_disable, device_delete,             ///< legacy /sys/.../thing/{enable,disable,delete}
    ota_upgrade, traffic_control, activate_info,
    reply
};

/// A topic a device received, classified.
struct ArrivedTopic {
    DownKind kind = DownKind::reply;
    std::string product_key, device_key; ///< of the topic; device_key is empty for integration replies
    std::string service_id;              ///< service_invoke
    std::string message_id;              ///< rrpc_request (the last topic level, not the JSON id)
    UpMethod reply_to{};                 ///< kind == reply: which request this answers
    std::string event_id;                ///< reply to event_post
};

/// A device -> cloud request topic, classified (cloud side).
struct UpstreamTopic {
    UpMethod method{};
    std::string product_key, device_key, event_id; ///< device_key is empty for integration topics
};

/// Commands are answered at QoS 0 (docs/protocol.md §2.5).
inline constexpr int command_reply_qos = 0;

namespace detail {

/// Where a topic's path starts: /sys/{pk}/{dk}/, /ext/session/{pk}/{dk}/ or /sys/{pk}/integration/.
enum class TopicSpace { device, session, integration };

constexpr std::size_t count_levels(std::string_view path) noexcept {
    std::size_t levels = 1;
    for (char c : path)
        levels += c == '/';
    return levels;
}

/// One topic shape. In `path`, the level "{}" stands for a variable level (event id, service id,
/// RRPC message id). `levels` lets a topic skip the shapes of another length without comparing.
struct UpRoute {
    UpMethod method;
    TopicSpace space;
    std::string_view path;
    std::size_t levels = count_levels(path);
};
struct DownRoute {
    DownKind kind;
    TopicSpace space;
    std::string_view path;
    std::size_t levels = count_levels(path);
};

inline constexpr UpRoute up_routes[] = {
    {UpMethod::measurepoint_post, TopicSpace::device, "thing/measurepoint/post"},
    {UpMethod::measurepoint_post_batch, TopicSpace::device, "thing/measurepoint/post/batch"},
    {UpMethod::measurepoint_resume, TopicSpace::device, "thing/measurepoint/resume"},
    {UpMethod::measurepoint_resume_batch, TopicSpace::device, "thing/measurepoint/resume/batch"},
    {UpMethod::event_post, TopicSpace::device, "thing/event/{}/post"},
    {UpMethod::attribute_query, TopicSpace::device, "thing/attribute/query"},
    {UpMethod::attribute_update, TopicSpace::device, "thing/attribute/update"},
    {UpMethod::attribute_delete, TopicSpace::device, "thing/attribute/delete"},
    {UpMethod::tag_query, TopicSpace::device, "thing/tag/query"},
    {UpMethod::tag_update, TopicSpace::device, "thing/tag/update"},
    {UpMethod::tag_delete, TopicSpace::device, "thing/tag/delete"},
    {UpMethod::raw_up, TopicSpace::device, "thing/model/up_raw"},
    {UpMethod::tsl_template_get, TopicSpace::device, "thing/tsltemplate/get"},
    {UpMethod::device_register, TopicSpace::device, "thing/device/register"},
    {UpMethod::topo_add, TopicSpace::device, "thing/topo/add"},
    {UpMethod::topo_get, TopicSpace::device, "thing/topo/get"},
    {UpMethod::topo_delete, TopicSpace::device, "thing/topo/delete"},
    {UpMethod::sub_login, TopicSpace::session, "combine/login"},
    {UpMethod::sub_login_batch, TopicSpace::session, "combine/login/batch"},
    {UpMethod::sub_logout, TopicSpace::session, "combine/logout"},
    {UpMethod::ota_inform, TopicSpace::device, "ota/device/inform"},
    {UpMethod::ota_getversion, TopicSpace::device, "ota/device/getversion"},
    {UpMethod::ota_progress, TopicSpace::device, "ota/device/progress"},
    {UpMethod::log_post, TopicSpace::device, "thing/log/post"},
    {UpMethod::network_status_report, TopicSpace::device, "network/status/report"},
    {UpMethod::connection_state_post, TopicSpace::device, "connection/state/post"},
    {UpMethod::integration_measurepoint_post, TopicSpace::integration, "measurepoint/post"},
    {UpMethod::integration_event_post, TopicSpace::integration, "event/post"},
    {UpMethod::integration_attribute_post, TopicSpace::integration, "attribute/post"},
    {UpMethod::integration_raw_up, TopicSpace::integration, "model/up_raw"},
};

/// In the match order of docs/protocol.md §4.11 (measure point set/get before the generic service).
inline constexpr DownRoute down_routes[] = {
    {DownKind::measurepoint_set, TopicSpace::device, "thing/service/measurepoint/set"},
    {DownKind::measurepoint_get, TopicSpace::device, "thing/service/measurepoint/get"},
    {DownKind::service_invoke, TopicSpace::device, "thing/service/{}"},
    {DownKind::rrpc_request, TopicSpace::device, "rrpc/request/{}"},
    {DownKind::raw_down, TopicSpace::device, "thing/model/down_raw"},
    {DownKind::sub_device_enable, TopicSpace::session, "combine/enable"},
    {DownKind::sub_device_disable, TopicSpace::session, "combine/disable"},
    {DownKind::sub_device_delete, TopicSpace::session, "combine/delete"},
    {DownKind::device_enable, TopicSpace::device, "thing/enable"},
    {DownKind::device_disable, TopicSpace::device, "thing/disable"},
    {DownKind::device_delete, TopicSpace::device, "thing/delete"},
    {DownKind::ota_upgrade, TopicSpace::device, "ota/device/upgrade"},
    {DownKind::traffic_control, TopicSpace::device, "traffic/control"},
    {DownKind::activate_info, TopicSpace::session, "thing/activate/info"},
};

inline constexpr std::string_view reply_suffix = "_reply";
inline constexpr std::string_view variable_level = "{}";
inline constexpr std::string_view rrpc_response_path = "rrpc/response/{}";

inline constexpr const UpRoute& route_of(UpMethod method) noexcept {
    for (const UpRoute& r : up_routes)
        if (r.method == method) return r;
    return up_routes[0]; // unreachable for values inside the enum
}

inline const DownRoute* route_of(DownKind kind) noexcept {
    for (const DownRoute& r : down_routes)
        if (r.kind == kind) return &r;
    return nullptr;
}

/// "/sys/{pk}/{dk}/" + path, with "{}" replaced by `variable`.
inline std::string build_topic(TopicSpace space, std::string_view pk, std::string_view dk, std::string_view path,
                               std::string_view variable) {
    std::string out;
    out.reserve(32 + pk.size() + dk.size() + path.size() + variable.size());
    switch (space) {
    case TopicSpace::device: out.append("/sys/").append(pk).append("/").append(dk).append("/"); break;
    case TopicSpace::session: out.append("/ext/session/").append(pk).append("/").append(dk).append("/"); break;
    case TopicSpace::integration: out.append("/sys/").append(pk).append("/integration/"); break;
    }
    const std::size_t hole = path.find(variable_level);
    if (hole == std::string_view::npos) return out.append(path);
    return out.append(path.substr(0, hole)).append(variable).append(path.substr(hole + variable_level.size()));
}

/// A topic split at '/'. Only topics this SDK can recognise are split: a leading '/', no empty
/// level, at most `capacity` levels (the longest protocol topic has 7), at most 64 KiB, and none of
/// the characters a topic name cannot hold (wildcards, NUL), so parsed keys are safe to build with.
struct TopicLevels {
    static constexpr std::size_t capacity = 8;
    std::array<std::string_view, capacity> level{};
    std::size_t count = 0;
};

inline bool split_topic(std::string_view topic, TopicLevels& out) noexcept {
    out.count = 0;
    if (topic.size() < 2 || topic.size() > 65535 || topic.front() != '/') return false;
    for (char c : topic) // a plain loop: find_first_of() with a set costs a memchr per character
        if (c == '+' || c == '#' || c == '\0') return false;
    std::string_view rest = topic.substr(1);
    while (true) {
        if (out.count == TopicLevels::capacity) return false;
        const std::size_t slash = rest.find('/');
        const std::string_view level = rest.substr(0, slash);
        if (level.empty()) return false;
        out.level[out.count++] = level;
        if (slash == std::string_view::npos) return true;
        rest.remove_prefix(slash + 1);
    }
}

/// Matches levels[first..count) against `path`; a "{}" level matches any level and is stored in
/// `variable`.
inline bool match_path(const TopicLevels& t, std::size_t first, std::string_view path,
                       std::string_view& variable) noexcept {
    std::size_t i = first;
    while (true) {
        const std::size_t slash = path.find('/');
        const std::string_view want = path.substr(0, slash);
        if (i == t.count) return false;
        if (want == variable_level)
            variable = t.level[i];
        else if (t.level[i] != want)
            return false;
        ++i;
        if (slash == std::string_view::npos) return i == t.count;
        path.remove_prefix(slash + 1);
    }
}

/// Where the path of `space` starts in `t`, and its pk/dk; false if `t` is not in that space.
inline bool match_space(const TopicLevels& t, TopicSpace space, std::string_view& pk, std::string_view& dk,
                        std::size_t& first) noexcept {
    switch (space) {
    case TopicSpace::device:
        if (t.count < 4 || t.level[0] != "sys") return false;
        pk = t.level[1], dk = t.level[2], first = 3;
        return true;
    case TopicSpace::session:
        if (t.count < 5 || t.level[0] != "ext" || t.level[1] != "session") return false;
        pk = t.level[2], dk = t.level[3], first = 4;
        return true;
    case TopicSpace::integration:
        if (t.count < 4 || t.level[0] != "sys" || t.level[2] != "integration") return false;
        pk = t.level[1], dk = {}, first = 3;
        return true;
    }
    return false;
}

inline const UpRoute* match_up_route(const TopicLevels& t, std::string_view& pk, std::string_view& dk,
                                     std::string_view& variable) noexcept {
    for (const UpRoute& r : up_routes) {
        std::size_t first = 0;
        if (match_space(t, r.space, pk, dk, first) && t.count - first == r.levels &&
            match_path(t, first, r.path, variable))
            return &r;
    }
    return nullptr;
}

inline const DownRoute* match_down_route(const TopicLevels& t, std::string_view& pk, std::string_view& dk,
                                         std::string_view& variable) noexcept {
    for (const DownRoute& r : down_routes) {
        std::size_t first = 0;
        if (!match_space(t, r.space, pk, dk, first) || t.count - first != r.levels ||
            !match_path(t, first, r.path, variable))
            continue;
        // §4.11: ".../thing/service/x_reply" is the reply to a service, never a service named "x_reply".
        if (r.kind == DownKind::service_invoke && ends_with(variable, reply_suffix)) continue;
        return &r;
    }
    return nullptr;
}

/// Removes "_reply" from the last level; false if it is not there or nothing would be left.
inline bool strip_reply_suffix(TopicLevels& t) noexcept {
    std::string_view& last = t.level[t.count - 1];
    if (!ends_with(last, reply_suffix) || last.size() == reply_suffix.size()) return false;
    last.remove_suffix(reply_suffix.size());
    return true;
}

/// The envelope method of a topic path: '/' becomes '.', and "{}" is replaced by `variable` as is
/// ("thing/event/{}/post" -> "thing.event.overTemp.post").
inline std::string method_of_path(std::string_view path, std::string_view variable) {
    std::string out;
    const auto append_dotted = [&out](std::string_view part) {
        for (char c : part) out += c == '/' ? '.' : c;
    };
    const std::size_t hole = path.find(variable_level);
    append_dotted(path.substr(0, hole));
    if (hole != std::string_view::npos) {
        out.append(variable);
        append_dotted(path.substr(hole + variable_level.size()));
    }
    return out;
}

inline Error topic_no_match(std::string_view topic) {
    return Error{errc::topic_no_match, "topic " + quoted_excerpt(topic, 120)};
}

} // namespace detail

/// QoS the reference SDK uses: events and logs are sent at 0, everything else at 1.
constexpr int default_qos(UpMethod method) noexcept {
    return method == UpMethod::event_post || method == UpMethod::log_post ||
                   method == UpMethod::integration_event_post
               ? 0
               : 1;
}

constexpr bool is_integration(UpMethod method) noexcept {
    return method == UpMethod::integration_measurepoint_post || method == UpMethod::integration_event_post ||
           method == UpMethod::integration_attribute_post || method == UpMethod::integration_raw_up;
}

/// Raw uploads carry arbitrary bytes: no JSON envelope, no id.
constexpr bool is_raw(UpMethod method) noexcept {
    return method == UpMethod::raw_up || method == UpMethod::integration_raw_up;
}

/// "thing.event.{id}.post" etc.: the `method` of the request envelope; empty for raw uploads.
inline std::string method_name(UpMethod method, std::string_view event_id = {}) {
    if (is_raw(method)) return {};
    const detail::UpRoute& r = detail::route_of(method);
    std::string path = detail::method_of_path(r.path, event_id);
    return r.space == detail::TopicSpace::integration ? "integration." + path : path;
}

/// Request topic; `dk` is ignored for integration methods, `event_id` is used by event_post only.
inline std::string request_topic(UpMethod method, std::string_view pk, std::string_view dk,
                                 std::string_view event_id = {}) {
    const detail::UpRoute& r = detail::route_of(method);
    return detail::build_topic(r.space, pk, dk, r.path, event_id);
}

/// Reply topic of a request: the request topic + "_reply".
inline std::string reply_topic(UpMethod method, std::string_view pk, std::string_view dk,
                               std::string_view event_id = {}) {
    return request_topic(method, pk, dk, event_id).append(detail::reply_suffix);
}

/// True if `level` can be one topic level of a published topic (an event id, a service id, ...):
/// non-empty and free of '/', '+', '#' and NUL.
constexpr bool is_valid_topic_level(std::string_view level) noexcept {
    if (level.empty()) return false;
    for (char c : level)
        if (c == '/' || c == '+' || c == '#' || c == '\0') return false;
    return true;
}

/// Topic on which the cloud sends a command. `id_or_service` is the service id (service_invoke) or
/// the RRPC message id (rrpc_request). Empty for DownKind::reply (use reply_topic()).
inline std::string command_topic(DownKind kind, std::string_view pk, std::string_view dk,
                                 std::string_view id_or_service = {}) {
    const detail::DownRoute* r = detail::route_of(kind);
    return r ? detail::build_topic(r->space, pk, dk, r->path, id_or_service) : std::string{};
}

/// The `method` of a command envelope. For rrpc_request the method is that of the service being
/// called, so pass its service id; empty for raw_down and reply.
inline std::string command_method(DownKind kind, std::string_view service_id = {}) {
    if (kind == DownKind::rrpc_request) return "thing.service." + std::string(service_id);
    const detail::DownRoute* r = detail::route_of(kind);
    if (!r || kind == DownKind::raw_down) return {};
    return detail::method_of_path(r->path, service_id);
}

/// Classifies a topic a device received (docs/protocol.md §4.11). Commands are matched first, in the
/// order of that table; then anything whose last level ends in "_reply" is matched against the reply
/// topics of every UpMethod. Anything else, including malformed topics (no leading '/', empty
/// levels, too many levels), is errc::topic_no_match. Never throws beyond std::bad_alloc.
inline Result<ArrivedTopic> parse_arrived_topic(std::string_view topic) {
    detail::TopicLevels t;
    if (!detail::split_topic(topic, t)) return detail::topic_no_match(topic);
    std::string_view pk, dk, variable;
    ArrivedTopic out;
    if (const detail::DownRoute* r = detail::match_down_route(t, pk, dk, variable)) {
        out.kind = r->kind;
        if (r->kind == DownKind::service_invoke) out.service_id = std::string(variable);
        if (r->kind == DownKind::rrpc_request) out.message_id = std::string(variable);
    } else if (!detail::strip_reply_suffix(t)) {
        return detail::topic_no_match(topic);
    } else if (const detail::UpRoute* u = detail::match_up_route(t, pk, dk, variable)) {
        out.kind = DownKind::reply;
        out.reply_to = u->method;
        if (u->method == UpMethod::event_post) out.event_id = std::string(variable);
    } else {
        return detail::topic_no_match(topic);
    }
    out.product_key = std::string(pk);
    out.device_key = std::string(dk);
    return out;
}

/// Where the device answers a command: "<command topic>_reply", or rrpc/response/{mid} for RRPC.
/// Traffic control also gets "_reply", unlike the reference SDK (which answers on the command topic
/// itself, docs/protocol.md §8.8): a device that subscribes to its command topics would receive its own
/// answer as a new command and loop, and "_reply" is the convention of every other topic.
/// Empty for DownKind::reply (replies are not answered).
inline std::string command_reply_topic(const ArrivedTopic& command) {
    if (command.kind == DownKind::reply) return {};
    if (command.kind == DownKind::rrpc_request)
        return detail::build_topic(detail::TopicSpace::device, command.product_key, command.device_key,
                                   detail::rrpc_response_path, command.message_id);
    const std::string_view id =
        command.kind == DownKind::service_invoke ? std::string_view(command.service_id) : std::string_view{};
    return command_topic(command.kind, command.product_key, command.device_key, id).append(detail::reply_suffix);
}

/// Cloud side: classifies a device -> cloud request topic (not replies). errc::topic_no_match
/// otherwise.
inline Result<UpstreamTopic> parse_upstream_topic(std::string_view topic) {
    detail::TopicLevels t;
    if (!detail::split_topic(topic, t)) return detail::topic_no_match(topic);
    std::string_view pk, dk, variable;
    const detail::UpRoute* r = detail::match_up_route(t, pk, dk, variable);
    if (!r) return detail::topic_no_match(topic);
    UpstreamTopic out;
    out.method = r->method;
    out.product_key = std::string(pk);
    out.device_key = std::string(dk);
    if (r->method == UpMethod::event_post) out.event_id = std::string(variable);
    return out;
}

/// Cloud side: classifies the topic of a device's answer to a command (the inverse of
/// command_reply_topic()): the result describes the command being answered. errc::topic_no_match
/// otherwise.
inline Result<ArrivedTopic> parse_command_reply_topic(std::string_view topic) {
    detail::TopicLevels t;
    if (!detail::split_topic(topic, t)) return detail::topic_no_match(topic);
    std::string_view pk, dk, variable;
    std::size_t first = 0;
    ArrivedTopic out;
    if (detail::match_space(t, detail::TopicSpace::device, pk, dk, first) &&
        detail::match_path(t, first, detail::rrpc_response_path, variable)) {
        out.kind = DownKind::rrpc_request;
        out.message_id = std::string(variable);
    } else if (!detail::strip_reply_suffix(t)) {
        return detail::topic_no_match(topic);
    } else if (const detail::DownRoute* r = detail::match_down_route(t, pk, dk, variable)) {
        out.kind = r->kind;
        if (r->kind == DownKind::service_invoke) out.service_id = std::string(variable);
        if (r->kind == DownKind::rrpc_request) return detail::topic_no_match(topic); // answered on rrpc/response
    } else {
        return detail::topic_no_match(topic);
    }
    out.product_key = std::string(pk);
    out.device_key = std::string(dk);
    return out;
}

} // namespace enos::device
