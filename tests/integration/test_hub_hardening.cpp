// What keeps the hub's secrets safe: a private run directory (0700) whose secret files are 0600, and
// device secrets drawn from the kernel's CSPRNG.
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

using namespace enos::test;
using namespace enos::test::cloud;
using enos::device::SecureMode;

namespace {

/// The permission bits of `path` itself (lstat: a link is not followed).
unsigned mode_of(const std::string& path) {
    struct stat st {};
    INFO(path);
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

ProcessResult hub_command(std::vector<std::string> args) {
    args.insert(args.begin(), enos_hub_binary());
    return run_process(args);
}

ProcessResult start_broker_only(const std::string& dir) {
    return hub_command({"start", "--registry", test_registry_path(), "--dir", dir, "--port", "0",
                        "--no-simulator", "--no-connect-limit", "--owner-pid", std::to_string(::getpid())});
}

std::string info_topic(const std::string& dk) {
    return "/ext/session/pkDyn001/" + dk + "/thing/activate/info";
}

/// Logs `dk` in with securemode 3 and returns the secret the simulator generated for it.
std::string activation_secret(const HubProcess& hub, const std::string& dk) {
    MqttProbe device(hub.port());
    REQUIRE(device.connect(
                device_credentials("pkDyn001", dk, "prodSecretXYZ", SecureMode::dynamic_activation)) == 0);
    REQUIRE(device.subscribe(info_topic(dk), 1) == 1);
    const auto message = device.wait_for(info_topic(dk));
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
        CHECK(hub_command({"stop", "--dir", dir.path()}).exit_code == 0);
    }
    SECTION("a new directory is created private, its parents as usual") {
        TempDir dir("enos-hub");
        const std::string run = dir.file("a/b/run");
        const auto started = start_broker_only(run);
        INFO(started.err);
        REQUIRE(started.exit_code == 0);
        CHECK(mode_of(run) == 0700);
        CHECK(hub_command({"stop", "--dir", run}).exit_code == 0);
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
