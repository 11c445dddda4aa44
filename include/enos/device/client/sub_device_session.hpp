// What a gateway learns about the sessions of its sub-devices (docs/client.md, "Gateway"): the
// outcome of DeviceClient::log_in_sub_devices and the session events of on_sub_device_session.
#pragma once

#include <enos/device/core/payload/gateway.hpp>
#include <enos/device/core/result.hpp>

#include <functional>
#include <string>
#include <vector>

namespace enos::device {

/// Where a sub-device stands with this gateway's client.
enum class SubDeviceState {
    unknown,    ///< never logged in through this client (or logged out)
    logged_in,  ///< the cloud confirmed its login on the current link
    logging_in, ///< remembered, its login (again, after a reconnect) is under way or due
    offline,    ///< remembered, but its last login failed (or it was enabled again): log it in
    disabled,   ///< the cloud disabled it (combine.disable)
    deleted,    ///< the cloud deleted it (combine.delete)
};

constexpr std::string_view to_string(SubDeviceState state) noexcept {
    switch (state) {
    case SubDeviceState::unknown: return "unknown";
    case SubDeviceState::logged_in: return "logged_in";
    case SubDeviceState::logging_in: return "logging_in";
    case SubDeviceState::offline: return "offline";
    case SubDeviceState::disabled: return "disabled";
    case SubDeviceState::deleted: return "deleted";
    }
    return "unknown";
}

/// A sub-device whose login failed, and why: the cloud's code (cloud_category(), detail = its
/// message) or a local one (errc::timeout, errc::disconnected, ...).
struct SubDeviceLoginFailure {
    DeviceIdentity device;
    Error error;
};

/// The outcome of log_in_sub_devices, per sub-device.
struct SubDeviceLoginReport {
    /// Logged in, with the asset id; device_secret only for secure mode 3 (dynamic activation):
    /// keep it, the client also remembers it as the sub-device's secure-mode-2 secret.
    std::vector<SubDeviceSession> logged_in;
    std::vector<SubDeviceLoginFailure> failed;
    bool all_logged_in() const noexcept { return failed.empty(); }
};

enum class SubDeviceSessionEventKind {
    logged_in,    ///< a login (first, or again after a reconnect) succeeded
    login_failed, ///< a login failed: `error` says why
    logged_out,   ///< combine.logout succeeded
    disabled,     ///< the cloud disabled it (combine.disable)
    enabled,      ///< the cloud enabled it again (combine.enable)
    deleted,      ///< the cloud deleted it (combine.delete)
};

constexpr std::string_view to_string(SubDeviceSessionEventKind kind) noexcept {
    switch (kind) {
    case SubDeviceSessionEventKind::logged_in: return "logged_in";
    case SubDeviceSessionEventKind::login_failed: return "login_failed";
    case SubDeviceSessionEventKind::logged_out: return "logged_out";
    case SubDeviceSessionEventKind::disabled: return "disabled";
    case SubDeviceSessionEventKind::enabled: return "enabled";
    case SubDeviceSessionEventKind::deleted: return "deleted";
    }
    return "unknown";
}

struct SubDeviceSessionEvent {
    SubDeviceSessionEventKind kind = SubDeviceSessionEventKind::logged_in;
    DeviceIdentity device;
    std::string asset_id; ///< logged_in
    Error error;          ///< login_failed
    bool again = false;   ///< logged_in / login_failed: the login after a reconnect
};

/// Runs on the dispatcher thread, like every other callback.
using SubDeviceSessionHandler = std::function<void(const SubDeviceSessionEvent&)>;

} // namespace enos::device
