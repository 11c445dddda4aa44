// Measure points, events and the message-integration channel (docs/protocol.md §3.1–3.4, §3.16).
// Times are epoch milliseconds.
#pragma once

#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/payload/request.hpp>
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

namespace detail {

/// `values_key` is the member holding each record's values with a leading dot (".events").
inline bool write_integration(PayloadWriter& w, std::string_view values_key,
                              const std::vector<IntegrationRecord>& records, std::size_t max_values) {
    w.raw(",\"params\":[");
    for (std::size_t i = 0; i < records.size(); ++i) {
        const IntegrationRecord& record = records[i];
        if (i != 0) w.raw(',');
        w.raw("{\"deviceKey\":");
        if (!w.required_string(record.device_key, {"params", i, ".deviceKey"}) ||
            !w.at_most(record.values.size(), max_values, {"params", i, values_key}) ||
            !w.time(",\"time\":", record.time_ms, {"params", i, ".time"}))
            return false;
        w.raw(",\"");
        w.raw(values_key.substr(1));
        w.raw("\":");
        if (!w.points(record.values, {"params", i, values_key})) return false;
        w.raw('}');
    }
    w.raw(']');
    return true;
}

/// The device's measure points at one time: live (post) or history (resume).
template <UpMethod M> struct Measurepoints {
    static constexpr UpMethod method = M;
    Points points{};
    std::optional<std::int64_t> time_ms{}; ///< sampling time; empty: now
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        w.raw(",\"params\":{\"measurepoints\":");
        if (!w.points(points, "params.measurepoints") ||
            !w.time(",\"time\":", time_ms.value_or(now_ms), "params.time"))
            return false;
        w.raw('}');
        return true;
    }
};

/// Several devices and/or times in one request. A sample without a time gets the arrival time in
/// the cloud.
template <UpMethod M> struct MeasurepointBatch {
    static constexpr UpMethod method = M;
    std::vector<MeasurePointSample> samples{};
    BatchFlags flags{}; ///< both are always written, as the reference SDK does
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"allowOfflineSubDevice\":");
        w.boolean(flags.allow_offline_sub_device);
        w.raw(",\"skipInvalidMeasurepoints\":");
        w.boolean(flags.skip_invalid_measurepoints);
        w.raw(",\"params\":[");
        for (std::size_t i = 0; i < samples.size(); ++i) {
            const MeasurePointSample& sample = samples[i];
            if (i != 0) w.raw(',');
            w.raw('{');
            if (sample.product_key.empty() != sample.device_key.empty())
                return w.fail(errc::invalid_argument,
                              "field '" + detail::Field("params", i).name() +
                                  "' needs both productKey and deviceKey, or neither");
            if (!sample.product_key.empty()) {
                w.raw("\"productKey\":");
                if (!w.string(sample.product_key, {"params", i, ".productKey"})) return false;
                w.raw(",\"deviceKey\":");
                if (!w.string(sample.device_key, {"params", i, ".deviceKey"})) return false;
                w.raw(',');
            }
            w.raw("\"measurepoints\":");
            if (!w.points(sample.points, {"params", i, ".measurepoints"}) ||
                !w.time(",\"time\":", sample.time_ms, {"params", i, ".time"}))
                return false;
            w.raw('}');
        }
        w.raw(']');
        return true;
    }
};

} // namespace detail

namespace up {

/// thing.measurepoint.post: the device's measure points at one time.
using MeasurepointPost = detail::Measurepoints<UpMethod::measurepoint_post>;
/// thing.measurepoint.resume: history backfill, stored without alerts or stream processing.
using MeasurepointResume = detail::Measurepoints<UpMethod::measurepoint_resume>;
/// thing.measurepoint.post.batch
using MeasurepointPostBatch = detail::MeasurepointBatch<UpMethod::measurepoint_post_batch>;
/// thing.measurepoint.resume.batch
using MeasurepointResumeBatch = detail::MeasurepointBatch<UpMethod::measurepoint_resume_batch>;

/// thing.event.{event_id}.post with the event's output parameters (QoS 0 by default).
struct EventPost {
    static constexpr UpMethod method = UpMethod::event_post;
    std::string event_id{}; ///< one topic level: no '/', '+', '#'
    Points values{};
    std::optional<std::int64_t> time_ms{}; ///< empty: now
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        w.raw(",\"params\":{\"events\":");
        if (!w.points(values, "params.events") ||
            !w.time(",\"time\":", time_ms.value_or(now_ms), "params.time"))
            return false;
        w.raw('}');
        return true;
    }
};

/// integration.measurepoint.post: measure points of many devices of the product (securemode 4).
struct IntegrationMeasurepointPost {
    static constexpr UpMethod method = UpMethod::integration_measurepoint_post;
    std::vector<IntegrationRecord> records{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        return detail::write_integration(w, ".measurepoints", records, static_cast<std::size_t>(-1));
    }
};

/// integration.event.post: per device, event id -> the event's output parameters (an object).
struct IntegrationEventPost {
    static constexpr UpMethod method = UpMethod::integration_event_post;
    std::vector<IntegrationRecord> records{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        return detail::write_integration(w, ".events", records, static_cast<std::size_t>(-1));
    }
};

/// integration.attribute.post: at most 200 attributes per device.
struct IntegrationAttributePost {
    static constexpr UpMethod method = UpMethod::integration_attribute_post;
    std::vector<IntegrationRecord> records{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        return detail::write_integration(w, ".attributes", records, limits::max_attributes);
    }
};

} // namespace up

} // namespace enos::device
