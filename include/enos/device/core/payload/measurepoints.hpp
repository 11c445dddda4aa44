// Measure points, events and the message-integration channel (docs/protocol.md §3.1–3.4, §3.16).
// Times are epoch milliseconds; an absent time is left out of the payload (the cloud then uses the
// arrival time), so callers that want the sampling time recorded must pass it.
#pragma once

#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace enos::device {

/// One element of a batch post: the points of one device at one time.
struct MeasurePointSample {
    std::string product_key, device_key; ///< both empty -> the device of the topic
    Points points;
    std::optional<std::int64_t> time_ms;
};

/// Top-level flags of a batch post (§3.2); both are always written, as the reference SDK does.
struct BatchFlags {
    bool allow_offline_sub_device = false;   ///< accept data of sub-devices that are not logged in
    bool skip_invalid_measurepoints = false; ///< drop invalid points instead of refusing the request
};

/// One device's part of an integration post (§3.16): measure points, events or attributes.
struct IntegrationRecord {
    std::string device_key; ///< mandatory: the topic names only the product
    Points values;          ///< measurepoints / events (event id -> its parameters) / attributes
    std::optional<std::int64_t> time_ms;
};

/// thing.measurepoint.post (or, with `resume`, thing.measurepoint.resume: stored as history
/// without triggering alerts or stream processing).
inline Status encode_measurepoint_post(std::string& out, std::string_view id, const Points& points,
                                       std::optional<std::int64_t> time_ms, bool resume = false) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, resume ? "thing.measurepoint.resume" : "thing.measurepoint.post"))
        return w.error();
    w.raw(",\"params\":{\"measurepoints\":");
    if (!w.points(points, "params.measurepoints") || !w.time(",\"time\":", time_ms, "params.time"))
        return w.error();
    w.raw("}}");
    return w.finish();
}

/// thing.measurepoint.post.batch (or thing.measurepoint.resume.batch): several devices and/or times.
inline Status encode_measurepoint_batch(std::string& out, std::string_view id,
                                        const std::vector<MeasurePointSample>& samples, BatchFlags flags,
                                        bool resume = false) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, resume ? "thing.measurepoint.resume.batch" : "thing.measurepoint.post.batch"))
        return w.error();
    w.raw(",\"allowOfflineSubDevice\":");
    w.boolean(flags.allow_offline_sub_device);
    w.raw(",\"skipInvalidMeasurepoints\":");
    w.boolean(flags.skip_invalid_measurepoints);
    w.raw(",\"params\":[");
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const MeasurePointSample& sample = samples[i];
        if (i != 0) w.raw(',');
        w.raw('{');
        if (sample.product_key.empty() != sample.device_key.empty()) {
            w.fail(errc::invalid_argument, "field '" + detail::Field("params", i).name() +
                                               "' needs both productKey and deviceKey, or neither");
            return w.error();
        }
        if (!sample.product_key.empty()) {
            w.raw("\"productKey\":");
            if (!w.string(sample.product_key, {"params", i, ".productKey"})) return w.error();
            w.raw(",\"deviceKey\":");
            if (!w.string(sample.device_key, {"params", i, ".deviceKey"})) return w.error();
            w.raw(',');
        }
        w.raw("\"measurepoints\":");
        if (!w.points(sample.points, {"params", i, ".measurepoints"}) ||
            !w.time(",\"time\":", sample.time_ms, {"params", i, ".time"}))
            return w.error();
        w.raw('}');
    }
    w.raw("]}");
    return w.finish();
}

namespace detail {

/// An event id becomes part of the topic and of the method name, so it must be one topic level.
inline bool check_event_id(PayloadWriter& w, std::string_view event_id) {
    if (event_id.empty()) return w.fail(errc::missing_argument, "event id is empty");
    if (event_id.find_first_of(std::string_view("/+#\0", 4)) != std::string_view::npos)
        return w.fail(errc::invalid_argument, "event id must not contain '/', '+', '#' or NUL");
    return true;
}

} // namespace detail

/// thing.event.{event_id}.post with the event's output parameters.
inline Status encode_event_post(std::string& out, std::string_view id, std::string_view event_id,
                                const Points& events, std::optional<std::int64_t> time_ms) {
    detail::PayloadWriter w(out);
    if (!detail::check_event_id(w, event_id)) return w.error();
    if (!w.begin_request(id, "thing.event.", event_id, ".post")) return w.error();
    w.raw(",\"params\":{\"events\":");
    if (!w.points(events, "params.events") || !w.time(",\"time\":", time_ms, "params.time")) return w.error();
    w.raw("}}");
    return w.finish();
}

namespace detail {

/// `values_key` is the member holding each record's values with a leading dot (".events").
inline Status encode_integration(std::string& out, std::string_view id, std::string_view method,
                                 std::string_view values_key, const std::vector<IntegrationRecord>& records,
                                 std::size_t max_values) {
    PayloadWriter w(out);
    if (!w.begin_request(id, method)) return w.error();
    w.raw(",\"params\":[");
    for (std::size_t i = 0; i < records.size(); ++i) {
        const IntegrationRecord& record = records[i];
        if (i != 0) w.raw(',');
        w.raw("{\"deviceKey\":");
        if (!w.required_string(record.device_key, {"params", i, ".deviceKey"})) return w.error();
        if (!w.at_most(record.values.size(), max_values, {"params", i, values_key}) ||
            !w.time(",\"time\":", record.time_ms, {"params", i, ".time"}))
            return w.error();
        w.raw(",\"");
        w.raw(values_key.substr(1));
        w.raw("\":");
        if (!w.points(record.values, {"params", i, values_key})) return w.error();
        w.raw('}');
    }
    w.raw("]}");
    return w.finish();
}

} // namespace detail

/// integration.measurepoint.post: measure points of many devices of the product (securemode 4).
inline Status encode_integration_measurepoint_post(std::string& out, std::string_view id,
                                                   const std::vector<IntegrationRecord>& records) {
    return detail::encode_integration(out, id, "integration.measurepoint.post", ".measurepoints", records,
                                      static_cast<std::size_t>(-1));
}

/// integration.event.post: per device, event id -> the event's output parameters (an object).
inline Status encode_integration_event_post(std::string& out, std::string_view id,
                                            const std::vector<IntegrationRecord>& records) {
    return detail::encode_integration(out, id, "integration.event.post", ".events", records,
                                      static_cast<std::size_t>(-1));
}

/// integration.attribute.post: at most 200 attributes per device.
inline Status encode_integration_attribute_post(std::string& out, std::string_view id,
                                                const std::vector<IntegrationRecord>& records) {
    return detail::encode_integration(out, id, "integration.attribute.post", ".attributes", records,
                                      limits::max_attributes);
}

} // namespace enos::device
