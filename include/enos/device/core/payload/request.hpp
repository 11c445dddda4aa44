// Upstream requests as values (docs/protocol.md §3): one type per method in namespace enos::device::up,
// each with the fields of its params. The client sends them (DeviceClient::send and its _async and
// _nowait forms); firmware with its own MQTT stack encodes the same types with encode() and
// publishes them on request_topic().
//
// What a request type R provides:
//   R::method                  its UpMethod (static, except for JsonRequest)
//   r.event_id                 events only: the event identifier (part of topic and method)
//   r.write_body(w, now_ms)    the envelope's members after "method" (`,"params":...`), checked as
//                              they are written; now_ms stamps data whose own time is not set
//   r.bytes                    raw methods instead of write_body: the payload as is
#pragma once

#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/topics.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace enos::device {

namespace detail {

inline std::int64_t wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

template <class R, class = void> struct has_event_id : std::false_type {};
template <class R>
struct has_event_id<R, std::void_t<decltype(std::declval<const R&>().event_id)>> : std::true_type {};

template <class R, class = void> struct has_bytes : std::false_type {};
template <class R>
struct has_bytes<R, std::void_t<decltype(std::declval<const R&>().bytes)>> : std::true_type {};

} // namespace detail

namespace up {

/// Any upstream method with its params as JSON text ("" is {}), for fields the typed requests do
/// not cover. For raw methods params_json is sent as the payload bytes.
struct JsonRequest {
    UpMethod method = UpMethod::measurepoint_post;
    std::string params_json{};
    std::string event_id{}; ///< event_post only
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"params\":");
        if (params_json.empty()) {
            w.raw("{}");
            return true;
        }
        return w.raw_json(params_json, "params");
    }
};

/// thing/model/up_raw: bytes for the product's parsing script; the reply is bytes too.
struct RawPost {
    static constexpr UpMethod method = UpMethod::raw_up;
    std::string bytes{};
};

/// The message-integration channel's raw upload (securemode 4).
struct IntegrationRawPost {
    static constexpr UpMethod method = UpMethod::integration_raw_up;
    std::string bytes{};
};

} // namespace up

/// The event id of a request (empty for every method but events).
template <class R> std::string_view event_id_of(const R& request) noexcept {
    if constexpr (detail::has_event_id<R>::value)
        return request.event_id;
    else
        return {};
}

/// Events: the id becomes a topic level and part of the method, so it must be one level.
template <class R> Status check_event_id(const R& request) {
    if (request.method != UpMethod::event_post) return {};
    const std::string_view id = event_id_of(request);
    if (id.empty()) return Error{errc::missing_argument, "event id is empty"};
    if (!is_valid_topic_level(id))
        return Error{errc::invalid_argument, "event id must be one topic level (no '/', '+', '#')"};
    return {};
}

/// The envelope's "method" ("thing.event.{id}.post" for events); empty for raw methods.
template <class R> std::string request_method_name(const R& request) {
    return method_name(request.method, event_id_of(request));
}

/// The topic a request is published on, for device pk/dk (dk is ignored by integration methods).
template <class R> std::string request_topic(const R& request, std::string_view pk, std::string_view dk) {
    return request_topic(request.method, pk, dk, event_id_of(request));
}

namespace detail {

/// Raw payloads are sent as they are, within the platform's size limit.
inline Status check_raw_size(std::string_view bytes) {
    if (bytes.size() < limits::max_payload_bytes) return {};
    return Error{errc::payload_too_large, "raw payload is " + std::to_string(bytes.size()) +
                                              " bytes; EnOS accepts less than " +
                                              std::to_string(limits::max_payload_bytes)};
}

} // namespace detail

/// A request with its body encoded and no id yet: what a client queues and sends. The body is the
/// envelope's members after "method" (raw methods: the payload bytes), so a replay can send it
/// again with a new id, or under the resume method, without touching the JSON.
struct RequestBody {
    UpMethod method = UpMethod::measurepoint_post;
    std::string event_id{}; ///< event_post only
    std::string text{};
};

namespace detail {

/// The envelope method of `method` split around its event id ("thing.event." and ".post"), so that
/// encoding needs no temporary string. Built once per process.
inline std::pair<std::string_view, std::string_view> method_parts(UpMethod method) {
    constexpr std::size_t count = sizeof up_routes / sizeof up_routes[0];
    static const std::array<std::pair<std::string, std::string>, count> table = [] {
        std::array<std::pair<std::string, std::string>, count> parts;
        for (std::size_t i = 0; i < count; ++i) {
            const UpRoute& r = up_routes[i];
            const std::size_t hole = r.path.find(variable_level);
            parts[i].first = r.space == TopicSpace::integration ? "integration." : "";
            parts[i].first += method_of_path(r.path.substr(0, hole), {});
            if (hole != std::string_view::npos)
                parts[i].second = method_of_path(r.path.substr(hole + variable_level.size()), {});
        }
        return parts;
    }();
    const auto& [head, tail] = table[static_cast<std::size_t>(&route_of(method) - up_routes)];
    return {head, tail};
}

inline bool begin_request(PayloadWriter& w, std::string_view id, UpMethod method, std::string_view event_id) {
    const auto [head, tail] = method_parts(method);
    return w.begin_request(id, head, event_id, tail);
}

} // namespace detail

template <class R> Result<RequestBody> encode_body(const R& request, std::int64_t now_ms) {
    RequestBody body{request.method, std::string(event_id_of(request)), {}};
    std::string_view raw;
    if constexpr (detail::has_bytes<R>::value) {
        raw = request.bytes;
    } else if constexpr (std::is_same_v<R, up::JsonRequest>) {
        if (is_raw(request.method)) raw = request.params_json;
    }
    if (is_raw(request.method)) {
        if (Status s = detail::check_raw_size(raw); !s) return s.error();
        body.text.assign(raw.data(), raw.size());
        return body;
    }
    if constexpr (!detail::has_bytes<R>::value) {
        if (Status s = check_event_id(request); !s) return s.error();
        detail::PayloadWriter w(body.text);
        if (!request.write_body(w, now_ms)) return w.error();
        if (Status s = w.finish(); !s) return s.error();
    }
    return body;
}

/// {"id":id,"version":"1.1","method":... <body>}: the envelope around an encoded body
/// (RequestBody::text); raw methods: the body as is.
inline Status encode_envelope(std::string& out, std::string_view id, UpMethod method,
                              std::string_view event_id, std::string_view body) {
    if (is_raw(method)) {
        out.assign(body.data(), body.size());
        return {};
    }
    detail::PayloadWriter w(out);
    if (!detail::begin_request(w, id, method, event_id)) return w.error();
    w.raw(body);
    w.raw('}');
    return w.finish();
}

/// The whole payload of a request with the given id (raw methods: the bytes; the id is unused),
/// written straight into `out`: with its capacity reserved, encoding allocates nothing.
/// `now_ms` stamps data whose time is not set.
template <class R>
Status encode(std::string& out, std::string_view id, const R& request,
              std::int64_t now_ms = detail::wall_clock_ms()) {
    if (is_raw(request.method)) { // the body is the payload
        Result<RequestBody> body = encode_body(request, now_ms);
        if (!body) return body.error();
        out = std::move(body->text);
        return {};
    }
    if constexpr (!detail::has_bytes<R>::value) {
        if (Status s = check_event_id(request); !s) return s;
        detail::PayloadWriter w(out);
        if (!detail::begin_request(w, id, request.method, event_id_of(request)) ||
            !request.write_body(w, now_ms))
            return w.error();
        w.raw('}');
        return w.finish();
    }
    return {}; // types with bytes are raw: answered above
}

} // namespace enos::device
