// Offline queue limits and overflow policies: which messages each policy drops, how every drop is
// reported and counted, and the state changes told to the log sink. Each case runs in memory and
// with a store directory, since both must behave alike.
#include "test_queue_support.hpp"

#include "support/temp_dir.hpp"

#include <algorithm>

using namespace queue_test;
using enos::test::TempDir;

namespace {

struct Fixture {
    TempDir dir{"enos-queue"};
    Recorder recorder;
    OfflineQueueOptions options;

    explicit Fixture(bool on_disk) {
        if (on_disk) options.store_directory = dir.file("store");
    }
    OfflineQueue open() { return open_queue(options, recorder.events()); }
};

void push_all(OfflineQueue& queue, std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t n = first; n <= last; ++n) {
        auto sequence = queue.push(message(n).view());
        REQUIRE(sequence.ok());
        CHECK(*sequence == n);
    }
}

} // namespace

TEST_CASE("drop_oldest evicts exactly the oldest messages and reports each one", "[unit][queue]") {
    const bool on_disk = GENERATE(false, true);
    Fixture f(on_disk);
    f.options.max_messages = 5;
    f.options.overflow = OverflowPolicy::drop_oldest;
    auto queue = f.open();

    push_all(queue, 1, 8);

    const auto drops = f.recorder.drops();
    REQUIRE(f.recorder.dropped_sequences() == range(1, 3));
    for (const auto& d : drops) {
        CHECK(d.topic == post_topic);
        CHECK(d.id == std::to_string(d.sequence));
        CHECK(d.method == UpMethod::measurepoint_post);
        CHECK(d.error == errc::dropped_by_policy);
        CHECK(d.error.detail.find("drop_oldest") != std::string::npos);
        CHECK(d.error.detail.find("message " + std::to_string(d.sequence) + " on '" + post_topic + "' (id " +
                                  d.id + ")") != std::string::npos);
    }
    const auto left = take_all(queue);
    CHECK(sequences_of(left) == range(4, 8));
    for (const auto& m : left)
        check_same(m, message(m.sequence));
    const auto s = queue.stats();
    CHECK(s.accepted == 8);
    CHECK(s.dropped == 3);
    CHECK(s.rejected == 0);
    CHECK(s.depth == 5);
    check_balance(s);
}

TEST_CASE("drop_newest evicts the most recently queued message to make room for the new one",
          "[unit][queue]") {
    const bool on_disk = GENERATE(false, true);
    Fixture f(on_disk);
    f.options.max_messages = 5;
    f.options.overflow = OverflowPolicy::drop_newest;
    auto queue = f.open();

    push_all(queue, 1, 8);

    // 6 evicts 5, 7 evicts 6, 8 evicts 7: the start of the outage and the latest value remain.
    CHECK(f.recorder.dropped_sequences() == std::vector<std::uint64_t>{5, 6, 7});
    for (const auto& d : f.recorder.drops()) {
        CHECK(d.id == std::to_string(d.sequence));
        CHECK(d.error == errc::dropped_by_policy);
        CHECK(d.error.detail.find("drop_newest") != std::string::npos);
    }
    const auto left = take_all(queue);
    CHECK(sequences_of(left) == std::vector<std::uint64_t>{1, 2, 3, 4, 8});
    for (const auto& m : left)
        check_same(m, message(m.sequence));
    const auto s = queue.stats();
    CHECK(s.dropped == 3);
    CHECK(s.depth == 5);
    check_balance(s);
}

TEST_CASE("reject_new keeps what is queued and refuses the new message, naming it", "[unit][queue]") {
    const bool on_disk = GENERATE(false, true);
    Fixture f(on_disk);
    f.options.max_messages = 5;
    f.options.overflow = OverflowPolicy::reject_new;
    auto queue = f.open();

    push_all(queue, 1, 5);
    for (std::uint64_t n = 6; n <= 8; ++n) {
        auto refused = queue.push(message(n).view());
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() == errc::queue_full);
        CHECK(refused.error().detail.find("5 messages") != std::string::npos);
        CHECK(refused.error().detail.find("on '" + post_topic + "' (id " + std::to_string(n) +
                                          ") not queued") != std::string::npos);
    }
    CHECK(f.recorder.drops().empty());
    CHECK(sequences_of(take_all(queue)) == range(1, 5));
    const auto s = queue.stats();
    CHECK(s.accepted == 5);
    CHECK(s.rejected == 3);
    CHECK(s.dropped == 0);
    check_balance(s);
}

TEST_CASE("the byte limit counts whole records and evicts just enough", "[unit][queue]") {
    const bool on_disk = GENERATE(false, true);
    Fixture f(on_disk);
    const std::size_t record = message(1, 100).record_size();
    f.options.max_bytes = std::max<std::size_t>(1024, 4 * record + record / 2);
    const std::size_t fit = f.options.max_bytes / record;
    f.options.overflow = OverflowPolicy::drop_oldest;
    auto queue = f.open();

    for (std::uint64_t n = 1; n <= fit; ++n)
        REQUIRE(queue.push(message(n, 100).view()).ok());
    CHECK(queue.stats().bytes == fit * record);
    CHECK(f.recorder.drops().empty());

    // One message three records long needs three of the oldest out.
    const Message big = message(fit + 1, 100 + 2 * record);
    REQUIRE(big.record_size() == 3 * record);
    REQUIRE(queue.push(big.view()).ok());
    CHECK(f.recorder.dropped_sequences() == range(1, 3));
    CHECK(queue.stats().bytes == (fit - 3) * record + big.record_size());
    CHECK(queue.stats().bytes <= f.options.max_bytes);

    // Larger than the whole queue: refused whatever the policy, nothing evicted for it.
    const Message huge = message(99, f.options.max_bytes);
    auto refused = queue.push(huge.view());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error() == errc::queue_full);
    CHECK(refused.error().detail.find("max_bytes") != std::string::npos);
    CHECK(f.recorder.drops().size() == 3);
    check_balance(queue.stats());
}

TEST_CASE("a message evicted while in flight completes once, as dropped", "[unit][queue]") {
    const bool on_disk = GENERATE(false, true);
    Fixture f(on_disk);
    f.options.max_messages = 3;
    auto queue = f.open();
    queue.link_up();

    push_all(queue, 1, 3);
    QueuedMessage sent;
    REQUIRE(queue.next(sent));
    CHECK(sent.sequence == 1);
    CHECK(queue.stats().in_flight == 1);
    push_all(queue, 4, 4); // evicts 1, in flight or not

    CHECK(f.recorder.dropped_sequences() == std::vector<std::uint64_t>{1});
    CHECK_FALSE(queue.mark_delivered(1)); // its ack arrives late: the drop was its outcome
    const auto s = queue.stats();
    CHECK(s.in_flight == 0);
    CHECK(s.delivered == 0);
    CHECK(s.dropped == 1);
    check_balance(s);
}

TEST_CASE("queue state changes reach the log sink once each", "[unit][queue]") {
    const bool on_disk = GENERATE(false, true);
    Fixture f(on_disk);
    f.options.max_messages = 10;
    f.options.overflow = OverflowPolicy::drop_oldest;
    auto queue = f.open();

    push_all(queue, 1, 7);
    CHECK(f.recorder.count_logs("80% full") == 0);
    push_all(queue, 8, 10);
    CHECK(f.recorder.count_logs("80% full") == 1);
    CHECK(f.recorder.count_logs("queue full") == 0);
    push_all(queue, 11, 14);
    CHECK(f.recorder.count_logs("queue full") == 1);
    CHECK(f.recorder.count_logs("dropping the oldest messages") == 1);

    queue.link_up();
    for (const auto& m : take_all(queue)) {
        CHECK(f.recorder.count_logs("drained") == 0);
        CHECK(queue.mark_delivered(m.sequence));
    }
    CHECK(f.recorder.count_logs("drained") == 1);
    CHECK(f.recorder.count_logs("80% full") == 1);
    INFO(f.recorder.all_logs());
    const auto s = queue.stats();
    CHECK(s.depth == 0);
    CHECK(s.bytes == 0);
    check_balance(s);
}

TEST_CASE("options and messages the queue cannot take are refused with the reason", "[unit][queue]") {
    OfflineQueueOptions options;
    options.max_messages = 0;
    CHECK(OfflineQueue::open(options).error() == errc::invalid_argument);
    options = {};
    options.segment_bytes = 1024;
    CHECK(OfflineQueue::open(options).error().detail.find("segment_bytes") != std::string::npos);

    auto queue = OfflineQueue::open({});
    REQUIRE(queue.ok());
    Message m = message(1);
    m.qos = 2;
    CHECK(queue->push(m.view()).error() == errc::qos_not_allowed);
    m = message(1);
    m.topic.clear();
    CHECK(queue->push(m.view()).error() == errc::missing_argument);
    m = message(1);
    m.id.assign(256, 'x');
    CHECK(queue->push(m.view()).error() == errc::invalid_argument);
    m = message(1, limits::max_payload_bytes);
    CHECK(queue->push(m.view()).error() == errc::payload_too_large);
    CHECK(queue->stats().rejected == 4);
    CHECK(queue->stats().accepted == 0);
}
