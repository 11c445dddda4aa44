// The client's outbox (docs/client.md, "Offline queue"): fire-and-forget and callback requests go
// through the offline queue, which holds each one until the broker acked it (QoS 1) or its reply arrived.
// While the link is down they wait there; when it returns (after the reply topics are subscribed again) they
// are sent oldest first, in a window of max_inflight, before anything newer since newer messages
// queue behind them. Acks and replies arrive on the transport's thread; the window is refilled from
// the dispatcher thread.
//
// The queue keeps each request's body, apart from its id and method: a replayed message (one that
// waited across an outage or a restart) is sealed with a fresh id on the new connection, and
// measure points go under the resume method and topics unless the options or the message say
// otherwise.
// A callback request completes with its reply, its final error (cloud code, timeout), or
// errc::dropped_by_policy; losing the link only sends it again.
#pragma once

#include "client/client_core.hpp"

#include "queue/offline_queue.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace enos::device::detail {

class OfflineSender;

/// What the offline sender uses of the client that owns it, and nothing more.
class OfflineHost {
public:
    virtual ~OfflineHost() = default;
    virtual const ClientOptions& options() const noexcept = 0;
    /// Whether the queue takes a request now (see ClientCore::offline_admission).
    virtual Status admission() const = 0;
    /// The next request id of the connection (a replay needs a fresh one).
    virtual std::string next_request_id() = 0;
    /// Sends a request that awaits its reply.
    virtual void submit(PreparedRequest request, Completion done) = 0;
    /// Publishes without awaiting a reply, counted as sent once the transport took it; `acked`
    /// runs on PUBACK (QoS 1) and may be empty.
    virtual Status publish(const std::string& topic, const std::string& payload, int qos,
                           Transport::Done acked) = 0;
    /// Runs `task` on the dispatcher (`batched`: see Dispatcher::post).
    virtual void post(std::function<void()> task, bool batched) = 0;
    virtual void log(LogLevel level, const std::string& message) const = 0;
    /// The sender for callbacks that may outlive the client: locking it keeps the client alive;
    /// empty once the client is going away.
    virtual std::weak_ptr<OfflineSender> weak_sender() const = 0;
    /// Whether a message for this device may be published now (a sub-device must be logged in).
    virtual Status admission_of(const std::string& product_key, const std::string& device_key) const = 0;
};

class OfflineSender {
public:
    /// Whether requests of this kind go through the queue: data the device reports (measure points,
    /// events, attribute and tag changes, raw data, logs, OTA reports). Questions (queries, the thing
    /// model, firmware version) and session or topology management do not: an answer long after the
    /// question is rarely wanted, and a login replayed after an outage would be stale.
    static bool queues(UpMethod method) noexcept;

    /// Opens the queue (locking and recovering a store directory); the host's client owns the sender.
    static Result<std::unique_ptr<OfflineSender>> open(std::unique_ptr<OfflineHost> host);

    OfflineSender(const OfflineSender&) = delete;
    OfflineSender& operator=(const OfflineSender&) = delete;

    Status send_nowait(PreparedRequest request);
    /// `done` runs exactly once (also when the request is refused at once).
    void send_async(PreparedRequest request, Completion done);

    /// The link is up and the reply topics are subscribed: start sending.
    void link_up();
    void link_down();
    /// The client is closing: callbacks of messages still queued complete with `why`; the messages
    /// themselves stay in the store directory, if there is one, for the next client.
    void close(const Error& why);

    QueueStats stats() const noexcept { return queue_->stats(); }

private:
    struct Waiting { ///< a callback request in the queue
        Completion done;
        std::chrono::milliseconds timeout;
    };

    explicit OfflineSender(std::unique_ptr<OfflineHost> host);
    /// Queues the request; `in_hand`: the queue also handed it out, so the caller sends it now
    /// and then calls drain().
    Result<std::uint64_t> push(const PreparedRequest& request, bool& in_hand);
    /// The link is up and nothing waits in the queue (so a message sent now keeps its order).
    bool link_idle();
    /// Sends what waits, as the window allows, unless another thread is at it (it goes round again).
    void pump();
    /// The sending loop of whoever holds pumping_; releases it when nothing more was asked for.
    void drain();
    void pump_later();
    void send(QueuedMessage message);
    /// Publishes a message that leaves the queue with its ack (or, at QoS 0, once written).
    void publish_acked(const std::string& topic, const std::string& payload, int qos, std::uint64_t sequence);
    Completion answer_callback(std::uint64_t sequence);
    void on_acked(std::uint64_t sequence);
    void on_answer(std::uint64_t sequence, Result<Response> result);
    void on_drop(const DroppedMessage& dropped);
    std::optional<Waiting> take_waiting(std::uint64_t sequence);

    const std::unique_ptr<OfflineHost> host_;
    const std::size_t window_;
    std::recursive_mutex mutex_; ///< recursive: a drop push() causes is reported under it
    bool up_ = false;
    bool pumping_ = false;    ///< a thread is sending from the queue (only one at a time keeps the order)
    bool pump_again_ = false; ///< more was queued or acked since the pumping thread last looked
    std::atomic<bool> pump_scheduled_{false}; ///< a pump() waits on the dispatcher
    bool closed_ = false;
    std::unordered_map<std::uint64_t, Waiting> waiting_;
    std::optional<OfflineQueue> queue_; ///< last: closed before the state its events touch
};

} // namespace enos::device::detail
