// Firmware over the air (docs/protocol.md §3.12, §4.8): version report, version query, progress, and the
// upgrade command. The firmware file itself is fetched over HTTP, not MQTT.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/payload/envelope.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

/// ota.device.inform: the version now running (report it after every connect, and after an upgrade).
inline Status encode_ota_inform(std::string& out, std::string_view id, std::string_view version) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "ota.device.inform")) return w.error();
    w.raw(",\"params\":{\"version\":");
    if (!w.required_string(version, "params.version")) return w.error();
    w.raw("}}");
    return w.finish();
}

/// ota.device.getversion: params {}.
inline Status encode_ota_getversion(std::string& out, std::string_view id) {
    return encode_request_raw_params(out, id, "ota.device.getversion", "{}");
}

/// ota.device.progress: `step` 0..100 is percent done, a negative step a failure (see OtaFailure).
/// The step travels as a string; `desc` (optional) says what happened.
inline Status encode_ota_progress(std::string& out, std::string_view id, int step,
                                  std::string_view desc = {}) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "ota.device.progress")) return w.error();
    if (step > 100) {
        w.fail(errc::invalid_argument, "field 'params.step' is above 100: " + std::to_string(step));
        return w.error();
    }
    w.raw(",\"params\":{\"step\":\"");
    w.integer(step);
    w.raw('"');
    if (!desc.empty()) {
        w.raw(",\"desc\":");
        if (!w.string(desc, "params.desc")) return w.error();
    }
    w.raw("}}");
    return w.finish();
}

inline Status encode_ota_progress(std::string& out, std::string_view id, OtaFailure failure,
                                  std::string_view desc = {}) {
    return encode_ota_progress(out, id, static_cast<int>(failure), desc);
}

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
