#include "client/offline_sender.hpp"

#include <enos/device/core/topics.hpp>

namespace enos::device::detail {
namespace {

/// The resume counterpart of a live measure-point method, if it has one.
std::optional<UpMethod> resume_method(UpMethod method) {
    if (method == UpMethod::measurepoint_post) return UpMethod::measurepoint_resume;
    if (method == UpMethod::measurepoint_post_batch) return UpMethod::measurepoint_resume_batch;
    return std::nullopt;
}

/// Whether a request that ended this way should be sent again on the next link instead of
/// completing: the link (or the client's session) ended under it.
bool ended_with_link(const Result<Response>& result) {
    if (result) return false;
    const Error& e = result.error();
    return e == errc::disconnected || e == errc::not_connected || e == errc::shutting_down;
}

} // namespace

bool OfflineSender::queues(UpMethod method) noexcept {
    switch (method) {
    case UpMethod::measurepoint_post:
    case UpMethod::measurepoint_post_batch:
    case UpMethod::measurepoint_resume:
    case UpMethod::measurepoint_resume_batch:
    case UpMethod::event_post:
    case UpMethod::attribute_update:
    case UpMethod::attribute_delete:
    case UpMethod::tag_update:
    case UpMethod::tag_delete:
    case UpMethod::raw_up:
    case UpMethod::ota_inform:
    case UpMethod::ota_progress:
    case UpMethod::log_post:
    case UpMethod::network_status_report:
    case UpMethod::integration_measurepoint_post:
    case UpMethod::integration_event_post:
    case UpMethod::integration_attribute_post:
    case UpMethod::integration_raw_up: return true;
    default: return false;
    }
}

OfflineSender::OfflineSender(std::unique_ptr<OfflineHost> host)
    : host_(std::move(host)), window_(static_cast<std::size_t>(host_->options().max_inflight)) {}

Result<std::unique_ptr<OfflineSender>> OfflineSender::open(std::unique_ptr<OfflineHost> host) {
    std::unique_ptr<OfflineSender> sender(new OfflineSender(std::move(host)));
    OfflineSender* self = sender.get();
    const OfflineHost& core = *self->host_;
    QueueEvents events;
    events.on_drop = [self](const DroppedMessage& dropped) { self->on_drop(dropped); };
    events.log = [&core](LogLevel level, std::string_view message) { core.log(level, std::string(message)); };
    Result<OfflineQueue> queue = OfflineQueue::open(core.options().offline_queue, std::move(events));
    if (!queue) return queue.error();
    sender->queue_.emplace(std::move(*queue));
    if (const StoreRecovery& found = sender->queue_->recovery(); found.messages > 0)
        core.log(LogLevel::info, std::to_string(found.messages) + " messages recovered from " +
                                     core.options().offline_queue.store_directory +
                                     "; they are sent once the link is up");
    return sender;
}

Result<std::uint64_t> OfflineSender::push(const PreparedRequest& request, bool& in_hand) {
    in_hand = false;
    if (Status s = host_->admission(); !s) return s.error();
    OutboundMessage message;
    message.method = request.method;
    message.topic = request.topic;
    message.id = request.id;
    message.payload = request.body;
    message.qos = request.qos;
    message.keep_original_topic = request.keep_original_topic;
    // While no other pump runs, the message may go out at once from the request in hand (the
    // queue keeps its copy until the ack or the answer); pumping_ is then ours until drain().
    std::lock_guard lock(mutex_);
    Result<std::uint64_t> sequence = queue_->push(message, up_ && !pumping_ ? window_ : 0, in_hand);
    if (in_hand) pumping_ = true;
    return sequence;
}

Status OfflineSender::send_nowait(PreparedRequest request) {
    // QoS 0 has no acknowledgement that could release it from the queue; with the link up and
    // nothing queued ahead of it, it goes straight out as it would without a queue. The queue only
    // holds QoS 0 messages through outages (or behind a backlog, to keep their order).
    if (request.qos == 0 && link_idle()) {
        if (host_->publish(request.topic, request.payload, 0, nullptr)) return {};
    }
    bool in_hand = false;
    Result<std::uint64_t> sequence = push(request, in_hand);
    if (!sequence) return sequence.error();
    if (!in_hand) {
        pump();
        return {};
    }
    publish_acked(request.topic, request.payload, request.qos, *sequence);
    drain();
    return {};
}

void OfflineSender::send_async(PreparedRequest request, Completion done) {
    bool in_hand = false;
    std::uint64_t sequence = 0;
    {
        // Held across push() so the message cannot be answered before its callback is known; a
        // drop that push() causes reports on this thread and takes the (recursive) lock again.
        std::lock_guard lock(mutex_);
        Result<std::uint64_t> pushed = push(request, in_hand);
        if (!pushed) {
            Completion refused = std::move(done);
            refused(pushed.error());
            return;
        }
        sequence = *pushed;
        waiting_.emplace(sequence, Waiting{std::move(done), request.timeout});
    }
    if (!in_hand) {
        pump();
        return;
    }
    host_->submit(std::move(request), answer_callback(sequence));
    drain();
}

bool OfflineSender::link_idle() {
    {
        std::lock_guard lock(mutex_);
        if (!up_) return false;
    }
    return queue_->stats().depth == 0;
}

void OfflineSender::link_up() {
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        up_ = true;
    }
    queue_->link_up();
    pump();
}

void OfflineSender::link_down() {
    {
        std::lock_guard lock(mutex_);
        up_ = false;
    }
    queue_->link_down();
}

void OfflineSender::close(const Error& why) {
    std::unordered_map<std::uint64_t, Waiting> waiting;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        up_ = false;
        waiting.swap(waiting_);
    }
    queue_->link_down();
    Error error = why;
    if (!host_->options().offline_queue.store_directory.empty())
        error.detail += " (the message stays in the offline store and is sent by the next client on it)";
    for (auto& [sequence, entry] : waiting)
        entry.done(error);
}

void OfflineSender::pump() {
    {
        std::lock_guard lock(mutex_);
        pump_again_ = true;
        if (pumping_) return; // one sender at a time keeps the order; the running one goes round again
        pumping_ = true;
    }
    drain();
}

void OfflineSender::drain() {
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (!pump_again_) {
                pumping_ = false;
                return;
            }
            pump_again_ = false;
        }
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (!up_) break;
            }
            if (queue_->stats().in_flight >= window_) break;
            QueuedMessage message;
            if (!queue_->next(message)) break;
            send(std::move(message));
        }
    }
}

void OfflineSender::send(QueuedMessage message) {
    const std::uint64_t sequence = message.sequence;
    Result<UpstreamTopic> parsed = parse_upstream_topic(message.topic);
    if (!parsed) { // cannot happen for topics the client built; never leave the message waiting
        on_answer(sequence, Error{errc::invalid_argument, "cannot read the request topic " + message.topic});
        return;
    }
    // The broker acknowledges and drops what a sub-device that is not logged in publishes: its
    // messages complete with the reason instead.
    if (Status s = host_->admission_of(parsed->product_key, parsed->device_key); !s) {
        host_->log(LogLevel::warn,
                   "queued message on " + message.topic + " not sent: " + s.error().message());
        on_answer(sequence, s.error());
        return;
    }
    PreparedRequest request;
    request.method = message.method;
    request.event_id = std::move(parsed->event_id);
    request.topic = std::move(message.topic);
    request.id = std::move(message.id);
    request.body = std::move(message.payload);
    request.qos = message.qos;
    if (message.replay && !message.keep_original_topic &&
        host_->options().offline_queue.replay_through_resume_topics)
        if (std::optional<UpMethod> resume = resume_method(request.method)) {
            request.method = *resume;
            request.topic = request_topic(request.method, parsed->product_key, parsed->device_key);
        }
    if ((message.replay || message.sent_before) &&
        !is_raw(request.method)) // ids are unique per connection only
        request.id = host_->next_request_id();
    if (Status s = seal(request); !s) {
        on_answer(sequence, s.error());
        return;
    }

    std::optional<std::chrono::milliseconds> timeout;
    {
        std::lock_guard lock(mutex_);
        if (auto it = waiting_.find(sequence); it != waiting_.end()) timeout = it->second.timeout;
    }
    if (!timeout) {
        publish_acked(request.topic, request.payload, request.qos, sequence);
        return;
    }
    request.reply_topic = request.topic + std::string(reply_suffix);
    request.timeout = *timeout;
    host_->submit(std::move(request), answer_callback(sequence));
}

// The callbacks hold the sender weakly: the client may be gone when an ack or an answer arrives.
void OfflineSender::publish_acked(const std::string& topic, const std::string& payload, int qos,
                                  std::uint64_t sequence) {
    auto acked = [weak = host_->weak_sender(), sequence](Status delivered) {
        if (!delivered) return; // not delivered: the lost link hands it out again
        if (auto sender = weak.lock()) sender->on_acked(sequence);
    };
    static_cast<void>(host_->publish(topic, payload, qos, std::move(acked)));
}

Completion OfflineSender::answer_callback(std::uint64_t sequence) {
    return [weak = host_->weak_sender(), sequence](Result<Response> result) {
        if (auto sender = weak.lock()) sender->on_answer(sequence, std::move(result));
    };
}

void OfflineSender::pump_later() {
    // The transport's thread only records the ack or answer; the window is refilled from the
    // dispatcher, where a burst of them costs one pass, and the receive thread keeps receiving.
    // Nothing waiting for the window: a message queued from now on is sent by its own push.
    const QueueStats q = queue_->stats();
    if (q.depth <= q.in_flight || pump_scheduled_.exchange(true)) return;
    host_->post(
        [weak = host_->weak_sender()] {
            auto sender = weak.lock();
            if (!sender) return;
            sender->pump_scheduled_ = false;
            sender->pump();
        },
        true);
}

void OfflineSender::on_acked(std::uint64_t sequence) {
    queue_->mark_delivered(sequence);
    pump_later();
}

void OfflineSender::on_answer(std::uint64_t sequence, Result<Response> result) {
    if (ended_with_link(result)) return; // still in the queue: sent again on the next link
    if (queue_->mark_delivered(sequence)) {
        if (std::optional<Waiting> entry = take_waiting(sequence)) entry->done(std::move(result));
    }
    pump_later();
}

void OfflineSender::on_drop(const DroppedMessage& dropped) {
    if (std::optional<Waiting> entry = take_waiting(dropped.sequence)) {
        entry->done(dropped.error);
        return;
    }
    host_->log(LogLevel::debug, "offline queue: message " + dropped.id + " on " + dropped.topic +
                                    " dropped: " + dropped.error.message());
}

std::optional<OfflineSender::Waiting> OfflineSender::take_waiting(std::uint64_t sequence) {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(sequence);
    if (it == waiting_.end()) return std::nullopt;
    std::optional<Waiting> entry(std::move(it->second));
    waiting_.erase(it);
    return entry;
}

} // namespace enos::device::detail
