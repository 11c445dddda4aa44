// The Paho leak that lsan.supp suppresses, with raw Paho MQTT C++ and no SDK code: QoS 1 publishes
// in flight when the broker dies, then the client replaced by a new one, as the SDK does on every
// reconnect ("replace"), or kept and connected again ("reuse"). Built with AddressSanitizer (the
// asan preset builds it as tests/sanitizers/paho-inflight-leak), "replace" ends with a
// LeakSanitizer report whose allocations are all Paho's, "reuse" with none; check-paho-leak.sh
// runs both as a test. It starts its own mosquitto on a free 127.0.0.1 port with its configuration
// in a temporary directory, and kills it by PID.
#include <mqtt/async_client.h>
#include <sanitizer/lsan_interface.h>

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
    const int outages = argc > 2 ? std::atoi(argv[2]) : 10;
    if ((mode != "replace" && mode != "reuse") || outages < 1) {
        std::fprintf(stderr, "usage: %s replace|reuse [outages]\n", argv[0]);
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
    std::atomic<bool> lost{false};
    auto make_client = [&](int serial) {
        auto client = std::make_unique<mqtt::async_client>(url, "leak-" + std::to_string(serial), create,
                                                           static_cast<mqtt::iclient_persistence*>(nullptr));
        client->set_connection_lost_handler([&](const std::string&) { lost = true; });
        return client;
    };
    auto client = make_client(0);
    connect(*client, options);

    // What leaks is what is on its way out when the link drops, which depends on timing: outages
    // are repeated until LeakSanitizer sees a leak (after the first, in practice).
    for (int outage = 1; outage <= outages; ++outage) {
        lost = false;
        for (int i = 0; i < 3000; ++i)
            client->publish(mqtt::make_message("leak/test", std::string(100, 'x'), 1, false));
        broker.stop();
        while (!lost)
            std::this_thread::sleep_for(10ms); // until Paho's thread reports the loss
        broker.start();
        if (mode == "replace") {
            client.reset();
            client = make_client(outage);
        }
        connect(*client, options);
        if (__lsan_do_recoverable_leak_check() != 0) break;
    }
    client->disconnect()->wait();
    client.reset();
    broker.stop();
    std::remove((dir + "/mosquitto.conf").c_str());
    rmdir(dir.c_str());
    std::fputs("done\n", stderr);
    return 0;
}
