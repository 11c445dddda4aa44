// The store under faults: a disk that fills up, a file size limit, a second owner of the directory
// (in this process or another), and a process killed with SIGKILL in the middle of appending.
#include "test_queue_support.hpp"

#include "support/fault_fs.hpp"
#include "support/temp_dir.hpp"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <optional>
#include <random>

using namespace queue_test;
using enos::test::TempDir;

namespace {

/// A pipe whose ends close with it.
struct Pipe {
    int read_end = -1, write_end = -1;
    Pipe() {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        read_end = fds[0];
        write_end = fds[1];
    }
    ~Pipe() {
        if (read_end >= 0) ::close(read_end);
        if (write_end >= 0) ::close(write_end);
    }
};

/// Reads exactly `size` bytes; false at end of file.
bool read_exactly(int fd, void* out, std::size_t size) {
    auto* p = static_cast<char*>(out);
    while (size > 0) {
        const ssize_t n = ::read(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

void write_exactly(int fd, const void* data, std::size_t size) {
    if (::write(fd, data, size) != static_cast<ssize_t>(size)) ::_exit(3);
}

int wait_for_exit(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

} // namespace

TEST_CASE("a full disk: a clear error, the policy applied, nothing already stored lost", "[unit][store]") {
    const auto policy =
        GENERATE(OverflowPolicy::reject_new, OverflowPolicy::drop_oldest, OverflowPolicy::drop_newest);
    std::string why;
    auto disk = enos::test::SmallDisk::mount(96 * 1024, why);
    if (!disk) {
        WARN("skipped: " << why << " (the file size limit case covers disk_full without a mount)");
        return;
    }
    OfflineQueueOptions options;
    options.store_directory = disk->path() + "/store";
    options.segment_bytes = 8192;
    options.overflow = policy;
    options.fsync = FsyncPolicy::never;
    Recorder recorder;
    std::vector<std::uint64_t> expected; // what a restart must find
    {
        auto queue = open_queue(options, recorder.events());
        std::uint64_t n = 1;
        std::optional<Error> refused;
        for (; n <= 2000 && !refused; ++n) {
            auto pushed = queue.push(message(n, 300).view());
            if (!pushed) refused = pushed.error();
        }
        if (policy == OverflowPolicy::reject_new) {
            REQUIRE(refused);
            CHECK(refused->code == make_error_code(errc::disk_full));
            CHECK(contains(refused->detail, "'" + options.store_directory + "'"));
            const std::uint64_t stored = n - 2;
            REQUIRE(stored > 50);
            CHECK(queue.push(message(n, 300).view()).error() == errc::disk_full);
            CHECK(recorder.drops().empty());
            CHECK(queue.stats().depth == stored);
            CHECK(queue.stats().rejected == 2);
            // Delivering the oldest frees their segments: new messages fit again.
            queue.link_up();
            QueuedMessage m;
            for (std::uint64_t k = 1; k <= 50; ++k)
                REQUIRE((queue.next(m) && queue.mark_delivered(m.sequence)));
            auto after = queue.push(message(stored + 1, 300).view());
            REQUIRE(after.ok());
            CHECK(*after == stored + 1);
            expected = range(51, stored + 1);
        } else {
            REQUIRE_FALSE(refused); // the policy always made room
            const auto dropped = recorder.dropped_sequences();
            REQUIRE_FALSE(dropped.empty());
            for (const auto& d : recorder.drops()) {
                CHECK(d.error == errc::dropped_by_policy);
                CHECK(contains(d.error.detail, "no space left for the offline store"));
                CHECK(d.id == std::to_string(d.sequence));
            }
            std::vector<bool> gone(2001, false);
            for (auto s : dropped)
                gone.at(s) = true;
            for (std::uint64_t k = 1; k <= 2000; ++k)
                if (!gone[k]) expected.push_back(k);
            if (policy == OverflowPolicy::drop_oldest) {
                CHECK(dropped == range(1, dropped.size()));
            } else {
                // The newest go: everything stored before the disk filled up stays.
                CHECK(expected.front() == 1);
                CHECK(dropped.front() > 50);
                CHECK(expected.back() == 2000);
            }
            CHECK(queue.stats().rejected == 0);
            CHECK(queue.stats().depth == expected.size());
        }
        // Told once; the background watermark writer may also report the full disk, in its own words.
        const char* action = policy == OverflowPolicy::reject_new    ? "rejecting new messages"
                             : policy == OverflowPolicy::drop_oldest ? "dropping the oldest messages"
                                                                     : "dropping the newest queued messages";
        CHECK(recorder.count_logs(action) == 1);
        CHECK(recorder.count_logs("no space left for the offline store") >= 1);
        check_balance(queue.stats());
    }
    auto reopened = open_queue(options);
    const auto back = take_all(reopened);
    CHECK(sequences_of(back) == expected);
    for (const auto& m : back)
        check_same(m, message(m.sequence, 300));
}

TEST_CASE("a full disk under drop_oldest drops about as many messages as it needs, not a segment",
          "[unit][store]") {
    std::string why;
    auto disk = enos::test::SmallDisk::mount(256 * 1024, why);
    if (!disk) {
        WARN("skipped: " << why);
        return;
    }
    OfflineQueueOptions options;
    options.store_directory = disk->path() + "/store";
    options.segment_bytes = 128 * 1024; // a segment holds ~350 messages: dropping one would show
    options.overflow = OverflowPolicy::drop_oldest;
    options.fsync = FsyncPolicy::never;
    options.fsync_interval = std::chrono::hours(1); // no watermark file competing for the last blocks
    constexpr std::size_t payload = 300;
    constexpr std::uint64_t more = 300;
    Recorder recorder;
    std::map<std::string, std::string> crash_image; // the directory as a crash would leave it
    std::vector<std::uint64_t> dropped;
    std::uint64_t last = 0;
    struct stat info {};
    REQUIRE(::stat(disk->path().c_str(), &info) == 0);
    const auto block = static_cast<std::size_t>(info.st_blksize);
    const std::size_t smallest = message(1, payload).record_size(),
                      largest = message(9999, payload).record_size();
    // The file system frees whole blocks: "as many as needed" is the records that held one block,
    // plus the one that straddles its end.
    const std::size_t per_block = block / smallest + 2;
    {
        auto queue = open_queue(options, recorder.events());
        std::uint64_t n = 1;
        for (; recorder.drops().empty(); ++n) {
            REQUIRE(n < 2000);
            REQUIRE(queue.push(message(n, payload).view()).ok());
        }
        const std::uint64_t first_full = n - 1;
        const std::size_t dropped_at_first = recorder.drops().size();
        INFO("disk full at message " << first_full << ", block " << block << " bytes, records " << smallest
                                     << ".." << largest << " bytes");
        CHECK(dropped_at_first <= per_block);
        for (; n <= first_full + more; ++n) {
            const std::size_t before = recorder.drops().size();
            REQUIRE(queue.push(message(n, payload).view()).ok());
            INFO("message " << n);
            CHECK(recorder.drops().size() - before <= per_block);
        }
        last = n - 1;
        dropped = recorder.dropped_sequences();
        // Every new message took the place of about one old one, never a segment's worth: the bytes
        // dropped match the bytes added up to one block of granularity and one block left unused at
        // the end of a segment when the next one starts.
        const std::size_t after_first = dropped.size() - dropped_at_first;
        INFO(after_first << " dropped for " << more << " added");
        CHECK(after_first * smallest <= more * largest + 2 * block + largest);
        CHECK(after_first * largest + 2 * block + largest >= more * smallest);
        CHECK(dropped == range(1, dropped.size()));
        for (const auto& d : recorder.drops()) {
            CHECK(d.error == errc::dropped_by_policy);
            CHECK(contains(d.error.detail, "no space left for the offline store"));
        }
        CHECK(queue.stats().depth == last - dropped.size());
        check_balance(queue.stats());

        bool head_marked = false;
        for (const auto& entry : std::filesystem::directory_iterator(options.store_directory))
            head_marked = head_marked || contains(entry.path().filename().string(), "-");
        CHECK(head_marked);
        crash_image = enos::test::read_directory(options.store_directory);
    }
    // A clean reopen: exactly the messages not dropped, in order, intact.
    {
        auto reopened = open_queue(options);
        const auto back = take_all(reopened);
        CHECK(sequences_of(back) == range(dropped.size() + 1, last));
        for (const auto& m : back)
            check_same(m, message(m.sequence, payload));
    }
    // After a crash (no watermark saved; the hole reads as zeros in the copy) recovery starts at
    // the recorded head: every message not dropped comes back, and at most the few dropped since the
    // last block was given back come back with them.
    TempDir copy("enos-store");
    enos::test::restore_directory(copy.path(), crash_image);
    options.store_directory = copy.path();
    auto recovered = open_queue(options);
    CHECK(recovered.recovery().damaged_segments == 0);
    const auto back = sequences_of(take_all(recovered));
    REQUIRE_FALSE(back.empty());
    CHECK(back == range(back.front(), last));
    CHECK(back.front() <= dropped.size() + 1);
    CHECK(dropped.size() + 1 - back.front() <= per_block);
}

TEST_CASE("a file size limit ends segments early, and below one record it is a full disk", "[unit][store]") {
    TempDir dir("enos-store");
    OfflineQueueOptions options;
    options.store_directory = dir.file("store");
    options.segment_bytes = 65536;
    options.overflow = OverflowPolicy::reject_new;
    options.fsync = FsyncPolicy::never;
    {
        auto queue = open_queue(options);
        for (std::uint64_t n = 1; n <= 10; ++n)
            REQUIRE(queue.push(message(n, 300).view()).ok());
        std::vector<Result<std::uint64_t>> pushed;
        Result<std::uint64_t> refused = std::uint64_t{0};
        bool limited = false;
        {
            enos::test::FileSizeLimit limit(4096);
            limited = limit.ok();
            for (std::uint64_t n = 11; n <= 100; ++n)
                pushed.push_back(queue.push(message(n, 300).view()));
        }
        REQUIRE(limited);
        for (const auto& p : pushed)
            CHECK(p.ok());
        {
            enos::test::FileSizeLimit limit(100);
            refused = queue.push(message(101, 300).view());
        }
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() == errc::disk_full);
        CHECK(contains(refused.error().detail, "'" + options.store_directory + "'"));
        for (const auto& entry : std::filesystem::directory_iterator(options.store_directory))
            if (entry.path().extension() == ".seg") CHECK(entry.file_size() <= 4096);
    }
    auto queue = open_queue(options);
    const auto back = take_all(queue);
    CHECK(sequences_of(back) == range(1, 100));
    for (const auto& m : back)
        check_same(m, message(m.sequence, 300));
}

TEST_CASE("a second opener of a store directory is told it is taken, and by whom", "[unit][store]") {
    TempDir dir("enos-store");
    OfflineQueueOptions options;
    options.store_directory = dir.file("store");
    std::optional<OfflineQueue> owner(open_queue(options));

    auto second = OfflineQueue::open(options);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error() == errc::store_locked);
    CHECK(contains(second.error().detail, "'" + options.store_directory + "'"));
    CHECK(contains(second.error().detail, "pid " + std::to_string(::getpid())));

    owner.reset();
    CHECK(OfflineQueue::open(options).ok());
}

TEST_CASE("a store directory held by another process is refused, naming its pid", "[unit][store]") {
    TempDir dir("enos-store");
    OfflineQueueOptions options;
    options.store_directory = dir.file("store");
    Pipe to_parent, to_child;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto queue = OfflineQueue::open(options);
        const char state = queue.ok() ? 'L' : 'E';
        write_exactly(to_parent.write_end, &state, 1);
        char go = 0;
        read_exactly(to_child.read_end, &go, 1);
        ::_exit(0);
    }
    char state = 0;
    REQUIRE(read_exactly(to_parent.read_end, &state, 1));
    REQUIRE(state == 'L');
    auto taken = OfflineQueue::open(options);
    const char go = 'x';
    write_exactly(to_child.write_end, &go, 1);
    const int status = wait_for_exit(child);
    REQUIRE_FALSE(taken.ok());
    CHECK(taken.error() == errc::store_locked);
    CHECK(contains(taken.error().detail, "pid " + std::to_string(child)));
    CHECK(WIFEXITED(status));
    CHECK(OfflineQueue::open(options).ok()); // the lock died with its owner
}

TEST_CASE("every append acknowledged before a SIGKILL is in the store afterwards", "[unit][store]") {
    const int round = GENERATE(0, 1, 2);
    std::mt19937 random(4242 + round);
    const std::uint64_t acknowledged = 20 + random() % 300;
    TempDir dir("enos-store");
    OfflineQueueOptions options;
    options.store_directory = dir.file("store");
    options.fsync = FsyncPolicy::every_message;
    options.segment_bytes = 16384;

    Pipe reports;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(reports.read_end);
        auto queue = OfflineQueue::open(options);
        for (std::uint64_t n = 1; queue.ok(); ++n) {
            auto pushed = queue->push(message(n).view());
            const std::uint64_t sequence = pushed.ok() ? *pushed : 0;
            write_exactly(reports.write_end, &sequence, sizeof sequence);
            if (!pushed) break;
        }
        ::_exit(1);
    }
    ::close(reports.write_end);
    reports.write_end = -1;
    for (std::uint64_t n = 1; n <= acknowledged; ++n) {
        std::uint64_t sequence = 0;
        REQUIRE(read_exactly(reports.read_end, &sequence, sizeof sequence));
        REQUIRE(sequence == n);
    }
    ::kill(child, SIGKILL);
    const int status = wait_for_exit(child);
    CHECK(WIFSIGNALED(status));

    auto queue = open_queue(options);
    INFO("acknowledged " << acknowledged << ", recovered " << queue.recovery().messages);
    CHECK(queue.recovery().messages >= acknowledged);
    const auto back = take_all(queue);
    CHECK(sequences_of(back) == range(1, back.size()));
    for (const auto& m : back)
        check_same(m, message(m.sequence));
}
