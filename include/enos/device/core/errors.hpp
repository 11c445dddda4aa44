// Error codes of the SDK: one enum for what goes wrong on the device side, and one category for the
// numeric codes the EnOS cloud puts in its replies (docs/protocol.md §6). Both are std::error_code, so an
// application can compare against either with ==.
#pragma once

#include <enos/device/core/detail/visibility.hpp>

#include <string>
#include <system_error>

namespace enos::device {

/// Errors raised by the SDK itself (never sent on the wire).
enum class errc {
    // arguments and local limits
    invalid_argument = 1,      ///< a value the protocol does not allow (empty id, bad key, ...)
    missing_argument,          ///< a mandatory field was left empty
    unsupported_sign_method,   ///< sign method other than sha256, sha1, md5 (or their hmac* aliases)
    qos_not_allowed,           ///< QoS 2 (EnOS accepts 0 and 1 only)
    payload_too_large,         ///< encoded payload above 512 KB
    too_many_items,            ///< more than 200 attributes/tags or 1000 registrations
    non_finite_number,         ///< NaN or infinity cannot be written as JSON
    // decoding what arrived
    malformed_json,            ///< not parseable JSON
    wrong_type,                ///< a field has the wrong JSON type
    missing_field,             ///< a mandatory field is absent
    input_too_large,           ///< incoming payload above the size limit
    topic_no_match,            ///< the topic is not one this parser knows (not an error for dispatch)
    // connection and requests
    not_connected,             ///< the link is down and the message could not be queued
    timeout,                   ///< no reply within the deadline
    disconnected,              ///< the link dropped while the request was in flight
    shutting_down,             ///< the client is being closed
    connect_failed,            ///< transport-level failure (see the error detail)
    host_unreachable,          ///< TCP connect to the broker failed
    protocol_rejected,         ///< CONNACK 1: unacceptable protocol version
    identifier_rejected,       ///< CONNACK 2: malformed client id
    server_unavailable,        ///< CONNACK 3
    bad_credentials,           ///< CONNACK 4: wrong secret, signature or unknown device
    not_authorized,            ///< CONNACK 5: device disabled, activation refused, rate limited
    tls_error,                 ///< TLS handshake or configuration failure
    certificate_not_yet_valid, ///< check the device clock
    certificate_expired,       ///< check the device clock
    key_mismatch,              ///< the private key does not belong to the client certificate
    // offline queue and store
    queue_full,                ///< rejected by the reject_new overflow policy
    dropped_by_policy,         ///< evicted by drop_oldest or drop_newest
    store_error,               ///< the persistent store failed (see the detail)
    disk_full,                 ///< no space left for the persistent store
    store_locked,              ///< another process owns the store directory
    // command handling
    handler_not_found,         ///< no handler registered (replied as 1101)
    handler_failed,            ///< handler threw or returned an error (replied as 1102)
    // gateway
    sub_device_offline,        ///< the sub-device is not logged in through this gateway (now)
    sub_device_disabled,       ///< the cloud disabled or deleted the sub-device (combine.disable/delete)
};

namespace detail {

class DeviceCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "enos.device"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::invalid_argument: return "invalid argument";
        case errc::missing_argument: return "missing argument";
        case errc::unsupported_sign_method: return "unsupported sign method";
        case errc::qos_not_allowed: return "QoS 2 is not allowed by EnOS";
        case errc::payload_too_large: return "payload larger than 512 KB";
        case errc::too_many_items: return "too many items in one request";
        case errc::non_finite_number: return "NaN or infinity cannot be encoded";
        case errc::malformed_json: return "malformed JSON";
        case errc::wrong_type: return "field has the wrong type";
        case errc::missing_field: return "mandatory field missing";
        case errc::input_too_large: return "input too large";
        case errc::topic_no_match: return "topic not recognised";
        case errc::not_connected: return "not connected";
        case errc::timeout: return "timed out waiting for the reply";
        case errc::disconnected: return "connection lost while the request was in flight";
        case errc::shutting_down: return "client is shutting down";
        case errc::connect_failed: return "connect failed";
        case errc::host_unreachable: return "broker host unreachable";
        case errc::protocol_rejected: return "broker refused the MQTT protocol version";
        case errc::identifier_rejected: return "broker rejected the client id";
        case errc::server_unavailable: return "broker unavailable";
        case errc::bad_credentials: return "bad credentials (wrong secret, signature or unknown device)";
        case errc::not_authorized:
            return "not authorised (device disabled, activation refused or connect rate limit)";
        case errc::tls_error: return "TLS error";
        case errc::certificate_not_yet_valid: return "certificate not yet valid (check the device clock)";
        case errc::certificate_expired: return "certificate expired (check the device clock)";
        case errc::key_mismatch: return "private key does not match the certificate";
        case errc::queue_full: return "offline queue full";
        case errc::dropped_by_policy: return "dropped by the queue overflow policy";
        case errc::store_error: return "persistent store error";
        case errc::disk_full: return "disk full";
        case errc::store_locked: return "store directory is used by another client";
        case errc::handler_not_found: return "no handler registered";
        case errc::handler_failed: return "handler failed";
        case errc::sub_device_offline: return "sub-device not logged in through this gateway";
        case errc::sub_device_disabled: return "sub-device disabled or deleted by the cloud";
        }
        return "unknown enos.device error";
    }
};

class CloudCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "enos.cloud"; }
    std::string message(int code) const override {
        switch (code) {
        case 200: return "success";
        case 400: return "internal error";
        case 401: return "authentication error";
        case 402: return "device does not exist";
        case 429: return "too many requests";
        case 460: return "request parameter error";
        case 705: return "sub-device does not exist";
        case 723: return "sub-device disabled, or some sub-devices failed to log in";
        case 770: return "dynamic activation is not allowed";
        case 771: return "sub-device cannot connect through this gateway";
        case 1008: return "message too large, discarded";
        case 1009: return "no write permission on the topic (not supported or not logged in)";
        case 1101: return "no handler registered on the device";
        case 1102: return "device handler failed";
        case 1204: return "thing model validation failed";
        case 1208: return "attribute query format error";
        case 1209: return "attribute delete format error";
        case 1220: return "payload format error (invalid JSON)";
        case 1251: return "payload is empty";
        case 1256: return "topology removal failed";
        case 1257: return "device not found";
        case 1260: return "method does not match the topic";
        case 6205: return "server timeout";
        case 6207: return "payload must be JSON";
        case 10001: return "RRPC handler not found";
        default: break;
        }
        if (code >= 2000) return "application-defined failure";
        return "EnOS error code " + std::to_string(code);
    }
};

} // namespace detail

// The categories are never destroyed: a thread still running while exit() destroys statics (a
// detached dispatcher, a Paho callback) may still turn an error_code into text.

/// Category of errc. (One object per process, also across a shared enos::device.)
ENOS_DEVICE_VISIBLE inline const std::error_category& device_category() noexcept {
    static const auto* category = new detail::DeviceCategory;
    return *category;
}

/// Category of the codes in EnOS replies; the error value is the code itself (e.g. 1204).
ENOS_DEVICE_VISIBLE inline const std::error_category& cloud_category() noexcept {
    static const auto* category = new detail::CloudCategory;
    return *category;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), device_category()};
}

/// Error code for a reply code from the cloud; 200 maps to "no error".
inline std::error_code make_cloud_error(int code) noexcept {
    if (code == 200) return {};
    return {code, cloud_category()};
}

} // namespace enos::device

template <>
struct std::is_error_code_enum<enos::device::errc> : std::true_type {};
