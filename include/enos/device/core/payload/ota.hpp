// Firmware over the air (docs/protocol.md §3.12, §4.8): version report, version query, progress, and the
// upgrade command. The firmware file itself is fetched over HTTP, not MQTT.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/payload/request.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

/// Negative progress steps: why an upgrade failed. Values below -5 are free for the application.
enum class OtaFailure : int {
    upgrade_failed = -1, ///< cause not given
    download_failed = -2,
    verification_failed = -3,
    write_failed = -4, ///< burning / flashing
    ignored = -5,      ///< the device declined this upgrade
};

/// A firmware offer: the upgrade command's params, or one entry of an ota.device.getversion reply.
struct Firmware {
    std::string version;
    std::string file_url;                  ///< path on the EnOS file service
    std::string sign;                      ///< digest of the file, hex
    std::string sign_method;               ///< e.g. "md5"
    std::optional<std::int64_t> file_size; ///< bytes
};

namespace up {

/// ota.device.inform: the version now running (report it after every connect, and after an upgrade).
struct OtaInform {
    static constexpr UpMethod method = UpMethod::ota_inform;
    std::string version{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"params\":{\"version\":");
        if (!w.required_string(version, "params.version")) return false;
        w.raw('}');
        return true;
    }
};

/// ota.device.getversion: the firmware offered to this device (decode_ota_getversion_reply).
struct OtaGetVersion {
    static constexpr UpMethod method = UpMethod::ota_getversion;
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"params\":{}");
        return true;
    }
};

/// ota.device.progress: `step` 0..100 is percent done, a negative step a failure (see OtaFailure).
/// The step travels as a string; `desc` (optional) says what happened.
struct OtaProgress {
    static constexpr UpMethod method = UpMethod::ota_progress;
    int step = 0;
    std::string desc{};

    static OtaProgress failed(OtaFailure failure, std::string desc = {}) {
        return {static_cast<int>(failure), std::move(desc)};
    }
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        if (step > 100)
            return w.fail(errc::invalid_argument,
                          "field 'params.step' is above 100: " + std::to_string(step));
        w.raw(",\"params\":{\"step\":\"");
        w.integer(step);
        w.raw('"');
        if (!desc.empty()) {
            w.raw(",\"desc\":");
            if (!w.string(desc, "params.desc")) return false;
        }
        w.raw('}');
        return true;
    }
};

} // namespace up

namespace detail {

inline void read_firmware(ObjectReader& r, Firmware& f) {
    r.required("version", f.version)
        .required("fileUrl", f.file_url)
        .optional("sign", f.sign)
        .optional("signMethod", f.sign_method)
        .optional("fileSize", f.file_size);
}

} // namespace detail

/// "params" of ota.device.upgrade (§4.8).
inline Result<Firmware> decode_ota_upgrade(std::string_view params_json) {
    return detail::decode_object<Firmware>(params_json, "params", detail::read_firmware);
}

/// "data" of an ota.device.getversion reply: the firmware available to this device.
inline Result<std::vector<Firmware>> decode_ota_getversion_reply(std::string_view data_json) {
    return detail::decode_list<Firmware>(data_json, "data", detail::read_firmware);
}

} // namespace enos::device
