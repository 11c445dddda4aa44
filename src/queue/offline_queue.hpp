// OfflineQueue: the bounded queue of messages waiting for the link (or for their acknowledgement),
// in memory or in a crash-safe store directory (design notes in enos/device/client/queue.hpp). Used by the
// client core; not part of the stable API.
//
// How the client drives it
// ------------------------
//   push(message)          every message it cannot send now, or must keep until acknowledged;
//                          returns the message's sequence number, or why it was refused
//                          (errc::queue_full under reject_new, errc::disk_full, invalid_argument).
//   next(out)              oldest message not yet handed out; the caller sends it (its window of
//                          in-flight messages is its own business: stats().in_flight counts them).
//   push(message, window)  push(), and when the link is up, nothing older waits and fewer than
//                          `window` are in flight, also hands the message out: the caller sends the
//                          copy it holds instead of reading it back with next().
//   mark_delivered(seq)    the broker acked it (QoS 1) or its reply arrived: it leaves the queue.
//                          false: it had already left (dropped by the policy: its on_drop report is
//                          its one outcome).
//   link_down()/link_up()  the link was lost / is back: messages handed out and not delivered are
//                          handed out again, oldest first, and count as possible duplicates.
//
// Every accepted message ends exactly once: mark_delivered() returns true for it, or on_drop
// reports it. on_drop and the log sink run on the thread of the call that caused them, after the
// queue's lock is released, so they may call back into the queue.
//
// Thread-safe: every method may be called from any thread; stats() never waits for a lock.
#pragma once

#include <enos/device/client/log.hpp>
#include <enos/device/client/queue.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/topics.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace enos::device::detail {

/// A message to queue; the queue copies what the views point to.
struct OutboundMessage {
    UpMethod method = UpMethod::measurepoint_post;
    std::string_view topic;
    std::string_view id;      ///< the caller's id (the request id), at most 255 bytes
    std::string_view payload; ///< smaller than limits::max_payload_bytes
    int qos = 1;
    bool keep_original_topic = false; ///< replay on `topic` even if the method has a resume topic
};

/// A message handed out by next().
struct QueuedMessage {
    std::uint64_t sequence = 0;
    UpMethod method = UpMethod::measurepoint_post;
    int qos = 1;
    bool keep_original_topic = false;
    bool replay = false;      ///< it waited across an outage or a restart
    bool sent_before = false; ///< handed out before in this process: the broker may have it already
    std::string topic, id, payload;
};

/// A message the overflow policy evicted (or, rarely, one found damaged in the store).
struct DroppedMessage {
    std::uint64_t sequence = 0;
    UpMethod method = UpMethod::measurepoint_post;
    std::string topic, id;
    Error error; ///< errc::dropped_by_policy (errc::store_error: damaged), detail says why
};

/// What opening a store directory found.
struct StoreRecovery {
    std::size_t segments = 0;            ///< segment files read
    std::uint64_t messages = 0;          ///< intact records still to deliver (now queued)
    std::uint64_t already_delivered = 0; ///< intact records under the delivered watermark
    std::size_t damaged_segments = 0;    ///< segments cut at a damaged record
    std::uint64_t truncated_bytes = 0;   ///< bytes cut off at the damage
};

struct QueueEvents {
    std::function<void(const DroppedMessage&)> on_drop;
    /// State changes: 80% full, full and what the policy does, disk full, drained, recovery.
    LogSink log;
};

class OfflineQueue {
public:
    /// A queue in memory, or in options.store_directory: locks the directory (errc::store_locked
    /// when another queue, in this process or another, holds it) and recovers what it holds.
    static Result<OfflineQueue> open(const OfflineQueueOptions& options, QueueEvents events = {});

    OfflineQueue(OfflineQueue&&) noexcept;
    OfflineQueue& operator=(OfflineQueue&&) noexcept;
    OfflineQueue(const OfflineQueue&) = delete;
    OfflineQueue& operator=(const OfflineQueue&) = delete;
    /// Saves the delivered watermark, syncs (unless FsyncPolicy::never) and unlocks the directory.
    ~OfflineQueue();

    Result<std::uint64_t> push(const OutboundMessage& message);
    /// push(); `handed_out` says whether the message was also handed out (window 0: never).
    Result<std::uint64_t> push(const OutboundMessage& message, std::size_t window, bool& handed_out);
    bool next(QueuedMessage& out);
    bool mark_delivered(std::uint64_t sequence);
    void link_down();
    void link_up();

    /// Makes every accepted message durable now and saves the delivered watermark (store only).
    Status flush();

    QueueStats stats() const noexcept;
    const OfflineQueueOptions& options() const noexcept;
    const StoreRecovery& recovery() const noexcept;

private:
    struct Impl;
    explicit OfflineQueue(std::unique_ptr<Impl> impl) noexcept;
    std::unique_ptr<Impl> impl_;
};

} // namespace enos::device::detail
