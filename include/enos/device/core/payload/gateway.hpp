// Gateway and sub-device payloads (docs/protocol.md §3.9–3.11, §4.6): registration, topology, session
// login/logout. The sub-device signatures of topo add, login and batch login are computed here with
// sign(), from the sub-device's own credentials, so a gateway never handles signature strings.
#pragma once

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/payload/request.hpp>
#include <enos/device/core/sign.hpp>
#include <enos/device/core/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

/// A device named by its product key and device key.
struct DeviceIdentity {
    std::string product_key, device_key;
    friend bool operator==(const DeviceIdentity& a, const DeviceIdentity& b) {
        return a.product_key == b.product_key && a.device_key == b.device_key;
    }
};

/// One entry of thing.device.register.
struct SubDeviceRegistration {
    std::string product_key; ///< mandatory
    std::string device_key;  ///< empty: the cloud generates one
    std::string name;        ///< deviceName.defaultValue
    std::vector<std::pair<std::string, std::string>>
        localized_names;     ///< deviceName.i18nValue: locale -> name
    std::string description; ///< deviceDesc
    std::string timezone;    ///< UTC offset, e.g. "+08:00"
    Points attributes;       ///< deviceAttributes
};

/// What a gateway needs to sign for one sub-device (topo add, login).
struct SubDeviceCredentials {
    std::string product_key, device_key;
    std::string secret; ///< deviceSecret, or the sub-product's productSecret for dynamic activation
    SecureMode mode = SecureMode::static_secret; ///< login only: static_secret or dynamic_activation
    std::string client_id; ///< empty: "{pk}.{dk}.{timestamp}", as the reference SDK does
    std::string timestamp; ///< epoch ms as a decimal string; empty: now
    SignMethod method = SignMethod::sha256;
    HexCase hex_case = HexCase::platform;
};

/// One sub-device of a batch login; the client id, timestamp and sign method are shared.
struct SubDeviceSecret {
    std::string product_key, device_key, secret;
    SecureMode mode = SecureMode::static_secret;
};

/// A sub-device session as the cloud confirms it (login reply, batch login reply).
struct SubDeviceSession {
    std::string product_key, device_key, asset_id;
    std::string device_secret; ///< only after dynamic activation (secure mode 3)
};

/// "data" of a combine.login.batch reply. With a code other than 200 the lists say which
/// sub-devices failed; without them the whole request was refused.
struct BatchLoginResult {
    std::vector<SubDeviceSession> logged_in; ///< "loginedSubDevices"
    std::vector<DeviceIdentity> failed;      ///< "failedSubDevices"
};

/// One entry of a thing.device.register reply.
struct RegisteredDevice {
    std::string product_key, device_key, device_secret, asset_id;
};

namespace detail {

/// A product or device key that will become part of topics and signatures.
inline bool check_device_key(PayloadWriter& w, std::string_view key, const Field& field) {
    if (Status valid = check_key("field '" + field.name() + "'", key); !valid) return w.fail(valid.error());
    return true;
}

inline bool write_identity(PayloadWriter& w, std::string_view pk, std::string_view dk, std::string_view list,
                           std::size_t index) {
    w.raw("\"productKey\":");
    if (!check_device_key(w, pk, {list, index, ".productKey"}) || !w.string(pk, {list, index, ".productKey"}))
        return false;
    w.raw(",\"deviceKey\":");
    return check_device_key(w, dk, {list, index, ".deviceKey"}) && w.string(dk, {list, index, ".deviceKey"});
}

inline bool check_not_empty(PayloadWriter& w, std::size_t count, std::string_view field) {
    if (count != 0) return true;
    return w.fail(errc::missing_argument, "field '" + std::string(field) + "' needs at least one sub-device");
}

inline bool check_login_mode(PayloadWriter& w, SecureMode mode, const Field& field) {
    if (mode == SecureMode::static_secret || mode == SecureMode::dynamic_activation) return true;
    return w.fail(errc::invalid_argument, "field '" + field.name() + "' must be secure mode 2 or 3");
}

/// Writes the signed fields shared by topo add and login (without the surrounding braces).
inline bool write_signed_sub_device(PayloadWriter& w, const SubDeviceCredentials& c, std::string_view list,
                                    std::size_t index, bool with_secure_mode, std::int64_t now_ms) {
    if (!write_identity(w, c.product_key, c.device_key, list, index)) return false;
    if (c.secret.empty())
        return w.fail(errc::missing_argument, "secret of " + Field(list, index).name() + " is empty");
    const std::string timestamp = c.timestamp.empty() ? std::to_string(now_ms) : c.timestamp;
    const std::string client_id =
        c.client_id.empty() ? c.product_key + "." + c.device_key + "." + timestamp : c.client_id;
    w.raw(",\"clientId\":");
    if (!w.string(client_id, {list, index, ".clientId"})) return false;
    w.raw(",\"timestamp\":");
    if (!w.string(timestamp, {list, index, ".timestamp"})) return false;
    if (with_secure_mode) {
        if (!check_login_mode(w, c.mode, {list, index, ".secureMode"})) return false;
        w.raw(",\"secureMode\":\"");
        w.integer(static_cast<int>(c.mode));
        w.raw('"');
    }
    w.raw(",\"signMethod\":\"");
    w.raw(to_string(c.method));
    w.raw("\",\"sign\":\"");
    w.raw(sign({client_id, c.device_key, c.product_key, timestamp}, c.secret, c.method, c.hex_case));
    w.raw('"');
    return true;
}

inline void read_identity(ObjectReader& r, DeviceIdentity& d) {
    r.required("productKey", d.product_key).required("deviceKey", d.device_key);
}

inline void read_login(ObjectReader& r, SubDeviceSession& d) {
    r.required("productKey", d.product_key)
        .required("deviceKey", d.device_key)
        .optional("assetId", d.asset_id)
        .optional("deviceSecret", d.device_secret);
}

} // namespace detail

namespace up {

/// thing.device.register (gateway): at most 1000 entries. Reply: decode_device_register_reply.
struct DeviceRegister {
    static constexpr UpMethod method = UpMethod::device_register;
    std::vector<SubDeviceRegistration> devices{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        if (!detail::check_not_empty(w, devices.size(), "params") ||
            !w.at_most(devices.size(), limits::max_registrations, "params"))
            return false;
        w.raw(",\"params\":[");
        for (std::size_t i = 0; i < devices.size(); ++i) {
            if (i != 0) w.raw(',');
            if (!write_registration(w, devices[i], i)) return false;
        }
        w.raw(']');
        return true;
    }

private:
    static bool write_registration(detail::PayloadWriter& w, const SubDeviceRegistration& d, std::size_t i) {
        w.raw("{\"productKey\":");
        if (!detail::check_device_key(w, d.product_key, {"params", i, ".productKey"}) ||
            !w.string(d.product_key, {"params", i, ".productKey"}))
            return false;
        if (!d.device_key.empty()) {
            w.raw(",\"deviceKey\":");
            if (!detail::check_device_key(w, d.device_key, {"params", i, ".deviceKey"}) ||
                !w.string(d.device_key, {"params", i, ".deviceKey"}))
                return false;
        }
        if (!d.name.empty() || !d.localized_names.empty()) {
            w.raw(",\"deviceName\":{");
            if (!d.name.empty()) {
                w.raw("\"defaultValue\":");
                if (!w.string(d.name, {"params", i, ".deviceName.defaultValue"})) return false;
            }
            if (!d.localized_names.empty()) {
                w.raw(d.name.empty() ? "\"i18nValue\":{" : ",\"i18nValue\":{");
                for (std::size_t n = 0; n < d.localized_names.size(); ++n) {
                    if (n != 0) w.raw(',');
                    if (!w.required_string(d.localized_names[n].first,
                                           {"params", i, ".deviceName.i18nValue"}))
                        return false;
                    w.raw(':');
                    if (!w.string(d.localized_names[n].second, {"params", i, ".deviceName.i18nValue"}))
                        return false;
                }
                w.raw('}');
            }
            w.raw('}');
        }
        if (!d.description.empty()) {
            w.raw(",\"deviceDesc\":");
            if (!w.string(d.description, {"params", i, ".deviceDesc"})) return false;
        }
        if (!d.timezone.empty()) {
            w.raw(",\"timezone\":");
            if (!w.string(d.timezone, {"params", i, ".timezone"})) return false;
        }
        if (!d.attributes.empty()) {
            w.raw(",\"deviceAttributes\":");
            if (!w.points(d.attributes, {"params", i, ".deviceAttributes"})) return false;
        }
        w.raw('}');
        return true;
    }
};

/// thing.topo.add: binds sub-devices to the gateway, each with its signature.
struct TopoAdd {
    static constexpr UpMethod method = UpMethod::topo_add;
    std::vector<SubDeviceCredentials> devices{};
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        if (!detail::check_not_empty(w, devices.size(), "params")) return false;
        w.raw(",\"params\":[");
        for (std::size_t i = 0; i < devices.size(); ++i) {
            w.raw(i == 0 ? "{" : ",{");
            if (!detail::write_signed_sub_device(w, devices[i], "params", i, false, now_ms)) return false;
            w.raw('}');
        }
        w.raw(']');
        return true;
    }
};

/// thing.topo.get: the gateway's sub-devices (decode_topo_get_reply).
struct TopoGet {
    static constexpr UpMethod method = UpMethod::topo_get;
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"params\":{}");
        return true;
    }
};

/// thing.topo.delete
struct TopoDelete {
    static constexpr UpMethod method = UpMethod::topo_delete;
    std::vector<DeviceIdentity> devices{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        if (!detail::check_not_empty(w, devices.size(), "params")) return false;
        w.raw(",\"params\":[");
        for (std::size_t i = 0; i < devices.size(); ++i) {
            w.raw(i == 0 ? "{" : ",{");
            if (!detail::write_identity(w, devices[i].product_key, devices[i].device_key, "params", i))
                return false;
            w.raw('}');
        }
        w.raw(']');
        return true;
    }
};

/// combine.login: every value is a string. `clean_session` adds "cleanSession":"true" (the cloud
/// then drops the sub-device's undelivered QoS 1 messages). Reply: decode_sub_login_reply.
struct SubDeviceLogin {
    static constexpr UpMethod method = UpMethod::sub_login;
    SubDeviceCredentials device{};
    bool clean_session = false;
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        w.raw(",\"params\":{");
        if (!detail::write_signed_sub_device(w, device, "params", detail::Field::no_index, true, now_ms))
            return false;
        if (clean_session) w.raw(",\"cleanSession\":\"true\"");
        w.raw('}');
        return true;
    }
};

/// combine.login.batch: one signature per sub-device over the shared client id and timestamp; at
/// most limits::max_batch_login sub-devices (DeviceClient::log_in_sub_devices splits bigger lists).
/// Reply: decode_sub_login_batch_reply.
struct SubDeviceLoginBatch {
    static constexpr UpMethod method = UpMethod::sub_login_batch;
    std::vector<SubDeviceSecret> devices{}; ///< at least one, at most limits::max_batch_login
    std::string client_id = "login.batch";
    std::string timestamp{}; ///< epoch ms as a decimal string; empty: now
    SignMethod sign_method = SignMethod::sha256;
    HexCase hex_case = HexCase::platform;
    bool write_body(detail::PayloadWriter& w, std::int64_t now_ms) const {
        if (!detail::check_not_empty(w, devices.size(), "params.subDevices") ||
            !w.at_most(devices.size(), limits::max_batch_login, "params.subDevices"))
            return false;
        if (client_id.empty()) return w.fail(errc::missing_argument, "field 'params.clientId' is empty");
        const std::string time = timestamp.empty() ? std::to_string(now_ms) : timestamp;
        w.raw(",\"params\":{\"clientId\":");
        if (!w.string(client_id, "params.clientId")) return false;
        w.raw(",\"timestamp\":");
        if (!w.string(time, "params.timestamp")) return false;
        w.raw(",\"signMethod\":\"");
        w.raw(to_string(sign_method));
        w.raw("\",\"subDevices\":[");
        for (std::size_t i = 0; i < devices.size(); ++i) {
            const SubDeviceSecret& d = devices[i];
            w.raw(i == 0 ? "{" : ",{");
            if (!detail::write_identity(w, d.product_key, d.device_key, "params.subDevices", i) ||
                !detail::check_login_mode(w, d.mode, {"params.subDevices", i, ".secureMode"}))
                return false;
            if (d.secret.empty())
                return w.fail(errc::missing_argument,
                              "secret of " + detail::Field("params.subDevices", i).name() + " is empty");
            w.raw(",\"secureMode\":\"");
            w.integer(static_cast<int>(d.mode));
            w.raw("\",\"sign\":\"");
            w.raw(sign({client_id, d.device_key, d.product_key, time}, d.secret, sign_method, hex_case));
            w.raw("\"}");
        }
        w.raw("]}");
        return true;
    }
};

/// combine.logout
struct SubDeviceLogout {
    static constexpr UpMethod method = UpMethod::sub_logout;
    std::string product_key{}, device_key{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        w.raw(",\"params\":{");
        if (!detail::write_identity(w, product_key, device_key, "params", detail::Field::no_index))
            return false;
        w.raw('}');
        return true;
    }
};

} // namespace up

/// "data" of a thing.device.register reply.
inline Result<std::vector<RegisteredDevice>> decode_device_register_reply(std::string_view data_json) {
    return detail::decode_list<RegisteredDevice>(data_json, "data",
                                                 [](detail::ObjectReader& r, RegisteredDevice& d) {
                                                     r.required("productKey", d.product_key)
                                                         .required("deviceKey", d.device_key)
                                                         .optional("deviceSecret", d.device_secret)
                                                         .optional("assetId", d.asset_id);
                                                 });
}

/// "data" of a thing.topo.get reply: the gateway's sub-devices.
inline Result<std::vector<DeviceIdentity>> decode_topo_get_reply(std::string_view data_json) {
    return detail::decode_list<DeviceIdentity>(data_json, "data", detail::read_identity);
}

/// "data" of a combine.login reply.
inline Result<SubDeviceSession> decode_sub_login_reply(std::string_view data_json) {
    return detail::decode_object<SubDeviceSession>(data_json, "data", detail::read_login);
}

/// "data" of a combine.login.batch reply; absent lists are empty.
inline Result<BatchLoginResult> decode_sub_login_batch_reply(std::string_view data_json) {
    return detail::decode_object<BatchLoginResult>(
        data_json, "data", [](detail::ObjectReader& r, BatchLoginResult& b) {
            r.optional_list("loginedSubDevices", b.logged_in, detail::read_login)
                .optional_list("failedSubDevices", b.failed, detail::read_identity);
        });
}

/// "params" of combine.enable / combine.disable / combine.delete (§4.6): the affected sub-devices.
inline Result<std::vector<DeviceIdentity>> decode_sub_device_notice(std::string_view params_json) {
    return detail::decode_list<DeviceIdentity>(params_json, "params", detail::read_identity);
}

} // namespace enos::device
