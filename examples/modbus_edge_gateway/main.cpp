// modbus_edge_gateway: an edge gateway for devices that speak Modbus TCP instead of MQTT. It polls
// each Modbus endpoint of a mapping file on that endpoint's schedule, turns registers into measure
// points of the gateway's sub-devices, and posts every poll round as one batch through the
// gateway's own connection. A persistent offline queue keeps the rounds polled while the network is
// down and uploads them (through the resume topic) when it returns. Measure-point set commands for
// a sub-device write the mapped holding registers.
//
//   ENOS_DEVICE_SECRET=... modbus_edge_gateway --url tcp://127.0.0.1:11883 --product-key GWPK
//       --device-key GWDK --mapping mapping.json [--store DIR] [--local-hub]
//
// The gateway's own secret comes from ENOS_DEVICE_SECRET or --device-secret-file FILE, never from the
// command line (where `ps` shows it) nor from the mapping file; the sub-devices' secrets are named by
// the mapping file (README.md). Options may also come from the environment: ENOS_URL,
// ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY, ENOS_MODBUS_MAPPING, ENOS_STORE.
//
// stdout: JSON lines, one per poll round, {"event":"round","round":N,"time":MS,"online":B,"samples":S,
// "points":P,"failed":F}, and one per successful sub-device login, {"event":"login","subDevices":N};
// stderr: the log. Runs until SIGTERM or SIGINT.
#include "mapping.hpp"

#include <enos/device.hpp>

#include <modbus/modbus.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace enos::device;
using modbus_edge::EndpointMap;
using modbus_edge::Mapping;
using modbus_edge::PointMap;
using modbus_edge::RegisterKind;
using modbus_edge::SubDeviceMap;

namespace {

// Reply codes of measure-point set; EnOS leaves codes from 2000 to applications (PROTOCOL §4).
constexpr int code_unknown_sub_device = 2001;
constexpr int code_unknown_point = 2002;
constexpr int code_read_only = 2003;
constexpr int code_invalid_value = 2004;
constexpr int code_modbus_failed = 2005;

void log_line(std::string_view level, const std::string& text) {
    std::fprintf(stderr, "[%.*s] %s\n", static_cast<int>(level.size()), level.data(), text.c_str());
}

void log_sdk(LogLevel level, std::string_view message) {
    log_line(to_string(level), std::string(message));
}

std::string setting(int argc, char** argv, std::string_view name, const char* env,
                    std::string fallback = {}) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name) return argv[i + 1];
    if (const char* value = env ? std::getenv(env) : nullptr) return value;
    return fallback;
}

bool has_flag(int argc, char** argv, std::string_view name) {
    for (int i = 1; i < argc; ++i)
        if (argv[i] == name) return true;
    return false;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// One Modbus TCP endpoint. The poller and the measure-point set handler (on the SDK's dispatcher
/// thread) both use it, and a libmodbus context is not thread-safe: every use holds `mutex`.
class Endpoint {
public:
    explicit Endpoint(const EndpointMap& map) : map_(map) {}
    ~Endpoint() { close(); }
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    const EndpointMap& map() const { return map_; }
    bool connected() const { return ctx_ != nullptr; }
    std::mutex mutex;
    std::chrono::steady_clock::time_point next_poll{};

    /// Reads the words of `point`; false and `error` when it failed.
    bool read(const PointMap& point, std::uint16_t* words, std::string& error) {
        if (!connect(error)) {
            error = "reading " + describe(point) + ": " + error;
            return false;
        }
        const int n = point.kind == RegisterKind::holding
                          ? modbus_read_registers(ctx_, point.address, point.words(), words)
                          : modbus_read_input_registers(ctx_, point.address, point.words(), words);
        if (n == point.words()) return true;
        return failed("reading " + describe(point), error);
    }

    bool write(const PointMap& point, const std::vector<std::uint16_t>& words, std::string& error) {
        if (!connect(error)) {
            error = "writing " + describe(point) + ": " + error;
            return false;
        }
        // A single register goes with function 6, which every device supports; two with function 16,
        // so both halves of a 32-bit value change together.
        const int n =
            words.size() == 1
                ? modbus_write_register(ctx_, point.address, words[0])
                : modbus_write_registers(ctx_, point.address, static_cast<int>(words.size()), words.data());
        if (n == (words.size() == 1 ? 1 : static_cast<int>(words.size()))) return true;
        return failed("writing " + describe(point), error);
    }

private:
    static std::string describe(const PointMap& point) {
        return point.id + " (" + (point.kind == RegisterKind::holding ? "holding" : "input") + " register " +
               std::to_string(point.address) + ")";
    }

    bool connect(std::string& error) {
        if (ctx_ != nullptr) return true;
        ctx_ = modbus_new_tcp(map_.host.c_str(), map_.port);
        if (ctx_ == nullptr) {
            error = map_.name() + ": " + modbus_strerror(errno);
            return false;
        }
        modbus_set_slave(ctx_, map_.unit_id);
        const auto timeout_ms = map_.response_timeout.count();
        modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(timeout_ms / 1000),
                                    static_cast<std::uint32_t>(timeout_ms % 1000) * 1000);
        if (modbus_connect(ctx_) != 0) {
            error = "cannot connect to " + map_.name() + ": " + modbus_strerror(errno);
            close();
            return false;
        }
        return true;
    }

    /// A Modbus exception reply leaves the link usable; anything else (timeout, reset, a garbled
    /// frame) closes it, so the next use starts on a fresh connection.
    bool failed(const std::string& what, std::string& error) {
        const int e = errno;
        error = what + " at " + map_.name() + " failed: " + modbus_strerror(e);
        if (e < EMBXILFUN || e > EMBXGTAR) close();
        return false;
    }

    void close() {
        if (ctx_ == nullptr) return;
        modbus_close(ctx_);
        modbus_free(ctx_);
        ctx_ = nullptr;
    }

    const EndpointMap& map_;
    modbus_t* ctx_ = nullptr;
};

// --- Sub-device sessions -------------------------------------------------------------------------
// Logs every mapped sub-device in (batch logins) once; the client keeps the sessions: after every
// reconnect it logs them in again before the offline queue replays the rounds of the outage.
bool log_in_sub_devices(DeviceClient& client, const Mapping& mapping) {
    std::vector<SubDeviceSecret> devices;
    for (const EndpointMap& endpoint : mapping.endpoints)
        for (const SubDeviceMap& sub : endpoint.sub_devices)
            devices.push_back({sub.product_key, sub.device_key, sub.secret});
    const std::size_t count = devices.size();
    const Result<SubDeviceLoginReport> report = client.log_in_sub_devices(std::move(devices));
    if (!report) {
        log_line("error", "sub-device login failed: " + report.error().message());
        return false;
    }
    for (const SubDeviceLoginFailure& failure : report->failed)
        log_line("error", "sub-device " + failure.device.product_key + "/" + failure.device.device_key +
                              " was not logged in: " + failure.error.message());
    std::printf("{\"event\":\"login\",\"subDevices\":%zu,\"failed\":%zu}\n", count, report->failed.size());
    return true;
}

/// Binds the mapped sub-devices to this gateway (done once per start; binding again is harmless).
bool add_topology(DeviceClient& client, const Mapping& mapping) {
    up::TopoAdd topo;
    for (const EndpointMap& endpoint : mapping.endpoints)
        for (const SubDeviceMap& sub : endpoint.sub_devices) {
            SubDeviceCredentials credentials;
            credentials.product_key = sub.product_key;
            credentials.device_key = sub.device_key;
            credentials.secret = sub.secret;
            topo.devices.push_back(std::move(credentials));
        }
    const Result<Response> reply = client.send(topo);
    if (!reply) log_line("error", "topology add failed: " + reply.error().message());
    return reply.ok();
}

/// measure-point set for a sub-device: checks every point first, so a request with one unknown,
/// read-only or out-of-range point writes nothing; then writes the registers in the given order.
CommandReply set_measurepoints(std::vector<std::unique_ptr<Endpoint>>& endpoints, const Command& command) {
    const std::string device = command.product_key + "/" + command.device_key;
    Endpoint* endpoint = nullptr;
    const SubDeviceMap* sub = nullptr;
    for (auto& e : endpoints)
        for (const SubDeviceMap& s : e->map().sub_devices)
            if (s.product_key == command.product_key && s.device_key == command.device_key) {
                endpoint = e.get();
                sub = &s;
            }
    if (sub == nullptr)
        return CommandReply::error(code_unknown_sub_device,
                                   device + " is not a sub-device of the mapping file");

    const Result<Value> params = command.params();
    if (!params || !params->is_object())
        return CommandReply::error(code_invalid_value, "params must be an object of measure point -> value");
    std::vector<std::pair<const PointMap*, std::vector<std::uint16_t>>> writes;
    for (const auto& [id, value] : params->as_object()) {
        const PointMap* point = sub->find(id);
        if (point == nullptr)
            return CommandReply::error(code_unknown_point, "unknown measure point '" + id + "' of " + device);
        if (!point->writable)
            return CommandReply::error(code_read_only,
                                       "measure point '" + id + "' of " + device + " is read-only");
        std::string error;
        auto words = modbus_edge::encode_point(*point, value, error);
        if (!words) return CommandReply::error(code_invalid_value, error);
        writes.emplace_back(point, std::move(*words));
    }

    std::lock_guard lock(endpoint->mutex);
    std::string done;
    for (const auto& [point, words] : writes) {
        std::string error;
        if (!endpoint->write(*point, words, error)) {
            log_line("error", "measure-point set of " + device + ": " + error);
            return CommandReply::error(
                code_modbus_failed,
                error + (done.empty() ? "; nothing was written" : "; written before it:" + done));
        }
        done += " " + point->id;
    }
    log_line("info", "measure-point set of " + device + ":" + done);
    return CommandReply::ok();
}

/// Polls one endpoint: a sample per sub-device with the points that could be read. A point whose
/// read failed is left out of this round (and logged), rather than posted with a made-up value.
void poll_endpoint(Endpoint& endpoint, std::vector<MeasurePointSample>& samples, std::size_t& points,
                   std::size_t& failed) {
    std::lock_guard lock(endpoint.mutex);
    bool unreachable = false; // once the link failed, the rest of the round would only wait for timeouts
    for (const SubDeviceMap& sub : endpoint.map().sub_devices) {
        MeasurePointSample sample{sub.product_key, sub.device_key, {}, now_ms()};
        for (const PointMap& point : sub.points) {
            std::uint16_t words[2] = {0, 0};
            std::string error;
            if (!unreachable && endpoint.read(point, words, error)) {
                sample.points.emplace_back(point.id, modbus_edge::decode_point(point, words));
                ++points;
                continue;
            }
            ++failed;
            if (unreachable) continue;
            log_line("warning", sub.product_key + "/" + sub.device_key + ": " + error);
            unreachable = !endpoint.connected();
        }
        if (!sample.points.empty()) samples.push_back(std::move(sample));
    }
    if (unreachable)
        log_line("warning",
                 endpoint.map().name() + " is unreachable: the rest of its points skip this round");
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    // SIGTERM and SIGINT are taken by a thread of their own (sigwait), so that no other thread, the
    // SDK's included, is interrupted by them. Block them before any thread starts.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE,
                SIG_IGN); // a Modbus device that closed its socket is an error to report, not a reason to die

    const std::string mapping_path = setting(argc, argv, "--mapping", "ENOS_MODBUS_MAPPING");
    if (mapping_path.empty()) {
        log_line("error", "--mapping FILE is required (README.md describes the format)");
        return 2;
    }
    std::string error;
    const std::optional<Mapping> mapping = modbus_edge::load_mapping(mapping_path, error);
    if (!mapping) {
        log_line("error", error);
        return 2;
    }

    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "tcp://127.0.0.1:11883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    if (const char* secret = std::getenv("ENOS_DEVICE_SECRET")) options.device_secret = secret;
    if (const std::string file = setting(argc, argv, "--device-secret-file", nullptr); !file.empty()) {
        std::ifstream in(file);
        if (!in || !std::getline(in, options.device_secret) || options.device_secret.empty()) {
            log_line("error", "cannot read the gateway's secret from " + file);
            return 2;
        }
    }
    options.log_sink = log_sdk;
    options.log_level = LogLevel::info;
    // Rounds polled while the link is down wait here, on disk, and survive a restart of the gateway.
    options.offline_queue.store_directory =
        setting(argc, argv, "--store", "ENOS_STORE", "modbus-gateway-store");
    if (has_flag(argc, argv, "--local-hub")) {
        // A local enos-hub started with --no-connect-limit has no 4-connects-in-2-minutes rule, so
        // an outage can end in seconds (the platform needs the default back-off).
        options.reconnect_backoff.max = std::chrono::milliseconds(2000);
        options.reconnect_backoff.window_attempts = 1000;
    }

    // Declared before the client, so they outlive the handler that writes through them.
    std::vector<std::unique_ptr<Endpoint>> endpoints;
    for (const EndpointMap& map : mapping->endpoints)
        endpoints.push_back(std::make_unique<Endpoint>(map));

    auto client = DeviceClient::create(options);
    if (!client) {
        log_line("error", "cannot create the client: " + client.error().message());
        return 2;
    }

    std::mutex stop_mutex;
    std::condition_variable stop_changed;
    bool stop = false;
    std::thread signal_waiter([&] {
        int signal = 0;
        sigwait(&stop_signals, &signal);
        std::lock_guard lock(stop_mutex);
        stop = true;
        stop_changed.notify_all();
    });
    auto wait_until = [&](std::chrono::steady_clock::time_point when) {
        std::unique_lock lock(stop_mutex);
        return !stop_changed.wait_until(lock, when, [&] { return stop; });
    };

    client->on_command(CommandKind::measurepoint_set,
                       [&](const Command& command) { return set_measurepoints(endpoints, command); });
    client->on_sub_device_session([](const SubDeviceSessionEvent& event) {
        if (event.again)
            std::printf("{\"event\":\"relogin\",\"device\":\"%s/%s\",\"ok\":%s}\n",
                        event.device.product_key.c_str(), event.device.device_key.c_str(),
                        event.kind == SubDeviceSessionEventKind::logged_in ? "true" : "false");
    });

    // Polling starts once the gateway is connected and its sub-devices are bound to it: a round
    // that reached the cloud before the binding would be refused (and so lost). From then on every
    // round is kept through outages.
    bool ready = false, refused = false;
    while (!ready && !refused && wait_until(std::chrono::steady_clock::now())) {
        const Status connected = client->connect();
        if (connected && add_topology(*client, *mapping) && log_in_sub_devices(*client, *mapping)) {
            ready = true;
        } else if (!connected) {
            log_line("error", "connect failed: " + connected.error().message());
            refused = connected.error() == errc::bad_credentials || connected.error() == errc::not_authorized;
        }
        if (!ready && !refused) wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    }

    std::uint64_t round = 0;
    for (auto& e : endpoints)
        e->next_poll = std::chrono::steady_clock::now();
    while (ready) {
        const auto now = std::chrono::steady_clock::now();
        std::vector<MeasurePointSample> samples;
        std::size_t points = 0, failed = 0;
        bool polled = false;
        for (auto& e : endpoints) {
            if (e->next_poll > now) continue;
            poll_endpoint(*e, samples, points, failed);
            polled = true;
            // Rounds keep their rhythm; one that is overdue by a whole interval is skipped, not caught up.
            e->next_poll += e->map().poll_interval;
            if (e->next_poll <= now) e->next_poll = now + e->map().poll_interval;
        }
        if (polled) {
            const std::int64_t time = now_ms();
            const std::size_t sample_count = samples.size();
            if (!samples.empty()) {
                up::MeasurepointPostBatch batch;
                batch.samples = std::move(samples);
                client->send_async(batch, [round](Result<Response> reply) {
                    if (!reply)
                        log_line("error", "round " + std::to_string(round) +
                                              " was not accepted: " + reply.error().message());
                });
            }
            std::printf("{\"event\":\"round\",\"round\":%llu,\"time\":%lld,\"online\":%s,\"samples\":%zu,"
                        "\"points\":%zu,\"failed\":%zu}\n",
                        static_cast<unsigned long long>(round), static_cast<long long>(time),
                        client->connected() ? "true" : "false", sample_count, points, failed);
            ++round;
        }
        auto next = endpoints.front()->next_poll;
        for (auto& e : endpoints)
            next = std::min(next, e->next_poll);
        if (!wait_until(next)) break;
    }

    const QueueStats q = client->stats().queue;
    log_line("info",
             "stopping; " + std::to_string(q.depth) + " messages stay in the store for the next start");
    (void)client->disconnect();
    if (refused) pthread_kill(signal_waiter.native_handle(), SIGTERM); // no signal came: wake its thread
    signal_waiter.join();
    return refused ? 1 : 0;
}
