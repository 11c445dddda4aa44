// A gateway with many sub-devices, against one enos-hub started for the run.
//
//   gateway_scale [--sub-devices 10000] [--posting 1000] [--seconds 5] [--window 100]
//                 [--hub PATH/enos-hub]
//
// One gateway (a DeviceClient) registers N sub-devices at runtime (thing.device.register, 1000 per
// request), binds them (thing.topo.add, 1000 per request), logs them all in
// (DeviceClient::log_in_sub_devices: batch logins of limits::max_batch_login and their command-topic
// subscriptions) and posts one measure point for every one of them in batch posts of 1000 samples.
// Then the first P sub-devices post measure points through the gateway (SubDevice::send_async,
// round robin, `window` replies awaited at a time) and a direct device does the same on its own
// connection, one after the other in this run. Prints one line per figure:
//   BENCH name=<id> sdk=<value> paho=- unit=<unit> ratio=-
//   gateway_register_10k, gateway_topo_add_10k,    seconds for each phase over all N sub-devices
//   gateway_login_10k, gateway_batch_post_10k
//   gateway_heap_per_sub_device    heap bytes (all of malloc, Paho C included) the client holds per
//                                  logged-in sub-device: growth from 0 to N, divided by N
//   gateway_post_sub_devices       replied posts per second through the gateway for P sub-devices
//   direct_post_same_window        the same workload from one direct device
//   gateway_vs_direct_post         their ratio
// A phase that fails (a cloud error, a sub-device not logged in) ends the program with exit code 1.
#include "client_bench_common.hpp"

#include <enos/device/client/device_client.hpp>
#include <enos/device/client/sub_device.hpp>

#include <filesystem>

namespace bench {
namespace {

namespace sdk = enos::device;

constexpr const char* gateway_product = "pkGwBench";
constexpr const char* sub_product = "pkSubBench";
constexpr std::size_t per_request = 1000; // register and topo add allow 1000; 1000 samples ~ 80 KB

struct OwnedHub {
    std::string binary, run_dir, temp_dir;
    ~OwnedHub() {
        if (!run_dir.empty()) run_process({binary, "stop", "--dir", run_dir}, std::chrono::seconds(60));
        if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
    }
};

std::string registry() {
    return std::string(R"({"products":[{"productKey":"pkBench","productSecret":"benchProductSecret"},)") +
           R"({"productKey":"pkGwBench","productSecret":"gwBenchProductSecret"},)" +
           R"({"productKey":"pkSubBench","productSecret":"subBenchProductSecret"}],"devices":[)" +
           R"({"productKey":"pkBench","deviceKey":"bench0","deviceSecret":"benchSecret0"},)" +
           R"({"productKey":"pkGwBench","deviceKey":"gw0","deviceSecret":"gwBenchSecret0","gateway":true}]})";
}

sdk::DeviceClient connect(const HubInfo& hub, const std::string& pk, const std::string& dk,
                          const std::string& secret) {
    sdk::ClientOptions options;
    options.server_url = hub.url();
    options.product_key = pk;
    options.device_key = dk;
    options.device_secret = secret;
    options.request_timeout = std::chrono::seconds(120);
    options.auto_reconnect = false;
    auto client = sdk::DeviceClient::create(std::move(options));
    if (!client) fail("DeviceClient::create: " + client.error().message());
    if (sdk::Status s = client->connect(); !s) fail("connect " + dk + ": " + s.error().message());
    return std::move(*client);
}

template <class Request> sdk::Response must_send(sdk::DeviceClient& client, const Request& request, const char* what) {
    sdk::Result<sdk::Response> reply = client.send(request);
    if (!reply) fail(std::string(what) + ": " + reply.error().message());
    return std::move(*reply);
}

/// Replied posts per second: `post(i)` sends the i-th post and calls `done` once it is answered;
/// `window` are awaited at a time for `seconds`.
double replied_rate(int window, int seconds,
                    const std::function<void(std::uint64_t, std::function<void(bool)>)>& post) {
    std::mutex mutex;
    std::condition_variable changed;
    std::uint64_t sent = 0, replied = 0, failed = 0;
    std::function<void(bool)> done = [&](bool ok) {
        std::lock_guard lock(mutex);
        ++(ok ? replied : failed);
        changed.notify_all();
    };
    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    std::unique_lock lock(mutex);
    while (Clock::now() < end) {
        while (sent - replied - failed < static_cast<std::uint64_t>(window)) {
            const std::uint64_t i = sent++;
            lock.unlock();
            post(i, done);
            lock.lock();
        }
        changed.wait_until(lock, end, [&] { return sent - replied - failed < static_cast<std::uint64_t>(window); });
    }
    const double elapsed = seconds_since(start);
    const std::uint64_t counted = replied;
    changed.wait_for(lock, std::chrono::seconds(120), [&] { return replied + failed == sent; });
    if (failed != 0) fail(std::to_string(failed) + " posts failed");
    return static_cast<double>(counted) / elapsed;
}

void figure(const char* name, double value, const char* unit) {
    std::printf("BENCH name=%s sdk=%.6g paho=- unit=%s ratio=-\n", name, value, unit);
    std::fflush(stdout);
}

int run(int argc, char** argv) {
    std::size_t sub_devices = 10000, posting = 1000;
    int seconds = 5, window = 100;
    std::string hub_binary = parent_dir(parent_dir(own_executable())) + "/tools/hub/enos-hub";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string name = argv[i], value = argv[i + 1];
        if (name == "--sub-devices")
            sub_devices = std::strtoul(value.c_str(), nullptr, 10);
        else if (name == "--posting")
            posting = std::strtoul(value.c_str(), nullptr, 10);
        else if (name == "--seconds")
            seconds = std::atoi(value.c_str());
        else if (name == "--window")
            window = std::atoi(value.c_str());
        else if (name == "--hub")
            hub_binary = value;
        else
            fail("unknown option " + name);
    }
    if (sub_devices < 1 || posting < 1 || posting > sub_devices || seconds < 1 || window < 1)
        fail("bad option value");

    OwnedHub owned;
    char templ[] = "/tmp/gateway_scale.XXXXXX";
    if (!mkdtemp(templ)) fail("mkdtemp failed");
    owned.temp_dir = templ;
    std::ofstream(owned.temp_dir + "/registry.json") << registry();
    owned.binary = hub_binary;
    if (run_process({hub_binary, "start", "--dir", owned.temp_dir + "/hub", "--port", "0", "--registry",
                     owned.temp_dir + "/registry.json"},
                    std::chrono::seconds(60))
            .exit_code != 0)
        fail("`" + hub_binary + " start` failed (use --hub PATH to name the enos-hub binary)");
    owned.run_dir = owned.temp_dir + "/hub";
    const HubInfo hub = HubInfo::load(owned.run_dir);

    sdk::DeviceClient gateway = connect(hub, gateway_product, "gw0", "gwBenchSecret0");
    auto key = [](std::size_t i) { return "sub" + std::to_string(i); };

    // Register: the cloud issues each sub-device's secret.
    std::vector<std::string> secrets(sub_devices);
    auto start = Clock::now();
    for (std::size_t first = 0; first < sub_devices; first += per_request) {
        sdk::up::DeviceRegister request;
        for (std::size_t i = first; i < std::min(sub_devices, first + per_request); ++i) {
            sdk::SubDeviceRegistration r;
            r.product_key = sub_product;
            r.device_key = key(i);
            request.devices.push_back(std::move(r));
        }
        const sdk::Response reply = must_send(gateway, request, "thing.device.register");
        auto registered = sdk::decode_device_register_reply(reply.data_json);
        if (!registered || registered->size() != request.devices.size())
            fail("thing.device.register: unexpected reply " + reply.data_json.substr(0, 200));
        for (std::size_t n = 0; n < registered->size(); ++n)
            secrets[first + n] = (*registered)[n].device_secret;
    }
    figure("gateway_register_10k", seconds_since(start), "s");

    start = Clock::now();
    for (std::size_t first = 0; first < sub_devices; first += per_request) {
        sdk::up::TopoAdd request;
        for (std::size_t i = first; i < std::min(sub_devices, first + per_request); ++i) {
            sdk::SubDeviceCredentials c;
            c.product_key = sub_product;
            c.device_key = key(i);
            c.secret = secrets[i];
            request.devices.push_back(std::move(c));
        }
        must_send(gateway, request, "thing.topo.add");
    }
    figure("gateway_topo_add_10k", seconds_since(start), "s");

    // Login, and the heap the client keeps for the sessions: measured from before the login list
    // is built to after the call freed it, so what remains is the client's.
    const std::int64_t heap_before = malloc_in_use();
    std::vector<sdk::SubDeviceSecret> logins;
    logins.reserve(sub_devices);
    for (std::size_t i = 0; i < sub_devices; ++i)
        logins.push_back({sub_product, key(i), secrets[i], sdk::SecureMode::static_secret});
    start = Clock::now();
    {
        sdk::Result<sdk::SubDeviceLoginReport> report = gateway.log_in_sub_devices(std::move(logins));
        if (!report) fail("log_in_sub_devices: " + report.error().message());
        if (!report->all_logged_in())
            fail(std::to_string(report->failed.size()) + " sub-devices failed to log in, the first: " +
                 report->failed.front().error.message());
        figure("gateway_login_10k", seconds_since(start), "s");
    }
    const std::int64_t heap_growth = malloc_in_use() - heap_before;
    figure("gateway_heap_per_sub_device", static_cast<double>(heap_growth) / static_cast<double>(sub_devices), "B");

    start = Clock::now();
    for (std::size_t first = 0; first < sub_devices; first += per_request) {
        sdk::up::MeasurepointPostBatch request;
        for (std::size_t i = first; i < std::min(sub_devices, first + per_request); ++i)
            request.samples.push_back({sub_product, key(i), {{"temp", sdk::Value(20.5)}}, std::nullopt});
        must_send(gateway, request, "thing.measurepoint.post.batch");
    }
    figure("gateway_batch_post_10k", seconds_since(start), "s");

    // Posts for `posting` sub-devices through the gateway, then the same from a direct device.
    std::vector<sdk::SubDevice> handles;
    for (std::size_t i = 0; i < posting; ++i)
        handles.push_back(gateway.sub_device(sub_product, key(i)));
    const sdk::up::MeasurepointPost post{{{"temp", sdk::Value(21.5)}}};
    const double through_gateway = replied_rate(window, seconds, [&](std::uint64_t i, std::function<void(bool)> done) {
        handles[i % handles.size()].send_async(post, [done](sdk::Result<sdk::Response> r) { done(bool(r)); });
    });
    figure("gateway_post_sub_devices", through_gateway, "msgs/s");
    sdk::DeviceClient direct = connect(hub, product_key, device_key(0), device_secret(0));
    const double direct_rate = replied_rate(window, seconds, [&](std::uint64_t, std::function<void(bool)> done) {
        direct.send_async(post, [done](sdk::Result<sdk::Response> r) { done(bool(r)); });
    });
    figure("direct_post_same_window", direct_rate, "msgs/s");
    figure("gateway_vs_direct_post", through_gateway / direct_rate, "ratio");
    return 0;
}

} // namespace
} // namespace bench

int main(int argc, char** argv) {
    return bench::run(argc, argv);
}
