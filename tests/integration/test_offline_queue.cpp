// The offline queue end to end: a DeviceClient keeps posting while its broker is down (or while it
// is killed), and every accepted measure point ends up in the hub's store, replayed through the
// resume topic, in order, with duplicates only where an outage cut a send short.
#include "client_support.hpp"

#include "support/temp_dir.hpp"

#include <atomic>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace enos::test::client {
namespace {

using device::ClientOptions;
using device::DeviceClient;
using device::OverflowPolicy;
using device::Points;
using device::Value;
namespace up = device::up;

const std::string point = "seq";

/// A private hub: these tests stop and start its broker.
HubProcess outage_hub() {
    return HubProcess::start();
}

ClientOptions outage_options(const HubProcess& h, const std::string& dk, const std::string& secret) {
    ClientOptions o = options_for(h, "pkTest", dk, secret);
    // Reconnect quickly and as often as the outages need (the hub's connect limit is off in tests).
    o.reconnect_backoff.initial = 50ms;
    o.reconnect_backoff.max = 300ms;
    o.reconnect_backoff.min_spacing = 10ms;
    o.reconnect_backoff.window_attempts = 100000;
    return o;
}

Points sample(std::int64_t seq) {
    return {{point, Value(seq)}};
}

/// The "seq" values the hub stored for a device, in arrival order, and whether each was resumed.
struct Stored {
    std::vector<std::int64_t> order;
    std::vector<bool> resumed;
};

Stored stored_points(const HubProcess& h, const std::string& dk) {
    const auto r = h.run({"query", "measurepoints", "--pk", "pkTest", "--dk", dk});
    INFO("enos-hub query: " << r.err);
    REQUIRE(r.exit_code == 0);
    Stored s;
    std::size_t begin = 0;
    while (begin < r.out.size()) {
        std::size_t end = r.out.find('\n', begin);
        if (end == std::string::npos) end = r.out.size();
        auto row = device::parse_value(std::string_view(r.out).substr(begin, end - begin));
        begin = end + 1;
        if (!row) continue;
        const Value* identifier = row->find("identifier");
        const Value* value = row->find("value");
        const Value* resumed = row->find("resumed");
        if (!identifier || !value || identifier->as_string() != point) continue;
        s.order.push_back(value->as_int());
        s.resumed.push_back(resumed && (resumed->is_bool() ? resumed->as_bool() : resumed->as_int() != 0));
    }
    return s;
}

/// Waits until the hub stored at least `count` distinct values for the device.
Stored wait_stored(const HubProcess& h, const std::string& dk, std::size_t count) {
    Stored s;
    eventually(
        [&] {
            s = stored_points(h, dk);
            return std::set<std::int64_t>(s.order.begin(), s.order.end()).size() >= count;
        },
        60s);
    return s;
}

bool drained(const DeviceClient& c) {
    const auto q = c.stats().queue;
    return q.depth == 0;
}

/// How often a value is stored more than once, and whether first arrivals are in posting order.
struct Audit {
    std::size_t distinct = 0, duplicates = 0;
    bool in_order = true;
};

Audit audit(const Stored& s) {
    Audit a;
    std::set<std::int64_t> seen;
    std::int64_t last = -1;
    for (std::int64_t v : s.order) {
        if (!seen.insert(v).second) {
            ++a.duplicates;
            continue;
        }
        if (v < last) a.in_order = false;
        last = v;
    }
    a.distinct = seen.size();
    return a;
}

} // namespace

TEST_CASE("offline queue: 10000 posts during an outage all arrive in order through the resume topic",
          "[integration][offline]") {
    HubProcess h = outage_hub();
    DeviceClient c = connected_client(outage_options(h, "dev6", "devSecret6"));
    constexpr std::int64_t live = 10, offline = 10000;
    for (std::int64_t i = 0; i < live; ++i)
        REQUIRE(c.send_nowait(up::MeasurepointPost{sample(i)}));
    REQUIRE(eventually([&] { return drained(c); }));

    h.stop_broker();
    REQUIRE(eventually([&] { return !c.connected(); }));
    // A sample every 300 us: the broker stays down for at least 3 s while the client keeps retrying.
    const auto outage_start = std::chrono::steady_clock::now();
    for (std::int64_t i = live; i < live + offline; ++i) {
        std::this_thread::sleep_until(outage_start + (i - live) * 300us); // the device's pace
        device::Status s = c.send_nowait(up::MeasurepointPost{sample(i)});
        INFO("post " << i << ": " << s.error().message());
        REQUIRE(s);
    }
    CHECK(c.stats().queue.depth == static_cast<std::size_t>(offline));
    h.start_broker();
    REQUIRE(eventually([&] { return c.connected(); })); // the client reconnects by itself
    REQUIRE(eventually([&] { return drained(c); }, 60s));

    const Stored s = wait_stored(h, "dev6", live + offline);
    const Audit a = audit(s);
    CHECK(a.distinct == static_cast<std::size_t>(live + offline));
    CHECK(a.in_order);
    CHECK(a.duplicates <= 1); // one outage boundary, and nothing was in flight when it began
    std::size_t resumed = 0, live_resumed = 0;
    for (std::size_t i = 0; i < s.order.size(); ++i) {
        if (s.order[i] >= live)
            resumed += s.resumed[i];
        else
            live_resumed += s.resumed[i];
    }
    CHECK(resumed >= static_cast<std::size_t>(offline));
    CHECK(live_resumed <= a.duplicates); // a live post is resumed only as the boundary's one resend
    const auto q = c.stats().queue;
    CHECK(q.delivered == static_cast<std::uint64_t>(live + offline));
    CHECK(q.replayed >= static_cast<std::uint64_t>(offline));
    CHECK(q.dropped == 0);
}

TEST_CASE("offline queue: 20 broker restarts under continuous posting lose nothing",
          "[integration][offline]") {
    // The callback form: a message leaves the queue only when the cloud answered it, so what a
    // stopped broker had acked but not yet passed on is sent again instead of being lost.
    HubProcess h = outage_hub();
    DeviceClient c = connected_client(outage_options(h, "dev7", "devSecret7"));
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> posted{0};
    std::atomic<bool> failed{false};
    std::atomic<std::int64_t> answered{0};
    std::mutex errors_mutex;
    std::vector<std::string> errors;
    std::thread poster([&] {
        while (!stop) {
            const std::int64_t seq = posted;
            c.send_async(up::MeasurepointPost{sample(seq)}, [&, seq](device::Result<device::Response> r) {
                if (!r) {
                    std::lock_guard lock(errors_mutex);
                    errors.push_back(std::to_string(seq) + ": " + r.error().message());
                }
                ++answered;
            });
            posted = seq + 1;
            std::this_thread::sleep_for(1ms); // a device's sampling pace, not synchronisation
        }
    });
    for (int cycle = 0; cycle < 20 && !failed; ++cycle) {
        const std::int64_t before = posted;
        REQUIRE(eventually([&] { return posted > before + 20; })); // posting while connected
        h.stop_broker();
        REQUIRE(eventually([&] { return !c.connected(); }));
        const std::int64_t down = posted;
        REQUIRE(eventually([&] { return posted > down + 20; })); // posting while down
        h.start_broker();
        REQUIRE(eventually([&] { return c.connected(); }));
    }
    stop = true;
    poster.join();
    REQUIRE_FALSE(failed);
    REQUIRE(eventually([&] { return answered == posted; }, 60s));
    {
        std::lock_guard lock(errors_mutex);
        INFO((errors.empty() ? std::string() : errors.front()));
        CHECK(errors.empty());
    }
    REQUIRE(drained(c));

    const std::size_t total = static_cast<std::size_t>(posted.load());
    const Stored s = wait_stored(h, "dev7", total);
    const Audit a = audit(s);
    CHECK(a.distinct == total);
    CHECK(a.in_order);
    const auto q = c.stats().queue;
    CHECK(q.delivered == total);
    CHECK(q.dropped == 0);
    // A copy in the store is always a message the client had to send again.
    CHECK(a.duplicates <= q.duplicates_sent);
    INFO("duplicates stored " << a.duplicates << ", resent " << q.duplicates_sent);
    SUCCEED();
}

TEST_CASE("offline queue: a client killed during an outage leaves every accepted message to its successor",
          "[integration][offline]") {
    HubProcess h = outage_hub();
    TempDir store;
    h.stop_broker();
    ClientOptions o = outage_options(h, "dev8", "devSecret8");
    o.offline_queue.store_directory = store.path() + "/queue";
    o.offline_queue.fsync = device::FsyncPolicy::every_message;

    int report[2];
    REQUIRE(::pipe(report) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // The child: queues until it is killed, reporting each accepted sequence number.
        ::close(report[0]);
        ClientOptions co = o;
        co.offline_queue.accept_before_connect = true;
        auto client = DeviceClient::create(co);
        if (!client) ::_exit(3);
        for (std::int64_t seq = 0;; ++seq) {
            if (!client->send_nowait(up::MeasurepointPost{sample(seq)})) ::_exit(4);
            const std::string line = std::to_string(seq) + "\n";
            if (::write(report[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(5);
        }
    }
    ::close(report[1]);
    std::int64_t accepted = -1;
    std::string pending;
    char buffer[4096];
    while (accepted < 300) {
        const ssize_t n = ::read(report[0], buffer, sizeof buffer);
        if (n <= 0) break;
        pending.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1))
            accepted = std::stoll(pending.substr(0, nl));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(report[0]);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(accepted >= 300);

    h.start_broker();
    DeviceClient c = connected_client(o);
    CHECK(c.stats().queue.recovered >= static_cast<std::uint64_t>(accepted + 1));
    REQUIRE(eventually([&] { return drained(c); }, 60s));
    const Stored s = wait_stored(h, "dev8", static_cast<std::size_t>(accepted + 1));
    std::set<std::int64_t> seen(s.order.begin(), s.order.end());
    for (std::int64_t seq = 0; seq <= accepted; ++seq) {
        INFO("sequence " << seq);
        CHECK(seen.count(seq) == 1);
    }
    CHECK(audit(s).in_order);
}

TEST_CASE("offline queue: each overflow policy drops exactly the expected messages and reports them",
          "[integration][offline]") {
    struct Case {
        OverflowPolicy policy;
        std::set<std::int64_t> kept, refused, dropped;
    };
    const std::vector<Case> cases = {
        {OverflowPolicy::reject_new, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14}, {}},
        {OverflowPolicy::drop_oldest, {5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, {}, {0, 1, 2, 3, 4}},
        {OverflowPolicy::drop_newest, {0, 1, 2, 3, 4, 5, 6, 7, 8, 14}, {}, {9, 10, 11, 12, 13}},
    };
    HubProcess h = outage_hub();
    const std::vector<std::pair<std::string, std::string>> devices = {
        {"dev1", "devSecret1"}, {"dev2", "devSecret2"}, {"dev3", "devSecret3"}};
    for (std::size_t k = 0; k < cases.size(); ++k) {
        const Case& expected = cases[k];
        const auto& [dk, secret] = devices[k];
        DYNAMIC_SECTION("policy " << k) {
            ClientOptions o = outage_options(h, dk, secret);
            o.offline_queue.max_messages = 10;
            o.offline_queue.overflow = expected.policy;
            DeviceClient c = connected_client(o);
            h.stop_broker();
            REQUIRE(eventually([&] { return !c.connected(); }));

            std::mutex mutex;
            std::map<std::int64_t, device::Result<device::Response>> outcomes;
            for (std::int64_t seq = 0; seq < 15; ++seq)
                c.send_async(up::MeasurepointPost{sample(seq)}, [&, seq](device::Result<device::Response> r) {
                    std::lock_guard lock(mutex);
                    outcomes.emplace(seq, std::move(r));
                });
            h.start_broker();
            REQUIRE(eventually([&] { return c.connected(); }));
            REQUIRE(eventually(
                [&] {
                    std::lock_guard lock(mutex);
                    return outcomes.size() == 15;
                },
                60s));

            std::set<std::int64_t> kept, refused, dropped;
            for (const auto& [seq, r] : outcomes) {
                if (r) {
                    kept.insert(seq);
                } else if (r.error() == device::errc::queue_full) {
                    refused.insert(seq);
                } else if (r.error() == device::errc::dropped_by_policy) {
                    dropped.insert(seq);
                    CHECK(r.error().detail.find("thing/measurepoint/post") != std::string::npos);
                } else {
                    FAIL("sequence " << seq << ": " << r.error().message());
                }
            }
            CHECK(kept == expected.kept);
            CHECK(refused == expected.refused);
            CHECK(dropped == expected.dropped);
            const auto q = c.stats().queue;
            CHECK(q.dropped == expected.dropped.size());
            CHECK(q.rejected == expected.refused.size());

            const Stored s = wait_stored(h, dk, expected.kept.size());
            CHECK(std::set<std::int64_t>(s.order.begin(), s.order.end()) == expected.kept);
        }
    }
}

} // namespace enos::test::client
