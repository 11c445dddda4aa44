#include "transport/paho_transport.hpp"

#include "transport/tcp_nodelay.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>

namespace enos::device::detail {
namespace {

// Set while a Paho callback runs on this thread: Paho clients must never be destroyed from there.
thread_local int paho_callback_depth = 0;

// Paho's own buffer of outgoing messages also caps publishes while connected (error -12), so it is
// set far above any window the core keeps in flight.
constexpr int max_buffered_messages = 1 << 20;

void* op_context(std::uint64_t op) {
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(op));
}

Error publish_error(int rc) {
    switch (rc) {
    case MQTTASYNC_DISCONNECTED: return Error{errc::not_connected, "the link to the broker is down"};
    case MQTTASYNC_MAX_BUFFERED_MESSAGES:
        return Error{errc::queue_full, "the MQTT library's send buffer is full"};
    case MQTTASYNC_BAD_QOS: return Error{errc::invalid_argument, "bad QoS"};
    case MQTTASYNC_BAD_UTF8_STRING: return Error{errc::invalid_argument, "the topic is not valid UTF-8"};
    default:
        return Error{errc::not_connected, "publish failed (MQTT library error " + std::to_string(rc) + ")"};
    }
}

/// Paho reports failures by throwing; they end here as errors (std::bad_alloc included).
Error library_error(const std::exception& e) {
    if (const auto* paho = dynamic_cast<const mqtt::exception*>(&e))
        return publish_error(paho->get_return_code());
    return Error{errc::not_connected, std::string("the MQTT library failed: ") + e.what()};
}

/// Paho sets up its process-wide state (its log, OpenSSL's configuration) when the process makes its
/// first client: about 2 ms. A raw Paho application pays that when it makes its client, before it
/// connects; this transport makes a Paho client per connect (the client id changes), so it makes a
/// first one when it is created. OpenSSL's part stays set up after that client is gone.
void set_up_paho_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        try {
            mqtt::async_client first("tcp://127.0.0.1:1883", "enos-device",
                                     mqtt::create_options(MQTTVERSION_3_1_1),
                                     static_cast<mqtt::iclient_persistence*>(nullptr));
        } catch (const std::exception&) { // then the first connect sets it up, and reports any failure
        }
    });
}

} // namespace

struct PahoTransport::ConnectAttempt {
    Done done;
    std::string server_url;
    std::uint64_t generation = 0;
    bool ssl = false;
    std::unique_ptr<ConnectGate> gate; ///< held from the socket snapshot until CONNACK
    std::optional<BrokerAddress> broker;
    std::vector<unsigned long> sockets_before;
    std::chrono::seconds keep_alive{0};
};

class PahoTransport::CallbackScope {
public:
    /// generation 0: any generation (operation completions are matched through their op id).
    CallbackScope(PahoTransport& transport, std::uint64_t generation) : transport_(transport) {
        std::lock_guard lock(transport_.mutex_);
        active_ = !transport_.closed_ && (generation == 0 || generation == transport_.generation_);
        ++transport_.callbacks_running_;
        ++paho_callback_depth;
    }
    ~CallbackScope() {
        --paho_callback_depth;
        std::lock_guard lock(transport_.mutex_);
        if (--transport_.callbacks_running_ == 0) transport_.callbacks_idle_.notify_all();
    }
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;
    bool active() const noexcept { return active_; }

private:
    PahoTransport& transport_;
    bool active_ = false;
};

class PahoTransport::Listener final : public mqtt::iaction_listener {
public:
    explicit Listener(PahoTransport& transport) : transport_(transport) {}
    void on_success(const mqtt::token& token) override { transport_.finish_op(token, true); }
    void on_failure(const mqtt::token& token) override { transport_.finish_op(token, false); }

private:
    PahoTransport& transport_;
};

PahoTransport::PahoTransport(Logger log)
    : log_(std::move(log)), listener_(std::make_unique<Listener>(*this)) {
    set_up_paho_once();
}

PahoTransport::~PahoTransport() {
    disconnect(std::chrono::milliseconds(0));
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    release_retired(std::chrono::milliseconds(2000));
    std::unique_lock lock(mutex_);
    callbacks_idle_.wait_for(lock, std::chrono::milliseconds(2000), [&] { return callbacks_running_ == 0; });
}

void PahoTransport::set_events(TransportEvents events) {
    events_ = std::move(events);
}

std::shared_ptr<mqtt::async_client> PahoTransport::current(std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    return link_up_ ? client_ : nullptr;
}

std::uint64_t PahoTransport::add_op(std::uint64_t generation,
                                    std::function<void(const mqtt::token*, bool)> complete) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = next_op_++;
    ops_.emplace(id, Op{generation, std::move(complete)});
    return id;
}

void PahoTransport::finish_op(const mqtt::token& token, bool ok) {
    CallbackScope scope(*this, 0);
    Op op;
    {
        std::lock_guard lock(mutex_);
        auto it =
            ops_.find(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(token.get_user_context())));
        if (it == ops_.end()) return; // already failed when its link went away
        op = std::move(it->second);
        ops_.erase(it);
    }
    try {
        op.complete(&token, ok);
    } catch (...) {
    }
}

void PahoTransport::fail_ops_of(std::uint64_t generation) {
    std::vector<Op> failed;
    {
        std::lock_guard lock(mutex_);
        for (auto it = ops_.begin(); it != ops_.end();) {
            if (it->second.generation == generation) {
                failed.push_back(std::move(it->second));
                it = ops_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (Op& op : failed) {
        try {
            op.complete(nullptr, false);
        } catch (...) {
        }
    }
}

void PahoTransport::retire_current_locked() {
    forget_socket();
    if (client_) retired_.push_back(std::move(client_));
    client_.reset();
    link_up_ = false;
}

void PahoTransport::release_retired(std::chrono::milliseconds bound) {
    if (paho_callback_depth > 0) return; // Paho forbids destroying a client from its own callback thread
    std::vector<std::shared_ptr<mqtt::async_client>> doomed;
    {
        std::unique_lock lock(mutex_);
        callbacks_idle_.wait_for(lock, bound, [&] { return callbacks_running_ == 0; });
        doomed.swap(retired_);
    }
    for (auto& client : doomed) {
        try {
            client->disable_callbacks();
            if (client->is_connected())
                client->disconnect(0)->wait_for(std::min(bound, std::chrono::milliseconds(100)));
        } catch (...) {
        }
        client.reset();
    }
}

void PahoTransport::warn_if_insecure(const TransportConnectParams& params) const {
    const TlsOptions& tls = params.tls;
    if (tls.insecure_skip_server_verification)
        log_(LogLevel::warn, "INSECURE: the broker's certificate is not verified at all "
                             "(tls.insecure_skip_server_verification): anyone on the path to " +
                                 params.server_url + " can read and change this connection");
    else if (tls.insecure_skip_hostname_check)
        log_(LogLevel::warn,
             "INSECURE: the broker's certificate is not checked against the host of " + params.server_url +
                 " (tls.insecure_skip_hostname_check): any certificate of the CA is accepted");
}

void PahoTransport::connect(const TransportConnectParams& params, Done done) {
    std::uint64_t generation;
    {
        std::lock_guard lock(mutex_);
        if (closed_) {
            done(Error{errc::shutting_down});
            return;
        }
        retire_current_locked();
        generation = ++generation_;
    }
    release_retired(params.connect_timeout);

    auto attempt = std::make_shared<ConnectAttempt>();
    attempt->done = std::move(done);
    attempt->server_url = params.server_url;
    attempt->generation = generation;
    attempt->ssl = params.server_url.compare(0, 6, "ssl://") == 0;
    if (attempt->ssl) warn_if_insecure(params);
    attempt->keep_alive = params.keep_alive;
    if (params.tcp_nodelay) {
        if (Result<BrokerAddress> broker = resolve_broker(params.server_url)) {
            attempt->gate = std::make_unique<ConnectGate>(params.connect_timeout);
            if (attempt->gate->acquired()) {
                attempt->broker = std::move(*broker);
                attempt->sockets_before = socket_snapshot();
            }
        }
    }

    std::optional<std::uint64_t> op;
    try {
        mqtt::create_options create(MQTTVERSION_3_1_1, max_buffered_messages);
        create.set_send_while_disconnected(false);
        auto client = std::make_shared<mqtt::async_client>(params.server_url, params.client_id, create,
                                                           static_cast<mqtt::iclient_persistence*>(nullptr));
        client->set_message_callback([this, generation](mqtt::const_message_ptr message) {
            CallbackScope scope(*this, generation);
            if (scope.active() && message)
                on_message(generation, message->get_topic(), message->get_payload_str());
        });
        client->set_connection_lost_handler([this, generation](const std::string& cause) {
            CallbackScope scope(*this, generation);
            if (scope.active()) on_connection_lost(generation, cause);
        });

        mqtt::connect_options options;
        options.set_mqtt_version(MQTTVERSION_3_1_1); // explicit: Paho would otherwise retry with 3.1
        options.set_clean_session(true);
        options.set_automatic_reconnect(false);
        options.set_keep_alive_interval(static_cast<int>(params.keep_alive.count()));
        options.set_connect_timeout(
            static_cast<int>(std::max<std::int64_t>(1, (params.connect_timeout.count() + 999) / 1000)));
        options.set_max_inflight(params.max_inflight);
        options.set_user_name(params.username);
        options.set_password(params.password);
        if (attempt->ssl) {
            mqtt::ssl_options ssl;
            if (!params.tls.ca_file.empty()) ssl.set_trust_store(params.tls.ca_file);
            const bool check_chain = !params.tls.insecure_skip_server_verification;
            ssl.set_enable_server_cert_auth(check_chain);
            ssl.set_verify(check_chain && !params.tls.insecure_skip_hostname_check);
            if (!params.tls.cert_file.empty()) {
                ssl.set_key_store(params.tls.cert_file);
                ssl.set_private_key(params.tls.key_file);
                if (!params.tls.key_password.empty()) ssl.set_private_key_password(params.tls.key_password);
            }
            options.set_ssl(std::move(ssl));
        }
        {
            std::lock_guard lock(mutex_);
            if (generation != generation_ || closed_) throw mqtt::exception(MQTTASYNC_DISCONNECTED);
            client_ = client;
        }
        op = add_op(generation, [this, attempt](const mqtt::token* token, bool ok) {
            on_connect_result(attempt, token, ok);
        });
        client->connect(options, op_context(*op), *listener_);
    } catch (const std::exception& e) {
        bool mine = true;
        if (op) {
            std::lock_guard lock(mutex_);
            mine = ops_.erase(*op) == 1; // else the listener already completed it
        }
        if (mine) {
            attempt->gate.reset();
            const auto* paho = dynamic_cast<const mqtt::exception*>(&e);
            attempt->done(
                Error{errc::connect_failed,
                      "cannot start connecting to " + params.server_url +
                          (paho ? " (MQTT library error " + std::to_string(paho->get_return_code()) + ")"
                                : std::string(": ") + e.what())});
        }
    }
}

Status PahoTransport::adopt_socket(const ConnectAttempt& attempt) {
    // Runs on Paho's thread in the CONNACK callback: Paho cannot close the socket meanwhile.
    Result<SocketRef> found = find_new_socket(attempt.sockets_before, *attempt.broker);
    if (!found) return found.error();
    Result<SocketHandle> handle = SocketHandle::duplicate(*found);
    if (!handle) return handle.error();
    std::lock_guard lock(mutex_);
    if (attempt.generation != generation_) return {}; // superseded: this link is being closed
    std::lock_guard socket_lock(socket_mutex_);
    if (Status set = handle->set_nodelay(!coalescing_); !set) return set;
    socket_ = std::move(*handle);
    watchdog_.watch(*found, attempt.keep_alive);
    return {};
}

void PahoTransport::on_connect_result(const std::shared_ptr<ConnectAttempt>& attempt,
                                      const mqtt::token* token, bool ok) {
    if (ok) {
        if (attempt->broker) {
            if (Status set = adopt_socket(*attempt); !set)
                log_(LogLevel::warn,
                     "TCP_NODELAY not set, small messages may wait up to ~40 ms: " + set.error().detail);
        }
        attempt->gate.reset();
        {
            std::lock_guard lock(mutex_);
            link_up_ = client_ != nullptr;
        }
        attempt->done({});
        return;
    }
    attempt->gate.reset();
    const int rc = token ? token->get_return_code() : MQTTASYNC_DISCONNECTED;
    const std::string& url = attempt->server_url;
    Error error;
    switch (rc) {
    case 1: error = Error{errc::protocol_rejected, "CONNACK 1 from " + url}; break;
    case 2:
        error = Error{errc::identifier_rejected, "CONNACK 2 from " + url + ": check the client id"};
        break;
    case 3: error = Error{errc::server_unavailable, "CONNACK 3 from " + url + ": try again later"}; break;
    case 4:
        error = Error{errc::bad_credentials,
                      "CONNACK 4 from " + url +
                          ": bad credentials; check the product key, device key and secret"};
        break;
    case 5:
        error = Error{errc::not_authorized,
                      "CONNACK 5 from " + url +
                          ": not authorised; check the device secret, that the device exists "
                          "and is enabled, that dynamic activation is allowed and not done "
                          "yet, and that it does not connect too often"};
        break;
    default:
        // Paho reports TCP and TLS failures alike (-1); explain_connect_failure() tells them apart.
        error = token ? Error{errc::host_unreachable,
                              "cannot connect to " + url + " (MQTT library error " + std::to_string(rc) + ")"}
                      : Error{errc::disconnected, "the attempt was abandoned"};
    }
    attempt->done(std::move(error));
}

void PahoTransport::disconnect(std::chrono::milliseconds timeout) {
    using std::chrono::milliseconds;
    // Destroying the process's last Paho client stops Paho's threads, which it polls in 100 ms
    // steps: that much of the bound is kept for the end.
    const auto deadline = std::chrono::steady_clock::now() + timeout - std::min(timeout, milliseconds(150));
    const auto left = [&] {
        return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(
                                             deadline - std::chrono::steady_clock::now()));
    };
    std::shared_ptr<mqtt::async_client> client;
    std::uint64_t generation;
    {
        std::lock_guard lock(mutex_);
        client = client_;
        generation = generation_;
        retire_current_locked();
        ++generation_; // whatever the old client still reports is ignored, incl. its connection loss
    }
    if (client) {
        try {
            // Paho checks its own timeout only every few seconds (a tenth of the keep-alive, at
            // most 5 s): on a stalled link its report can come late, so the wait stops at ours.
            if (client->is_connected())
                client->disconnect(static_cast<int>(timeout.count() * 3 / 4))->wait_for(left());
        } catch (...) {
            // Already gone: nothing to close.
        }
    }
    client.reset();
    fail_ops_of(generation);
    release_retired(left());
}

Status PahoTransport::subscribe(const std::vector<std::string>& topics, int qos, SubscribeDone done) {
    std::uint64_t generation;
    auto client = current(generation);
    if (!client) return Error{errc::not_connected, "the link to the broker is down"};
    const std::size_t count = topics.size();
    const std::uint64_t op = add_op(generation, [count, done = std::move(done)](const mqtt::token* token,
                                                                                bool ok) {
        if (!token) {
            done(Error{errc::disconnected, "the link dropped before the broker confirmed the subscription"});
            return;
        }
        std::vector<bool> granted(count, false);
        if (ok) {
            try {
                const auto codes = token->get_subscribe_response().get_reason_codes();
                for (std::size_t i = 0; i < count && i < codes.size(); ++i)
                    granted[i] = codes[i] < 0x80;
                if (codes.empty()) granted.assign(count, true);
            } catch (...) {
                granted.assign(count, true);
            }
            done(std::move(granted));
        } else if (token->get_return_code() == 0x80) {
            done(std::move(granted)); // the broker refused every topic
        } else {
            done(Error{errc::disconnected, "subscribe failed (MQTT library error " +
                                               std::to_string(token->get_return_code()) + ")"});
        }
    });
    try {
        auto filters = mqtt::string_collection::create(topics);
        mqtt::iasync_client::qos_collection qos_list(count, qos);
        client->subscribe(filters, qos_list, op_context(op), *listener_);
    } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        if (ops_.erase(op) == 1) return library_error(e);
    }
    return {};
}

Status PahoTransport::publish(const std::string& topic, const std::string& payload, int qos, Done done) {
    std::uint64_t generation;
    auto client = current(generation);
    if (!client) return Error{errc::not_connected, "the link to the broker is down"};
    std::optional<std::uint64_t> op;
    try {
        auto message = mqtt::make_message(topic, payload, qos, false);
        if (done) {
            op = add_op(generation, [done = std::move(done)](const mqtt::token* token, bool ok) {
                if (ok)
                    done({});
                else if (!token)
                    done(Error{errc::disconnected,
                               "the link dropped before the broker acknowledged the message"});
                else
                    done(publish_error(token->get_return_code()));
            });
            client->publish(message, op_context(*op), *listener_);
        } else {
            client->publish(message);
        }
    } catch (const std::exception& e) {
        if (!op) return library_error(e);
        std::lock_guard lock(mutex_);
        if (ops_.erase(*op) == 1) return library_error(e);
    }
    return {};
}

void PahoTransport::forget_socket() {
    std::lock_guard lock(socket_mutex_);
    socket_ = SocketHandle{}; // closes our duplicate; the socket itself is Paho's to close
    watchdog_.forget();
}

void PahoTransport::set_coalescing(const std::atomic<bool>& wanted) {
    std::lock_guard lock(socket_mutex_);
    const bool on = wanted.load(std::memory_order_relaxed);
    if (coalescing_ == on) return;
    coalescing_ = on;
    // Only fails on a socket already closed, which has nothing left to send.
    if (socket_) static_cast<void>(socket_.set_nodelay(!on));
}

Error PahoTransport::explain_connect_failure(const TransportConnectParams& params, const Error& failure,
                                             std::chrono::milliseconds bound) {
    if (!(failure == errc::host_unreachable)) return failure;
    Result<BrokerAddress> broker = resolve_broker(params.server_url);
    if (!broker) return broker.error();
    const std::string& url = params.server_url;
    if (!tcp_reachable(*broker, bound))
        return Error{errc::host_unreachable,
                     "nothing accepts TCP connections at " + url +
                         " (refused or no answer): check the address and the network"};
    if (url.compare(0, 6, "ssl://") == 0)
        return Error{
            errc::tls_error,
            "the broker at " + url +
                " is reachable but the TLS handshake failed: check that tls.ca_file holds the CA of the "
                "broker's certificate, that the certificate names the host of server_url, and that a "
                "client certificate is given if the broker wants one"};
    return Error{errc::connect_failed,
                 "the broker at " + url +
                     " accepted TCP but closed the connection without an MQTT answer (a TLS "
                     "port? then use ssl://)"};
}

void PahoTransport::on_message(std::uint64_t, const std::string& topic, const std::string& payload) {
    try {
        if (events_.message) events_.message(topic, payload);
    } catch (...) {
    }
}

void PahoTransport::on_connection_lost(std::uint64_t generation, const std::string& cause) {
    {
        std::lock_guard lock(mutex_);
        if (generation != generation_) return;
        link_up_ = false;
    }
    forget_socket();
    fail_ops_of(generation);
    std::string why = watchdog_.take_reason();
    if (why.empty()) why = cause.empty() ? "the broker closed the connection" : "connection lost: " + cause;
    try {
        if (events_.connection_lost) events_.connection_lost(Error{errc::disconnected, why});
    } catch (...) {
    }
}

} // namespace enos::device::detail
