// Offline queue and store: how fast messages are appended to a store directory (default fsync
// policy, fsync per message, no fsync), and what a message queued in memory costs on the heap beyond
// its topic and payload. Usage: store_append [directory for the stores, default $TMPDIR or /tmp]
#include "queue/offline_queue.hpp"

#include "heap_counter.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <malloc.h>
#include <new>
#include <string>
#include <vector>

#include <sys/statfs.h>
#include <unistd.h>

namespace {

using namespace enos::device;
using namespace enos::device::detail;
using Clock = std::chrono::steady_clock;

constexpr std::size_t payload_bytes = 200;
const std::string topic = "/sys/p1aBcDeF/dev-000123456789/thing/measurepoint/post";

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "store_append: %s\n", what.c_str());
    std::exit(1);
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::string payload_for(std::uint64_t n) {
    std::string payload =
        "{\"id\":\"" + std::to_string(n) + "\",\"version\":\"1.1\",\"params\":{\"measurepoints\":{";
    payload.resize(payload_bytes - 2, 'x');
    return payload + "}}";
}

/// Pushes `count` messages of 200 bytes; returns messages per second of the push loop.
double append_rate(const OfflineQueueOptions& options, std::uint64_t count) {
    auto queue = OfflineQueue::open(options);
    if (!queue) fail("open: " + queue.error().message());
    std::vector<std::string> payloads;
    payloads.reserve(count);
    std::vector<std::string> ids;
    ids.reserve(count);
    for (std::uint64_t n = 1; n <= count; ++n) {
        payloads.push_back(payload_for(n));
        ids.push_back(std::to_string(n));
    }
    const auto start = Clock::now();
    for (std::uint64_t n = 0; n < count; ++n) {
        OutboundMessage m;
        m.topic = topic;
        m.id = ids[n];
        m.payload = payloads[n];
        if (auto pushed = queue->push(m); !pushed) fail("push: " + pushed.error().message());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (queue->stats().depth != count) fail("the queue lost messages");
    return static_cast<double>(count) / seconds;
}

double store_rate(const std::string& base, FsyncPolicy fsync, std::uint64_t count, int repetitions) {
    std::vector<double> rates;
    for (int r = 0; r < repetitions; ++r) {
        OfflineQueueOptions options;
        options.store_directory = base + "/store-" + std::to_string(::getpid()) + "-" + std::to_string(r);
        options.fsync = fsync;
        options.max_messages = count + 1;
        options.max_bytes = std::size_t{1} << 30;
        rates.push_back(append_rate(options, count));
        std::filesystem::remove_all(options.store_directory);
    }
    return median(rates);
}

/// Heap bytes per message queued in memory, beyond its topic and payload.
double memory_overhead(std::uint64_t count) {
    std::vector<std::string> payloads, ids;
    for (std::uint64_t n = 1; n <= count; ++n) {
        payloads.push_back(payload_for(n));
        ids.push_back(std::to_string(n));
    }
    OfflineQueueOptions options;
    options.max_messages = count + 1;
    options.max_bytes = std::size_t{1} << 30;
    auto queue = OfflineQueue::open(options);
    if (!queue) fail("open: " + queue.error().message());
    const long long before = bench::heap::live_bytes.load();
    for (std::uint64_t n = 0; n < count; ++n) {
        OutboundMessage m;
        m.topic = topic;
        m.id = ids[n];
        m.payload = payloads[n];
        if (!queue->push(m)) fail("push to the memory queue failed");
    }
    const long long grown = bench::heap::live_bytes.load() - before;
    if (grown <= 0) fail("the heap counter saw no allocation: operator new is not replaced");
    return static_cast<double>(grown) / static_cast<double>(count) -
           static_cast<double>(topic.size() + payload_bytes);
}

void report(const char* name, double value, const char* unit) {
    std::printf("BENCH name=%s sdk=%.1f paho=- unit=%s ratio=-\n", name, value, unit);
}

} // namespace

int main(int argc, char** argv) {
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = argc > 1 ? argv[1] : (tmp && *tmp ? tmp : "/tmp");
    struct statfs fs {};
    if (::statfs(base.c_str(), &fs) != 0) fail("cannot stat " + base);
    std::printf("stores in %s (filesystem type 0x%lx), %zu-byte payloads, topic of %zu bytes\n", base.c_str(),
                static_cast<unsigned long>(fs.f_type), payload_bytes, topic.size());

    const double overhead = median({memory_overhead(100000), memory_overhead(100000), memory_overhead(100000),
                                    memory_overhead(100000), memory_overhead(100000)});
    std::printf("memory mode: %.1f heap bytes per queued message beyond topic and payload (bar <= 64)\n",
                overhead);

    const double interval = store_rate(base, FsyncPolicy::interval, 200000, 5);
    std::printf("store, fsync every 100 ms (default): %.0f messages/s, median of 5 x 200000 (bar >= 50000)\n",
                interval);
    const double never = store_rate(base, FsyncPolicy::never, 200000, 5);
    std::printf("store, no fsync: %.0f messages/s, median of 5 x 200000\n", never);
    const double every = store_rate(base, FsyncPolicy::every_message, 1000, 3);
    std::printf("store, fsync per message: %.0f messages/s, median of 3 x 1000\n", every);

    report("queue_memory_overhead", overhead, "bytes/msg");
    report("store_append_fsync_interval", interval, "msg/s");
    report("store_append_fsync_never", never, "msg/s");
    report("store_append_fsync_every_message", every, "msg/s");
    return overhead <= 64 && interval >= 50000 ? 0 : 2;
}
