#include "client/client_core.hpp"
#include "client/activation.hpp"
#include "client/offline_sender.hpp"
#include "client/options_check.hpp"
#include "client/pipeline_tuning.hpp"

#include "crypto/tls_check.hpp"
#include "transport/gzip_transport.hpp"

#include <enos/device/core/payload.hpp>
#include <enos/device/core/topics.hpp>

#include <ctime>

namespace enos::device::detail {

// ---- construction and teardown ----------------------------------------------------------------

namespace {

/// What a transport wrapper logs through, before the core exists.
GzipTransport::Logger transport_logger(const ClientOptions& options) {
    return [sink = options.log_sink, level = options.log_level](LogLevel l, const std::string& text) {
        if (l < level || l == LogLevel::off || !sink) return;
        try {
            sink(l, text);
        } catch (...) {
        }
    };
}

} // namespace

ClientCore::ClientCore(ClientOptions options, std::unique_ptr<Transport> transport,
                       std::shared_ptr<const Clock> clock)
    : options_(std::move(options)), clock_(std::move(clock)), transport_(std::move(transport)),
      dispatcher_(std::make_shared<Dispatcher>()), timers_(clock_),
      machine_(options_.reconnect_backoff,
               std::hash<std::string>{}(options_.product_key + "/" + options_.device_key) ^
                   static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()),
               options_.auto_reconnect, options_.retry_after_refusal) {}

// The narrow face of the core its offline sender sees; it lives as long as the sender, which the
// core owns.
class ClientCore::SenderHost final : public OfflineHost {
public:
    explicit SenderHost(ClientCore& core) : core_(core) {}
    const ClientOptions& options() const noexcept override { return core_.options_; }
    Status admission() const override { return core_.offline_admission(); }
    std::string next_request_id() override { return core_.next_request_id(); }
    void submit(PreparedRequest request, Completion done) override {
        core_.submit(std::move(request), std::move(done));
    }
    Status publish(const std::string& topic, const std::string& payload, int qos,
                   Transport::Done acked) override {
        Status s = core_.transport_->publish(topic, payload, qos, std::move(acked));
        if (s) ++core_.counters_.requests_sent;
        return s;
    }
    void post(std::function<void()> task, bool batched) override { core_.post(std::move(task), batched); }
    void log(LogLevel level, const std::string& message) const override { core_.log(level, message); }
    std::weak_ptr<OfflineSender> weak_sender() const override {
        // Shares the core's ownership, so a locked sender keeps its core alive.
        if (std::shared_ptr<ClientCore> core = core_.weak_from_this().lock())
            return std::shared_ptr<OfflineSender>(core, core->offline_.get());
        return {};
    }

private:
    ClientCore& core_;
};

Result<std::shared_ptr<ClientCore>> ClientCore::create(ClientOptions options,
                                                       std::unique_ptr<Transport> transport,
                                                       std::shared_ptr<const Clock> clock) {
    if (Status s = validate(options); !s) return s.error();
    if (options.compression == PayloadCompression::gzip)
        transport = std::make_unique<GzipTransport>(std::move(transport), transport_logger(options));
    std::shared_ptr<ClientCore> core(
        new ClientCore(std::move(options), std::move(transport), std::move(clock)));
    std::weak_ptr<ClientCore> weak = core;
    core->transport_->set_events(
        TransportEvents{[weak](const std::string& topic, const std::string& payload) {
                            if (auto c = weak.lock()) c->on_message(topic, payload);
                        },
                        [weak](const Error& cause) {
                            if (auto c = weak.lock()) c->on_connection_lost(cause);
                        }});
    if (core->options_.offline_queue.enabled) {
        Result<std::unique_ptr<OfflineSender>> sender =
            OfflineSender::open(std::make_unique<SenderHost>(*core));
        if (!sender) return sender.error();
        core->offline_ = std::move(*sender);
    }
    return core;
}

ClientCore::~ClientCore() {
    shutdown();
}

void ClientCore::shutdown() {
    Failed failed;
    Events events;
    {
        std::lock_guard lock(mutex_);
        const Error why{errc::shutting_down, "the client is being destroyed"};
        if (!machine_.close(why, events)) return;
        end_requests_locked(why, failed);
    }
    changed_.notify_all();
    run_failed(failed);
    if (offline_) offline_->close(Error{errc::shutting_down, "the client is being destroyed"});
    {
        std::lock_guard link(link_mutex_);
        transport_->disconnect(options_.shutdown_timeout); // no transport callback runs after this
    }
    emit(events);
    timers_.stop();
    dispatcher_->stop(options_.shutdown_timeout);
}

// ---- small helpers ---------------------------------------------------------------------------------

void ClientCore::log(LogLevel level, const std::string& message) const {
    if (level < options_.log_level || level == LogLevel::off || !options_.log_sink) return;
    try {
        options_.log_sink(level, message);
    } catch (...) {
    }
}

void ClientCore::post(Dispatcher::Task task, bool batched) {
    if (!dispatcher_->post(std::move(task), batched)) task();
}

void ClientCore::emit(Events& events) {
    for (ConnectionEvent& event : events) {
        std::weak_ptr<ClientCore> weak = weak_from_this();
        post([weak, event] {
            auto core = weak.lock();
            if (!core) return;
            if (event.kind == ConnectionEventKind::connected) core->inform_firmware_version();
            std::shared_ptr<const ConnectionHandler> handler;
            {
                std::lock_guard lock(core->handlers_mutex_);
                handler = core->connection_handler_;
            }
            if (!handler || !*handler) return;
            try {
                (*handler)(event);
            } catch (const std::exception& e) {
                core->log(LogLevel::error, std::string("connection handler threw: ") + e.what());
            } catch (...) {
                core->log(LogLevel::error, "connection handler threw");
            }
        });
    }
    events.clear();
}

void ClientCore::run_failed(Failed& failed) {
    for (auto& [done, error] : failed)
        done(std::move(error));
    failed.clear();
}

std::shared_ptr<bool> ClientCore::wake_at_locked(Clock::time_point when) {
    auto flag = std::make_shared<bool>(false);
    std::weak_ptr<ClientCore> weak = weak_from_this();
    timers_.schedule(when, [weak, flag] {
        if (auto core = weak.lock()) {
            {
                std::lock_guard lock(core->mutex_);
                *flag = true;
            }
            core->changed_.notify_all();
        }
    });
    return flag;
}

ConnectionState ClientCore::state() const {
    std::lock_guard lock(mutex_);
    return machine_.state();
}

ClientStats ClientCore::stats() const {
    ClientStats s;
    s.connects = counters_.connects;
    s.connection_losses = counters_.connection_losses;
    s.requests_sent = counters_.requests_sent;
    s.replies_received = counters_.replies_received;
    s.requests_timed_out = counters_.requests_timed_out;
    s.requests_failed = counters_.requests_failed;
    s.late_replies = counters_.late_replies;
    s.unmatched_replies = counters_.unmatched_replies;
    s.commands_received = counters_.commands_received;
    s.commands_replied = counters_.commands_replied;
    s.commands_unhandled = counters_.commands_unhandled;
    s.commands_failed = counters_.commands_failed;
    s.commands_malformed = counters_.commands_malformed;
    s.commands_dropped = counters_.commands_dropped;
    s.messages_ignored = counters_.messages_ignored;
    if (offline_) s.queue = offline_->stats();
    std::lock_guard lock(mutex_);
    s.pending_requests = pending_.size();
    return s;
}

void ClientCore::set_connection_handler(ConnectionHandler handler) {
    auto shared = std::make_shared<const ConnectionHandler>(std::move(handler));
    std::lock_guard lock(handlers_mutex_);
    connection_handler_ = std::move(shared);
}

void ClientCore::set_service_handler(std::string service_id, HandlerSlot slot) {
    std::lock_guard lock(handlers_mutex_);
    if (slot)
        services_[std::move(service_id)] = std::make_shared<const HandlerSlot>(std::move(slot));
    else
        services_.erase(service_id);
}

void ClientCore::set_rrpc_handler(HandlerSlot slot) {
    std::lock_guard lock(handlers_mutex_);
    rrpc_ = slot ? std::make_shared<const HandlerSlot>(std::move(slot)) : nullptr;
}

void ClientCore::set_command_handler(CommandKind kind, HandlerSlot slot) {
    std::lock_guard lock(handlers_mutex_);
    if (slot)
        commands_[kind] = std::make_shared<const HandlerSlot>(std::move(slot));
    else
        commands_.erase(kind);
}

// ---- connecting ------------------------------------------------------------------------------------

Result<TransportConnectParams> ClientCore::connect_params_locked(bool activation) const {
    CredentialInput in;
    in.product_key = options_.product_key;
    in.device_key = options_.device_key;
    in.secret = activation ? options_.product_secret : device_secret_;
    in.mode = activation ? SecureMode::dynamic_activation : SecureMode::static_secret;
    in.method = options_.sign_method;
    in.hex_case = options_.hex_case;
    in.client_id = options_.client_id;
    in.timestamp = std::to_string(wall_clock_ms());
    if (options_.compression == PayloadCompression::gzip) in.extra_info = "{compress=GZIP}";
    Result<ConnectCredentials> credentials = make_connect_credentials(in);
    if (!credentials) return credentials.error();
    TransportConnectParams p;
    p.server_url = options_.server_url;
    p.client_id = std::move(credentials->client_id);
    p.username = std::move(credentials->username);
    p.password = std::move(credentials->password);
    p.keep_alive = options_.keep_alive;
    p.connect_timeout = options_.connect_timeout;
    p.max_inflight = options_.max_inflight;
    p.tcp_nodelay = options_.tcp_nodelay;
    p.tls = options_.tls;
    return p;
}

std::vector<std::string> ClientCore::command_topics(bool activation) const {
    const std::string& pk = options_.product_key;
    const std::string& dk = options_.device_key;
    if (activation) return {command_topic(DownKind::activate_info, pk, dk)};
    if (!options_.subscribe_commands) return {};
    std::vector<std::string> topics = device_command_topics(pk, dk);
    // Sub-device notices come on the gateway's own session topics (after raw_down, as ever).
    topics.insert(topics.begin() + 5, {command_topic(DownKind::sub_device_enable, pk, dk),
                                       command_topic(DownKind::sub_device_disable, pk, dk),
                                       command_topic(DownKind::sub_device_delete, pk, dk)});
    return topics;
}

std::vector<std::string> ClientCore::device_command_topics(const std::string& pk, const std::string& dk) {
    // thing/service/+ also matches the device's own ".../service/{id}_reply" publishes; those echoes
    // are recognised and dropped in on_message().
    return {command_topic(DownKind::service_invoke, pk, dk, "+"),
            command_topic(DownKind::measurepoint_set, pk, dk),
            command_topic(DownKind::measurepoint_get, pk, dk),
            command_topic(DownKind::rrpc_request, pk, dk, "+"),
            command_topic(DownKind::raw_down, pk, dk),
            command_topic(DownKind::device_enable, pk, dk),
            command_topic(DownKind::device_disable, pk, dk),
            command_topic(DownKind::device_delete, pk, dk),
            command_topic(DownKind::ota_upgrade, pk, dk),
            command_topic(DownKind::traffic_control, pk, dk)};
}

Status ClientCore::connect() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock,
                  [&] { return machine_.closing() || machine_.state() != ConnectionState::connecting; });
    if (machine_.closing()) return Error{errc::shutting_down, "the client is closed"};
    if (machine_.state() == ConnectionState::connected) return {};

    if (uses_tls(options_)) // certificates expire and clocks jump
        if (Status s = check_tls_files(options_.tls, std::time(nullptr)); !s) return s;
    if (device_secret_.empty()) {
        Result<std::string> stored = load_device_secret(options_);
        if (!stored) return stored.error();
        device_secret_ = std::move(*stored);
    }
    if (device_secret_.empty()) {
        if (Status s = activate(lock); !s) return s;
    }
    Status result = connect_once(false, lock);
    if (result) machine_.keep_connected();
    return result;
}

Status ClientCore::connect_once(bool activation, std::unique_lock<std::mutex>& lock) {
    Result<TransportConnectParams> params = connect_params_locked(activation);
    if (!params) return params.error();
    const std::uint64_t session = machine_.begin(activation, clock_->now());
    lock.unlock();
    launch(session);
    lock.lock();
    changed_.wait(lock, [&] { return machine_.settled(session); });
    Status result = machine_.take_result(session);
    if (!result && result.error() == errc::host_unreachable) {
        lock.unlock(); // a short probe on the caller's thread; the core stays usable meanwhile
        const auto bound =
            std::min<std::chrono::milliseconds>(options_.connect_timeout, std::chrono::seconds(3));
        result = transport_->explain_connect_failure(*params, result.error(), bound);
        lock.lock();
    }
    return result;
}

void ClientCore::launch(std::uint64_t session) {
    std::weak_ptr<ClientCore> weak = weak_from_this();
    std::lock_guard link(link_mutex_);
    Result<TransportConnectParams> params = Error{};
    {
        std::lock_guard lock(mutex_);
        const ConnectionMachine::Attempt* attempt = machine_.current(session);
        if (!attempt) return; // superseded while we waited for the link lock
        params = connect_params_locked(attempt->activation);
        // One bound for the whole attempt: TCP, TLS, CONNACK and the SUBACK of the command topics.
        if (params)
            timers_.schedule(clock_->now() + options_.connect_timeout, [weak, session] {
                if (auto core = weak.lock())
                    core->attempt_failed(
                        session, Error{errc::timeout, "no answer from the broker within connect_timeout"});
            });
    }
    if (!params) { // cannot happen after validate(); never leave a waiter
        attempt_failed(session, params.error());
        return;
    }
    log(LogLevel::debug, "connecting to " + params->server_url + " as " + params->client_id);
    transport_->connect(*params, [weak, session](Status status) {
        if (auto core = weak.lock()) core->on_transport_connected(session, std::move(status));
    });
}

void ClientCore::on_transport_connected(std::uint64_t session, Status status) {
    if (!status) {
        attempt_failed(session, status.error());
        return;
    }
    std::vector<std::string> topics;
    std::vector<std::string> reply_topics;
    {
        std::lock_guard lock(mutex_);
        const ConnectionMachine::Attempt* attempt = machine_.link_up(session, clock_->now());
        if (!attempt) return;
        topics = command_topics(attempt->activation);
        // Clean session: the broker forgot every subscription, so the known reply topics are
        // subscribed again before the link counts as up.
        if (!attempt->activation) {
            // A backlog of measure points is replayed through the resume topics: their replies must
            // be subscribed before the first replay, or newer live posts would overtake it.
            if (offline_ && offline_->stats().depth > 0 &&
                options_.offline_queue.replay_through_resume_topics)
                for (UpMethod method : {UpMethod::measurepoint_resume, UpMethod::measurepoint_resume_batch})
                    reply_subscriptions_.try_emplace(
                        reply_topic(method, options_.product_key, options_.device_key, {}));
            for (const auto& [topic, sub] : reply_subscriptions_)
                reply_topics.push_back(topic);
        }
    }
    {
        // A new session has no sub-device logged in: their commands count again after a login.
        std::lock_guard lock(sub_devices_mutex_);
        sub_devices_.clear();
    }
    const std::size_t command_count = topics.size();
    topics.insert(topics.end(), reply_topics.begin(), reply_topics.end());
    if (topics.empty()) {
        on_session_subscribed(session, 0, reply_topics, std::vector<bool>{});
        return;
    }
    std::weak_ptr<ClientCore> weak = weak_from_this();
    Status s = transport_->subscribe(
        topics, 1, [weak, session, command_count, reply_topics](Result<std::vector<bool>> granted) {
            if (auto core = weak.lock())
                core->on_session_subscribed(session, command_count, reply_topics, std::move(granted));
        });
    if (!s) attempt_failed(session, s.error());
}

void ClientCore::on_session_subscribed(std::uint64_t session, std::size_t command_count,
                                       const std::vector<std::string>& reply_topics,
                                       Result<std::vector<bool>> granted) {
    if (!granted) {
        attempt_failed(session, granted.error());
        return;
    }
    std::vector<bool>& ok = *granted;
    ok.resize(command_count + reply_topics.size(), true);
    Events events;
    bool refused_commands = false;
    bool activation = false;
    for (std::size_t i = 0; i < command_count; ++i)
        refused_commands |= !ok[i];
    {
        std::lock_guard lock(mutex_);
        const ConnectionMachine::Attempt* attempt = machine_.connected(session, events);
        if (!attempt) return;
        activation = attempt->activation;
        for (std::size_t i = 0; i < reply_topics.size(); ++i)
            reply_subscriptions_[reply_topics[i]].state =
                ok[command_count + i] ? SubState::active : SubState::none;
        // Request ids keep counting across links: a late reply must never match a newer request.
        pending_.forget_ended();
        ++counters_.connects;
    }
    // Reply topics are subscribed again by now: the backlog goes out before anything newer. The queue
    // learns of the link before connect() returns, so what the application posts next counts as live.
    if (offline_ && !activation) offline_->link_up();
    {
        std::lock_guard lock(mutex_);
        machine_.queue_told(session);
    }
    changed_.notify_all();
    if (refused_commands)
        log(LogLevel::warn,
            "the broker refused some command subscriptions; commands arrive only if it delivers them anyway");
    log(LogLevel::info, "connected to " + options_.server_url);
    emit(events);
}

void ClientCore::attempt_failed(std::uint64_t session, const Error& error) {
    Events events;
    std::optional<ConnectionMachine::Failure> failure;
    std::uint64_t now_current = 0;
    {
        std::lock_guard lock(mutex_);
        failure = machine_.failed(session, error, clock_->now(), events);
        if (!failure) return;
        if (failure->retry) arm_retry_locked(*failure->retry);
        now_current = machine_.session();
    }
    changed_.notify_all();
    log(LogLevel::warn, "connect attempt failed: " + error.message());
    if (failure->link_was_up) abort_link_later(now_current);
    emit(events);
}

void ClientCore::abort_link_later(std::uint64_t session) {
    // The half-open link of a failed attempt is closed off the transport's thread (Paho forbids
    // closing a client from its own callbacks), unless a newer attempt replaced it already.
    std::weak_ptr<ClientCore> weak = weak_from_this();
    timers_.schedule(clock_->now(), [weak, session] {
        auto core = weak.lock();
        if (!core) return;
        std::lock_guard link(core->link_mutex_);
        {
            std::lock_guard lock(core->mutex_);
            if (session != core->machine_.session() || core->machine_.closing()) return;
        }
        core->transport_->disconnect(std::chrono::milliseconds(0));
    });
}

void ClientCore::on_connection_lost(const Error& cause) {
    Failed failed;
    Events events;
    {
        std::lock_guard lock(mutex_);
        // During an attempt the attempt's own callbacks report the failure.
        if (machine_.state() != ConnectionState::connected || machine_.closing()) return;
        ++counters_.connection_losses;
        end_requests_locked(Error{errc::disconnected, cause.detail}, failed);
        if (auto retry = machine_.lost(cause, clock_->now(), events)) arm_retry_locked(*retry);
    }
    changed_.notify_all();
    log(LogLevel::warn, "connection lost: " + cause.message());
    sync_coalescing(); // off for the next link
    if (offline_) offline_->link_down();
    run_failed(failed);
    emit(events);
}

void ClientCore::end_requests_locked(const Error& why, Failed& failed) {
    for (Completion& done : pending_.take_all()) {
        failed.emplace_back(std::move(done), why);
        ++counters_.requests_failed;
    }
    awaited_changed_locked();
    for (auto& [topic, sub] : reply_subscriptions_) {
        sub.state = SubState::none; // clean session: the broker forgets them with the link
        sub.waiting.clear();
    }
}

void ClientCore::arm_retry_locked(const ConnectionMachine::Retry& retry) {
    std::weak_ptr<ClientCore> weak = weak_from_this();
    timers_.schedule(clock_->now() + retry.delay, [weak, session = retry.session] {
        if (auto core = weak.lock()) core->on_retry_timer(session);
    });
}

void ClientCore::on_retry_timer(std::uint64_t session) {
    std::optional<std::uint64_t> attempt;
    {
        std::lock_guard lock(mutex_);
        attempt = machine_.retry_due(session, clock_->now());
    }
    if (attempt) launch(*attempt);
}

Status ClientCore::disconnect() {
    Failed failed;
    Events events;
    {
        std::lock_guard lock(mutex_);
        if (machine_.closing()) return Error{errc::shutting_down, "the client is closed"};
        const Error why{errc::shutting_down, "disconnect() was called"};
        end_requests_locked(why, failed);
        machine_.disconnect(why, events);
    }
    changed_.notify_all();
    sync_coalescing(); // off for the next link
    if (offline_) offline_->link_down();
    run_failed(failed);
    {
        std::lock_guard link(link_mutex_);
        transport_->disconnect(options_.shutdown_timeout);
    }
    emit(events);
    return {};
}

// ---- dynamic activation (docs/protocol.md §1.8) ------------------------------------------------------

Status ClientCore::activate(std::unique_lock<std::mutex>& lock) {
    auto failed = [](Error e) {
        e.detail = "dynamic activation: " + e.detail;
        return e;
    };
    if (options_.product_secret.empty())
        return Error{errc::missing_argument,
                     "no device secret: set device_secret, or product_secret for dynamic activation"};
    activation_payload_.reset();
    if (Status s = connect_once(true, lock); !s) return failed(s.error());
    const std::uint64_t session = machine_.session();
    auto give_up = wake_at_locked(clock_->now() + options_.activation_timeout);
    changed_.wait(lock, [&] {
        return activation_payload_ || *give_up || machine_.closing() || session != machine_.session();
    });
    std::optional<std::string> payload = std::move(activation_payload_);
    activation_payload_.reset();
    const bool link_still_up = session == machine_.session() && !machine_.closing();
    if (!payload) {
        if (link_still_up) end_activation_link(lock);
        if (machine_.closing())
            return Error{errc::shutting_down, "the client was closed during dynamic activation"};
        if (!link_still_up) return Error{errc::disconnected, "the link dropped during dynamic activation"};
        return failed(Error{errc::timeout, "the cloud sent no device secret within activation_timeout"});
    }
    lock.unlock();
    Result<std::string> secret = keep_and_acknowledge(*payload);
    lock.lock();
    end_activation_link(lock);
    if (!secret) return failed(secret.error());
    device_secret_ = std::move(*secret);
    Events events;
    ConnectionEvent activated;
    activated.kind = ConnectionEventKind::activated;
    activated.state = machine_.state();
    events.push_back(activated);
    log(LogLevel::info, "dynamic activation done; connecting with the device secret");

    // The platform accepts one CONNECT per second per device.
    auto ready = wake_at_locked(clock_->now() + machine_.after_activation(clock_->now()));
    changed_.wait(lock, [&] { return *ready || machine_.closing(); });
    lock.unlock();
    emit(events);
    lock.lock();
    if (machine_.closing())
        return Error{errc::shutting_down, "the client was closed during dynamic activation"};
    return {};
}

void ClientCore::end_activation_link(std::unique_lock<std::mutex>& lock) {
    machine_.end_activation_link();
    lock.unlock();
    {
        std::lock_guard link(link_mutex_);
        transport_->disconnect(options_.shutdown_timeout);
    }
    lock.lock();
}

Result<std::string> ClientCore::keep_and_acknowledge(const std::string& payload) {
    Result<ActivationOffer> offer = read_activation_offer(payload, options_);
    if (!offer) return offer.error();
    // Acknowledge only what was kept, and only after it was kept (the cloud then forgets the offer).
    if (Status s = keep_device_secret(offer->device_secret, options_); !s) return s.error();
    Result<ActivationAck> ack = activation_ack(*offer, options_);
    if (!ack) return ack.error();
    struct Sent {
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        Status status;
    };
    auto sent = std::make_shared<Sent>();
    Status s = transport_->publish(ack->topic, ack->payload, 0, [sent](Status status) {
        {
            std::lock_guard l(sent->mutex);
            sent->done = true;
            sent->status = std::move(status);
        }
        sent->cv.notify_all();
    });
    if (!s) return s.error();
    std::unique_lock l(sent->mutex);
    sent->cv.wait(l, [&] { return sent->done; }); // the transport completes it, or fails it on link loss
    if (!sent->status) return sent->status.error();
    return std::move(offer->device_secret);
}

// ---- requests --------------------------------------------------------------------------------------

Status seal(PreparedRequest& request) {
    return encode_envelope(request.payload, request.id, request.method, request.event_id, request.body);
}

Result<PreparedRequest> ClientCore::prepare(RequestBody body, const SendOptions& options) {
    PreparedRequest r;
    r.method = body.method;
    r.event_id = std::move(body.event_id);
    r.body = std::move(body.text);
    r.qos = options.qos < 0 ? default_qos(r.method) : options.qos;
    if (Status s = check_qos(r.qos); !s) return s.error();
    const std::string& pk = options.product_key.empty() ? options_.product_key : options.product_key;
    const std::string& dk = options.device_key.empty() ? options_.device_key : options.device_key;
    if (!options.product_key.empty() || !options.device_key.empty()) {
        if (Status s = check_key("product_key", pk); !s) return s.error();
        if (!is_integration(r.method))
            if (Status s = check_key("device_key", dk); !s) return s.error();
    }
    r.topic = request_topic(r.method, pk, dk, r.event_id);
    r.reply_topic.reserve(r.topic.size() + detail::reply_suffix.size()); // reply_topic(), built once
    r.reply_topic.append(r.topic).append(detail::reply_suffix);
    if (!is_raw(r.method)) r.id = next_request_id();
    r.timeout = options.timeout > std::chrono::milliseconds(0) ? options.timeout : options_.request_timeout;
    r.keep_original_topic = options.keep_original_topic;
    if (Status s = seal(r); !s) return s.error();
    return r;
}

Result<Response> ClientCore::send_blocking(PreparedRequest request) {
    struct Waiter {
        std::mutex mutex;
        std::condition_variable cv;
        std::optional<Result<Response>> result;
    };
    auto waiter = std::make_shared<Waiter>();
    // Completed by the transport thread (reply, link loss), the timer thread (timeout) or inline:
    // never by the dispatcher, so a handler may block here.
    submit(std::move(request), [waiter](Result<Response> result) {
        {
            std::lock_guard lock(waiter->mutex);
            waiter->result.emplace(std::move(result));
        }
        waiter->cv.notify_all();
    });
    std::unique_lock lock(waiter->mutex);
    waiter->cv.wait(lock, [&] { return waiter->result.has_value(); });
    return std::move(*waiter->result);
}

void ClientCore::send_async(PreparedRequest request, ResponseCallback callback) {
    std::weak_ptr<ClientCore> weak = weak_from_this();
    std::shared_ptr<Dispatcher> dispatcher = dispatcher_;
    // A completion runs once, so it hands its callback on instead of copying it.
    Completion done = [weak, dispatcher, callback = std::move(callback)](Result<Response> result) mutable {
        Dispatcher::Task task = [weak, callback = std::move(callback), result = std::move(result)]() mutable {
            if (!callback) return;
            try {
                callback(std::move(result));
            } catch (const std::exception& e) {
                if (auto core = weak.lock())
                    core->log(LogLevel::error, std::string("response callback threw: ") + e.what());
            } catch (...) {
                if (auto core = weak.lock()) core->log(LogLevel::error, "response callback threw");
            }
        };
        if (!dispatcher->post(std::move(task), true)) task(); // replies of a busy window run in batches
    };
    if (offline_ && OfflineSender::queues(request.method))
        offline_->send_async(std::move(request), std::move(done));
    else
        submit(std::move(request), std::move(done));
}

void ClientCore::fail_async(ResponseCallback callback, Error error) {
    std::weak_ptr<ClientCore> weak = weak_from_this();
    post([weak, callback = std::move(callback), error = std::move(error)] {
        if (!callback) return;
        try {
            callback(error);
        } catch (...) {
            if (auto core = weak.lock()) core->log(LogLevel::error, "response callback threw");
        }
    });
}

Status ClientCore::send_nowait(PreparedRequest request) {
    if (offline_ && OfflineSender::queues(request.method)) return offline_->send_nowait(std::move(request));
    {
        std::lock_guard lock(mutex_);
        if (Status s = can_send_locked(); !s) return s;
    }
    Status s = transport_->publish(request.topic, request.payload, request.qos, nullptr);
    if (s) ++counters_.requests_sent;
    return s;
}

Status ClientCore::can_send_locked() const {
    if (machine_.closing()) return Error{errc::shutting_down, "the client is closed"};
    if (machine_.state() != ConnectionState::connected)
        return Error{errc::not_connected, "not connected to the broker"};
    return {};
}

Status ClientCore::offline_admission() const {
    std::lock_guard lock(mutex_);
    if (machine_.closing()) return Error{errc::shutting_down, "the client is closed"};
    if (machine_.state() == ConnectionState::connected || machine_.keeps_connected() ||
        options_.offline_queue.accept_before_connect)
        return {};
    return Error{errc::not_connected, "not connected to the broker (connect() first, or set "
                                      "offline_queue.accept_before_connect to queue until then)"};
}

void ClientCore::submit(PreparedRequest request, Completion done) {
    std::string key = PendingRequests::key(request.reply_topic, request.id);
    bool subscribe_now = false;
    bool publish_now = false;
    std::uint64_t seq;
    std::uint64_t session;
    {
        std::unique_lock lock(mutex_);
        Status refusal = can_send_locked();
        if (refusal && pending_.contains(key))
            refusal =
                Error{errc::invalid_argument, "a raw request on " + request.topic +
                                                  " still waits for its reply (raw replies carry no id)"};
        if (!refusal) {
            lock.unlock();
            done(refusal.error());
            return;
        }
        seq = next_seq_++;
        session = machine_.session();
        const Clock::time_point deadline = clock_->now() + request.timeout;
        pending_.add(key, seq, deadline, std::move(done));
        awaited_changed_locked();
        arm_request_timer_locked();
        ReplySubscription& sub = reply_subscriptions_[request.reply_topic];
        if (sub.state == SubState::active) {
            publish_now = true;
        } else {
            // The broker forwards replies only to subscribers: hold the request until the SUBACK.
            sub.waiting.push_back(Unsent{key, seq, request.topic, std::move(request.payload), request.qos});
            if (sub.state == SubState::none) {
                sub.state = SubState::subscribing;
                subscribe_now = true;
            }
        }
    }
    sync_coalescing(); // before the publish, so a busy pipeline is coalesced from its eighth request
    if (subscribe_now) {
        std::weak_ptr<ClientCore> weak = weak_from_this();
        const std::string topic = request.reply_topic;
        Status s =
            transport_->subscribe({topic}, 1, [weak, topic, session](Result<std::vector<bool>> granted) {
                if (auto core = weak.lock()) core->on_reply_subscribed(topic, session, std::move(granted));
            });
        if (!s) on_reply_subscribed(topic, session, s.error());
    }
    if (publish_now) publish_request(key, seq, request.topic, request.payload, request.qos);
}

void ClientCore::publish_request(const std::string& key, std::uint64_t seq, const std::string& topic,
                                 const std::string& payload, int qos) {
    // No per-publish acknowledgement listener: a publish that fails later fails with its link, and
    // on_connection_lost() completes every pending request then.
    Status s = transport_->publish(topic, payload, qos, nullptr);
    if (s)
        ++counters_.requests_sent;
    else
        fail_request(key, seq, s.error());
}

void ClientCore::on_reply_subscribed(const std::string& reply_topic, std::uint64_t session,
                                     Result<std::vector<bool>> granted) {
    std::vector<Unsent> to_publish;
    Failed failed;
    {
        std::lock_guard lock(mutex_);
        if (session != machine_.session() || machine_.closing())
            return; // that link is gone and its requests with it
        ReplySubscription& sub = reply_subscriptions_[reply_topic];
        std::vector<Unsent> waiting = std::move(sub.waiting);
        sub.waiting.clear();
        const bool ok = granted && !granted->empty() && granted->front();
        sub.state = ok ? SubState::active : SubState::none;
        Error error =
            granted ? Error{errc::not_authorized, "the broker refused the subscription to " + reply_topic}
                    : granted.error();
        for (Unsent& u : waiting) {
            if (ok) {
                if (pending_.waits(u.key, u.seq)) to_publish.push_back(std::move(u));
            } else if (Completion done = take_pending_locked(u.key, u.seq)) {
                failed.emplace_back(std::move(done), error);
                ++counters_.requests_failed;
            }
        }
    }
    sync_coalescing();
    for (const Unsent& u : to_publish)
        publish_request(u.key, u.seq, u.topic, u.payload, u.qos);
    run_failed(failed);
}

Completion ClientCore::take_pending_locked(const std::string& key, std::uint64_t seq) {
    Completion done = pending_.take(key, seq);
    if (done) awaited_changed_locked();
    return done;
}

void ClientCore::fail_request(const std::string& key, std::uint64_t seq, const Error& error) {
    Completion done;
    {
        std::lock_guard lock(mutex_);
        done = take_pending_locked(key, seq);
        if (!done) return;
        ++counters_.requests_failed;
    }
    sync_coalescing();
    done(error);
}

void ClientCore::awaited_changed_locked() {
    const std::size_t awaited = pending_.size();
    dispatcher_->set_awaited(awaited);
    const bool now = want_coalescing_.load(std::memory_order_relaxed);
    if (PipelineTuning::coalesces(awaited, now) == now) return;
    want_coalescing_.store(!now, std::memory_order_relaxed);
    coalescing_stale_.store(true, std::memory_order_release);
}

void ClientCore::sync_coalescing() {
    // The socket option is a system call: never under the core's lock. The transport reads the
    // wish under its own lock, so when two threads race here the last one applies the latest wish.
    if (coalescing_stale_.exchange(false, std::memory_order_acq_rel))
        transport_->set_coalescing(want_coalescing_);
}

void ClientCore::arm_request_timer_locked() {
    const std::optional<Clock::time_point> due = pending_.next_deadline();
    if (!due) return;
    const Clock::time_point next = *due;
    if (request_timer_at_ && *request_timer_at_ <= next) return;
    request_timer_at_ = next;
    std::weak_ptr<ClientCore> weak = weak_from_this();
    timers_.schedule(next, [weak] {
        if (auto core = weak.lock()) core->on_request_timer();
    });
}

void ClientCore::on_request_timer() {
    Failed expired;
    {
        std::lock_guard lock(mutex_);
        request_timer_at_.reset();
        for (auto& [done, key] : pending_.take_expired(clock_->now())) {
            expired.emplace_back(std::move(done),
                                 Error{errc::timeout, "no reply on " + key.substr(0, key.rfind('#'))});
            ++counters_.requests_timed_out;
        }
        if (!expired.empty()) awaited_changed_locked();
        arm_request_timer_locked();
    }
    sync_coalescing();
    run_failed(expired);
}

// ---- arriving messages ---------------------------------------------------------------------------

void ClientCore::on_message(const std::string& topic, const std::string& payload) {
    Result<ArrivedTopic> arrived = parse_arrived_topic(topic);
    if (!arrived) {
        // Our own answer to a service, echoed back by the thing/service/+ subscription.
        if (parse_command_reply_topic(topic)) return;
        ++counters_.messages_ignored;
        log(LogLevel::debug, "ignored a message on " + topic);
        return;
    }
    if (arrived->kind == DownKind::reply) {
        on_reply(*arrived, topic, payload); // matched by topic and id, so a foreign one stays unmatched
        return;
    }
    if (!addressed_to_us(*arrived)) { // a broker that delivers other devices' topics
        ++counters_.messages_ignored;
        log(LogLevel::warn, "ignored a command for another device on " + topic);
        return;
    }
    if (arrived->kind == DownKind::activate_info) {
        {
            std::lock_guard lock(mutex_);
            activation_payload_ = payload;
        }
        changed_.notify_all();
        return;
    }
    ++counters_.commands_received;
    if (queue_command(*arrived, topic, payload) && dropping_commands_.exchange(false))
        log(LogLevel::info, "commands are queued again");
}

void ClientCore::on_reply(const ArrivedTopic& arrived, const std::string& topic, const std::string& payload) {
    Response response;
    std::string key;
    if (is_raw(arrived.reply_to)) {
        key = PendingRequests::key(topic, {});
        response.raw = payload;
    } else {
        Result<Reply> reply = decode_reply(payload);
        if (!reply) {
            ++counters_.unmatched_replies;
            log(LogLevel::warn, "undecodable reply on " + topic + ": " + reply.error().message());
            return;
        }
        key = PendingRequests::key(topic, reply->id);
        response.id = std::move(reply->id);
        response.code = reply->code;
        response.message = std::move(reply->message);
        response.data_json = std::move(reply->data_json);
    }
    Completion done;
    {
        std::lock_guard lock(mutex_);
        switch (pending_.take_reply(key, done)) {
        case PendingRequests::Match::late: ++counters_.late_replies; return;
        case PendingRequests::Match::unmatched: ++counters_.unmatched_replies; return;
        case PendingRequests::Match::matched: awaited_changed_locked(); break;
        }
    }
    sync_coalescing();
    ++counters_.replies_received;
    if (response.code != 200) {
        done(Error{make_cloud_error(response.code), response.message});
        return;
    }
    std::vector<DeviceIdentity> opened = follow_sub_device_sessions(arrived.reply_to, response.data_json);
    if (!opened.empty() && options_.subscribe_commands) {
        subscribe_sub_device_commands(opened, std::move(done), std::move(response));
        return;
    }
    done(std::move(response));
}

void ClientCore::subscribe_sub_device_commands(const std::vector<DeviceIdentity>& devices, Completion done,
                                               Response response) {
    // A broker that delivers only what was subscribed (mosquitto, enos-hub) passes a sub-device's
    // commands to its gateway only once the gateway subscribes them, which its ACL allows after the
    // login. The login completes after the SUBACK, so a command sent right after it is not missed.
    std::vector<std::string> topics;
    for (const DeviceIdentity& d : devices)
        for (std::string& topic : device_command_topics(d.product_key, d.device_key))
            topics.push_back(std::move(topic));
    struct Login {
        Completion done;
        Response response;
    };
    auto login = std::make_shared<Login>(Login{std::move(done), std::move(response)});
    std::weak_ptr<ClientCore> weak = weak_from_this();
    const std::size_t count = devices.size();
    Status s = transport_->subscribe(topics, 1, [weak, login, count](Result<std::vector<bool>> granted) {
        bool refused = !granted;
        if (granted)
            for (bool ok : *granted)
                refused |= !ok;
        if (auto core = weak.lock(); core && refused)
            core->log(LogLevel::warn,
                      "the broker refused command subscriptions of " + std::to_string(count) +
                          " logged-in sub-devices; their commands arrive only if it delivers them anyway");
        login->done(std::move(login->response));
    });
    if (!s) {
        log(LogLevel::warn, "cannot subscribe the commands of logged-in sub-devices: " + s.error().message());
        login->done(std::move(login->response));
    }
}

} // namespace enos::device::detail
