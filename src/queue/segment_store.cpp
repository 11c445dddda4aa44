#include "queue/segment_store.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace enos::device::detail {
namespace {

/// An owned file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

// Segment numbers run from 1 to this; the next number must still be a segment name recovery reads.
constexpr std::uint32_t max_segment_id = 0xFFFFFFFE;

constexpr char watermark_magic[8] = {'E', 'N', 'O', 'S', 'D', 'L', 'V', '1'};
constexpr std::size_t watermark_size = 20; // magic, sequence, CRC-32C of the first 16 bytes

/// "NNNNNNNNNNNN.seg", or "NNNNNNNNNNNN-HHHHHHHH.seg" once the records before offset HHHHHHHH have
/// left the queue and their blocks were given back (the head marker, see segment_store.hpp).
std::string segment_name(std::uint32_t id, std::uint32_t head) {
    char name[32];
    if (head == 0)
        std::snprintf(name, sizeof name, "%012u.seg", static_cast<unsigned>(id));
    else
        std::snprintf(name, sizeof name, "%012u-%08u.seg", static_cast<unsigned>(id),
                      static_cast<unsigned>(head));
    return name;
}

std::optional<std::uint64_t> parse_digits(std::string_view digits) {
    std::uint64_t value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

struct SegmentName {
    std::uint32_t id = 0;
    std::uint32_t head = 0;
};

std::optional<SegmentName> parse_segment_name(std::string_view name) {
    if (name.size() != 16 && name.size() != 25) return std::nullopt;
    if (name.substr(name.size() - 4) != ".seg") return std::nullopt;
    const auto id = parse_digits(name.substr(0, 12));
    if (!id || *id == 0 || *id > max_segment_id) return std::nullopt;
    SegmentName parsed{static_cast<std::uint32_t>(*id), 0};
    if (name.size() == 25) {
        const auto head = name[12] == '-' ? parse_digits(name.substr(13, 8)) : std::nullopt;
        if (!head || *head == 0 || *head >= max_segment_bytes) return std::nullopt;
        parsed.head = static_cast<std::uint32_t>(*head);
    }
    return parsed;
}

/// pwritev until every byte is written; false with errno set on failure.
bool write_all(int fd, iovec* iov, int count, off_t offset) {
    for (;;) {
        while (count > 0 && iov->iov_len == 0) {
            ++iov;
            --count;
        }
        if (count == 0) return true;
        const ssize_t written = ::pwritev(fd, iov, count, offset);
        if (written < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        offset += written;
        auto left = static_cast<std::size_t>(written);
        while (count > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + left;
            iov->iov_len -= left;
        }
    }
}

/// pread until `size` bytes or end of file: the count read, or -1 with errno set.
ssize_t read_all(int fd, char* out, std::size_t size, off_t offset) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, out + done, size - done, offset + static_cast<off_t>(done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

class SegmentStore final : public RecordStorage {
public:
    SegmentStore(const OfflineQueueOptions& options, LogSink log)
        : dir_(options.store_directory), fsync_(options.fsync), interval_(options.fsync_interval),
          segment_bytes_(options.segment_bytes), log_(std::move(log)) {}

    ~SegmentStore() override {
        {
            std::lock_guard<std::mutex> lock(sync_mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (flusher_.joinable()) flusher_.join();
        if (fsync_ != FsyncPolicy::never) report(sync(), "syncing");
        report(save_watermark(), "saving the delivered watermark");
    }

    Status open(const RecordFound& found, StoreRecovery& recovery, std::uint64_t& last_sequence) {
        std::error_code ec;
        std::filesystem::create_directories(dir_, ec);
        if (ec)
            return Error{errc::store_error,
                         "cannot create offline store directory '" + dir_ + "': " + ec.message()};
        dir_fd_ = Fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd_) return io_error(errno, "opening", dir_);
        struct stat info {};
        if (::fstat(dir_fd_.get(), &info) == 0 && info.st_blksize > 0)
            block_bytes_ = static_cast<std::uint64_t>(info.st_blksize);
        if (auto locked = lock_directory(); !locked) return locked;
        if (auto recovered = recover(found, recovery, last_sequence); !recovered) return recovered;
        log(LogLevel::info, "offline store '" + dir_ + "': " + std::to_string(recovery.messages) +
                                " messages to deliver recovered from " + std::to_string(recovery.segments) +
                                " segments");
        flusher_ = std::thread([this] { run_flusher(); });
        return {};
    }

    Result<RecordLocation> append(RecordHeader header, std::string_view topic, std::string_view id,
                                  std::string_view payload) override {
        header.body_size = static_cast<std::uint32_t>(topic.size() + id.size() + payload.size());
        const std::size_t size = header.record_size();
        unsigned char raw[record_header_size];
        encode_record_header(header, raw);
        header.crc = record_crc(raw, topic, id, payload);
        encode_record_header(header, raw);
        if (!tail_ || (segments_.back().used > 0 && segments_.back().used + size > segment_bytes_)) {
            if (auto started = start_segment(); !started) return started.error();
        }
        for (;;) {
            Segment& segment = segments_.back();
            const int err =
                write_record(segment, {reinterpret_cast<const char*>(raw), sizeof raw}, topic, id, payload);
            if (err == 0) {
                const RecordLocation at{segment.id, static_cast<std::uint32_t>(segment.used)};
                segment.used += size;
                total_used_ += size;
                return at;
            }
            // A file size limit (RLIMIT_FSIZE) stops this file, not the store: go on in a new one.
            if (err == EFBIG && segment.used > 0) {
                if (auto started = start_segment(); !started) return started.error();
                continue;
            }
            return io_error(err, "writing", segment_path(segment));
        }
    }

    Result<RecordView> read(RecordLocation at, std::string& scratch) override {
        const int fd = reading_fd(at.segment);
        if (fd < 0) return io_error(errno, "opening", segment_path(at.segment));
        scratch.resize(record_header_size);
        ssize_t n = read_all(fd, scratch.data(), record_header_size, at.offset);
        RecordView view;
        RecordDamage damage = RecordDamage::truncated_header;
        if (n == static_cast<ssize_t>(record_header_size)) {
            const RecordHeader header =
                decode_record_header(reinterpret_cast<unsigned char*>(scratch.data()));
            damage = RecordDamage::bad_header;
            if (plausible(header)) {
                scratch.resize(header.record_size());
                n = read_all(fd, scratch.data() + record_header_size, header.body_size,
                             static_cast<off_t>(at.offset + record_header_size));
                damage = n != static_cast<ssize_t>(header.body_size) ? RecordDamage::truncated_body
                                                                     : parse_record(scratch, view);
            }
        }
        if (n < 0) return io_error(errno, "reading", segment_path(at.segment));
        if (damage != RecordDamage::none)
            return Error{errc::store_error, "record at offset " + std::to_string(at.offset) + " of '" +
                                                segment_path(at.segment) + "' is damaged (" +
                                                std::string(to_string(damage)) + ")"};
        return view;
    }

    void release_before(RecordLocation first_kept) override {
        while (segments_.size() > 1 && segments_.front().id < first_kept.segment) {
            forget(segments_.front());
            segments_.pop_front();
        }
    }

    /// Renames the oldest segment to record its new head, then punches the whole blocks before it
    /// out of the file: the rename comes first (and is synced, unless FsyncPolicy::never), so
    /// recovery never parses the hole.
    void give_back_before(RecordLocation first_kept) override {
        if (segments_.empty() || !can_punch_) return;
        Segment& front = segments_.front();
        if (front.id != first_kept.segment || first_kept.offset <= front.head) return;
        const std::uint64_t freed = front.head / block_bytes_ * block_bytes_;
        const std::uint64_t freeing = first_kept.offset / block_bytes_ * block_bytes_;
        if (freeing <= freed) return; // not a whole block more yet
        if (!move_head(front, first_kept.offset)) return;
        if (punch(front, freeing)) ++reclaimed_;
    }

    void truncate(RecordLocation at) override {
        while (!segments_.empty() && segments_.back().id > at.segment) {
            forget(segments_.back());
            segments_.pop_back();
        }
        if (segments_.empty() || segments_.back().id != at.segment || at.offset >= segments_.back().used)
            return;
        Segment& segment = segments_.back();
        const std::string path = segment_path(segment);
        if (::truncate(path.c_str(), at.offset) != 0)
            log(LogLevel::warn, "offline store: cannot cut '" + path + "' short (" + errno_text(errno) +
                                    "); evicted messages may be sent after a restart");
        total_used_ -= segment.used - at.offset;
        segment.used = at.offset;
        ++reclaimed_;
    }

    void clear() override {
        while (!segments_.empty()) {
            forget(segments_.back());
            segments_.pop_back();
        }
    }

    std::uint64_t bytes_from(RecordLocation from) const override {
        std::uint64_t before = from.offset;
        for (const Segment& segment : segments_) {
            if (segment.id >= from.segment) break;
            before += segment.used;
        }
        return total_used_ - before;
    }

    RecordLocation end() const override {
        if (segments_.empty()) return {next_id_, 0};
        return {segments_.back().id, static_cast<std::uint32_t>(segments_.back().used)};
    }

    void set_delivered_watermark(std::uint64_t sequence) override {
        watermark_.store(sequence, std::memory_order_relaxed);
    }

    Status flush() override {
        Status synced = sync();
        Status saved = save_watermark();
        return synced ? saved : synced;
    }

private:
    struct Segment {
        std::uint32_t id;
        std::uint64_t used;     // end of its last record
        std::uint32_t head = 0; // where its records start; those before have left (the name says so)
    };

    std::string segment_path(std::uint32_t id, std::uint32_t head) const {
        return dir_ + "/" + segment_name(id, head);
    }
    std::string segment_path(const Segment& segment) const { return segment_path(segment.id, segment.head); }
    std::string segment_path(std::uint32_t id) const {
        for (const Segment& segment : segments_)
            if (segment.id == id) return segment_path(segment);
        return segment_path(id, 0);
    }

    Error io_error(int err, std::string_view action, const std::string& path) const {
        if (err == ENOSPC || err == EDQUOT || err == EFBIG)
            return Error{errc::disk_full, "no space left for the offline store in '" + dir_ + "' (" +
                                              std::string(action) + " '" + path + "': " + errno_text(err) +
                                              ")"};
        return Error{errc::store_error, std::string(action) + " '" + path + "': " + errno_text(err)};
    }

    void log(LogLevel level, const std::string& text) const {
        if (log_) log_(level, text);
    }

    Status lock_directory() {
        const std::string path = dir_ + "/lock";
        Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) return io_error(errno, "opening", path);
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            if (err != EWOULDBLOCK) return io_error(err, "locking", path);
            char text[24] = {};
            std::string owner = "owner unknown";
            if (::pread(fd.get(), text, sizeof text - 1, 0) > 0) {
                const long pid = std::strtol(text, nullptr, 10);
                if (pid > 0) owner = "pid " + std::to_string(pid);
            }
            return Error{errc::store_locked, "offline store directory '" + dir_ +
                                                 "' is in use by another client (" + owner + ")"};
        }
        // The PID only helps the message above; the lock holds without it (e.g. on a full disk).
        const std::string pid = std::to_string(::getpid()) + "\n";
        [[maybe_unused]] const bool noted =
            ::ftruncate(fd.get(), 0) == 0 && ::pwrite(fd.get(), pid.data(), pid.size(), 0) > 0;
        lock_ = std::move(fd);
        return {};
    }

    std::uint64_t load_watermark() const {
        Fd fd(::open((dir_ + "/delivered").c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return 0;
        unsigned char raw[watermark_size + 1];
        const ssize_t n = read_all(fd.get(), reinterpret_cast<char*>(raw), sizeof raw, 0);
        if (n != static_cast<ssize_t>(watermark_size) || std::memcmp(raw, watermark_magic, 8) != 0 ||
            record_bytes::get32(raw + 16) != Crc32c{}.update(raw, 16).value() ||
            record_bytes::get64(raw + 8) >= max_record_sequence) {
            log(LogLevel::warn, "offline store '" + dir_ +
                                    "': delivered watermark unreadable; every stored message will be sent "
                                    "(some perhaps a second time)");
            return 0;
        }
        return record_bytes::get64(raw + 8);
    }

    /// The one recovery routine: every segment in order, every record checked (see queue.hpp).
    Status recover(const RecordFound& found, StoreRecovery& recovery, std::uint64_t& last_sequence) {
        const std::uint64_t watermark = load_watermark();
        watermark_ = watermark;
        saved_watermark_ = watermark;
        ::unlink((dir_ + "/delivered.tmp").c_str());

        std::vector<SegmentName> names;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
            if (auto name = parse_segment_name(it->path().filename().string())) names.push_back(*name);
        if (ec)
            return Error{errc::store_error,
                         "listing offline store directory '" + dir_ + "': " + ec.message()};
        std::sort(names.begin(), names.end(),
                  [](const SegmentName& a, const SegmentName& b) { return a.id < b.id; });

        std::uint64_t previous = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i > 0 && names[i - 1].id == names[i].id) {
                log(LogLevel::warn, "offline store: skipping '" + segment_path(names[i].id, names[i].head) +
                                        "', a second file of segment " + std::to_string(names[i].id));
                continue;
            }
            if (auto read = recover_segment(names[i], watermark, found, recovery, previous); !read)
                return read;
        }
        next_id_ = names.empty() ? 1 : names.back().id + 1;
        last_sequence = std::max(previous, watermark);
        return {};
    }

    /// Reads one segment from its head: reports its intact records, cuts it at the first damaged one
    /// and keeps it if a record is left (deletes it otherwise).
    Status recover_segment(SegmentName name, std::uint64_t watermark, const RecordFound& found,
                           StoreRecovery& recovery, std::uint64_t& previous) {
        const std::uint32_t id = name.id, head = name.head;
        const std::string path = segment_path(id, head);
        Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        struct stat info {};
        if (!fd || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
            log(LogLevel::warn, "offline store: skipping '" + path + "', not a readable segment file");
            return {};
        }
        ++recovery.segments;
        const auto size = static_cast<std::uint64_t>(info.st_size);
        if (head >= size && head > 0) {
            ++recovery.damaged_segments;
            log(LogLevel::warn, "offline store: '" + path +
                                    "' damaged (its head lies at or beyond its end of " +
                                    std::to_string(size) + " bytes): removed");
            ::unlink(path.c_str());
            return {};
        }
        // Records before the head have left the queue; their blocks may be a hole by now.
        std::uint64_t intact = head;
        RecordDamage damage = RecordDamage::none;
        if (size > 0) {
            void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
            if (map == MAP_FAILED) return io_error(errno, "reading", path);
            const std::string_view bytes(static_cast<const char*>(map), size);
            while (intact < size) {
                RecordView record;
                damage = intact >= max_segment_bytes ? RecordDamage::bad_header
                                                     : parse_record(bytes.substr(intact), record);
                if (damage == RecordDamage::none && record.header.sequence <= previous)
                    damage = RecordDamage::out_of_sequence;
                if (damage != RecordDamage::none) break;
                previous = record.header.sequence;
                if (previous > watermark) {
                    found(previous, RecordLocation{id, static_cast<std::uint32_t>(intact)});
                    ++recovery.messages;
                } else {
                    ++recovery.already_delivered;
                }
                intact += record.header.record_size();
            }
            ::munmap(map, size);
        }
        if (damage != RecordDamage::none) {
            ++recovery.damaged_segments;
            recovery.truncated_bytes += size - intact;
            log(LogLevel::warn, "offline store: '" + path + "' damaged at offset " + std::to_string(intact) +
                                    " (" + std::string(to_string(damage)) +
                                    "): " + std::to_string(size - intact) + " bytes cut off");
            if (::ftruncate(fd.get(), static_cast<off_t>(intact)) != 0)
                log(LogLevel::warn, "offline store: cannot cut '" + path + "' short: " + errno_text(errno));
        }
        if (intact == head) {
            ::unlink(path.c_str());
            return {};
        }
        segments_.push_back(Segment{id, intact, head});
        total_used_ += intact;
        // Finishes a give-back that a crash interrupted between the rename and the punch.
        if (head >= block_bytes_) punch(segments_.back(), head / block_bytes_ * block_bytes_);
        return {};
    }

    /// Writes one record at the end of the tail segment (and syncs it under every_message): 0, or the
    /// errno of the failure, after which the segment is cut back to where it was.
    int write_record(const Segment& segment, std::string_view header, std::string_view topic,
                     std::string_view id, std::string_view payload) {
        iovec pieces[4];
        int count = 0;
        for (std::string_view piece : {header, topic, id, payload})
            pieces[count++] = iovec{const_cast<char*>(piece.data()), piece.size()};
        const int fd = tail_->get();
        const auto offset = static_cast<off_t>(segment.used);
        bool stored = write_all(fd, pieces, count, offset);
        if (stored && fsync_ == FsyncPolicy::every_message) stored = ::fdatasync(fd) == 0;
        if (stored) {
            if (fsync_ == FsyncPolicy::interval) dirty_.store(true, std::memory_order_relaxed);
            return 0;
        }
        const int err = errno;
        // A torn record would end the segment at recovery: cut it off now.
        [[maybe_unused]] const int cut = ::ftruncate(fd, offset);
        return err;
    }

    Status start_segment() {
        const std::uint32_t id = next_id_;
        if (id == 0 || id > max_segment_id) // a file recovery would not read: refuse, never lose
            return Error{errc::store_error,
                         "offline store '" + dir_ + "' has used up its segment numbers; move its files away"};
        const std::string path = segment_path(id);
        Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) return io_error(errno, "creating", path);
        if (fsync_ == FsyncPolicy::every_message && ::fsync(dir_fd_.get()) != 0) {
            const int err = errno;
            ::unlink(path.c_str());
            return io_error(err, "syncing", dir_);
        }
        ++next_id_;
        segments_.push_back(Segment{id, 0});
        auto file = std::make_shared<Fd>(std::move(fd));
        std::lock_guard<std::mutex> lock(sync_mutex_);
        if (tail_ && fsync_ == FsyncPolicy::interval) retired_.push_back(tail_);
        tail_ = std::move(file);
        tail_id_ = id;
        directory_dirty_ = fsync_ != FsyncPolicy::every_message; // every_message synced it above
        return {};
    }

    /// Deletes a segment whose records have all left the queue.
    void forget(const Segment& segment) {
        if (tail_ && tail_id_ == segment.id) {
            std::lock_guard<std::mutex> lock(sync_mutex_);
            tail_.reset();
        }
        if (reader_id_ == segment.id) reader_.reset();
        ::unlink(segment_path(segment).c_str());
        total_used_ -= segment.used;
        ++reclaimed_;
    }

    /// Renames `segment` to name `head` as its first record; false if the new name is not (durably)
    /// in place, in which case nothing may be punched.
    bool move_head(Segment& segment, std::uint32_t head) {
        const std::string from = segment_path(segment), to = segment_path(segment.id, head);
        if (::rename(from.c_str(), to.c_str()) != 0) {
            log(LogLevel::warn, "offline store: cannot rename '" + from + "': " + errno_text(errno));
            return false;
        }
        segment.head = head;
        return fsync_ == FsyncPolicy::never || ::fsync(dir_fd_.get()) == 0;
    }

    /// Gives the bytes [0, up_to) of `segment` back to the file system (a hole; the size stays).
    bool punch(const Segment& segment, std::uint64_t up_to) {
        const std::string path = segment_path(segment);
        Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (fd && ::fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                              static_cast<off_t>(up_to)) == 0)
            return true;
        const int err = errno; // of the open or of the fallocate, whichever failed
        if (err == EOPNOTSUPP || err == ENOSYS) {
            can_punch_ = false;
            log(LogLevel::info, "offline store '" + dir_ +
                                    "': the file system cannot free part of a file; a full disk frees "
                                    "whole segments");
        } else {
            log(LogLevel::warn, "offline store: cannot free the start of '" + path + "': " + errno_text(err));
        }
        return false;
    }

    int reading_fd(std::uint32_t id) {
        if (tail_ && tail_id_ == id) return tail_->get();
        if (!reader_ || reader_id_ != id) {
            reader_ = Fd(::open(segment_path(id).c_str(), O_RDONLY | O_CLOEXEC));
            reader_id_ = id;
        }
        return reader_.get();
    }

    /// fdatasync of every segment written since the last sync, and of the directory when a segment
    /// was added; a file deleted meanwhile is synced harmlessly.
    Status sync() {
        std::vector<std::shared_ptr<Fd>> files;
        bool directory = false;
        {
            std::lock_guard<std::mutex> lock(sync_mutex_);
            files.swap(retired_);
            if (tail_) files.push_back(tail_);
            directory = std::exchange(directory_dirty_, false);
            dirty_.store(false, std::memory_order_relaxed);
        }
        for (const auto& file : files)
            if (::fdatasync(file->get()) != 0) return io_error(errno, "syncing", dir_);
        if (directory && ::fsync(dir_fd_.get()) != 0) return io_error(errno, "syncing", dir_);
        return {};
    }

    /// Replaces the watermark file atomically: write a new file, sync it, rename it over the old.
    Status save_watermark() {
        std::lock_guard<std::mutex> lock(watermark_mutex_);
        const std::uint64_t watermark = watermark_.load(std::memory_order_relaxed);
        if (watermark == saved_watermark_) return {};
        unsigned char raw[watermark_size];
        std::memcpy(raw, watermark_magic, 8);
        record_bytes::put64(raw + 8, watermark);
        record_bytes::put32(raw + 16, Crc32c{}.update(raw, 16).value());
        const std::string temporary = dir_ + "/delivered.tmp";
        Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) return io_error(errno, "writing", temporary);
        const ssize_t written = ::pwrite(fd.get(), raw, sizeof raw, 0);
        const bool synced = fsync_ == FsyncPolicy::never || ::fdatasync(fd.get()) == 0;
        if (written != static_cast<ssize_t>(sizeof raw) || !synced) {
            const int err = written < 0 || !synced ? errno : ENOSPC;
            ::unlink(temporary.c_str());
            return io_error(err, "writing", temporary);
        }
        fd.reset();
        if (::rename(temporary.c_str(), (dir_ + "/delivered").c_str()) != 0)
            return io_error(errno, "renaming", temporary);
        if (fsync_ != FsyncPolicy::never && ::fsync(dir_fd_.get()) != 0)
            return io_error(errno, "syncing", dir_);
        saved_watermark_ = watermark;
        return {};
    }

    void run_flusher() {
        std::unique_lock<std::mutex> lock(sync_mutex_);
        while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
            const bool due = fsync_ == FsyncPolicy::interval && (dirty_.load(std::memory_order_relaxed) ||
                                                                 directory_dirty_ || !retired_.empty());
            lock.unlock();
            Status status = due ? sync() : Status{};
            if (status) status = save_watermark();
            report(status, "background sync");
            lock.lock();
        }
    }

    /// Logs a background failure once, and its end.
    void report(const Status& status, std::string_view what) {
        std::string text = status ? std::string() : status.error().message();
        if (text == last_failure_) return;
        if (!status)
            log(LogLevel::error, "offline store: " + std::string(what) + " failed: " + text);
        else
            log(LogLevel::info, "offline store: " + std::string(what) + " works again");
        last_failure_ = std::move(text);
    }

    const std::string dir_;
    const FsyncPolicy fsync_;
    const std::chrono::milliseconds interval_;
    const std::size_t segment_bytes_;
    const LogSink log_;

    Fd dir_fd_;
    Fd lock_;
    std::deque<Segment> segments_; // retained segments, oldest first; the tail (if open) is the last
    std::uint32_t next_id_ = 1;
    std::uint64_t total_used_ = 0;
    std::uint64_t block_bytes_ = 4096; // the unit in which the file system gives space back
    bool can_punch_ = true;
    std::uint32_t tail_id_ = 0;
    Fd reader_; // the last non-tail segment read (replay reads sequentially)
    std::uint32_t reader_id_ = 0;

    // Shared with the flusher thread.
    std::mutex sync_mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::shared_ptr<Fd> tail_;                 // the segment appended to; null: start a new one
    std::vector<std::shared_ptr<Fd>> retired_; // rotated out, not yet synced
    bool directory_dirty_ = false;
    std::atomic<bool> dirty_{false};
    std::atomic<std::uint64_t> watermark_{0};
    std::mutex watermark_mutex_;
    std::uint64_t saved_watermark_ = 0;
    std::string last_failure_; // flusher thread and destructor only
    std::thread flusher_;
};

} // namespace

Result<std::unique_ptr<RecordStorage>> open_segment_store(const OfflineQueueOptions& options, LogSink log,
                                                          const RecordFound& found, StoreRecovery& recovery,
                                                          std::uint64_t& last_sequence) {
    auto store = std::make_unique<SegmentStore>(options, std::move(log));
    if (auto opened = store->open(found, recovery, last_sequence); !opened) return opened.error();
    return std::unique_ptr<RecordStorage>(std::move(store));
}

} // namespace enos::device::detail
