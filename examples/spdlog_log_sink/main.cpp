// spdlog log sink: routes the SDK's log lines into an spdlog logger through ClientOptions::log_sink.
// The SDK has no logging library of its own; any logger fits behind the one callback.
//
//   spdlog_log_sink --url tcp://127.0.0.1:11883 --product-key PK --device-key DK --device-secret S
//                   [--seconds N] [--level trace|debug|info|warn|error]
//
// Options may also come from the environment (ENOS_URL, ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY,
// ENOS_DEVICE_SECRET). Connects, stays connected for N seconds (default 5) or until Ctrl-C, and
// disconnects; everything the SDK reports along the way arrives in the logger.
#include <enos/device.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
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

spdlog::level::level_enum to_spdlog(LogLevel level) {
    switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

/// The SDK's filter follows the logger's, so that the SDK does not format lines spdlog would drop.
LogLevel from_spdlog(spdlog::level::level_enum level) {
    switch (level) {
    case spdlog::level::trace: return LogLevel::trace;
    case spdlog::level::debug: return LogLevel::debug;
    case spdlog::level::info: return LogLevel::info;
    case spdlog::level::warn: return LogLevel::warn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::error;
    default: return LogLevel::off;
    }
}

} // namespace

int main(int argc, char** argv) {
    // A thread-safe (_mt) logger: the SDK logs from several of its threads at once.
    auto logger = spdlog::stderr_color_mt("enos");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%n] [%^%l%$] [thread %t] %v");
    logger->set_level(spdlog::level::from_str(setting(argc, argv, "--level", nullptr, "debug")));

    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "tcp://127.0.0.1:11883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    options.device_secret = setting(argc, argv, "--device-secret", "ENOS_DEVICE_SECRET");
    options.log_level = from_spdlog(logger->level());
    // The sink holds the logger by shared_ptr, so it outlives every SDK thread that may call it.
    // The SDK never passes secrets to the sink.
    options.log_sink = [logger](LogLevel level, std::string_view message) {
        logger->log(to_spdlog(level), "{}", message);
    };
    const int seconds = std::atoi(setting(argc, argv, "--seconds", nullptr, "5").c_str());

    auto client = DeviceClient::create(options);
    if (!client) {
        logger->error("cannot create the client: {}", client.error().message());
        return 2;
    }
    if (Status connected = client->connect(); !connected) {
        logger->error("cannot connect: {}", connected.error().message());
        return 3;
    }
    logger->info("connected as {}/{}; staying for {} s", options.product_key, options.device_key, seconds);

    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!stop_requested && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));

    if (Status s = client->disconnect(); !s) logger->warn("disconnect: {}", s.error().message());
    logger->info("stopped");
    spdlog::shutdown();
    return 0;
}
