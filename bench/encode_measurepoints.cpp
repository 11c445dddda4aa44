// Cost of encoding one thing.measurepoint.post with 10 points (int, float, string, bool, array,
// value+quality) into a reused buffer: nanoseconds per message (median of several runs) and heap
// allocations per message after warm-up, counted by replacing the global operator new. The reported
// time is the thread's CPU time, because on a shared machine the elapsed time mostly measures the
// other processes; the elapsed time is printed beside it.
//
// Bars: at most 1 µs per message, zero allocations per message.
#include <enos/device/core/payload.hpp>

#include "heap_counter.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

namespace {

using namespace enos::device;
using Clock = std::chrono::steady_clock;

Points ten_points() {
    return {
        {"temp", 21.5},
        {"pressure", 1013.25},
        {"rpm", 1480},
        {"count", std::int64_t{9876543210}},
        {"status", "running"},
        {"mode", "eco"},
        {"alarm", false},
        {"online", true},
        {"branchCurr", Value::array({1.02, 2.02, 7.93})},
        {"Power", Value::with_quality(36.8, 9)},
    };
}

struct Run {
    double cpu_ns_per_message;  ///< CPU time of this thread: what encoding costs
    double wall_ns_per_message; ///< elapsed time: includes time the scheduler gave to other processes
    double allocations_per_message;
};

double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

// Encodes `messages` payloads with a fresh id and time each, as a client would: one request filled in
// place, its time set per message.
Run run(up::MeasurepointPost& post, std::string& out, std::size_t messages, std::uint64_t& checksum) {
    char id[24];
    const std::uint64_t allocations_before = bench::heap::allocations.load(std::memory_order_relaxed);
    const double cpu_start = thread_cpu_ns();
    const auto start = Clock::now();
    for (std::size_t i = 0; i < messages; ++i) {
        const auto end = std::to_chars(id, id + sizeof id, i + 1).ptr;
        post.time_ms = std::int64_t{1700000000000} + static_cast<std::int64_t>(i);
        const Status s = encode(out, std::string_view(id, static_cast<std::size_t>(end - id)), post);
        if (!s) {
            std::fprintf(stderr, "encode failed: %s\n", s.error().message().c_str());
            std::exit(1);
        }
        checksum += out.size();
    }
    const auto elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    const double cpu = thread_cpu_ns() - cpu_start;
    const std::uint64_t allocated =
        bench::heap::allocations.load(std::memory_order_relaxed) - allocations_before;
    const auto n = static_cast<double>(messages);
    return {cpu / n, elapsed / n, static_cast<double>(allocated) / n};
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
    constexpr int repetitions = 9;

    // A counter that stayed at zero because it is not wired in would fake the result.
    const std::uint64_t probe = bench::heap::allocations.load();
    operator delete(operator new(64));
    if (bench::heap::allocations.load() == probe) {
        std::fprintf(stderr, "the allocation counter does not see operator new\n");
        return 1;
    }

    up::MeasurepointPost post{ten_points()};
    std::string out;
    std::uint64_t checksum = 0;
    const Run warm_up = run(post, out, 1000, checksum); // the buffer grows to its working size here

    std::vector<double> cpu, wall;
    double allocations_total = 0;
    for (int r = 0; r < repetitions; ++r) {
        const Run result = run(post, out, messages, checksum);
        cpu.push_back(result.cpu_ns_per_message);
        wall.push_back(result.wall_ns_per_message);
        allocations_total += result.allocations_per_message;
    }

    std::printf("payload (%zu bytes): %s\n", out.size(), out.c_str());
    std::printf("warm-up: %.0f allocations over 1000 messages (buffer growth)\n",
                warm_up.allocations_per_message * 1000);
    std::printf("%d runs x %zu messages, per message: CPU time min %.1f / median %.1f ns, "
                "elapsed min %.1f / median %.1f ns (checksum %llu)\n",
                repetitions, messages, *std::min_element(cpu.begin(), cpu.end()), median(cpu),
                *std::min_element(wall.begin(), wall.end()), median(wall),
                static_cast<unsigned long long>(checksum));
    std::printf("BENCH name=encode_measurepoint_post_10 sdk=%.1f paho=- unit=ns ratio=-\n", median(cpu));
    std::printf("BENCH name=encode_allocations_per_msg sdk=%g paho=- unit=count ratio=-\n",
                allocations_total / repetitions);
    return 0;
}
