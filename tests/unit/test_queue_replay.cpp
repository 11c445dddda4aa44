// Handing queued messages out for sending: oldest first, each leaves only when delivered, a lost
// link hands the unacknowledged ones out again, and every accepted message ends exactly once even
// with many threads at work.
#include "test_queue_support.hpp"

#include "support/temp_dir.hpp"

#include <atomic>
#include <set>
#include <thread>

using namespace queue_test;
using enos::test::TempDir;

namespace {

OfflineQueueOptions options_for(bool on_disk, const TempDir& dir) {
    OfflineQueueOptions options;
    if (on_disk) options.store_directory = dir.file("store");
    return options;
}

} // namespace

TEST_CASE("messages are handed out oldest first and leave only when delivered", "[unit][queue]") {
    TempDir dir("enos-queue");
    auto queue = open_queue(options_for(GENERATE(false, true), dir));

    for (std::uint64_t n = 1; n <= 10; ++n)
        REQUIRE(queue.push(message(n).view()).ok());
    queue.link_up();
    const auto sent = take_all(queue);
    REQUIRE(sequences_of(sent) == range(1, 10));
    for (const auto& m : sent) {
        check_same(m, message(m.sequence));
        CHECK(m.replay); // queued before the link came up
        CHECK_FALSE(m.sent_before);
    }
    CHECK(queue.stats().in_flight == 10);
    CHECK(queue.stats().depth == 10);

    // Replies arrive in any order; a second ack of the same message changes nothing.
    const auto bytes_before = queue.stats().bytes;
    CHECK(queue.mark_delivered(10));
    CHECK_FALSE(queue.mark_delivered(10));
    CHECK_FALSE(queue.mark_delivered(77));
    CHECK(queue.stats().bytes == bytes_before); // the oldest record still holds the space before it
    CHECK(queue.mark_delivered(1));
    CHECK(queue.stats().bytes == bytes_before - message(1).record_size());
    for (std::uint64_t n = 2; n <= 9; ++n)
        CHECK(queue.mark_delivered(n));

    const auto s = queue.stats();
    CHECK(s.depth == 0);
    CHECK(s.in_flight == 0);
    CHECK(s.bytes == 0);
    CHECK(s.delivered == 10);
    CHECK(s.replayed == 10);
    CHECK(s.duplicates_sent == 0);
    check_balance(s);

    // Live traffic after the link is up is not a replay.
    REQUIRE(queue.push(message(11).view()).ok());
    QueuedMessage live;
    REQUIRE(queue.next(live));
    CHECK(live.sequence == 11);
    CHECK_FALSE(live.replay);
}

TEST_CASE("a lost link hands unacknowledged messages out again, oldest first", "[unit][queue]") {
    TempDir dir("enos-queue");
    auto queue = open_queue(options_for(GENERATE(false, true), dir));
    queue.link_up();

    for (std::uint64_t n = 1; n <= 5; ++n)
        REQUIRE(queue.push(message(n).view()).ok());
    QueuedMessage m;
    for (std::uint64_t n = 1; n <= 3; ++n)
        REQUIRE(queue.next(m));
    CHECK(queue.mark_delivered(2));

    queue.link_down();
    CHECK(queue.stats().in_flight == 0);
    REQUIRE(queue.push(message(6).view()).ok()); // queued during the outage
    queue.link_up();

    const auto again = take_all(queue);
    REQUIRE(sequences_of(again) == std::vector<std::uint64_t>{1, 3, 4, 5, 6});
    CHECK(again[0].sent_before);
    CHECK(again[1].sent_before);
    CHECK_FALSE(again[2].sent_before);
    for (const auto& r : again) {
        CHECK(r.replay);
        check_same(r, message(r.sequence));
    }
    const auto s = queue.stats();
    CHECK(s.duplicates_sent == 2);
    CHECK(s.replayed == 5);
    CHECK(s.in_flight == 5);
    check_balance(s);
}

TEST_CASE("a message pushed with a window is handed out at once only when it is next in line",
          "[unit][queue]") {
    TempDir dir("enos-queue");
    auto queue = open_queue(options_for(GENERATE(false, true), dir));
    bool handed_out = true;

    REQUIRE(queue.push(message(1).view(), 10, handed_out).ok());
    CHECK_FALSE(handed_out); // the link is down: it waits
    queue.link_up();
    REQUIRE(queue.push(message(2).view(), 10, handed_out).ok());
    CHECK_FALSE(handed_out); // message 1 is older and still queued
    const auto first = take_all(queue);
    REQUIRE(sequences_of(first) == range(1, 2));

    REQUIRE(queue.push(message(3).view(), 10, handed_out).ok());
    CHECK(handed_out);
    CHECK(queue.stats().in_flight == 3);
    QueuedMessage m;
    CHECK_FALSE(queue.next(m)); // handed out already: the caller sends its own copy
    REQUIRE(queue.push(message(4).view(), 3, handed_out).ok());
    CHECK_FALSE(handed_out); // the window of 3 is full
    REQUIRE(queue.push(message(5).view(), 0, handed_out).ok());
    CHECK_FALSE(handed_out); // window 0: plain push()
    CHECK(sequences_of(take_all(queue)) == range(4, 5));

    // Handed out like any other: delivered once, and sent again after a lost link.
    CHECK(queue.mark_delivered(3));
    CHECK_FALSE(queue.mark_delivered(3));
    queue.link_down();
    queue.link_up();
    const auto again = take_all(queue);
    REQUIRE(sequences_of(again) == std::vector<std::uint64_t>{1, 2, 4, 5});
    for (const auto& r : again) {
        CHECK(r.sent_before);
        check_same(r, message(r.sequence));
    }
    const auto s = queue.stats();
    CHECK(s.duplicates_sent == 4);
    check_balance(s);
}

TEST_CASE("every accepted message ends exactly once under concurrent producers and a sender",
          "[unit][queue]") {
    TempDir dir("enos-queue");
    OfflineQueueOptions options = options_for(GENERATE(false, true), dir);
    options.max_messages = 500;
    options.overflow = OverflowPolicy::drop_oldest;
    options.fsync = FsyncPolicy::never;

    std::mutex mutex;
    std::multiset<std::uint64_t> ended;
    QueueEvents events;
    events.on_drop = [&](const DroppedMessage& d) {
        std::lock_guard<std::mutex> lock(mutex);
        ended.insert(d.sequence);
    };
    auto queue = open_queue(options, events);
    queue.link_up();

    constexpr int producers = 4;
    constexpr std::uint64_t per_producer = 3000;
    std::atomic<int> producing{producers};
    std::atomic<bool> stats_wrong{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            for (std::uint64_t n = 0; n < per_producer; ++n)
                if (!queue.push(message(p * per_producer + n).view()).ok()) stats_wrong = true;
            --producing;
        });
    threads.emplace_back([&] { // a sender with a window of 32, acking in reverse order
        std::vector<std::uint64_t> window;
        QueuedMessage m;
        while (producing > 0 || queue.stats().depth > 0) {
            while (window.size() < 32 && queue.next(m))
                window.push_back(m.sequence);
            for (auto it = window.rbegin(); it != window.rend(); ++it)
                if (queue.mark_delivered(*it)) {
                    std::lock_guard<std::mutex> lock(mutex);
                    ended.insert(*it);
                }
            window.clear();
            std::this_thread::yield();
        }
    });
    threads.emplace_back([&] { // stats readable any time, counters never go back
        QueueStats last;
        while (producing > 0) {
            const QueueStats s = queue.stats();
            if (s.accepted < last.accepted || s.delivered < last.delivered || s.dropped < last.dropped ||
                s.depth > options.max_messages)
                stats_wrong = true;
            last = s;
        }
    });
    for (auto& t : threads)
        t.join();

    CHECK_FALSE(stats_wrong);
    const auto s = queue.stats();
    CHECK(s.accepted == producers * per_producer);
    CHECK(s.depth == 0);
    CHECK(s.delivered + s.dropped == s.accepted);
    std::lock_guard<std::mutex> lock(mutex);
    CHECK(ended.size() == s.accepted);
    CHECK(std::set<std::uint64_t>(ended.begin(), ended.end()).size() == ended.size());
    CHECK(*ended.begin() == 1);
    CHECK(*ended.rbegin() == s.accepted);
}
