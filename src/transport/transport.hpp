// The seam between the client core and the MQTT library. The SDK's implementation wraps Paho MQTT
// C++ (src/transport/); tests substitute a fake. Not part of the stable API.
#pragma once

#include <enos/device/client/options.hpp>
#include <enos/device/core/result.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace enos::device::detail {

struct TransportConnectParams {
    std::string server_url;
    std::string client_id; ///< the full MQTT client id ("raw|securemode=...|")
    std::string username;
    std::string password; ///< derived from a secret: never logged
    std::chrono::seconds keep_alive{60};
    std::chrono::milliseconds connect_timeout{10000};
    int max_inflight = 1000;
    bool tcp_nodelay = true;
    TlsOptions tls;
};

/// Called on the transport's own thread. They must return quickly and never run user code.
struct TransportEvents {
    std::function<void(const std::string& topic, const std::string& payload)> message;
    std::function<void(const Error& cause)> connection_lost;
};

/// Contract for every implementation:
/// * a completion passed to a call runs exactly once, on any thread (possibly inline), unless the
///   call returned an error synchronously (then never);
/// * no event or completion runs after the Transport is destroyed or after disconnect() returned,
///   except completions that disconnect() itself fails with errc::disconnected before returning;
/// * the core never calls into the transport while holding its own lock.
class Transport {
public:
    using Done = std::function<void(Status)>;
    /// Per topic: whether the broker granted the subscription.
    using SubscribeDone = std::function<void(Result<std::vector<bool>>)>;

    virtual ~Transport() = default;

    /// Installed once, before the first connect().
    virtual void set_events(TransportEvents events) = 0;
    /// One connect attempt (MQTT 3.1.1, clean session). `done` reports CONNACK or why there is none,
    /// already mapped to errc (bad_credentials, not_authorized, host_unreachable, tls_error, ...).
    /// A previous link, if any, is closed first.
    virtual void connect(const TransportConnectParams& params, Done done) = 0;
    /// Closes the link, waiting at most `timeout`. No connection_lost is reported for it.
    virtual void disconnect(std::chrono::milliseconds timeout) = 0;
    virtual Status subscribe(const std::vector<std::string>& topics, int qos, SubscribeDone done) = 0;
    /// `done` may be empty (fire-and-forget). QoS 1: it runs on PUBACK or on failure.
    virtual Status publish(const std::string& topic, const std::string& payload, int qos, Done done) = 0;
    /// While many small messages are in flight, lets TCP pack them into fewer segments (Nagle's
    /// algorithm); switched off again, it sends at once whatever it holds. Applies to the current
    /// link and the next ones; off by default. `wanted` is read under the transport's own lock, so
    /// callers racing each other settle on its latest value.
    virtual void set_coalescing(const std::atomic<bool>& /*wanted*/) {}
    /// Turns a connect failure into a more precise one when the MQTT library's report is vague
    /// (e.g. "TLS handshake failed" rather than "cannot connect"). Runs on the caller's thread of
    /// connect() and may take up to `bound`.
    virtual Error explain_connect_failure(const TransportConnectParams&, const Error& failure,
                                          std::chrono::milliseconds /*bound*/) {
        return failure;
    }
};

} // namespace enos::device::detail
