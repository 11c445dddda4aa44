// Replay drain rate of the offline queue against the live rate, in one run against one enos-hub:
//   live:   N measure-point posts (callback form, QoS 1, each waiting for its reply) while connected;
//   replay: N posts queued while the broker is stopped, then the broker is started and the client
//           connects and sends the backlog.
// Both keep at most max_inflight (1000) requests in flight, the same window, and both are timed from
// the first reply to the last: what connecting costs (Paho sometimes adds 100 ms to it, see
// bench/README.md) is not part of the drain.
//
//   replay_drain [--messages N] [--repetitions R] [--hub PATH]
// Prints per repetition and then
//   BENCH name=replay_drain sdk=<msg/s> paho=- unit=msg/s ratio=-
//   BENCH name=replay_vs_live_qos1 sdk=<replay/live> paho=- unit=ratio ratio=-
#include "client_bench_common.hpp"

#include <enos/device.hpp>

#include <filesystem>

using namespace enos::device;
using bench::Clock;

namespace {

std::string option(int argc, char** argv, const std::string& name, std::string fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (name == argv[i]) return argv[i + 1];
    return fallback;
}

struct Hub {
    std::string binary, dir;
    void run(std::vector<std::string> args) const {
        args.insert(args.begin(), binary);
        args.push_back("--dir");
        args.push_back(dir);
        const bench::ProcessOutput r = bench::run_process(args, std::chrono::seconds(60));
        if (r.exit_code != 0) bench::fail("enos-hub " + args[1] + " failed");
    }
};

/// Counts completions; waits (bounded) until `target` of them arrived.
class Completions {
public:
    void add(bool ok) {
        const auto now = Clock::now();
        std::lock_guard lock(mutex_);
        if (++done_ == 1) first_ = now;
        last_ = now;
        failed_ += !ok;
        changed_.notify_all();
    }
    /// Completions per second between the first and the last one.
    double rate() {
        std::lock_guard lock(mutex_);
        const double seconds = std::chrono::duration<double>(last_ - first_).count();
        return done_ > 1 && seconds > 0 ? static_cast<double>(done_ - 1) / seconds : 0;
    }
    void wait_for(std::size_t target) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, std::chrono::minutes(2), [&] { return done_ >= target; }))
            bench::fail("requests did not complete in time");
    }
    std::size_t failed() {
        std::lock_guard lock(mutex_);
        return failed_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t done_ = 0, failed_ = 0;
    Clock::time_point first_, last_;
};

/// N callback posts with at most `window` outstanding; returns messages per second.
double live_rate(DeviceClient& client, std::size_t n, std::size_t window) {
    Completions done;
    for (std::size_t i = 0; i < n; ++i) {
        if (i >= window) done.wait_for(i - window + 1);
        client.send_async(up::MeasurepointPost{{{"v", Value(static_cast<std::int64_t>(i))}}},
                          [&](Result<Response> r) { done.add(static_cast<bool>(r)); });
    }
    done.wait_for(n);
    if (done.failed()) bench::fail(std::to_string(done.failed()) + " live posts failed");
    return done.rate();
}

double replay_rate(DeviceClient& client, const Hub& hub, std::size_t n) {
    hub.run({"broker-stop"});
    for (int i = 0; i < 5000 && client.connected(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    Completions done;
    for (std::size_t i = 0; i < n; ++i)
        client.send_async(up::MeasurepointPost{{{"v", Value(static_cast<std::int64_t>(i))}}},
                          [&](Result<Response> r) { done.add(static_cast<bool>(r)); });
    if (client.stats().queue.depth < n) bench::fail("the backlog was not queued");
    hub.run({"broker-start"});
    if (Status s = client.connect(); !s) bench::fail("reconnect: " + s.error().message());
    done.wait_for(n);
    if (done.failed()) bench::fail(std::to_string(done.failed()) + " replayed posts failed");
    return done.rate();
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t n = std::stoul(option(argc, argv, "--messages", "20000"));
    const int repetitions = std::stoi(option(argc, argv, "--repetitions", "3"));
    Hub hub;
    hub.binary =
        option(argc, argv, "--hub",
               bench::parent_dir(bench::parent_dir(bench::own_executable())) + "/tools/hub/enos-hub");
    char dir_template[] = "/tmp/replay-drain-XXXXXX";
    if (!mkdtemp(dir_template)) bench::fail("mkdtemp failed");
    hub.dir = dir_template;
    const std::string registry = hub.dir + "/registry.json";
    std::ofstream(registry) << bench::registry_json(1);
    hub.run({"start", "--port", "0", "--registry", registry, "--no-connect-limit", "--owner-pid",
             std::to_string(getpid())});
    const bench::HubInfo info = bench::HubInfo::load(hub.dir);

    ClientOptions options;
    options.server_url = info.url();
    options.product_key = bench::product_key;
    options.device_key = bench::device_key(0);
    options.device_secret = bench::device_secret(0);
    options.auto_reconnect = false; // the replay starts when this program says
    options.offline_queue.max_messages = n + 1;
    options.offline_queue.max_bytes = 256 * 1024 * 1024;
    auto client = DeviceClient::create(options);
    if (!client) bench::fail("create: " + client.error().message());
    if (Status s = client->connect(); !s) bench::fail("connect: " + s.error().message());
    const auto window = static_cast<std::size_t>(options.max_inflight);

    live_rate(*client, std::min<std::size_t>(n, 2000), window); // warm-up
    std::vector<double> live, replay, ratio;
    for (int r = 0; r < repetitions; ++r) {
        live.push_back(live_rate(*client, n, window));
        replay.push_back(replay_rate(*client, hub, n));
        ratio.push_back(replay.back() / live.back());
        std::printf("repetition %d: live %.0f msg/s, replay %.0f msg/s, ratio %.2f\n", r + 1, live.back(),
                    replay.back(), ratio.back());
    }
    std::printf("BENCH name=replay_drain sdk=%.0f paho=- unit=msg/s ratio=-\n", bench::median(replay));
    std::printf("BENCH name=live_qos1_callback sdk=%.0f paho=- unit=msg/s ratio=-\n", bench::median(live));
    std::printf("BENCH name=replay_vs_live_qos1 sdk=%.2f paho=- unit=ratio ratio=-\n", bench::median(ratio));
    (void)client->disconnect();
    hub.run({"stop"});
    std::filesystem::remove_all(hub.dir);
    return 0;
}
