// The private core behind DeviceClient (docs/client.md). It orchestrates the parts that each own one
// concern: the connection state machine, dynamic activation (activation.hpp), the pending-request
// table, the deadline queue, the dispatcher thread for user code and the offline sender. The facade
// owns it through a shared_ptr; transport callbacks, timers and responders hold weak references.
#pragma once

#include "client/connection_machine.hpp"
#include "client/dispatcher.hpp"
#include "client/pending_requests.hpp"
#include "client/timer_queue.hpp"

#include "client/clock.hpp"
#include "transport/transport.hpp"
#include <enos/device/client/device_client.hpp>
#include <enos/device/core/credentials.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace enos::device::detail {

/// A request ready to go: everything but its completion.
struct PreparedRequest {
    UpMethod method{};
    std::string event_id; ///< event_post only
    std::string id;       ///< empty for raw requests (correlated by topic only)
    std::string topic;
    std::string reply_topic;
    std::string body;    ///< RequestBody::text: what the offline queue keeps
    std::string payload; ///< what is published: the envelope with this id, set by seal()
    int qos = 1;
    std::chrono::milliseconds timeout{0};
    bool keep_original_topic = false; ///< replayed on `topic` even when a resume topic exists
};

/// Puts the envelope around the body with the request's id (raw requests: the body as is).
Status seal(PreparedRequest& request);

/// A registered command handler: exactly one of the two is set.
struct HandlerSlot {
    CommandHandler sync;
    AsyncCommandHandler async;
    explicit operator bool() const noexcept { return sync || async; }
};

class OfflineSender;

class ClientCore : public std::enable_shared_from_this<ClientCore> {
public:
    static Result<std::shared_ptr<ClientCore>>
    create(ClientOptions options, std::unique_ptr<Transport> transport, std::shared_ptr<const Clock> clock);
    ~ClientCore();
    ClientCore(const ClientCore&) = delete;
    ClientCore& operator=(const ClientCore&) = delete;

    Status connect();
    Status disconnect();
    /// What the facade's destructor does: disconnect, complete everything, stop the threads (bounded).
    void shutdown();

    ConnectionState state() const;
    ClientStats stats() const;
    const ClientOptions& options() const noexcept { return options_; }
    /// Now in ms since the epoch from ClientOptions::wall_clock (the system clock when unset).
    std::int64_t wall_clock_ms() const {
        return options_.wall_clock ? options_.wall_clock() : detail::wall_clock_ms();
    }
    void set_connection_handler(ConnectionHandler handler);

    void set_service_handler(std::string service_id, HandlerSlot slot);
    void set_rrpc_handler(HandlerSlot slot);
    void set_command_handler(CommandKind kind, HandlerSlot slot);

    /// Builds topic, reply topic, id and payload; the body stays beside them for the offline
    /// queue, which keeps it and seals a replay again with a fresh id.
    Result<PreparedRequest> prepare(RequestBody body, const SendOptions& options);
    Result<Response> send_blocking(PreparedRequest request);
    void send_async(PreparedRequest request, ResponseCallback callback);
    Status send_nowait(PreparedRequest request);
    /// Completes a request that failed before it was sent, on the dispatcher like any other.
    void fail_async(ResponseCallback callback, Error error);

    void run_due_timers() { timers_.run_due(); }

    /// Whether the offline queue takes a request now (queue.hpp: enabled, accept_before_connect).
    Status offline_admission() const;

    /// Publishes a command reply (QoS 0): for handler results and for Responders.
    void send_command_reply(const Command& command, const std::string& reply_topic,
                            const CommandReply& reply);
    void log(LogLevel level, const std::string& message) const;

    // firmware version (ota_inform.cpp)
    void set_firmware_version(std::string version);
    std::string firmware_version() const;
    /// After a connect: reports the firmware version with ota.device.inform (ClientOptions::ota).
    void inform_firmware_version();

private:
    ClientCore(ClientOptions options, std::unique_ptr<Transport> transport,
               std::shared_ptr<const Clock> clock);

    /// A request waiting for its reply topic's SUBACK before it is published.
    struct Unsent {
        std::string key;
        std::uint64_t seq;
        std::string topic;
        std::string payload;
        int qos;
    };
    enum class SubState { none, subscribing, active };
    struct ReplySubscription {
        SubState state = SubState::none;
        std::vector<Unsent> waiting;
    };
    struct Counters {
        std::atomic<std::uint64_t> connects{0}, connection_losses{0}, requests_sent{0}, replies_received{0},
            requests_timed_out{0}, requests_failed{0}, late_replies{0}, unmatched_replies{0},
            commands_received{0}, commands_replied{0}, commands_unhandled{0}, commands_failed{0},
            commands_malformed{0}, commands_dropped{0}, messages_ignored{0};
    };
    using Failed = std::vector<std::pair<Completion, Error>>;
    using Events = ConnectionMachine::Events;
    using Slot = std::shared_ptr<const HandlerSlot>;

    // connecting
    Status connect_once(bool activation, std::unique_lock<std::mutex>& lock);
    Status activate(std::unique_lock<std::mutex>& lock);
    void end_activation_link(std::unique_lock<std::mutex>& lock);
    /// Keeps the offered secret and acknowledges it (no lock held); the secret once acknowledged.
    Result<std::string> keep_and_acknowledge(const std::string& payload);
    void launch(std::uint64_t session);
    void on_transport_connected(std::uint64_t session, Status status);
    void on_session_subscribed(std::uint64_t session, std::size_t command_count,
                               const std::vector<std::string>& reply_topics,
                               Result<std::vector<bool>> granted);
    void attempt_failed(std::uint64_t session, const Error& error);
    void on_connection_lost(const Error& cause);
    void arm_retry_locked(const ConnectionMachine::Retry& retry);
    void on_retry_timer(std::uint64_t session);
    void abort_link_later(std::uint64_t session);
    Result<TransportConnectParams> connect_params_locked(bool activation) const;
    std::vector<std::string> command_topics(bool activation) const;
    /// The command topics of one device (this one, or a sub-device logged in through it).
    static std::vector<std::string> device_command_topics(const std::string& pk, const std::string& dk);
    /// A flag the timer queue sets at `when` (and wakes changed_), so waits work with any clock.
    std::shared_ptr<bool> wake_at_locked(Clock::time_point when);
    /// A link ended: its pending requests fail with `why`, its reply subscriptions are gone.
    void end_requests_locked(const Error& why, Failed& failed);

    // requests
    /// Whether a request may go out now: connected and not closing.
    Status can_send_locked() const;
    void submit(PreparedRequest request, Completion done);
    void publish_request(const std::string& key, std::uint64_t seq, const std::string& topic,
                         const std::string& payload, int qos);
    void on_reply_subscribed(const std::string& reply_topic, std::uint64_t session,
                             Result<std::vector<bool>> granted);
    void fail_request(const std::string& key, std::uint64_t seq, const Error& error);
    /// Takes request `seq` out (see PendingRequests::take) and updates what follows the count.
    Completion take_pending_locked(const std::string& key, std::uint64_t seq);
    /// Tells the dispatcher how many replies are awaited and updates the coalescing wish;
    /// sync_coalescing() passes that wish to the transport once the lock is released.
    void awaited_changed_locked();
    void sync_coalescing();
    void arm_request_timer_locked();
    void on_request_timer();
    static void run_failed(Failed& failed);

    // arriving messages
    void on_message(const std::string& topic, const std::string& payload);
    void on_reply(const ArrivedTopic& arrived, const std::string& topic, const std::string& payload);
    void handle_command(const ArrivedTopic& arrived, const std::string& topic, const std::string& payload);
    Slot find_handler(const Command& command) const;
    /// Fills `command` from its envelope; false when it was refused (and answered if possible).
    bool read_envelope(const ArrivedTopic& arrived, const std::string& reply_topic, Command& command);
    /// Queues a command for handle_command() within the bound on queued commands; false if dropped.
    bool queue_command(const ArrivedTopic& arrived, const std::string& topic, const std::string& payload);
    void refuse_oversized_command(const ArrivedTopic& arrived, const std::string& topic,
                                  const std::string& id, std::size_t size);
    /// Answers (when the id is known) and counts a command that is not handed to a handler.
    void refuse_command(const Command& command, const std::string& reply_topic, int code,
                        const std::string& reason);
    /// This device, or a sub-device logged in through it: commands for anyone else are ignored.
    bool addressed_to_us(const ArrivedTopic& arrived) const;
    /// Follows sub-device logins and logouts from their successful replies; returns the sub-devices
    /// a login opened.
    std::vector<DeviceIdentity> follow_sub_device_sessions(UpMethod method, const std::string& data_json);
    /// Subscribes the command topics of sub-devices that just logged in, then completes their login.
    void subscribe_sub_device_commands(const std::vector<DeviceIdentity>& devices, Completion done,
                                       Response response);
    void end_sub_device_sessions(const std::string& params_json);

    /// Runs a task on the dispatcher (`batched`: see Dispatcher::post); inline when the dispatcher
    /// has stopped (only user threads get there: the transport is closed before the dispatcher stops).
    void post(Dispatcher::Task task, bool batched = false);
    void emit(Events& events);

    const ClientOptions options_;
    const std::shared_ptr<const Clock> clock_;
    std::unique_ptr<Transport> transport_;
    std::shared_ptr<Dispatcher> dispatcher_;
    TimerQueue timers_;
    Counters counters_;
    std::atomic<std::uint64_t> next_id_{1};
    std::string next_request_id() { return std::to_string(next_id_++); }

    std::mutex link_mutex_; ///< serialises transport connect/disconnect; taken before mutex_
    mutable std::mutex mutex_;
    std::condition_variable changed_; ///< attempts finished, activation secret arrived, wake-ups fired
    ConnectionMachine machine_;
    std::string device_secret_; ///< mode 2 secret: configured, read from the file, or activated
    std::optional<std::string> activation_payload_;
    std::uint64_t next_seq_ = 1;
    PendingRequests pending_;
    std::atomic<bool> want_coalescing_{false};  ///< PipelineTuning's wish for the transport
    std::atomic<bool> coalescing_stale_{false}; ///< the wish changed since the transport was told
    std::optional<Clock::time_point> request_timer_at_;
    std::map<std::string, ReplySubscription> reply_subscriptions_;

    mutable std::mutex handlers_mutex_;
    std::shared_ptr<const ConnectionHandler> connection_handler_;
    std::unordered_map<std::string, Slot> services_;
    Slot rrpc_;
    std::map<CommandKind, Slot> commands_;

    mutable std::mutex sub_devices_mutex_;
    std::set<std::string> sub_devices_;                ///< "pk/dk" of sub-devices logged in through us
    std::atomic<std::size_t> queued_command_bytes_{0}; ///< commands waiting for the dispatcher
    std::atomic<bool> dropping_commands_{false};       ///< the queue bound was hit (logged once per burst)

    std::unique_ptr<OfflineSender> offline_; ///< null when the offline queue is disabled

    mutable std::mutex firmware_mutex_;
    std::optional<std::string> firmware_version_; ///< set_firmware_version; else options_.ota's

    friend struct ResponderState;
    class SenderHost; ///< the OfflineHost the offline sender gets (client_core.cpp)
};

/// Shared by the copies of one Responder (commands.cpp).
struct ResponderState {
    std::weak_ptr<ClientCore> core;
    Command command;
    std::string reply_topic;
    std::atomic<bool> replied{false};

    ResponderState(std::weak_ptr<ClientCore> c, Command cmd, std::string topic)
        : core(std::move(c)), command(std::move(cmd)), reply_topic(std::move(topic)) {}
    ~ResponderState();
    ResponderState(const ResponderState&) = delete;
    ResponderState& operator=(const ResponderState&) = delete;
};

} // namespace enos::device::detail
