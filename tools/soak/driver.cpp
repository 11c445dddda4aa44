// The driver of the soak: starts the device behind a fault proxy to the hub's broker, injects random
// faults (cuts, stalls, delays, throttling, refused connects, broker restarts) and commands for the
// given time, samples the device's memory and descriptors, then checks the hub's store for every
// measure point and event the device accepted.
#include "soak.hpp"

#include "common/args.hpp"
#include "support/fault_proxy.hpp"
#include "support/process.hpp"

#include <enos/device/core/value.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <dirent.h>
#include <unistd.h>

namespace enos::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using test::FaultProxy;

struct RunOptions {
    std::string hub_dir, hub;
    std::string pk = "pkTest", dk = "dev9", secret = "devSecret9";
    double minutes = 10;
    double warmup_minutes = -1; ///< < 0: a fifth of the run, at least three minutes
    int sample_seconds = 5;
    int rate = 100;
    std::uint64_t seed = 0;
    std::string samples_file; ///< every sample as CSV, for a closer look
};

/// One look at the device process.
struct Sample {
    double minute = 0;
    long rss_kb = 0;
    long fds = 0;
    long heap_kb = 0;   ///< the device's own count of heap bytes in use
    bool quiet = false; ///< connected with no backlog: comparable with other quiet samples
};

std::string self_path() {
    char path[4096];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : "enos-soak";
}

long rss_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

long open_fds(pid_t pid) {
    DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (dir == nullptr) return -1;
    long count = 0;
    while (const dirent* entry = ::readdir(dir))
        count += entry->d_name[0] != '.';
    ::closedir(dir);
    return count;
}

class Hub {
public:
    Hub(std::string binary, std::string dir) : binary_(std::move(binary)), dir_(std::move(dir)) {}
    test::ProcessResult run(std::vector<std::string> args, milliseconds timeout = 60s) const {
        args.insert(args.begin(), binary_);
        args.insert(args.end(), {"--dir", dir_});
        return test::run_process(args, timeout);
    }
    /// The broker's plain port from hub.json.
    std::uint16_t port() const {
        std::ifstream in(dir_ + "/hub.json");
        std::stringstream text;
        text << in.rdbuf();
        auto doc = device::parse_value(text.str());
        const device::Value* port = doc ? doc->find("port") : nullptr;
        return port ? static_cast<std::uint16_t>(port->as_int()) : 0;
    }

private:
    std::string binary_, dir_;
};

void log_line(const std::string& text) {
    static std::mutex mutex;
    static const auto start = Clock::now();
    std::lock_guard lock(mutex);
    std::fprintf(stderr, "[%7.1f s] %s\n", std::chrono::duration<double>(Clock::now() - start).count(),
                 text.c_str());
}

/// Random faults, one at a time, each undone at its end.
class FaultSchedule {
public:
    FaultSchedule(FaultProxy& proxy, const Hub& hub, std::uint64_t seed)
        : proxy_(proxy), hub_(hub), rng_(seed) {}

    void run_one() { run(std::discrete_distribution<int>({2, 2, 2, 2, 1, 2})(rng_)); }
    /// Each fault once at its worst (longest, slowest), so that the device's memory reaches its
    /// high-water mark (the largest backlog) before the samples that are compared. The slowest
    /// throttle is not the one that builds the largest backlog in memory (runs showed a later
    /// 11.7 KB/s throttle outgrow the 2 KB/s one), so the warm-up also sweeps the throttle's range.
    void run_each_at_worst() {
        worst_ = true;
        for (int kind = 0; kind < 6; ++kind) {
            std::this_thread::sleep_for(5s);
            run(kind);
        }
        for (long rate : kThrottleSweep) {
            std::this_thread::sleep_for(5s);
            throttle(rate);
        }
        worst_ = false;
    }
    /// The throttle rates (bytes/s) the warm-up adds after the slowest one.
    static constexpr long kThrottleSweep[] = {5000, 8000, 11000, 14000, 17000, 20000};

    milliseconds pause() { return milliseconds(uniform(5000, 15000)); }
    std::string summary() const {
        const char* names[] = {"cut", "stall", "delay", "throttle", "refuse", "broker restart"};
        std::string out;
        for (int i = 0; i < 6; ++i)
            out += std::string(i ? ", " : "") + names[i] + " " + std::to_string(counts_[i]);
        return out;
    }

private:
    void run(int kind) {
        switch (kind) {
        case 0: cut(); break;
        case 1: stall(); break;
        case 2: delay(); break;
        case 3: throttle(); break;
        case 4: refuse(); break;
        default: restart_broker(); break;
        }
        ++counts_[kind];
    }
    long uniform(long low, long high) { return std::uniform_int_distribution<long>(low, high)(rng_); }
    /// A random value in [low, high], or `worst` during run_each_at_worst().
    long pick(long low, long high, long worst) { return worst_ ? worst : uniform(low, high); }

    void cut() {
        log_line("fault: cut");
        proxy_.cut();
    }
    void stall() {
        const milliseconds length(pick(1000, 5000, 5000));
        log_line("fault: stall for " + std::to_string(length.count()) + " ms");
        proxy_.set_mode(FaultProxy::Mode::stall);
        std::this_thread::sleep_for(length);
        proxy_.set_mode(FaultProxy::Mode::pass);
    }
    void delay() {
        const milliseconds latency(pick(20, 300, 300)), length(pick(3000, 10000, 10000));
        log_line("fault: delay " + std::to_string(latency.count()) + " ms for " +
                 std::to_string(length.count()) + " ms");
        proxy_.set_delay(latency);
        proxy_.set_mode(FaultProxy::Mode::delay);
        std::this_thread::sleep_for(length);
        proxy_.set_mode(FaultProxy::Mode::pass);
    }
    void throttle() { throttle(pick(2000, 50000, 2000)); }
    void throttle(long rate) {
        const milliseconds length(pick(3000, 10000, 10000));
        log_line("fault: throttle to " + std::to_string(rate) + " B/s for " + std::to_string(length.count()) +
                 " ms");
        proxy_.set_throttle(static_cast<std::size_t>(rate));
        proxy_.set_mode(FaultProxy::Mode::throttle);
        std::this_thread::sleep_for(length);
        proxy_.set_mode(FaultProxy::Mode::pass);
    }
    void refuse() {
        const milliseconds length(pick(1000, 4000, 4000));
        log_line("fault: cut and refuse connections for " + std::to_string(length.count()) + " ms");
        proxy_.refuse_new(true);
        proxy_.cut();
        std::this_thread::sleep_for(length);
        proxy_.refuse_new(false);
    }
    void restart_broker() {
        const milliseconds down(pick(1000, 5000, 5000));
        log_line("fault: broker down for " + std::to_string(down.count()) + " ms");
        // enos-hub stops the broker by the pid it recorded at start.
        if (auto r = hub_.run({"broker-stop"}); r.exit_code != 0) log_line("broker-stop failed: " + r.err);
        std::this_thread::sleep_for(down);
        if (auto r = hub_.run({"broker-start"}); r.exit_code != 0) log_line("broker-start failed: " + r.err);
    }

    FaultProxy& proxy_;
    const Hub& hub_;
    std::mt19937_64 rng_;
    bool worst_ = false;
    int counts_[6] = {};
};

/// The integers `field` holds in rows of `kind` stored for the device, one entry per row.
std::vector<std::int64_t>
stored_numbers(const Hub& hub, const RunOptions& o, const std::string& kind,
               const std::function<const device::Value*(const device::Value&)>& field) {
    const auto r = hub.run({"query", kind, "--pk", o.pk, "--dk", o.dk}, 300s);
    if (r.exit_code != 0) log_line("enos-hub query " + kind + " failed: " + r.err);
    std::vector<std::int64_t> numbers;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
        if (auto row = device::parse_value(line))
            if (const device::Value* v = field(*row); v && v->is_int()) numbers.push_back(v->as_int());
    return numbers;
}

/// Numbers in [0, count) missing from `stored`, and how many rows were copies.
struct Audit {
    std::int64_t missing = 0, duplicates = 0;
};

Audit audit(const std::vector<std::int64_t>& stored, std::int64_t count) {
    const std::set<std::int64_t> distinct(stored.begin(), stored.end());
    Audit a;
    for (std::int64_t i = 0; i < count; ++i)
        a.missing += distinct.count(i) == 0;
    a.duplicates = static_cast<std::int64_t>(stored.size() - distinct.size());
    return a;
}

struct Growth {
    double baseline = 0, final = 0, max = 0, percent = 0;
    double per_minute = 0; ///< least-squares slope over the compared samples
    std::size_t samples = 0;
};

double slope(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
    }
    const double d = n * sxx - sx * sx;
    return d > 0 ? (n * sxy - sx * sy) / d : 0;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[values.size() / 2];
}

/// Growth of a measure from the first to the last quiet samples after the warm-up (medians of five).
Growth growth(const std::vector<Sample>& samples, double warmup_minutes, long Sample::*measure) {
    std::vector<double> minutes, values;
    Growth g;
    for (const Sample& s : samples) {
        if (s.minute < warmup_minutes || !s.quiet) continue;
        minutes.push_back(s.minute);
        values.push_back(static_cast<double>(s.*measure));
        g.max = std::max(g.max, values.back());
    }
    g.samples = values.size();
    if (values.size() < 2) return g;
    const std::size_t n = std::min<std::size_t>(5, values.size() / 2);
    g.baseline = median({values.begin(), values.begin() + static_cast<std::ptrdiff_t>(n)});
    g.final = median({values.end() - static_cast<std::ptrdiff_t>(n), values.end()});
    g.percent = g.baseline > 0 ? 100.0 * (g.final - g.baseline) / g.baseline : 0;
    g.per_minute = slope(minutes, values);
    return g;
}

void write_samples(const std::string& path, const std::vector<Sample>& samples) {
    std::ofstream out(path);
    out << "minute,rss_kb,fds,heap_kb,quiet\n";
    for (const Sample& s : samples)
        out << s.minute << "," << s.rss_kb << "," << s.fds << "," << s.heap_kb << "," << (s.quiet ? 1 : 0)
            << "\n";
}

int usage(const std::string& error) {
    if (!error.empty()) std::cerr << "enos-soak run: " << error << "\n";
    std::cerr << "usage: enos-soak run --hub-dir DIR --hub ENOS_HUB [--minutes M] [--warmup-minutes W]\n"
                 "                     [--rate POSTS_PER_S] [--sample-seconds S] [--seed N]\n"
                 "                     [--pk PK --dk DK --secret SECRET] [--samples CSV_FILE]\n";
    return 2;
}

std::optional<RunOptions> parse_options(int argc, char** argv, int& exit_code) {
    auto args = tools::parse_command_line(
        tools::arguments_from(argc, argv, 1),
        {tools::valued("--hub-dir"), tools::valued("--hub"), tools::valued("--minutes"),
         tools::valued("--warmup-minutes"), tools::valued("--rate"), tools::valued("--sample-seconds"),
         tools::valued("--seed"), tools::valued("--pk"), tools::valued("--dk"), tools::valued("--secret"),
         tools::valued("--samples")});
    exit_code = 2;
    if (!args) return usage(args.error().detail), std::nullopt;
    RunOptions o;
    if (!args->value("--hub-dir") || !args->value("--hub"))
        return usage("--hub-dir and --hub are needed"), std::nullopt;
    o.hub_dir = *args->value("--hub-dir");
    o.hub = *args->value("--hub");
    o.pk = args->value("--pk").value_or(o.pk);
    o.dk = args->value("--dk").value_or(o.dk);
    o.secret = args->value("--secret").value_or(o.secret);
    o.samples_file = args->value("--samples").value_or("");
    try {
        if (auto m = args->value("--minutes")) o.minutes = std::stod(*m);
        if (auto w = args->value("--warmup-minutes")) o.warmup_minutes = std::stod(*w);
        if (auto s = args->value("--seed"))
            o.seed = std::stoull(*s);
        else
            o.seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
    } catch (const std::exception&) {
        return usage("--minutes, --warmup-minutes and --seed take numbers"), std::nullopt;
    }
    auto rate = tools::parse_integer(args->value("--rate").value_or("100"), "--rate", 1, 10000);
    auto sample =
        tools::parse_integer(args->value("--sample-seconds").value_or("5"), "--sample-seconds", 1, 600);
    if (!rate || !sample) return usage((rate ? sample : rate).error().detail), std::nullopt;
    o.rate = static_cast<int>(*rate);
    o.sample_seconds = static_cast<int>(*sample);
    // At least the fault sequence that starts the run (each fault at its worst, ~70 s).
    if (o.warmup_minutes < 0) o.warmup_minutes = std::max(3.0, o.minutes / 5);
    if (o.minutes <= o.warmup_minutes) return usage("the run must be longer than the warm-up"), std::nullopt;
    return o;
}

} // namespace

int run_main(int argc, char** argv) {
    int exit_code = 0;
    const std::optional<RunOptions> parsed = parse_options(argc, argv, exit_code);
    if (!parsed) return exit_code;
    const RunOptions& o = *parsed;
    const Hub hub(o.hub, o.hub_dir);
    const std::uint16_t broker_port = hub.port();
    if (broker_port == 0) return usage("no hub.json with a port in " + o.hub_dir);

    FaultProxy proxy(broker_port);
    log_line("seed " + std::to_string(o.seed) + "; broker on port " + std::to_string(broker_port) +
             ", proxy on " + std::to_string(proxy.port()));
    test::ChildProcess device =
        test::ChildProcess::spawn({self_path(), "device", "--url", proxy.url(), "--pk", o.pk, "--dk", o.dk,
                                   "--secret", o.secret, "--rate", std::to_string(o.rate)});
    const auto status = [&] { return last_status(device.out()).value_or(StatusLine{}); };
    for (auto deadline = Clock::now() + 90s; status()["connected"] != 1;) {
        if (Clock::now() > deadline || !device.running()) {
            std::cerr << "the device did not connect:\n" << device.err() << "\n";
            return 1;
        }
        std::this_thread::sleep_for(100ms);
    }

    const auto start = Clock::now();
    const auto end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.minutes * 60));
    std::atomic<bool> running{true};
    std::vector<Sample> samples;
    std::thread sampler([&] {
        for (auto next = start; running; next += std::chrono::seconds(o.sample_seconds)) {
            std::this_thread::sleep_until(next);
            StatusLine s = status();
            Sample sample{std::chrono::duration<double>(Clock::now() - start).count() / 60,
                          rss_kb(device.pid()), open_fds(device.pid()), static_cast<long>(s["heap_kb"]),
                          s["connected"] == 1 && s["depth"] <= 2 * o.rate};
            samples.push_back(sample);
        }
    });
    std::atomic<int> commands_ok{0}, commands_failed{0};
    std::thread injector([&] {
        while (running) {
            const auto r = hub.run(
                {"invoke", "--pk", o.pk, "--dk", o.dk, "--service", "soakPing", "--timeout-ms", "5000"}, 30s);
            ++(r.exit_code == 0 ? commands_ok : commands_failed);
            std::this_thread::sleep_for(3s);
        }
    });

    FaultSchedule faults(proxy, hub, o.seed);
    log_line("warm-up: every fault once at its worst");
    faults.run_each_at_worst();
    while (Clock::now() + 20s < end) {
        std::this_thread::sleep_for(faults.pause());
        faults.run_one();
        StatusLine s = status();
        log_line("device: posted " + std::to_string(s["posted"]) + ", queue " + std::to_string(s["depth"]) +
                 ", connects " + std::to_string(s["connects"]) + ", links lost " +
                 std::to_string(s["losses"]));
    }
    std::this_thread::sleep_until(end);
    running = false;
    sampler.join();
    injector.join();

    log_line("stopping the device; it waits until everything it accepted was answered");
    device.terminate();
    const std::optional<int> device_exit = device.wait_exit(300s);
    StatusLine last = status();
    if (last["final"] != 1) std::cerr << "the device did not finish cleanly:\n" << device.err() << "\n";

    const auto seqs =
        stored_numbers(hub, o, "measurepoints", [](const device::Value& row) -> const device::Value* {
            const device::Value* id = row.find("identifier");
            return id && id->as_string() == "seq" ? row.find("value") : nullptr;
        });
    const auto events =
        stored_numbers(hub, o, "events", [](const device::Value& row) -> const device::Value* {
            const device::Value* body = row.find("events");
            return body ? body->find("n") : nullptr;
        });
    const Audit posts = audit(seqs, last["posted"]);
    const Audit event_audit = audit(events, last["events_sent"]);
    if (!o.samples_file.empty()) write_samples(o.samples_file, samples);
    const Growth rss = growth(samples, o.warmup_minutes, &Sample::rss_kb);
    const Growth fds = growth(samples, o.warmup_minutes, &Sample::fds);
    const Growth heap = growth(samples, o.warmup_minutes, &Sample::heap_kb);

    std::printf("soak: %.1f min, seed %llu, faults: %s\n", o.minutes, static_cast<unsigned long long>(o.seed),
                faults.summary().c_str());
    std::printf("device: %lld connects, %lld links lost, %lld replayed, %lld resent as possible duplicates, "
                "%lld dropped\n",
                static_cast<long long>(last["connects"]), static_cast<long long>(last["losses"]),
                static_cast<long long>(last["replayed"]), static_cast<long long>(last["duplicates_sent"]),
                static_cast<long long>(last["dropped"]));
    std::printf("posts: %lld accepted, %lld answered ok, %lld failed; store: %zu rows, %lld missing, %lld "
                "duplicates\n",
                static_cast<long long>(last["posted"]), static_cast<long long>(last["posts_ok"]),
                static_cast<long long>(last["posts_failed"]), seqs.size(),
                static_cast<long long>(posts.missing), static_cast<long long>(posts.duplicates));
    std::printf("events: %lld sent, %lld answered ok, %lld failed; store: %lld missing, %lld duplicates\n",
                static_cast<long long>(last["events_sent"]), static_cast<long long>(last["events_ok"]),
                static_cast<long long>(last["events_failed"]), static_cast<long long>(event_audit.missing),
                static_cast<long long>(event_audit.duplicates));
    std::printf("questions: %lld answered, %lld failed (while offline); commands: %d answered, %d failed, "
                "%lld seen by the device\n",
                static_cast<long long>(last["requests_ok"]), static_cast<long long>(last["requests_failed"]),
                commands_ok.load(), commands_failed.load(), static_cast<long long>(last["commands"]));
    std::printf("after %.1f min of warm-up, %zu quiet samples: RSS %.0f -> %.0f kB (%+.2f %%, max %.0f, "
                "trend %+.1f kB/min), open fds %.0f -> %.0f (%+.2f %%, max %.0f)\n",
                o.warmup_minutes, rss.samples, rss.baseline, rss.final, rss.percent, rss.max, rss.per_minute,
                fds.baseline, fds.final, fds.percent, fds.max);
    std::printf("heap in use (the device's own count): %.0f -> %.0f kB (%+.2f %%, max %.0f, trend %+.1f "
                "kB/min)\n",
                heap.baseline, heap.final, heap.percent, heap.max, heap.per_minute);

    const bool ok = device_exit == 0 && last["settled"] == 1 && posts.missing == 0 &&
                    event_audit.missing == 0 && last["posts_failed"] == 0 && last["events_failed"] == 0 &&
                    rss.samples >= 2 && rss.percent < 1.0 && fds.percent < 1.0;
    std::printf("soak: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}

} // namespace enos::soak
