// The Paho leak that lsan.supp suppresses, with raw Paho MQTT C++ and no SDK code: QoS 1 publishes
// in flight when the broker dies, the client destroyed, a new client made (as the SDK does on every
// reconnect). Built with AddressSanitizer, LeakSanitizer reports the in-flight publishes at exit
// ("reuse" keeps the one client instead and reports nothing):
//   c++ -std=c++17 -g -fsanitize=address tests/sanitizers/paho_inflight_leak.cpp \
//       -lpaho-mqttpp3 -lpaho-mqtt3as -o /tmp/paho_inflight_leak
//   /tmp/paho_inflight_leak replace   # LeakSanitizer: ... leaked in N allocation(s), all in libpaho
//   /tmp/paho_inflight_leak reuse     # no report
// It starts its own mosquitto on a free 127.0.0.1 port in a temporary directory and kills it by PID.
#include <mqtt/async_client.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
        std::exit(2);
    ::close(fd);
    return ntohs(address.sin_port);
}

class Broker {
public:
    Broker(const std::string& dir, int port) : config_(dir + "/mosquitto.conf") {
        std::ofstream(config_) << "listener " << port << " 127.0.0.1\nallow_anonymous true\n";
    }
    ~Broker() { stop(); }
    void start() {
        pid_ = fork();
        if (pid_ == 0) {
            execlp("mosquitto", "mosquitto", "-c", config_.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
    }
    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    std::string config_;
    pid_t pid_ = -1;
};

/// Connects, retrying while the broker starts up.
void connect(mqtt::async_client& client, const mqtt::connect_options& options) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        try {
            if (client.connect(options)->wait_for(5s) && client.is_connected()) return;
        } catch (const mqtt::exception&) {
        }
        std::this_thread::sleep_for(50ms); // the broker is still starting: try again
    }
    std::fprintf(stderr, "cannot connect\n");
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode != "replace" && mode != "reuse") {
        std::fprintf(stderr, "usage: %s replace|reuse\n", argv[0]);
        return 2;
    }
    char dir_template[] = "/tmp/paho-leak-XXXXXX";
    const std::string dir = mkdtemp(dir_template);
    const int port = free_port();
    const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
    Broker broker(dir, port);
    broker.start();

    mqtt::connect_options options;
    options.set_mqtt_version(MQTTVERSION_3_1_1);
    options.set_clean_session(true);
    options.set_max_inflight(1000);
    const mqtt::create_options create(MQTTVERSION_3_1_1, 1 << 20);
    auto client = std::make_unique<mqtt::async_client>(url, "leak-1", create, nullptr);
    std::atomic<bool> lost{false};
    client->set_connection_lost_handler([&](const std::string&) { lost = true; });
    connect(*client, options);

    for (int i = 0; i < 3000; ++i)
        client->publish(mqtt::make_message("leak/test", std::string(100, 'x'), 1, false));
    broker.stop(); // with most of them still waiting for their PUBACK
    while (!lost)
        std::this_thread::sleep_for(10ms);

    broker.start();
    if (mode == "replace") {
        client.reset();
        client = std::make_unique<mqtt::async_client>(url, "leak-2", create, nullptr);
    }
    connect(*client, options);
    client->disconnect()->wait();
    client.reset();
    broker.stop();
    std::remove((dir + "/mosquitto.conf").c_str());
    rmdir(dir.c_str());
    std::fputs("done\n", stderr);
    return 0;
}
