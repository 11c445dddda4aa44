// DeviceClient side by side with a hand-written raw-Paho device, in one run against one enos-hub.
//
//   client_vs_paho [--reps N] [--hub PATH/enos-hub] [--only FIGURE] [--quick]
//
// Starts its own enos-hub on free ports (with a generated registry of benchmark devices), then for
// each repetition runs every workload once with the SDK and once with raw Paho, each in a fresh
// child process of this program (so neither side's sockets, threads or heap affect the other), and
// stops the hub at the end. Prints one line per figure:
//   BENCH name=<id> sdk=<median> paho=<median or -> unit=<unit> ratio=<sdk/paho or ->
// then a Markdown table with the spread (min..max over repetitions). Figures (see bench/README.md):
//   qos0_post_throughput       QoS 0 measure-point posts counted at a cloud-side subscriber
//   qos1_post_w1_throughput    QoS 1 posts, one awaiting its reply at a time (the SDK's blocking
//                              form; raw Paho publishes and waits for its callback)
//   qos1_post_w100_throughput  QoS 1 posts, 100 awaiting their replies at a time (callback form)
//   *_cpu                      CPU time of the worker process per message in the same run
//                              (for QoS 0 it includes the cloud-side subscriber)
//   rrpc_p50 / rrpc_p99        cloud -> device RRPC request -> response round trip
//   connect_p50                connect until able to send and receive commands (clients one after
//                              another in one process)
//   first_connect_p50          the same for the first connect of a fresh process
//   *connect_slow_pct          share of those connects that took more than 50 ms
//   idle_rss_delta             resident memory added by one connected, idle client
//   idle_heap_new / _malloc    heap bytes that client holds: from operator new / all of malloc
//   heap_new_per_pending       bytes from operator new per request awaiting its reply
//   heap_malloc_per_pending    all heap bytes (malloc, incl. Paho C) per request awaiting its reply
#include "client_bench_common.hpp"
#include "device_under_test.hpp"
#include "heap_counter.hpp"
#include "paho_device.hpp"

#include <enos/device/client/device_client.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <sys/resource.h>

namespace bench {
namespace {

namespace sdk = enos::device;

// ---- the SDK side ---------------------------------------------------------------------------------

class SdkDevice final : public DeviceUnderTest {
public:
    SdkDevice(const HubInfo& hub, int device_index) {
        sdk::ClientOptions options;
        options.server_url = hub.url();
        options.product_key = product_key;
        options.device_key = device_key(device_index);
        options.device_secret = device_secret(device_index);
        options.request_timeout = std::chrono::seconds(60);
        options.auto_reconnect = false;
        auto client = sdk::DeviceClient::create(std::move(options));
        if (!client) fail("DeviceClient::create: " + client.error().message());
        client_.emplace(std::move(*client));
    }

    double connect_seconds() override {
        const auto start = Clock::now();
        if (auto connected = client_->connect(); !connected) fail("connect: " + connected.error().message());
        return seconds_since(start);
    }

    void post_qos0(const sdk::Points& points, std::int64_t time_ms) override {
        sdk::SendOptions options;
        options.qos = 0;
        const auto& post = request(points, time_ms);
        for (;;) {
            auto sent = client_->send_nowait(post, options);
            if (sent) return;
            // Back-pressure: the transport is full for a moment; anything else is a real failure.
            if (sent.code() != sdk::errc::queue_full) fail("post (QoS 0): " + sent.error().message());
            std::this_thread::yield();
        }
    }

    void post_qos1(const sdk::Points& points, std::int64_t time_ms, Tally& tally) override {
        sdk::SendOptions options;
        options.qos = 1;
        client_->send_async(
            request(points, time_ms),
            [t = &tally](sdk::Result<sdk::Response> reply) { t->record(reply.ok()); }, options);
    }

    bool post_qos1_and_wait(const sdk::Points& points, std::int64_t time_ms, Tally& tally,
                            std::chrono::seconds patience) override {
        // One request at a time is what the blocking form is for: the reply wakes this thread directly.
        sdk::SendOptions options;
        options.qos = 1;
        options.timeout = patience;
        auto reply = client_->send(request(points, time_ms), options);
        if (!reply && reply.code() == sdk::errc::timeout) return false;
        tally.record(reply.ok());
        return true;
    }

    void answer_rrpc_by_echo() override {
        client_->on_rrpc([](const sdk::RrpcCall& call) {
            return sdk::CommandReply::ok_json(call.params_json.empty() ? "{}" : call.params_json);
        });
    }

    std::size_t pending() override { return client_->stats().pending_requests; }

private:
    // One request filled in place for every post, as firmware sampling into a request would; copying
    // the points into it reuses the member's storage.
    const sdk::up::MeasurepointPost& request(const sdk::Points& points, std::int64_t time_ms) {
        post_.points = points;
        post_.time_ms = time_ms;
        return post_;
    }

    std::optional<sdk::DeviceClient> client_;
    sdk::up::MeasurepointPost post_;
};

std::unique_ptr<DeviceUnderTest> make_device(const std::string& side, const HubInfo& hub, int index) {
    if (side == "sdk") return std::make_unique<SdkDevice>(hub, index);
    return std::make_unique<PahoDevice>(hub, index);
}

// ---- workloads (run in a worker process, one side each) --------------------------------------------

const sdk::Points& sample_points() {
    static const sdk::Points points{{"temperature", 21.5},
                                    {"pressure", 1013},
                                    {"status", "running"},
                                    {"power", sdk::Value::with_quality(3.25, 9)}};
    return points;
}
constexpr std::int64_t sample_time_ms = 1700000000123;

void result(const char* name, double value) {
    std::printf("RESULT %s=%.6g\n", name, value);
}

/// CPU time (user + system) this process has used so far, in microseconds: on a shared machine it
/// says what a message costs even when the elapsed time mostly measures the neighbours.
double process_cpu_us() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto us = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
    };
    return us(usage.ru_utime) + us(usage.ru_stime);
}

void qos0_throughput(const HubInfo& hub, const std::string& side, int index, int count) {
    Counter received;
    CloudClient cloud(hub, [&](const std::string&, const std::string&) { received.add(); });
    cloud.subscribe("/sys/" + std::string(product_key) + "/" + device_key(index) + "/thing/measurepoint/post",
                    0);
    auto device = make_device(side, hub, index);
    device->connect_seconds();
    const auto start = Clock::now();
    const double cpu_start = process_cpu_us();
    for (int i = 0; i < count; ++i)
        device->post_qos0(sample_points(), sample_time_ms);
    const bool all = received.wait_for_at_least(count, Clock::now() + std::chrono::seconds(30));
    const double elapsed = seconds_since(start);
    const double cpu = process_cpu_us() - cpu_start;
    if (!all)
        std::fprintf(stderr, "%s qos0: only %lld of %d arrived\n", side.c_str(),
                     static_cast<long long>(received.value()), count);
    result("qos0_post_throughput", static_cast<double>(received.value()) / elapsed);
    result("qos0_post_cpu", cpu / count);
}

void qos1_throughput(const HubInfo& hub, const std::string& side, int index, int count, int window,
                     double time_budget_s) {
    auto device = make_device(side, hub, index);
    device->connect_seconds();
    { // warm-up: the reply topic gets subscribed before the first request
        Tally warm;
        device->post_qos1(sample_points(), sample_time_ms, warm);
        if (!warm.done.wait_for_at_least(1, Clock::now() + std::chrono::seconds(10)))
            fail("warm-up reply missing");
    }
    Tally tally;
    const auto start = Clock::now();
    const double cpu_start = process_cpu_us();
    const auto budget_end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(time_budget_s));
    std::int64_t sent = 0;
    while (window == 1 && sent < count && Clock::now() < budget_end) {
        if (!device->post_qos1_and_wait(sample_points(), sample_time_ms, tally, std::chrono::seconds(30)))
            fail(side + " qos1: reply missing");
        ++sent;
    }
    while (window > 1 && sent < count && Clock::now() < budget_end) {
        if (sent - tally.done.value() >= window &&
            !tally.done.wait_for_at_least(sent - window + 1, Clock::now() + std::chrono::seconds(30)))
            fail(side + " qos1: replies stopped coming");
        device->post_qos1(sample_points(), sample_time_ms, tally);
        ++sent;
    }
    if (!tally.done.wait_for_at_least(sent, Clock::now() + std::chrono::seconds(30)))
        fail(side + " qos1: replies missing");
    const double elapsed = seconds_since(start);
    const double cpu = process_cpu_us() - cpu_start;
    if (tally.failed)
        std::fprintf(stderr, "%s qos1: %lld replies were not 200\n", side.c_str(),
                     static_cast<long long>(tally.failed.load()));
    result(window == 1 ? "qos1_post_w1_throughput" : "qos1_post_w100_throughput",
           static_cast<double>(sent) / elapsed);
    result(window == 1 ? "qos1_post_w1_cpu" : "qos1_post_w100_cpu", cpu / static_cast<double>(sent));
}

void rrpc_round_trip(const HubInfo& hub, const std::string& side, int index, int count,
                     double time_budget_s) {
    const std::string base = "/sys/" + std::string(product_key) + "/" + device_key(index) + "/rrpc/";
    std::atomic<std::int64_t> arrived_ns{0};
    Counter responses;
    CloudClient cloud(hub, [&](const std::string&, const std::string&) {
        arrived_ns = Clock::now().time_since_epoch().count();
        responses.add();
    });
    cloud.subscribe(base + "response/+", 1);
    auto device = make_device(side, hub, index);
    device->answer_rrpc_by_echo();
    device->connect_seconds();

    const int warmup = 20;
    std::vector<double> micros;
    const auto start = Clock::now();
    for (int i = 0; i < warmup + count; ++i) {
        if (i >= warmup && seconds_since(start) > time_budget_s) break;
        const std::string id = std::to_string(i + 1);
        const std::string request = R"({"id":")" + id +
                                    R"(","version":"1.0","method":"thing.service.echo","params":{"seq":)" +
                                    id + "}}";
        const auto sent = Clock::now();
        cloud.publish(base + "request/m" + id, request, 1);
        if (!responses.wait_for_at_least(i + 1, Clock::now() + std::chrono::seconds(5)))
            fail(side + " rrpc: no response to request " + id);
        if (i >= warmup)
            micros.push_back(static_cast<double>(arrived_ns.load() - sent.time_since_epoch().count()) /
                             1000.0);
    }
    result("rrpc_p50", percentile(micros, 50));
    result("rrpc_p99", percentile(micros, 99));
    result("rrpc_samples", static_cast<double>(micros.size()));
}

/// Connects one client after another in this process, each destroyed before the next one starts.
void connect_time(const HubInfo& hub, const std::string& side, int first_index, int count) {
    for (int i = 0; i < count; ++i) {
        auto device = make_device(side, hub, first_index + i);
        result("connect", device->connect_seconds() * 1000.0);
    }
}

/// The first connect of a fresh process, as when a device boots (the orchestrator runs many).
void first_connect_time(const HubInfo& hub, const std::string& side, int index) {
    auto device = make_device(side, hub, index);
    result("first_connect", device->connect_seconds() * 1000.0);
}

void idle_memory(const HubInfo& hub, const std::string& side, int index) {
    heap::counting = true;
    const long rss_before = rss_kib();
    const std::int64_t new_before = heap::live_bytes.load();
    const std::int64_t malloc_before = malloc_in_use();
    auto device = make_device(side, hub, index);
    device->connect_seconds();
    std::this_thread::sleep_for(std::chrono::seconds(1)); // idle: only keep-alive timers running
    result("idle_rss_delta", static_cast<double>(rss_kib() - rss_before));
    result("idle_heap_new", static_cast<double>(heap::live_bytes.load() - new_before));
    result("idle_heap_malloc", static_cast<double>(malloc_in_use() - malloc_before));
}

/// Requests stay pending because the hub's simulator is stopped (SIGSTOP) while they are sent; the
/// broker still acknowledges the publishes, so only the waiting for replies remains in memory.
void heap_per_pending(const HubInfo& hub, const std::string& side, int index, int count) {
    heap::counting = true;
    auto device = make_device(side, hub, index);
    device->connect_seconds();
    Tally warm;
    device->post_qos1(sample_points(), sample_time_ms, warm); // reply topic subscribed, pools warmed
    if (!warm.done.wait_for_at_least(1, Clock::now() + std::chrono::seconds(10)))
        fail("warm-up reply missing");
    if (kill(hub.simulator_pid, SIGSTOP) != 0) fail("cannot pause the simulator");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::int64_t new_before = heap::live_bytes.load();
    const std::int64_t malloc_before = malloc_in_use();
    Tally tally;
    for (int i = 0; i < count; ++i)
        device->post_qos1(sample_points(), sample_time_ms, tally);
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // let every PUBACK arrive
    const std::int64_t new_after = heap::live_bytes.load();
    const std::int64_t malloc_after = malloc_in_use();
    const std::size_t still_pending = device->pending();
    kill(hub.simulator_pid, SIGCONT);
    if (still_pending < static_cast<std::size_t>(count))
        std::fprintf(stderr, "%s heap: only %zu of %d requests were pending\n", side.c_str(), still_pending,
                     count);
    result("heap_new_per_pending", static_cast<double>(new_after - new_before) / count);
    result("heap_malloc_per_pending", static_cast<double>(malloc_after - malloc_before) / count);
    tally.done.wait_for_at_least(count, Clock::now() + std::chrono::seconds(20));
}

struct WorkerArgs {
    std::string figure, side, hub_dir;
    int device = 0, count = 0, window = 1;
    double budget_s = 5;
};

int run_worker(const WorkerArgs& w) {
    const HubInfo hub = HubInfo::load(w.hub_dir);
    if (w.figure == "qos0")
        qos0_throughput(hub, w.side, w.device, w.count);
    else if (w.figure == "qos1")
        qos1_throughput(hub, w.side, w.device, w.count, w.window, w.budget_s);
    else if (w.figure == "rrpc")
        rrpc_round_trip(hub, w.side, w.device, w.count, w.budget_s);
    else if (w.figure == "connect")
        connect_time(hub, w.side, w.device, w.count);
    else if (w.figure == "first_connect")
        first_connect_time(hub, w.side, w.device);
    else if (w.figure == "rss")
        idle_memory(hub, w.side, w.device);
    else if (w.figure == "heap")
        heap_per_pending(hub, w.side, w.device, w.count);
    else
        fail("unknown figure " + w.figure);
    std::fflush(stdout);
    return 0;
}

// ---- the orchestrator -----------------------------------------------------------------------------

struct FigureSpec {
    const char* name;
    const char* unit;
    bool higher_is_better;
};

constexpr FigureSpec figure_specs[] = {
    {"qos0_post_throughput", "msg/s", true},
    {"qos1_post_w1_throughput", "msg/s", true},
    {"qos1_post_w100_throughput", "msg/s", true},
    {"qos0_post_cpu", "us/msg", false},
    {"qos1_post_w1_cpu", "us/msg", false},
    {"qos1_post_w100_cpu", "us/msg", false},
    {"rrpc_p50", "us", false},
    {"rrpc_p99", "us", false},
    {"connect_p50", "ms", false},
    {"first_connect_p50", "ms", false},
    {"connect_slow_pct", "%", false},
    {"first_connect_slow_pct", "%", false},
    {"idle_rss_delta", "KiB", false},
    {"idle_heap_new", "bytes", false},
    {"idle_heap_malloc", "bytes", false},
    {"heap_new_per_pending", "bytes", false},
    {"heap_malloc_per_pending", "bytes", false},
};

/// Paho's connects take either ~10 ms or ~110 ms (its receive thread sleeps 100 ms when idle).
constexpr double slow_connect_ms = 50;

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) {
    interrupted = true;
}

struct Workload {
    std::string figure;
    int count = 0, window = 1, devices = 1;
    double budget_s = 5;
    int processes = 1; ///< worker processes per side and repetition (each its own sample)
};

struct Samples {
    std::map<std::string, std::map<std::string, std::vector<double>>> values; // name -> side -> reps
    void add(const std::string& name, const std::string& side, double v) { values[name][side].push_back(v); }
};

/// The 1-minute load average: the machine is shared, so every report says how busy it was.
std::string load_average() {
    const std::string text = read_file("/proc/loadavg");
    return text.substr(0, text.find(' '));
}

std::string format_value(double v) {
    if (std::isnan(v)) return "-";
    char text[64];
    if (std::fabs(v) >= 100)
        std::snprintf(text, sizeof text, "%.0f", v);
    else
        std::snprintf(text, sizeof text, "%.3g", v);
    return text;
}

int run_orchestrator(int reps, const std::string& hub_binary, const std::string& only, bool quick) {
    const int scale = quick ? 5 : 1;
    std::vector<Workload> workloads = {
        {"qos0", 100000 / scale, 1, 1, 0},
        {"qos1", 20000 / scale, 1, 1, quick ? 1.0 : 3.0},
        {"qos1", 100000 / scale, 100, 1, 30},
        {"rrpc", 2000 / scale, 1, 1, quick ? 2.0 : 5.0},
        {"connect", 20 / (quick ? 2 : 1), 1, 20 / (quick ? 2 : 1), 0},
        {"first_connect", 1, 1, 1, 0, quick ? 3 : 6},
        {"rss", 0, 1, 1, 0},
        {"heap", 1000, 1, 1, 0},
    };
    if (!only.empty()) {
        std::vector<Workload> chosen;
        for (const auto& w : workloads)
            if (w.figure == only) chosen.push_back(w);
        if (chosen.empty()) fail("--only: no workload named " + only);
        workloads = chosen;
    }
    int devices_per_rep = 0;
    for (const auto& w : workloads)
        devices_per_rep += 2 * w.devices * w.processes;

    namespace fs = std::filesystem;
    char dir_template[] = "/tmp/enos-bench-XXXXXX";
    if (!mkdtemp(dir_template)) fail("mkdtemp failed");
    const std::string work_dir = dir_template;
    const std::string hub_dir = work_dir + "/hub";
    const std::string registry = work_dir + "/registry.json";
    std::ofstream(registry) << registry_json(devices_per_rep * reps);

    auto started = run_process({hub_binary, "start", "--registry", registry, "--port", "0", "--dir", hub_dir},
                               std::chrono::seconds(60));
    if (started.exit_code != 0) {
        run_process({hub_binary, "stop", "--dir", hub_dir}, std::chrono::seconds(60));
        fail("enos-hub start failed:\n" + started.out);
    }
    const HubInfo hub = HubInfo::load(hub_dir);
    const std::string load_before = load_average();
    std::fprintf(stderr, "enos-hub on port %d (run dir %s), %d repetitions\n", hub.port, hub_dir.c_str(),
                 reps);

    const std::string self = own_executable();
    auto worker_argv = [&](const Workload& w, const char* side, int device) {
        return std::vector<std::string>{self,
                                        "--worker",
                                        w.figure,
                                        "--side",
                                        side,
                                        "--hub-dir",
                                        hub_dir,
                                        "--device",
                                        std::to_string(device),
                                        "--count",
                                        std::to_string(w.count),
                                        "--window",
                                        std::to_string(w.window),
                                        "--budget",
                                        std::to_string(w.budget_s)};
    };
    // Ctrl-C also reaches the running worker (same process group); the hub is stopped either way.
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    Samples samples;
    int next_device = 0;
    for (int rep = 0; rep < reps; ++rep) {
        for (const auto& w : workloads) {
            // Alternate which side goes first, so slow drift of the machine favours neither.
            const char* order[2] = {"sdk", "paho"};
            if (rep % 2) std::swap(order[0], order[1]);
            for (int process = 0; process < w.processes; ++process)
                for (const char* side : order) {
                    if (interrupted) break;
                    auto out = run_process(worker_argv(w, side, next_device), std::chrono::seconds(180));
                    next_device += w.devices;
                    if (w.figure == "heap")
                        kill(hub.simulator_pid, SIGCONT); // in case the worker died paused
                    if (out.exit_code != 0) {
                        std::fprintf(stderr, "worker %s/%s failed (exit %d)\n", w.figure.c_str(), side,
                                     out.exit_code);
                        continue;
                    }
                    std::istringstream lines(out.out);
                    std::string line;
                    while (std::getline(lines, line)) {
                        if (line.rfind("RESULT ", 0) != 0) continue;
                        const auto eq = line.find('=');
                        std::string name = line.substr(7, eq - 7);
                        // Connect times are pooled over all repetitions: they are bimodal (see README).
                        if (name == "connect" || name == "first_connect") name += "_p50";
                        samples.add(name, side, std::strtod(line.c_str() + eq + 1, nullptr));
                    }
                }
        }
        if (interrupted) {
            std::fprintf(stderr, "interrupted: stopping the hub\n");
            break;
        }
        std::fprintf(stderr, "repetition %d of %d done\n", rep + 1, reps);
    }

    run_process({hub_binary, "stop", "--dir", hub_dir}, std::chrono::seconds(60));
    for (const char* figure : {"connect_p50", "first_connect_p50"}) {
        auto pools = samples.values.find(figure);
        if (pools == samples.values.end()) continue;
        for (const auto& [side, pool] : pools->second) {
            const auto slow =
                std::count_if(pool.begin(), pool.end(), [](double ms) { return ms > slow_connect_ms; });
            samples.add(std::string(figure) == "connect_p50" ? "connect_slow_pct" : "first_connect_slow_pct",
                        side, 100.0 * static_cast<double>(slow) / static_cast<double>(pool.size()));
        }
    }
    std::error_code ignored;
    fs::remove_all(work_dir, ignored);

    std::string table = "| figure | unit | SDK median [min..max] | raw Paho median [min..max] | SDK/Paho |\n"
                        "|---|---|---|---|---|\n";
    for (const auto& spec : figure_specs) {
        auto it = samples.values.find(spec.name);
        if (it == samples.values.end()) continue;
        auto summary = [&](const char* side) -> std::tuple<double, double, double> {
            auto s = it->second.find(side);
            if (s == it->second.end() || s->second.empty()) return {std::nan(""), std::nan(""), std::nan("")};
            auto [lo, hi] = std::minmax_element(s->second.begin(), s->second.end());
            return {median(s->second), *lo, *hi};
        };
        auto [sdk_median, sdk_min, sdk_max] = summary("sdk");
        auto [paho_median, paho_min, paho_max] = summary("paho");
        const double ratio = sdk_median / paho_median;
        std::printf("BENCH name=%s sdk=%s paho=%s unit=%s ratio=%s\n", spec.name,
                    format_value(sdk_median).c_str(), format_value(paho_median).c_str(), spec.unit,
                    std::isnan(ratio) || std::isinf(ratio) ? "-" : format_value(ratio).c_str());
        table += "| " + std::string(spec.name) + " | " + spec.unit + " | " + format_value(sdk_median) + " [" +
                 format_value(sdk_min) + ".." + format_value(sdk_max) + "] | " + format_value(paho_median) +
                 " [" + format_value(paho_min) + ".." + format_value(paho_max) + "] | " +
                 (std::isnan(ratio) || std::isinf(ratio) ? "-" : format_value(ratio)) + " |\n";
    }
    std::printf("\n%s\nload average (1 min) at start %s, at end %s; %d repetitions\n", table.c_str(),
                load_before.c_str(), load_average().c_str(), reps);
    return 0;
}

std::string default_hub_binary() {
    if (const char* env = std::getenv("ENOS_HUB_BINARY")) return env;
    // <build>/bench/client_vs_paho -> <build>/tools/hub/enos-hub
    return parent_dir(parent_dir(own_executable())) + "/tools/hub/enos-hub";
}

} // namespace
} // namespace bench

int main(int argc, char** argv) {
    using namespace bench;
    heap::counting = false; // on only while the heap figures are measured
    std::vector<std::string> args(argv + 1, argv + argc);
    auto value_of = [&](const std::string& name, const std::string& fallback) {
        for (std::size_t i = 0; i + 1 < args.size(); ++i)
            if (args[i] == name) return args[i + 1];
        return fallback;
    };
    auto has = [&](const std::string& name) {
        return std::find(args.begin(), args.end(), name) != args.end();
    };
    try {
        if (has("--worker")) {
            WorkerArgs w;
            w.figure = value_of("--worker", "");
            w.side = value_of("--side", "sdk");
            w.hub_dir = value_of("--hub-dir", "");
            w.device = std::stoi(value_of("--device", "0"));
            w.count = std::stoi(value_of("--count", "0"));
            w.window = std::stoi(value_of("--window", "1"));
            w.budget_s = std::stod(value_of("--budget", "5"));
            return run_worker(w);
        }
        if (has("--help")) {
            std::puts("client_vs_paho [--reps N] [--hub PATH/enos-hub] [--only "
                      "qos0|qos1|rrpc|connect|rss|heap] [--quick]");
            return 0;
        }
        return run_orchestrator(std::stoi(value_of("--reps", "5")), value_of("--hub", default_hub_binary()),
                                value_of("--only", ""), has("--quick"));
    } catch (const std::exception& e) {
        fail(std::string("unexpected exception: ") + e.what());
    }
}
