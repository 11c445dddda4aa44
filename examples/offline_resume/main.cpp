// offline_resume: a device that never loses a sample. It posts a measure point every --interval-ms
// with fire-and-forget calls; while the broker is unreachable the samples wait in a crash-safe
// store directory, and when the link returns they are uploaded, oldest first, through the resume
// topic (the cloud backfills history without firing live alerts). Kill it in the middle of an
// outage and start it again on the same --store: nothing accepted is lost.
//
//   offline_resume --url tcp://127.0.0.1:11883 --product-key PK --device-key DK --device-secret S
//                  --store DIR [--interval-ms 200] [--count N] [--local-hub]
//
// Options may also come from the environment (ENOS_URL, ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY,
// ENOS_DEVICE_SECRET, ENOS_STORE). Runs until Ctrl-C, or until N samples were posted and delivered.
#include <enos/device.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

using namespace enos::device;

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int) {
    stop_requested = true;
}

std::string setting(int argc, char** argv, std::string_view name, const char* env,
                    std::string fallback = {}) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name) return argv[i + 1];
    if (const char* value = env ? std::getenv(env) : nullptr) return value;
    return fallback;
}

void log_to_stderr(LogLevel level, std::string_view message) {
    const auto name = to_string(level);
    std::fprintf(stderr, "[%.*s] %.*s\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(message.size()), message.data());
}

void print_queue(const DeviceClient& client) {
    const QueueStats q = client.stats().queue;
    std::printf(
        "queue: depth %zu, accepted %llu, recovered %llu, delivered %llu, replayed %llu, dropped %llu\n",
        q.depth, static_cast<unsigned long long>(q.accepted), static_cast<unsigned long long>(q.recovered),
        static_cast<unsigned long long>(q.delivered), static_cast<unsigned long long>(q.replayed),
        static_cast<unsigned long long>(q.dropped));
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "tcp://127.0.0.1:11883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    options.device_secret = setting(argc, argv, "--device-secret", "ENOS_DEVICE_SECRET");
    options.log_sink = log_to_stderr;
    options.log_level = LogLevel::info;
    // A store directory makes the queue survive a crash; samples are fsynced every 100 ms by default.
    options.offline_queue.store_directory = setting(argc, argv, "--store", "ENOS_STORE", "offline-store");
    // Keep sampling even if the first connect fails (the hub may be down when the device boots).
    options.offline_queue.accept_before_connect = true;
    // The platform blocks a device that connects more than 4 times in 2 minutes, so the default
    // back-off spaces reconnects out. A local enos-hub started with --no-connect-limit has no such
    // rule: --local-hub retries at most every 2 s, so a short outage ends in seconds.
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--local-hub") {
            options.reconnect_backoff.max = std::chrono::milliseconds(2000);
            options.reconnect_backoff.window_attempts = 1000;
        }
    const auto interval =
        std::chrono::milliseconds(std::atoi(setting(argc, argv, "--interval-ms", nullptr, "200").c_str()));
    const long count = std::atol(setting(argc, argv, "--count", nullptr, "0").c_str());

    auto client = DeviceClient::create(options);
    if (!client) {
        // errc::store_locked here means another process uses the same --store.
        std::fprintf(stderr, "cannot create the client: %s\n", client.error().message().c_str());
        return 2;
    }
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    print_queue(*client);

    // Connect in the background until it works: samples queue meanwhile. Once connected, the client
    // reconnects by itself after every outage.
    std::thread connector([&] {
        while (!stop_requested) {
            Status s = client->connect();
            if (s) return;
            std::fprintf(stderr, "connect failed (%s); samples are queued, retrying\n",
                         s.error().message().c_str());
            if (s.error() == errc::bad_credentials || s.error() == errc::not_authorized) return;
            for (int i = 0; i < 20 && !stop_requested; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });

    long posted = 0;
    auto next = std::chrono::steady_clock::now();
    while (!stop_requested && (count == 0 || posted < count)) {
        Status s = client->send_nowait(
            up::MeasurepointPost{{{"temperature", 20.0 + static_cast<double>(posted % 100) / 10},
                                  {"sample", static_cast<std::int64_t>(posted)}}});
        if (!s) std::fprintf(stderr, "sample %ld refused: %s\n", posted, s.error().message().c_str());
        ++posted;
        if (posted % 25 == 0) {
            std::printf("posted %ld (%s) ", posted, client->connected() ? "online" : "offline");
            print_queue(*client);
        }
        next += interval;
        std::this_thread::sleep_until(next);
    }
    // With --count, wait (bounded) until everything is delivered before leaving.
    for (int i = 0; i < 600 && !stop_requested && client->stats().queue.depth > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop_requested = true;
    connector.join();
    print_queue(*client);
    return client->stats().queue.depth == 0 ? 0 : 1;
}
