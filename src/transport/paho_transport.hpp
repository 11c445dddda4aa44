// Transport over Paho MQTT C++ (async_client over the C library with OpenSSL). Every Paho exception
// stops here; every Paho callback is guarded so none runs into a closed transport.
#pragma once

#include "transport/link_watchdog.hpp"
#include "transport/tcp_nodelay.hpp"

#include "transport/transport.hpp"
#include <enos/device/client/log.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mqtt {
class async_client;
class token;
} // namespace mqtt

namespace enos::device::detail {

class PahoTransport final : public Transport {
public:
    using Logger = std::function<void(LogLevel, const std::string&)>;

    explicit PahoTransport(Logger log);
    ~PahoTransport() override;

    void set_events(TransportEvents events) override;
    void connect(const TransportConnectParams& params, Done done) override;
    void disconnect(std::chrono::milliseconds timeout) override;
    Status subscribe(const std::vector<std::string>& topics, int qos, SubscribeDone done) override;
    Status publish(const std::string& topic, const std::string& payload, int qos, Done done) override;
    Error explain_connect_failure(const TransportConnectParams& params, const Error& failure,
                                  std::chrono::milliseconds bound) override;
    void set_coalescing(const std::atomic<bool>& wanted) override;

private:
    class Listener;
    class CallbackScope;
    struct ConnectAttempt;
    /// A pending Paho operation; `complete` gets the token, or nullptr when the link went away first.
    struct Op {
        std::uint64_t generation;
        std::function<void(const mqtt::token*, bool ok)> complete;
    };

    std::uint64_t add_op(std::uint64_t generation, std::function<void(const mqtt::token*, bool)> complete);
    void finish_op(const mqtt::token& token, bool ok);
    void fail_ops_of(std::uint64_t generation);
    void on_message(std::uint64_t generation, const std::string& topic, const std::string& payload);
    void on_connection_lost(std::uint64_t generation, const std::string& cause);
    void on_connect_result(const std::shared_ptr<ConnectAttempt>& attempt, const mqtt::token* token, bool ok);
    /// Finds the new link's socket and turns Nagle's algorithm off on it (see tcp_nodelay.hpp).
    Status adopt_socket(const ConnectAttempt& attempt);
    /// Takes the current client out of service; it is destroyed by release_retired().
    void retire_current_locked();
    /// Destroys retired clients once no Paho callback runs (never called on a Paho thread).
    void release_retired(std::chrono::milliseconds bound);
    std::shared_ptr<mqtt::async_client> current(std::uint64_t& generation);
    /// The link's socket is gone (or going): coalescing no longer touches it.
    void forget_socket();
    /// Says at every TLS connect that the broker is not (fully) verified, if so configured.
    void warn_if_insecure(const TransportConnectParams& params) const;

    Logger log_;
    std::unique_ptr<Listener> listener_;
    TransportEvents events_;

    std::mutex mutex_;
    std::condition_variable callbacks_idle_;
    std::shared_ptr<mqtt::async_client> client_;
    std::vector<std::shared_ptr<mqtt::async_client>> retired_;
    std::uint64_t generation_ = 0; ///< of client_; callbacks of older clients are ignored
    bool link_up_ = false;
    bool closed_ = false;
    int callbacks_running_ = 0;
    std::uint64_t next_op_ = 1;
    std::unordered_map<std::uint64_t, Op> ops_;

    std::mutex socket_mutex_; ///< a leaf lock: guards socket_ and coalescing_
    SocketHandle socket_;     ///< the current link's socket, when it could be identified
    bool coalescing_ = false;
    LinkWatchdog watchdog_; ///< watches socket_ for a half-open link
};

} // namespace enos::device::detail
