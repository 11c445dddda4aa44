// Connection states and the events the client reports when its link changes (docs/protocol.md §7.1).
#pragma once

#include <enos/device/core/result.hpp>

#include <chrono>
#include <functional>
#include <string_view>

namespace enos::device {

enum class ConnectionState {
    disconnected,  ///< never connected, disconnected by the application, or connect() refused (CONNACK 4/5)
    connecting,    ///< a connect attempt is in progress
    connected,     ///< CONNACK received and the command topics are subscribed
    waiting_retry, ///< the link was lost or a reconnect failed; the next automatic attempt is scheduled
    closed,        ///< the client was destroyed; terminal
};

enum class ConnectionEventKind {
    connected, ///< the link is up (first connect or reconnect, see ConnectionEvent::reconnect)
    lost,      ///< the link dropped; reason says why
    retrying,  ///< an automatic reconnect attempt is scheduled in retry_in
    refused,   ///< the broker refused us (bad credentials, not authorised, ...); see retry_after_refusal
    closed,    ///< disconnect() or the destructor closed the link on purpose
    activated, ///< dynamic activation stored the device secret (securemode 3 -> 2)
};

struct ConnectionEvent {
    ConnectionEventKind kind = ConnectionEventKind::connected;
    ConnectionState state = ConnectionState::disconnected; ///< state after the event
    Error reason;                                          ///< why: lost, refused, failed retries
    std::chrono::milliseconds retry_in{0};                 ///< retrying: delay before the attempt
    int attempt = 0;                                       ///< retrying: 1 for the first retry
    bool reconnect = false;                                ///< connected: true after an automatic retry
};

/// Called on the dispatcher thread, in order. May call any DeviceClient method, including
/// blocking requests and disconnect(), and may destroy the client (see client.hpp).
using ConnectionHandler = std::function<void(const ConnectionEvent&)>;

constexpr std::string_view to_string(ConnectionState state) noexcept {
    switch (state) {
    case ConnectionState::disconnected: return "disconnected";
    case ConnectionState::connecting: return "connecting";
    case ConnectionState::connected: return "connected";
    case ConnectionState::waiting_retry: return "waiting_retry";
    case ConnectionState::closed: return "closed";
    }
    return "unknown";
}

constexpr std::string_view to_string(ConnectionEventKind kind) noexcept {
    switch (kind) {
    case ConnectionEventKind::connected: return "connected";
    case ConnectionEventKind::lost: return "lost";
    case ConnectionEventKind::retrying: return "retrying";
    case ConnectionEventKind::refused: return "refused";
    case ConnectionEventKind::closed: return "closed";
    case ConnectionEventKind::activated: return "activated";
    }
    return "unknown";
}

} // namespace enos::device
