// What keeps the hub's secrets and its broker safe: a private run directory (0700) whose secret
// files are 0600, device secrets drawn from the kernel's CSPRNG, a payload size limit in the
// broker, and retained publishes refused for devices. Checks of "not delivered" use a marker
// published after the refused message by the same publisher (messages from one publisher arrive in
// order), as in test_hub_acl.cpp.
#include "cloud_device.hpp"

#include "simulator/common.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace enos::test;
using namespace enos::test::cloud;
using enos::device::SecureMode;

namespace {

// A payload must be smaller than the platform's limit (docs/protocol.md §1.1); the broker drops
// anything above its message_size_limit (tools/hub/README.md).
constexpr std::size_t platform_payload_limit = 512 * 1024;
constexpr std::size_t broker_payload_limit = 1024 * 1024;

/// The permission bits of `path` itself (lstat: a link is not followed).
unsigned mode_of(const std::string& path) {
    struct stat st {};
    INFO(path);
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

ProcessResult start_broker_only(const std::string& dir) {
    return run_hub({"start", "--registry", test_registry_path(), "--dir", dir, "--port", "0",
                    "--no-simulator", "--no-connect-limit", "--owner-pid", std::to_string(::getpid())});
}

/// Logs `dk` in with securemode 3 and returns the secret the simulator generated for it.
std::string activation_secret(const HubProcess& hub, const std::string& dk) {
    MqttProbe device(hub.port());
    REQUIRE(device.connect(
                device_credentials("pkDyn001", dk, "prodSecretXYZ", SecureMode::dynamic_activation)) == 0);
    REQUIRE(device.subscribe(activation_info_topic(dk), 1) == 1);
    const auto message = device.wait_for(activation_info_topic(dk));
    REQUIRE(message);
    const auto request = enos::device::decode_request(message->payload);
    REQUIRE(request.ok());
    const auto params = enos::device::parse_value(request->params_json);
    REQUIRE(params.ok());
    return at(*params, "deviceSecret").as_string();
}

/// A generated secret: 24 characters of [A-Za-z0-9].
void check_secret_shape(const std::string& secret) {
    INFO("secret of " << secret.size() << " characters");
    CHECK(secret.size() == 24);
    for (const char c : secret) {
        const bool alphanumeric = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        CHECK(alphanumeric);
    }
}

bool log_has_line(const std::string& log, const std::string& part, const std::string& other_part) {
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);)
        if (contains(line, part) && contains(line, other_part)) return true;
    return false;
}

bool received_payload(const MqttProbe& probe, const std::string& topic, std::size_t size) {
    for (const auto& m : probe.received())
        if (m.topic == topic && m.payload.size() == size) return true;
    return false;
}

} // namespace

TEST_CASE("hub hardening: the run directory is 0700 and every file holding a secret is 0600",
          "[integration][hub]") {
    HubProcess::Options options;
    options.tls = true;
    auto hub = HubProcess::start(options);
    const std::string secret = activation_secret(hub, "dyn4"); // hub.db now holds an issued secret
    REQUIRE_FALSE(secret.empty());
    query_until(hub, "activations", "pkDyn001", "dyn4", [](const auto& rows) { return rows.size() == 1; });

    CHECK(mode_of(hub.dir()) == 0700);
    CHECK(mode_of(hub.dir() + "/certs") == 0700);
    for (const char* file : {"admin.token", "hub.db", "certs/ca.key", "certs/server.key"}) {
        INFO(file);
        CHECK(mode_of(hub.dir() + "/" + file) == 0600);
    }
    // SQLite's WAL files hold the same rows; they take the database file's mode.
    for (const char* file : {"hub.db-wal", "hub.db-shm"})
        if (std::filesystem::exists(hub.dir() + "/" + file)) {
            INFO(file);
            CHECK(mode_of(hub.dir() + "/" + file) == 0600);
        }
    // The broker saves its session store, retained activation message included, when it stops.
    hub.stop_broker();
    REQUIRE(std::filesystem::exists(hub.dir() + "/mosquitto.db"));
    CHECK(mode_of(hub.dir() + "/mosquitto.db") == 0600);
    hub.start_broker();

    TempDir out("enos-device-cert");
    const auto issued = hub.issue_device_cert("pkTest", "dev1", out.path());
    CHECK(mode_of(issued.second) == 0600);
}

TEST_CASE("hub hardening: a loose run directory of an earlier hub is tightened, a shared one refused",
          "[integration][hub]") {
    SECTION("an earlier hub's directory and store are made private") {
        TempDir dir("enos-hub");
        REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
        std::ofstream(dir.file("hub.db")) << "";
        REQUIRE(::chmod(dir.file("hub.db").c_str(), 0644) == 0);
        std::ofstream(dir.file("admin.token")) << "old\n";
        REQUIRE(::chmod(dir.file("admin.token").c_str(), 0644) == 0);
        const auto started = start_broker_only(dir.path());
        INFO(started.err);
        REQUIRE(started.exit_code == 0);
        CHECK(mode_of(dir.path()) == 0700);
        CHECK(mode_of(dir.file("hub.db")) == 0600);
        CHECK(mode_of(dir.file("admin.token")) == 0600);
        CHECK(run_hub({"stop", "--dir", dir.path()}).exit_code == 0);
    }
    SECTION("a new directory is created private, its parents as usual") {
        TempDir dir("enos-hub");
        const std::string run = dir.file("a/b/run");
        const auto started = start_broker_only(run);
        INFO(started.err);
        REQUIRE(started.exit_code == 0);
        CHECK(mode_of(run) == 0700);
        CHECK(run_hub({"stop", "--dir", run}).exit_code == 0);
    }
    SECTION("a shared directory holding other files is refused and left as it was") {
        TempDir dir("enos-hub");
        REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
        std::ofstream(dir.file("notes.txt")) << "not the hub's";
        const auto refused = start_broker_only(dir.path());
        CHECK(refused.exit_code == 1);
        CHECK(contains(refused.err,
                       "the run directory " + dir.path() + " has mode 0755 and holds other files"));
        CHECK(mode_of(dir.path()) == 0755);
        CHECK_FALSE(std::filesystem::exists(dir.file("admin.token")));
    }
    SECTION("a file in place of the directory is refused") {
        TempDir dir("enos-hub");
        std::ofstream(dir.file("run")) << "";
        const auto refused = start_broker_only(dir.file("run"));
        CHECK(refused.exit_code == 1);
        CHECK(contains(refused.err, "is not a directory"));
    }
    SECTION("another user's directory is refused") {
        if (::geteuid() != 0) {
            WARN("skipped: only root can give a directory to another user");
            return;
        }
        TempDir dir("enos-hub");
        REQUIRE(::chown(dir.path().c_str(), 65534, 65534) == 0);
        const auto refused = start_broker_only(dir.path());
        CHECK(refused.exit_code == 1);
        CHECK(contains(refused.err, "belongs to uid 65534"));
        CHECK_FALSE(std::filesystem::exists(dir.file("admin.token")));
    }
}

TEST_CASE("hub hardening: generated secrets differ between activations, registrations and simulator runs",
          "[integration][hub][cloud]") {
    std::set<std::string> secrets;
    std::size_t issued = 0;
    const auto keep = [&](const std::string& secret) {
        check_secret_shape(secret);
        secrets.insert(secret);
        ++issued;
    };
    {
        const HubProcess first = HubProcess::start();
        keep(activation_secret(first, "dyn5"));
        keep(activation_secret(first, "dyn6"));
        Device gw(first, "pkGw", "gw3", "gwSecret3");
        std::string many = "[";
        for (int i = 0; i < 20; ++i)
            many += (i ? "," : "") + std::string(R"({"productKey":"pkSub"})");
        const Reply registered =
            gw.request(gw.sys("thing/device/register"), "thing.device.register", many + "]");
        REQUIRE(registered.code == 200);
        const Value devices = data_of(registered);
        REQUIRE(devices.as_array().size() == 20);
        for (const Value& device : devices.as_array())
            keep(at(device, "deviceSecret").as_string());
    }
    // A second simulator, started afresh, must not repeat the first one's secrets.
    const HubProcess second = HubProcess::start();
    keep(activation_secret(second, "dyn5"));
    keep(activation_secret(second, "dyn6"));
    CHECK(issued == 24);
    CHECK(secrets.size() == issued);
}

TEST_CASE("hub hardening: every character of a generated secret is equally likely",
          "[integration][hub][rules]") {
    // Uniform over [A-Za-z0-9]: a plain `byte % 62` would make 8 letters 25% more likely than the
    // rest, far outside the 5% allowed here (7 standard deviations for 20000 draws per letter).
    constexpr std::size_t per_letter = 20000;
    const std::string drawn = enos::hub::sim::random_token(62 * per_letter);
    std::map<char, std::size_t> counts;
    for (const char c : drawn)
        ++counts[c];
    CHECK(counts.size() == 62);
    for (const auto& [c, n] : counts) {
        INFO("'" << c << "' drawn " << n << " times");
        CHECK(n > per_letter * 95 / 100);
        CHECK(n < per_letter * 105 / 100);
    }
    CHECK(enos::hub::sim::random_token(24) != enos::hub::sim::random_token(24));
}

TEST_CASE("hub hardening: a payload above the broker's limit is dropped, the largest valid one arrives",
          "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe device(hub.port()), cloud(hub.port());
    REQUIRE(device.connect(device_credentials("pkTest", "dev9", "devSecret9")) == 0);
    REQUIRE(cloud.connect(hub.admin()) == 0);
    const std::string topic = "/sys/pkTest/dev9/thing/event/" + unique_client_id("size") + "/post";
    REQUIRE(cloud.subscribe(topic) == 1);

    // Acknowledged (QoS 1 completes) but forwarded to nobody.
    CHECK(device.publish(topic, std::string(broker_payload_limit + 1, 'x')));
    const std::size_t largest_valid = platform_payload_limit - 1;
    REQUIRE(device.publish(topic, std::string(largest_valid, 'v')));
    REQUIRE(cloud.wait_for(topic));
    CHECK(received_payload(cloud, topic, largest_valid));
    CHECK_FALSE(received_payload(cloud, topic, broker_payload_limit + 1));
    // Between the two limits a request still reaches the simulator, which answers 1008 as the
    // platform does (test_hub_replies.cpp, "envelope errors").
}

TEST_CASE("hub hardening: retained publishes from devices are refused, the connection stays",
          "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe device(hub.port()), cloud(hub.port());
    REQUIRE(device.connect(device_credentials("pkTest", "dev8", "devSecret8")) == 0);
    REQUIRE(cloud.connect(hub.admin()) == 0);
    const std::string topic = "/sys/pkTest/dev8/thing/event/" + unique_client_id("retain") + "/post";
    REQUIRE(cloud.subscribe(topic) == 1);

    CHECK(device.publish(topic, "retained", 1, true)); // MQTT 3.1.1: acknowledged, then dropped
    REQUIRE(device.publish(topic, "marker", 1, false));
    const auto marker = cloud.wait_for(topic);
    REQUIRE(marker);
    CHECK(marker->payload == "marker");
    CHECK(cloud.received().size() == 1);
    CHECK(log_has_line(hub.broker_log(), "denied publish of '" + topic + "' for pkTest/dev8",
                       "retained publishes are refused"));

    // Nothing was retained: a late subscriber gets only what is published after it subscribed.
    MqttProbe late(hub.port());
    REQUIRE(late.connect(hub.admin()) == 0);
    REQUIRE(late.subscribe(topic) == 1);
    REQUIRE(device.publish(topic, "after", 1, false));
    const auto first = late.wait_for(topic);
    REQUIRE(first);
    CHECK(first->payload == "after");
    CHECK_FALSE(first->retain);
}
