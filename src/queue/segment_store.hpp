// The persistent store of the offline queue: one directory holding
//   lock                 flock'ed for the life of the store; holds the owner's PID
//   NNNNNNNNNNNN.seg     append-only segments of records, numbered in the order they were started
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
