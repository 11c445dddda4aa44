#include "queue/offline_queue.hpp"

#include "queue/record_storage.hpp"
#include "queue/segment_store.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace enos::device::detail {
namespace {

/// States of a slot (plain constants: they live in a 2-bit field).
struct SlotState {
    static constexpr std::uint32_t queued = 0, in_flight = 1, settled = 2;
};

/// The queue's index entry of one record: 16 bytes, part of the per-message memory budget.
struct Slot {
    std::uint64_t sequence;
    std::uint32_t segment;
    std::uint32_t offset : 26;
    std::uint32_t state : 2;
    std::uint32_t backlog : 1; // waited across an outage or a restart: sending it is a replay
    std::uint32_t sent : 1;    // handed out before: sending it again may duplicate it

    RecordLocation location() const { return {segment, offset}; }
};
static_assert(sizeof(Slot) == 16, "the index entry is part of the per-message memory budget");

/// What a call produced for the callbacks, delivered once the lock is released.
struct Notices {
    std::vector<DroppedMessage> drops;
    std::vector<std::pair<LogLevel, std::string>> logs;
};

std::string_view policy_action(OverflowPolicy policy) {
    switch (policy) {
    case OverflowPolicy::reject_new: return "rejecting new messages";
    case OverflowPolicy::drop_oldest: return "dropping the oldest messages";
    case OverflowPolicy::drop_newest: return "dropping the newest queued messages";
    }
    return "applying the overflow policy";
}

std::string_view policy_name(OverflowPolicy policy) {
    switch (policy) {
    case OverflowPolicy::reject_new: return "reject_new";
    case OverflowPolicy::drop_oldest: return "drop_oldest";
    case OverflowPolicy::drop_newest: return "drop_newest";
    }
    return "overflow";
}

Status validate(const OfflineQueueOptions& options) {
    if (options.max_messages < 1)
        return Error{errc::invalid_argument, "offline queue: max_messages must be at least 1"};
    if (options.max_bytes < 1024)
        return Error{errc::invalid_argument, "offline queue: max_bytes must be at least 1024"};
    if (options.segment_bytes < min_segment_bytes || options.segment_bytes > max_segment_bytes)
        return Error{errc::invalid_argument, "offline queue: segment_bytes must be between " +
                                                 std::to_string(min_segment_bytes) + " and " +
                                                 std::to_string(max_segment_bytes)};
    if (!options.store_directory.empty() && options.fsync_interval.count() < 1)
        return Error{errc::invalid_argument, "offline queue: fsync_interval must be at least 1 ms"};
    return {};
}

Status check(const OutboundMessage& message) {
    if (message.topic.empty()) return Error{errc::missing_argument, "queued message: empty topic"};
    if (message.topic.size() > max_record_topic)
        return Error{errc::invalid_argument, "queued message: topic longer than 65535 bytes"};
    if (message.id.size() > max_record_id)
        return Error{errc::invalid_argument, "queued message: id longer than 255 bytes"};
    if (message.payload.size() >= limits::max_payload_bytes)
        return Error{errc::payload_too_large, "queued message: payload of " +
                                                  std::to_string(message.payload.size()) + " bytes on '" +
                                                  std::string(message.topic) + "'"};
    if (message.qos != 0 && message.qos != 1)
        return Error{errc::qos_not_allowed, "queued message: QoS " + std::to_string(message.qos)};
    return {};
}

/// "message 17 on '/sys/pk/dk/thing/measurepoint/post' (id 42)"; sequence 0: not yet numbered.
std::string describe(std::uint64_t sequence, std::string_view topic, std::string_view id) {
    std::string text = "message";
    if (sequence != 0) text += " " + std::to_string(sequence);
    if (!topic.empty()) text += " on '" + std::string(topic) + "'";
    if (!id.empty()) text += " (id " + std::string(id) + ")";
    return text;
}

} // namespace

struct OfflineQueue::Impl {
    Impl(const OfflineQueueOptions& o, QueueEvents e) : options(o), events(std::move(e)) {}

    const OfflineQueueOptions options;
    const QueueEvents events;
    StoreRecovery recovery;

    mutable std::mutex mutex;
    std::unique_ptr<RecordStorage> storage;
    std::deque<Slot> slots; // oldest first; the front, if any, is always live (queued or in flight)
    std::size_t cursor = 0; // next() searches from here: every slot before it is in flight or settled
    std::uint64_t last_sequence = 0;
    std::size_t live = 0;
    std::size_t in_flight = 0;
    bool link_is_up = false;
    bool high_reported = false;         // "80% full" said; re-armed below 50%
    bool full_reported = false;         // "full" said; re-armed below 50%
    bool disk_full_reported = false;    // re-armed when the queue drains
    bool drain_worth_reporting = false; // there was pressure or a replay since the last drain
    std::string scratch;

    struct Counters {
        std::atomic<std::size_t> depth{0}, in_flight{0};
        std::atomic<std::uint64_t> bytes{0}, accepted{0}, recovered{0}, delivered{0}, dropped{0}, rejected{0},
            replayed{0}, duplicates_sent{0};
    } counters;

    static void bump(std::atomic<std::uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

    std::uint64_t bytes() const { return slots.empty() ? 0 : storage->bytes_from(slots.front().location()); }

    std::string usage() const {
        return std::to_string(live) + " messages, " + std::to_string(bytes()) + " bytes; limits " +
               std::to_string(options.max_messages) + " messages, " + std::to_string(options.max_bytes) +
               " bytes";
    }

    void publish() {
        counters.depth.store(live, std::memory_order_relaxed);
        counters.in_flight.store(in_flight, std::memory_order_relaxed);
        counters.bytes.store(bytes(), std::memory_order_relaxed);
    }

    Result<std::uint64_t> push(const OutboundMessage& message, Notices& notices) {
        const std::size_t size =
            record_header_size + message.topic.size() + message.id.size() + message.payload.size();
        if (size > options.max_bytes)
            return reject(Error{errc::queue_full, "a record of " + std::to_string(size) +
                                                      " bytes exceeds the offline queue's max_bytes"},
                          message);
        while (live >= options.max_messages || bytes() + size > options.max_bytes) {
            note_full(notices);
            if (options.overflow == OverflowPolicy::reject_new || live == 0)
                return reject(Error{errc::queue_full, "offline queue full (" + usage() + ")"}, message);
            evict("offline queue full", notices);
        }
        if (last_sequence + 1 >= max_record_sequence) // only after recovering a store made that way
            return reject(Error{errc::store_error, "sequence numbers used up; move the store's files away"},
                          message);
        RecordHeader header;
        header.sequence = last_sequence + 1;
        header.topic_size = static_cast<std::uint16_t>(message.topic.size());
        header.id_size = static_cast<std::uint8_t>(message.id.size());
        header.flags = static_cast<std::uint8_t>((message.qos == 1 ? record_flag_qos1 : 0) |
                                                 (message.keep_original_topic ? record_flag_keep_topic : 0));
        header.method = static_cast<std::uint8_t>(message.method);
        for (;;) {
            auto stored = storage->append(header, message.topic, message.id, message.payload);
            if (stored) {
                slots.push_back(Slot{header.sequence, stored->segment, stored->offset, SlotState::queued,
                                     !link_is_up, 0});
                last_sequence = header.sequence;
                ++live;
                bump(counters.accepted);
                check_fill(notices);
                return header.sequence;
            }
            if (stored.code() != errc::disk_full) return reject(stored.error(), message);
            note_disk_full(stored.error(), notices);
            if (options.overflow == OverflowPolicy::reject_new) return reject(stored.error(), message);
            // Evict until the storage gives space back, then try again. Under drop_oldest the
            // oldest segment gives back its blocks as its records go, so a full disk costs about as
            // many records as the new one needs, not a whole segment.
            const std::uint64_t before = storage->reclaimed();
            while (storage->reclaimed() == before && live > 0) {
                evict("no space left for the offline store", notices);
                if (options.overflow == OverflowPolicy::drop_oldest && !slots.empty())
                    storage->give_back_before(slots.front().location());
            }
            if (storage->reclaimed() == before)
                storage->clear(); // nothing queued: only delivered records left
            if (storage->reclaimed() == before) return reject(stored.error(), message);
        }
    }

    Error reject(Error error, const OutboundMessage& message) {
        bump(counters.rejected);
        error.detail += ": " + describe(0, message.topic, message.id) + " not queued";
        return error;
    }

    /// Evicts one live message as the overflow policy says.
    void evict(const std::string& why, Notices& notices) {
        const bool newest = options.overflow == OverflowPolicy::drop_newest;
        std::size_t index = 0;
        if (newest) {
            index = slots.size() - 1;
            while (slots[index].state == SlotState::settled)
                --index;
        }
        Slot& slot = slots[index];
        DroppedMessage dropped = read_dropped(slot);
        dropped.error =
            Error{errc::dropped_by_policy, why + " (" + std::string(policy_name(options.overflow)) +
                                               "): " + describe(slot.sequence, dropped.topic, dropped.id)};
        settle(slot);
        bump(counters.dropped);
        if (newest) {
            // The newest live record and the delivered ones after it: give their space back.
            storage->truncate(slot.location());
            slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(index), slots.end());
            cursor = std::min(cursor, slots.size());
        }
        notices.drops.push_back(std::move(dropped));
        pop_settled();
    }

    DroppedMessage read_dropped(const Slot& slot) {
        DroppedMessage dropped;
        dropped.sequence = slot.sequence;
        if (!events.on_drop) return dropped;
        if (auto record = storage->read(slot.location(), scratch)) {
            dropped.topic.assign(record->topic);
            dropped.id.assign(record->id);
            dropped.method = static_cast<UpMethod>(record->header.method);
        }
        return dropped;
    }

    void settle(Slot& slot) {
        if (slot.state == SlotState::in_flight) --in_flight;
        slot.state = SlotState::settled;
        --live;
    }

    /// Drops settled records from the front and lets the storage free what lies wholly before the
    /// oldest live record.
    void pop_settled() {
        std::uint64_t last_popped = 0;
        while (!slots.empty() && slots.front().state == SlotState::settled) {
            last_popped = slots.front().sequence;
            slots.pop_front();
            if (cursor > 0) --cursor;
        }
        if (last_popped != 0) storage->set_delivered_watermark(last_popped);
        storage->release_before(slots.empty() ? storage->end() : slots.front().location());
    }

    bool next(QueuedMessage& out, Notices& notices) {
        while (cursor < slots.size()) {
            Slot& slot = slots[cursor];
            if (slot.state != SlotState::queued) {
                ++cursor;
                continue;
            }
            auto record = storage->read(slot.location(), scratch);
            if (!record) {
                DroppedMessage lost;
                lost.sequence = slot.sequence;
                lost.error = Error{errc::store_error,
                                   describe(slot.sequence, {}, {}) + " lost: " + record.error().detail};
                notices.logs.emplace_back(LogLevel::error, "offline queue: " + lost.error.detail);
                notices.drops.push_back(std::move(lost));
                settle(slot);
                bump(counters.dropped);
                pop_settled();
                continue;
            }
            out.sequence = slot.sequence;
            out.method = static_cast<UpMethod>(record->header.method);
            out.qos = (record->header.flags & record_flag_qos1) ? 1 : 0;
            out.keep_original_topic = (record->header.flags & record_flag_keep_topic) != 0;
            out.replay = slot.backlog;
            out.sent_before = slot.sent;
            out.topic.assign(record->topic);
            out.id.assign(record->id);
            out.payload.assign(record->payload);
            hand_out(slot);
            ++cursor;
            return true;
        }
        return false;
    }

    /// Hands out the newest slot if it is the oldest still queued (the caller just pushed it).
    bool hand_out_newest(std::size_t window) {
        if (!link_is_up || in_flight >= window) return false;
        while (cursor < slots.size() && slots[cursor].state != SlotState::queued)
            ++cursor;
        if (cursor + 1 != slots.size()) return false;
        hand_out(slots[cursor++]);
        return true;
    }

    /// A queued slot goes in flight; a replay or a possible duplicate is counted as one.
    void hand_out(Slot& slot) {
        if (slot.backlog) {
            bump(counters.replayed);
            drain_worth_reporting = true;
        }
        if (slot.sent) bump(counters.duplicates_sent);
        slot.sent = 1;
        slot.state = SlotState::in_flight;
        ++in_flight;
    }

    bool mark_delivered(std::uint64_t sequence, Notices& notices) {
        auto it =
            std::lower_bound(slots.begin(), slots.end(), sequence,
                             [](const Slot& slot, std::uint64_t value) { return slot.sequence < value; });
        if (it == slots.end() || it->sequence != sequence || it->state == SlotState::settled) return false;
        settle(*it);
        bump(counters.delivered);
        pop_settled();
        check_fill(notices);
        return true;
    }

    void link_down() {
        link_is_up = false;
        for (Slot& slot : slots) {
            if (slot.state == SlotState::settled) continue;
            slot.state = SlotState::queued;
            slot.backlog = 1;
        }
        in_flight = 0;
        cursor = 0;
    }

    void check_fill(Notices& notices) {
        const std::uint64_t percent =
            std::max<std::uint64_t>(live * 100 / options.max_messages, bytes() * 100 / options.max_bytes);
        if (percent >= 80 && !high_reported) {
            high_reported = drain_worth_reporting = true;
            notices.logs.emplace_back(LogLevel::warn, "offline queue 80% full (" + usage() + ")");
        } else if (percent < 50) {
            high_reported = full_reported = false;
        }
        if (live == 0 && drain_worth_reporting) {
            drain_worth_reporting = disk_full_reported = false;
            notices.logs.emplace_back(LogLevel::info, "offline queue drained");
        }
    }

    void note_full(Notices& notices) {
        if (full_reported) return;
        full_reported = high_reported = drain_worth_reporting = true;
        notices.logs.emplace_back(LogLevel::warn, "offline queue full (" + usage() +
                                                      "): " + std::string(policy_action(options.overflow)));
    }

    void note_disk_full(const Error& error, Notices& notices) {
        if (disk_full_reported) return;
        disk_full_reported = drain_worth_reporting = true;
        notices.logs.emplace_back(LogLevel::error,
                                  error.detail + ": " + std::string(policy_action(options.overflow)));
    }

    void deliver(Notices& notices) const {
        if (events.log)
            for (const auto& [level, text] : notices.logs)
                events.log(level, text);
        if (events.on_drop)
            for (const DroppedMessage& dropped : notices.drops)
                events.on_drop(dropped);
    }
};

Result<OfflineQueue> OfflineQueue::open(const OfflineQueueOptions& options, QueueEvents events) {
    if (auto valid = validate(options); !valid) return valid.error();
    auto impl = std::make_unique<Impl>(options, std::move(events));
    if (options.store_directory.empty()) {
        impl->storage = make_memory_storage();
    } else {
        Impl& q = *impl;
        const RecordFound found = [&q](std::uint64_t sequence, RecordLocation at) {
            q.slots.push_back(Slot{sequence, at.segment, at.offset, SlotState::queued, 1, 0});
        };
        auto store = open_segment_store(options, q.events.log, found, q.recovery, q.last_sequence);
        if (!store) return store.error();
        q.storage = std::move(*store);
        q.live = q.slots.size();
        q.counters.recovered.store(q.live, std::memory_order_relaxed);
        q.pop_settled(); // deletes the segments wholly delivered before the oldest recovered record
        Notices notices;
        q.check_fill(notices);
        q.deliver(notices);
    }
    impl->publish();
    return OfflineQueue(std::move(impl));
}

OfflineQueue::OfflineQueue(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
OfflineQueue::OfflineQueue(OfflineQueue&&) noexcept = default;
OfflineQueue& OfflineQueue::operator=(OfflineQueue&&) noexcept = default;
OfflineQueue::~OfflineQueue() = default;

Result<std::uint64_t> OfflineQueue::push(const OutboundMessage& message) {
    bool handed_out = false;
    return push(message, 0, handed_out);
}

Result<std::uint64_t> OfflineQueue::push(const OutboundMessage& message, std::size_t window,
                                         bool& handed_out) {
    handed_out = false;
    if (!impl_) return Error{errc::shutting_down, "offline queue closed"};
    if (auto valid = check(message); !valid) {
        Impl::bump(impl_->counters.rejected);
        return valid.error();
    }
    Notices notices;
    Result<std::uint64_t> result = [&] {
        std::lock_guard<std::mutex> lock(impl_->mutex);
        auto pushed = impl_->push(message, notices);
        handed_out = pushed && impl_->hand_out_newest(window);
        impl_->publish();
        return pushed;
    }();
    impl_->deliver(notices);
    return result;
}

bool OfflineQueue::next(QueuedMessage& out) {
    if (!impl_) return false;
    Notices notices;
    bool found = false;
    {
        std::lock_guard<std::mutex> lock(impl_->mutex);
        found = impl_->next(out, notices);
        impl_->publish();
    }
    impl_->deliver(notices);
    return found;
}

bool OfflineQueue::mark_delivered(std::uint64_t sequence) {
    if (!impl_) return false;
    Notices notices;
    bool delivered = false;
    {
        std::lock_guard<std::mutex> lock(impl_->mutex);
        delivered = impl_->mark_delivered(sequence, notices);
        impl_->publish();
    }
    impl_->deliver(notices);
    return delivered;
}

void OfflineQueue::link_down() {
    if (!impl_) return;
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->link_down();
    impl_->publish();
}

void OfflineQueue::link_up() {
    if (!impl_) return;
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->link_is_up = true;
}

Status OfflineQueue::flush() {
    if (!impl_) return {};
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->storage->flush();
}

QueueStats OfflineQueue::stats() const noexcept {
    QueueStats stats;
    if (!impl_) return stats;
    const auto& c = impl_->counters;
    constexpr auto relaxed = std::memory_order_relaxed;
    stats.depth = c.depth.load(relaxed);
    stats.in_flight = c.in_flight.load(relaxed);
    stats.bytes = c.bytes.load(relaxed);
    stats.accepted = c.accepted.load(relaxed);
    stats.recovered = c.recovered.load(relaxed);
    stats.delivered = c.delivered.load(relaxed);
    stats.dropped = c.dropped.load(relaxed);
    stats.rejected = c.rejected.load(relaxed);
    stats.replayed = c.replayed.load(relaxed);
    stats.duplicates_sent = c.duplicates_sent.load(relaxed);
    return stats;
}

const OfflineQueueOptions& OfflineQueue::options() const noexcept {
    static const OfflineQueueOptions closed;
    return impl_ ? impl_->options : closed;
}

const StoreRecovery& OfflineQueue::recovery() const noexcept {
    static const StoreRecovery none;
    return impl_ ? impl_->recovery : none;
}

} // namespace enos::device::detail
