// `enos-hub start/stop/broker-stop/broker-start`: what a user sees when it works and when it cannot.
#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <rapidjson/document.h>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace enos::test;

namespace {

// Gone, or a zombie nobody reaps (its parent, `enos-hub start`, exited long ago).
bool process_gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

// Holds a listening socket on a free port for the lifetime of the object.
class TakenPort {
public:
    TakenPort() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 1) == 0);
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        port_ = ntohs(addr.sin_port);
    }
    ~TakenPort() { ::close(fd_); }
    std::uint16_t port() const { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

} // namespace

TEST_CASE("hub launcher: start prints the ports, stop ends both processes", "[integration][hub]") {
    TempDir dir("enos-hub");
    const auto started = run_hub({"start", "--registry", test_registry_path(), "--dir", dir.path(),
                                      "--port", "0", "--tls-port", "0", "--no-simulator"});
    INFO(started.err);
    REQUIRE(started.exit_code == 0);
    rapidjson::Document line;
    line.Parse(started.out.c_str());
    REQUIRE(line.IsObject());
    const auto port = static_cast<std::uint16_t>(line["port"].GetInt());
    const auto tls_port = static_cast<std::uint16_t>(line["tls_port"].GetInt());
    const auto broker_pid = static_cast<pid_t>(line["broker_pid"].GetInt());
    CHECK(port != tls_port);
    CHECK(tcp_port_open(port));
    CHECK(tcp_port_open(tls_port));
    CHECK(std::filesystem::exists(dir.file("certs/ca.crt")));
    CHECK((std::filesystem::status(dir.file("admin.token")).permissions() &
           std::filesystem::perms::others_read) == std::filesystem::perms::none);

    const auto again =
        run_hub({"start", "--registry", test_registry_path(), "--dir", dir.path(), "--port", "0"});
    CHECK(again.exit_code == 1);
    CHECK(contains(again.err, "already running"));

    const auto stopped = run_hub({"stop", "--dir", dir.path()});
    CHECK(stopped.exit_code == 0);
    CHECK_FALSE(tcp_port_open(port));
    CHECK(process_gone(broker_pid));
    CHECK(run_hub({"stop", "--dir", dir.path()}).exit_code == 0); // nothing left to stop is fine
}

TEST_CASE("hub launcher: a bad registry is refused before anything starts", "[integration][hub]") {
    TempDir dir("enos-hub");
    write(
        dir.file("registry.json"),
        R"({"devices":[{"productKey":"pk","deviceKey":"ok","deviceSecret":"s"},{"productKey":"pk","deviceSecret":"s"}]})");
    const auto missing_key = run_hub(
        {"start", "--registry", dir.file("registry.json"), "--dir", dir.file("run"), "--port", "0"});
    CHECK(missing_key.exit_code == 1);
    CHECK(contains(missing_key.err, "devices[1]: missing field 'deviceKey'"));
    CHECK_FALSE(std::filesystem::exists(dir.file("run/broker.pid")));

    write(dir.file("typo.json"),
          R"({"devices":[{"productKey":"pk","deviceKey":"d","deviceSecret":"s","enable":false}]})");
    const auto typo =
        run_hub({"start", "--registry", dir.file("typo.json"), "--dir", dir.file("run"), "--port", "0"});
    CHECK(typo.exit_code == 1);
    CHECK(contains(typo.err, "devices[0]: unknown field 'enable'"));

    write(dir.file("broken.json"), "{\"products\": [\n  {\"productKey\": \"pk\",}\n]}");
    const auto broken = run_hub(
        {"start", "--registry", dir.file("broken.json"), "--dir", dir.file("run"), "--port", "0"});
    CHECK(broken.exit_code == 1);
    CHECK(contains(broken.err, "invalid JSON at line 2"));

    const auto absent = run_hub(
        {"start", "--registry", dir.file("absent.json"), "--dir", dir.file("run"), "--port", "0"});
    CHECK(absent.exit_code == 1);
    CHECK(contains(absent.err, "absent.json: cannot open the registry file"));
}

TEST_CASE("hub launcher: a taken port, a missing broker and bad usage are reported", "[integration][hub]") {
    TempDir dir("enos-hub");
    TakenPort taken;
    const auto busy = run_hub({"start", "--registry", test_registry_path(), "--dir", dir.path(), "--port",
                                   std::to_string(taken.port())});
    CHECK(busy.exit_code == 1);
    CHECK(contains(busy.err, "port " + std::to_string(taken.port()) + " on 127.0.0.1 is already in use"));

    const auto no_broker = run_hub({"start", "--registry", test_registry_path(), "--dir", dir.path(),
                                        "--port", "0", "--mosquitto", dir.file("no-such-mosquitto")});
    CHECK(no_broker.exit_code == 1);
    CHECK(contains(no_broker.err, "no-such-mosquitto is not an executable"));

    CHECK(run_hub({"start", "--dir", dir.path()}).exit_code == 2); // no --registry
    CHECK(run_hub({"start", "--registry", test_registry_path(), "--prot", "1"}).exit_code == 2);
    CHECK(run_hub({"start", "--registry", test_registry_path(), "--port", "70000"}).exit_code == 2);
    CHECK(run_hub({"no-such-command"}).exit_code == 2);
    const auto help = run_hub({"--help"});
    CHECK(help.exit_code == 0);
    for (const char* command : {"start", "stop", "invoke", "rrpc", "set-measurepoints", "get-measurepoints",
                                "raw-down", "ota-upgrade", "subdevice", "query", "issue-cert"})
        CHECK(contains(help.out, command));
}

TEST_CASE("hub launcher: broker-stop and broker-start keep the port", "[integration][hub]") {
    HubProcess::Options options;
    options.simulator = false;
    auto hub = HubProcess::start(options);
    MqttProbe device(hub.port());
    REQUIRE(device.connect(device_credentials("pkTest", "dev1", "devSecret1")) == 0);

    hub.stop_broker();
    CHECK(device.wait_disconnected());
    CHECK_FALSE(tcp_port_open(hub.port()));
    CHECK(hub.run({"broker-stop"}).exit_code == 0); // already stopped

    hub.start_broker();
    CHECK(device.connect(device_credentials("pkTest", "dev1", "devSecret1")) == 0);
    CHECK(hub.run({"broker-start"}).exit_code == 1); // already running
}

TEST_CASE("hub launcher: what a device sends after a broker restart waits for the simulator", "[integration][hub]") {
    // The simulator's session outlives the broker: a device that is back before the simulator has
    // its request queued for the simulator, not acknowledged and dropped.
    auto hub = HubProcess::start();
    std::string pid_text;
    std::getline(std::ifstream(hub.dir() + "/simulator.pid"), pid_text);
    const pid_t simulator = static_cast<pid_t>(std::stol(pid_text));
    REQUIRE(::kill(simulator, SIGSTOP) == 0); // it cannot reconnect until SIGCONT
    hub.stop_broker();
    const auto restarted = hub.run({"broker-start", "--timeout-ms", "200"});
    ::kill(simulator, SIGCONT); // resumed whatever happens; it reconnects once it runs again
    INFO(restarted.err);
    CHECK(contains(restarted.err, "the simulator did not become ready")); // the broker is up regardless
    REQUIRE(tcp_port_open(hub.port()));

    MqttProbe device(hub.port());
    REQUIRE(device.connect(device_credentials("pkTest", "dev1", "devSecret1")) == 0);
    const std::string base = "/sys/pkTest/dev1/thing/measurepoint/";
    REQUIRE(device.subscribe(base + "post_reply") == 1);
    REQUIRE(device.publish(base + "post", R"({"id":"77","version":"1.0","params":{"measurepoints":{"temp":1.5}},"method":"thing.measurepoint.post"})"));
    const auto reply = device.wait_for(base + "post_reply", std::chrono::seconds(30));
    REQUIRE(reply);
    CHECK(contains(reply->payload, R"("id":"77")"));
    CHECK(contains(reply->payload, R"("code":200)"));
}

TEST_CASE("hub launcher: a hub stops itself when its owner process is gone", "[integration][hub]") {
    TempDir dir("enos-hub");
    ChildProcess owner = ChildProcess::spawn({"sleep", "600"});
    const auto started =
        run_hub({"start", "--registry", test_registry_path(), "--dir", dir.path(), "--port", "0",
                     "--no-simulator", "--owner-pid", std::to_string(owner.pid())});
    INFO(started.err);
    REQUIRE(started.exit_code == 0);
    rapidjson::Document line;
    line.Parse(started.out.c_str());
    REQUIRE(line.IsObject());
    const auto port = static_cast<std::uint16_t>(line["port"].GetInt());
    REQUIRE(tcp_port_open(port));

    owner.kill();
    REQUIRE(owner.wait_exit(std::chrono::seconds(10)));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (tcp_port_open(port) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(tcp_port_open(port));
    CHECK(process_gone(static_cast<pid_t>(line["broker_pid"].GetInt())));

    const auto no_owner = run_hub({"start", "--registry", test_registry_path(), "--dir", dir.path(),
                                       "--port", "0", "--owner-pid", "999999999"});
    CHECK(no_owner.exit_code == 1);
    CHECK(contains(no_owner.err, "--owner-pid 999999999 is not a running process"));
}
