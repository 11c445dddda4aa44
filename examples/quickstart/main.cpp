// Quickstart: connect a device to EnOS, post measure points every second, and answer the cloud's
// calls: the service "setPower" and RRPC requests.
//
//   quickstart --url tcp://127.0.0.1:11883 --product-key PK --device-key DK --device-secret S [--seconds N]
//
// Each option can also come from the environment (ENOS_URL, ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY,
// ENOS_DEVICE_SECRET), which keeps the secret out of the process list. Runs until Ctrl-C, or for N
// seconds with --seconds.
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

/// The value after `--name` on the command line, else the environment variable, else `fallback`.
std::string setting(int argc, char** argv, std::string_view name, const char* env,
                    std::string fallback = {}) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name) return argv[i + 1];
    if (const char* value = std::getenv(env)) return value;
    return fallback;
}

void log_to_stderr(LogLevel level, std::string_view message) {
    const auto name = to_string(level);
    std::fprintf(stderr, "[%.*s] %.*s\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(message.size()), message.data());
}

/// The service "setPower": {"power": "on"|"off"} -> {"result": 1}; anything else is refused with an
/// application error code (EnOS reserves the codes below 2000).
CommandReply set_power(const ServiceCall& call) {
    auto params = call.params();
    const Value* power = params ? params->find("power") : nullptr;
    if (!power || !power->is_string() || (power->as_string() != "on" && power->as_string() != "off"))
        return CommandReply::error(2001, "params must be {\"power\": \"on\" or \"off\"}");
    std::printf("service setPower: power %s\n", power->as_string().c_str());
    return CommandReply::ok(Value::object({{"result", 1}}));
}

/// RRPC: the cloud waits for this answer, so it should be quick. Here: echo the params back.
CommandReply answer_rrpc(const RrpcCall& call) {
    std::printf("rrpc %s (message %s): %s\n", call.method.c_str(), call.message_id.c_str(),
                call.params_json.c_str());
    return CommandReply::ok_json(call.params_json.empty() ? "{}" : call.params_json);
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // one line at a time, also when piped
    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "tcp://127.0.0.1:11883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    options.device_secret = setting(argc, argv, "--device-secret", "ENOS_DEVICE_SECRET");
    options.log_sink = log_to_stderr;
    options.log_level = LogLevel::warn;
    const int seconds = std::atoi(setting(argc, argv, "--seconds", "ENOS_QUICKSTART_SECONDS", "0").c_str());

    // create() checks the options (keys, secret, URL) without connecting.
    auto client = DeviceClient::create(options);
    if (!client) {
        std::fprintf(stderr, "cannot create the client: %s\n", client.error().message().c_str());
        return 2;
    }

    // Handlers run on the SDK's dispatcher thread, never on the MQTT library's; register them before
    // connecting so no command finds the device without an answer.
    client->on_service("setPower", set_power);
    client->on_rrpc(answer_rrpc);
    client->on_connection([](const ConnectionEvent& event) {
        std::printf("connection: %s%s%s\n", std::string(to_string(event.kind)).c_str(),
                    event.reason.code ? ": " : "", event.reason.code ? event.reason.message().c_str() : "");
    });

    if (Status connected = client->connect(); !connected) {
        std::fprintf(stderr, "cannot connect: %s\n", connected.error().message().c_str());
        return 3;
    }
    std::printf("connected to %s as %s/%s\n", options.server_url.c_str(), options.product_key.c_str(),
                options.device_key.c_str());

    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    const auto started = std::chrono::steady_clock::now();
    for (int tick = 0; !stop_requested; ++tick) {
        if (seconds > 0 && std::chrono::steady_clock::now() - started >= std::chrono::seconds(seconds)) break;
        // Blocking form: returns with the cloud's reply, or why there is none (timeout, code, ...).
        auto reply = client->send(
            up::MeasurepointPost{{{"temperature", 20.0 + (tick % 10) * 0.5}, {"status", "running"}}});
        if (reply)
            std::printf("posted measure points (reply id %s)\n", reply->id.c_str());
        else
            std::printf("post failed: %s\n", reply.error().message().c_str());
        for (int i = 0; i < 10 && !stop_requested; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }

    // disconnect() is bounded (ClientOptions::shutdown_timeout); the destructor would do it too.
    (void)client->disconnect();
    std::printf("stopped\n");
    return 0;
}
