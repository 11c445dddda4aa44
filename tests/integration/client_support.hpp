// Helpers of the DeviceClient integration tests: a private enos-hub per test process (CTest runs
// each test case alone, so no other test ever talks to our devices), client options for a device
// of the test registry, a log sink that keeps every line, and waiting with a deadline.
#pragma once

#include "cloud_device.hpp"

#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/mqtt_probe.hpp"

#include <enos/device.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace enos::test::client {

using namespace std::chrono_literals;

/// This process's own hub (plain and TLS listeners, the test registry), started on first use.
inline const HubProcess& hub() {
    static HubProcess instance = [] {
        HubProcess::Options options;
        options.tls = true;
        return HubProcess::start(options);
    }();
    return instance;
}

/// Every log line of a client, for checks (e.g. that no secret is ever logged).
struct LogLines {
    std::mutex mutex;
    std::vector<std::string> lines;
    device::LogSink sink() {
        return [this](device::LogLevel level, std::string_view text) {
            std::lock_guard lock(mutex);
            lines.push_back(std::string(to_string(level)) + ": " + std::string(text));
        };
    }
    bool contains(std::string_view part) {
        std::lock_guard lock(mutex);
        for (const std::string& line : lines)
            if (line.find(part) != std::string::npos) return true;
        return false;
    }
    std::string all() {
        std::lock_guard lock(mutex);
        std::string out;
        for (const std::string& line : lines)
            out += line + "\n";
        return out;
    }
};

inline device::ClientOptions options_for(const HubProcess& h, const std::string& pk, const std::string& dk,
                                         const std::string& secret) {
    device::ClientOptions o;
    o.server_url = h.url();
    o.product_key = pk;
    o.device_key = dk;
    o.device_secret = secret;
    o.client_id = unique_client_id(dk);
    o.request_timeout = 15s;
    o.connect_timeout = 15s;
    // Outage tests reconnect within a second or two; the platform's rate rules stay on.
    o.reconnect_backoff.initial = 200ms;
    return o;
}

/// A connected client of pkTest/dev1 on this process's hub; REQUIREs success.
inline device::DeviceClient connected_client(device::ClientOptions options) {
    auto client = device::DeviceClient::create(std::move(options));
    INFO("create: " << client.error().message());
    REQUIRE(client);
    device::Status s = client->connect();
    INFO("connect: " << s.error().message());
    REQUIRE(s);
    return std::move(*client);
}

/// Waits for a condition another thread makes true (polling with a bound; never asserts on time).
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

/// The reply `enos-hub invoke|rrpc|...` printed, with the tool's exit code.
struct Injected {
    int exit_code = -1;
    device::Reply reply;
    std::string out, err;
};

inline Injected inject(const HubProcess& h, std::vector<std::string> args,
                       std::chrono::milliseconds timeout = 15s) {
    args.push_back("--timeout-ms");
    args.push_back(std::to_string(timeout.count()));
    const auto r = h.run(args);
    Injected out{r.exit_code, {}, r.out, r.err};
    if (auto reply = device::decode_reply(r.out)) out.reply = *reply;
    return out;
}

} // namespace enos::test::client
