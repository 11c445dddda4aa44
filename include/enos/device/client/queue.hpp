// The offline queue: where a DeviceClient keeps every message it cannot send yet (the link is down)
// or must keep until the cloud has it (acked at QoS 1, or its reply arrived), and its optional
// crash-safe store on disk. This header holds the user-facing settings and counters.
//
// Design
// ------
// * One record format, in memory and on disk: a 24-byte header (CRC-32C, body length, sequence
//   number, kind, flags, method) followed by topic, caller id and payload. Records are appended to
//   segments: 64 KiB heap blocks in memory mode, files of `segment_bytes` with a store directory.
//   A segment is freed (block released, file deleted) once every record in it has left the queue
//   (delivered or dropped), so space comes back without ever rewriting data. On a full disk under
//   drop_oldest the oldest segment file also gives back the whole file-system blocks its departed
//   records held (a hole punched at its start, the new start recorded in the file's name first),
//   so the policy drops about as many messages as the new one needs: at most one block's worth
//   more, never a whole segment.
//   Why segments: appends are sequential writes, nothing is updated in place (a torn write can only
//   damage the tail), and reclaiming is a file delete instead of a compaction.
// * Memory mode costs ~47 bytes per queued message beyond its topic and payload (the record
//   header, a 16-byte index entry and the caller id); bench/store_append measures it.
// * What is fsynced when (store directory only):
//     every_message  each append is fdatasync'ed before push() returns; a new segment file is
//                    fsynced into its directory before its first record is acknowledged.
//     interval       (default, every 100 ms) a background thread fdatasyncs the current segment
//                    when it was written to; a segment is also synced when it is closed at rotation.
//                    A power cut loses at most the last interval of accepted messages; a process
//                    crash loses nothing, since every append is in the kernel when push() returns.
//     never          the kernel writes back when it likes; a process crash still loses nothing.
//   100 ms as the default: on a power cut that is the same order as one round trip to the cloud,
//   while the sync rate stays at ≤ 10 per second however fast messages arrive (flash wear and
//   throughput depend on the sync rate, not the message rate). Raise it on slow or worn flash.
// * Which messages have left the queue is saved as a "delivered up to" watermark file, replaced
//   atomically (write, sync, rename) on the same interval and when the queue closes. Losing the
//   latest watermark only means some delivered messages are sent once more after a restart; it can
//   never lose one.
// * Recovery at start-up scans every segment in order, from its head (0, or the offset its name
//   records after a full disk), and keeps each record whose header, length and CRC are intact and
//   whose sequence number follows the previous one. At the first damaged
//   record (truncated header or body, bad CRC, impossible header) the segment is truncated there;
//   the following segments are still read, each record checked on its own, since a damaged middle
//   segment says nothing about the ones written after it. Garbage never crashes it: every length is
//   checked against the bytes present before it is used.
// * One store directory belongs to one queue at a time: a lock file (flock) holds it for the life
//   of the queue, and a second opener gets errc::store_locked naming the directory and owner's PID.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace enos::device {

/// What the queue does with a message that does not fit (count or byte limit, or a full disk).
enum class OverflowPolicy {
    reject_new,  ///< keep what is queued; the new message fails with errc::queue_full (errc::disk_full)
    drop_oldest, ///< evict the oldest queued messages to make room (keeps the most recent data)
    drop_newest, ///< evict the most recently queued messages to make room for the new one (keeps
                 ///< the start of the outage and always the latest value)
};

/// When appended records are forced to stable storage (store directory only; see queue.hpp's notes).
enum class FsyncPolicy { every_message, interval, never };

struct OfflineQueueOptions {
    /// A DeviceClient keeps fire-and-forget and callback requests here while the link is down and
    /// replays them when it returns. false: such requests fail with errc::not_connected instead.
    bool enabled = true;
    /// Also accept requests before the first successful connect() (they wait for it). Otherwise the
    /// queue takes requests only once connect() has succeeded (and until disconnect()).
    bool accept_before_connect = false;

    /// Most messages waiting or in flight at once.
    std::size_t max_messages = 100000;
    /// Most bytes the queue holds in memory or on disk: every record from the oldest queued one to
    /// the newest, headers included (24 bytes + topic + id + payload each), as records are stored.
    std::size_t max_bytes = 16 * 1024 * 1024;
    OverflowPolicy overflow = OverflowPolicy::drop_oldest;

    /// Empty: the queue lives in memory only. Otherwise messages are kept in this directory (created
    /// if missing) and survive a process crash or, with a suitable fsync policy, a power cut.
    std::string store_directory;
    FsyncPolicy fsync = FsyncPolicy::interval;
    /// The sync interval of FsyncPolicy::interval; also how often the delivered watermark is saved.
    std::chrono::milliseconds fsync_interval{100};
    /// Size at which a new segment file is started (4 KiB .. 64 MiB).
    std::size_t segment_bytes = 4 * 1024 * 1024;

    /// Replay measure points queued while offline through the *resume* topics (docs/protocol.md §3.3),
    /// so the cloud backfills history without firing live alerts. false: replay on the original
    /// topic. A message queued with keep_original_topic is always replayed on its own topic.
    bool replay_through_resume_topics = true;
};

/// Counters of the offline queue. A snapshot; the cumulative counters only grow, and
/// accepted + recovered == delivered + dropped + depth at any quiet moment.
struct QueueStats {
    std::size_t depth = 0;             ///< messages queued or in flight
    std::size_t in_flight = 0;         ///< handed out for sending, not yet delivered
    std::uint64_t bytes = 0;           ///< storage held (what max_bytes bounds)
    std::uint64_t accepted = 0;        ///< messages taken in by push()
    std::uint64_t recovered = 0;       ///< messages found in the store at start-up
    std::uint64_t delivered = 0;       ///< acked by the broker or answered by the cloud
    std::uint64_t dropped = 0;         ///< evicted by the overflow policy (or found damaged on disk)
    std::uint64_t rejected = 0;        ///< refused by push() (reject_new, full disk, too large)
    std::uint64_t replayed = 0;        ///< sent after waiting across an outage or a restart
    std::uint64_t duplicates_sent = 0; ///< sent again after a send that may have reached the broker
};

} // namespace enos::device
