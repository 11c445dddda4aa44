// The persistent store of the offline queue: one directory holding
//   lock                 flock'ed for the life of the store; holds the owner's PID
//   NNNNNNNNNNNN.seg     append-only segments of records, numbered in the order they were started
//   NNNNNNNNNNNN-HHHHHHHH.seg
//                        the same segment once a full disk made drop_oldest give back its start:
//                        its records begin at byte offset HHHHHHHH (8 decimal digits, never 0);
//                        the whole blocks before it are a hole (FALLOC_FL_PUNCH_HOLE) and the bytes
//                        between the last such block and HHHHHHHH belong to records that have left
//                        the queue. The rename is synced before the punch, so recovery starts at
//                        the head and never parses the hole. Older versions of the library do not
//                        list such files: they ignore them (and the messages in them).
//   delivered            "every record up to sequence W has left the queue", replaced atomically
// Design notes (what is synced when, what recovery guarantees) in enos/device/client/queue.hpp.
#pragma once

#include "queue/record_storage.hpp"

#include "queue/offline_queue.hpp"
#include <enos/device/client/log.hpp>
#include <enos/device/client/queue.hpp>

#include <functional>
#include <memory>

namespace enos::device::detail {

/// Opens (creating it if needed) and locks options.store_directory, recovers its segments and
/// calls `found` for every intact record not yet delivered, oldest first. `last_sequence` receives
/// the highest sequence number the store has seen (new records must go above it).
using RecordFound = std::function<void(std::uint64_t sequence, RecordLocation at)>;
Result<std::unique_ptr<RecordStorage>> open_segment_store(const OfflineQueueOptions& options, LogSink log,
                                                          const RecordFound& found, StoreRecovery& report,
                                                          std::uint64_t& last_sequence);

} // namespace enos::device::detail
