// Where the offline queue's records live: heap blocks (memory mode) or segment files (a store
// directory). Both keep records in numbered segments appended in order and freed from the front, so
// the queue's logic is the same for both. Called under the queue's lock only.
#pragma once

#include "queue/queue_record.hpp"
#include <enos/device/core/result.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace enos::device::detail {

struct RecordLocation {
    std::uint32_t segment = 0;
    std::uint32_t offset = 0;
};

/// Offsets are kept in 26 bits by the queue's index, which bounds a segment.
inline constexpr std::size_t max_segment_bytes = std::size_t{1} << 26;
inline constexpr std::size_t min_segment_bytes = 4096;

class RecordStorage {
public:
    virtual ~RecordStorage() = default;

    /// Appends one record (the header's crc and body_size are filled in here).
    /// Errors: errc::disk_full, errc::store_error; nothing stored before is affected.
    virtual Result<RecordLocation> append(RecordHeader header, std::string_view topic, std::string_view id,
                                          std::string_view payload) = 0;
    /// The record at `at`, checked; the views point into `scratch` or into the storage itself and
    /// stay valid until the next call.
    virtual Result<RecordView> read(RecordLocation at, std::string& scratch) = 0;
    /// Every record before `first_kept` has left the queue: frees the segments wholly before it.
    virtual void release_before(RecordLocation first_kept) = 0;
    /// The disk is full: also gives back what the oldest segment holds before `first_kept`, in the
    /// whole blocks the file system frees. reclaimed() moves when it did; storage that cannot do this
    /// ignores it (then only freeing a whole segment helps).
    virtual void give_back_before(RecordLocation first_kept) { (void)first_kept; }
    /// Forgets the record at `at` and everything stored after it.
    virtual void truncate(RecordLocation at) = 0;
    /// Forgets everything (the queue is empty).
    virtual void clear() = 0;
    /// Bytes stored from `from` to the end of the newest segment.
    virtual std::uint64_t bytes_from(RecordLocation from) const = 0;
    /// Where the next record would go if it fits in the newest segment.
    virtual RecordLocation end() const = 0;
    /// Every record with a sequence number up to `sequence` has left the queue.
    virtual void set_delivered_watermark(std::uint64_t sequence) = 0;
    /// Durable now: the records appended so far and the delivered watermark.
    virtual Status flush() = 0;

    /// Grows whenever space was given back (a segment freed or cut short): after errc::disk_full an
    /// append is worth retrying only once this has moved.
    std::uint64_t reclaimed() const noexcept { return reclaimed_; }

protected:
    std::uint64_t reclaimed_ = 0;
};

std::unique_ptr<RecordStorage> make_memory_storage();

} // namespace enos::device::detail
