// How many upstream requests per second the enos-hub cloud simulator answers on loopback.
//
// Starts an enos-hub on free ports with a registry of benchmark devices (or uses a running one with
// --dir), connects N devices, and has each keep a window of thing.measurepoint.post requests in flight,
// counting the post_reply messages that come back with code 200. The devices speak MQTT over plain
// sockets written here, batching many PUBLISH packets per write, so the client is never what limits
// the number: it measures the broker plus the simulator (reply and store).
//
// With --simulator-only the program plays the broker itself: it starts `enos-hub simulate` against a
// listening socket of its own and streams the requests straight to it, which measures the simulator
// alone (the broker, single-threaded mosquitto, is the first to saturate a core in the full hub).
//
//   hub_replies [--clients 4] [--window 256] [--seconds 5] [--qos 0|1] [--points 3]
//               [--hub PATH/enos-hub] [--dir RUNDIR] [--simulator-only 1]
#include "client_bench_common.hpp"

#include <enos/device/core/credentials.hpp>

#include <rapidjson/document.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace bench;

/// CPU seconds (user + system) a process has used so far; 0 if unknown.
double cpu_seconds(int pid) {
    if (pid <= 0) return 0;
    std::istringstream stat(read_file("/proc/" + std::to_string(pid) + "/stat"));
    std::string field;
    for (int i = 1; i <= 13 && stat >> field; ++i) {
        if (i == 2)
            while (field.back() != ')' && stat >> field) {
            } // the command name may contain spaces
    }
    unsigned long long user = 0, system = 0;
    stat >> user >> system;
    return static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// The hub this program started: stopped and its files removed at exit, also after fail().
struct OwnedHub {
    std::string binary, run_dir, temp_dir;
    ~OwnedHub() {
        if (!run_dir.empty()) run_process({binary, "stop", "--dir", run_dir}, std::chrono::seconds(60));
        if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
    }
} owned_hub;

/// A process started with fork/exec (the --simulator-only simulator); SIGTERM and reaped at exit.
struct OwnedProcess {
    pid_t pid = 0;
    ~OwnedProcess() {
        if (pid <= 0) return;
        kill(pid, SIGTERM);
        waitpid(pid, nullptr, 0);
    }
} owned_simulator;

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
    const pid_t pid = fork();
    if (pid < 0) fail("fork failed");
    if (pid == 0) {
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, STDERR_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    return pid;
}

// ---- a minimal MQTT 3.1.1 device over a plain socket ----------------------------------------------

void put_length(std::string& out, std::size_t n) {
    do {
        unsigned char byte = n % 128;
        n /= 128;
        if (n > 0) byte |= 128;
        out.push_back(static_cast<char>(byte));
    } while (n > 0);
}

void put_string(std::string& out, std::string_view s) {
    out.push_back(static_cast<char>(s.size() >> 8));
    out.push_back(static_cast<char>(s.size() & 255));
    out.append(s);
}

void put_packet(std::string& out, unsigned char type, const std::string& body) {
    out.push_back(static_cast<char>(type));
    put_length(out, body.size());
    out += body;
}

struct Device {
    int fd = -1;
    std::string topic, reply_topic;
    std::string out, in;
    std::size_t out_sent = 0;
    std::uint64_t sent = 0, replied = 0, errors = 0;
    std::uint16_t packet_id = 0;
    bool connected = false, subscribed = false;
};

/// Reads whatever the socket has and handles every complete packet in it.
void read_packets(Device& d) {
    char buffer[65536];
    ssize_t n;
    while ((n = recv(d.fd, buffer, sizeof buffer, 0)) > 0)
        d.in.append(buffer, static_cast<std::size_t>(n));
    if (n == 0) fail("the broker closed a device connection");
    std::size_t pos = 0;
    while (true) {
        std::size_t length = 0, shift = 0, header = 1;
        bool complete = false;
        while (pos + header < d.in.size()) {
            const auto byte = static_cast<unsigned char>(d.in[pos + header]);
            length |= static_cast<std::size_t>(byte & 127) << shift;
            shift += 7;
            ++header;
            if (!(byte & 128)) {
                complete = true;
                break;
            }
        }
        if (!complete || pos + header + length > d.in.size()) break;
        const auto type = static_cast<unsigned char>(d.in[pos]);
        const std::string_view body(d.in.data() + pos + header, length);
        if ((type & 0xF0) == 0x10) { // --simulator-only: the simulator's CONNECT
            d.out += std::string("\x20\x02\x00\x00", 4);
            d.connected = true;
        } else if ((type & 0xF0) == 0x80) { // ... and its SUBSCRIBE: grant QoS 1 to every filter
            std::size_t filters = 0;
            for (std::size_t at = 2; at + 2 <= body.size(); ++filters)
                at += 3 +
                      (static_cast<unsigned char>(body[at]) << 8 | static_cast<unsigned char>(body[at + 1]));
            std::string suback(body.substr(0, 2));
            suback.append(filters, '\x01');
            put_packet(d.out, 0x90, suback);
            d.subscribed = true;
        } else if ((type & 0xF0) == 0xC0) {
            d.out += std::string("\xD0\x00", 2);
        } else if ((type & 0xF0) == 0x20) {
            if (body.size() < 2 || body[1] != 0)
                fail("the hub refused a benchmark device (CONNACK " +
                     std::to_string(body.size() < 2 ? -1 : body[1]) + ")");
            d.connected = true;
        } else if ((type & 0xF0) == 0x90) {
            d.subscribed = true;
        } else if ((type & 0xF0) == 0x30) {
            const std::size_t topic_len =
                static_cast<unsigned char>(body[0]) << 8 | static_cast<unsigned char>(body[1]);
            std::size_t payload_at = 2 + topic_len + (((type >> 1) & 3) ? 2 : 0);
            const std::string_view payload = body.substr(payload_at);
            if (payload.find("\"code\":200") != std::string_view::npos)
                ++d.replied;
            else
                ++d.errors;
        }
        pos += header + length;
    }
    d.in.erase(0, pos);
}

void flush(Device& d) {
    while (d.out_sent < d.out.size()) {
        const ssize_t n = send(d.fd, d.out.data() + d.out_sent, d.out.size() - d.out_sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        d.out_sent += static_cast<std::size_t>(n);
    }
    if (d.out_sent == d.out.size()) {
        d.out.clear();
        d.out_sent = 0;
    }
}

Device connect_device(int port, int index) {
    Device d;
    d.fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(d.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        fail("cannot connect to the broker");
    int on = 1;
    setsockopt(d.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    fcntl(d.fd, F_SETFL, O_NONBLOCK);

    enos::device::CredentialInput in;
    in.product_key = product_key;
    in.device_key = device_key(index);
    in.secret = device_secret(index);
    auto credentials = enos::device::make_connect_credentials(in);
    if (!credentials) fail(credentials.error().message());
    std::string body;
    put_string(body, "MQTT");
    body += std::string("\x04\xC2\x00\x3C", 4); // level 4, username + password + clean session, keepalive 60
    put_string(body, credentials->client_id);
    put_string(body, credentials->username);
    put_string(body, credentials->password);
    put_packet(d.out, 0x10, body);

    d.topic = "/sys/" + std::string(product_key) + "/" + device_key(index) + "/thing/measurepoint/post";
    d.reply_topic = d.topic + "_reply";
    body = std::string("\x00\x01", 2);
    put_string(body, d.reply_topic);
    body.push_back(0); // replies are published at QoS 0
    put_packet(d.out, 0x82, body);
    return d;
}

void queue_request(Device& d, int qos, const std::string& points) {
    const std::string payload =
        R"({"id":")" + std::to_string(d.sent + 1) +
        R"(","version":"1.1","method":"thing.measurepoint.post","params":{"measurepoints":)" + points +
        R"(,"time":1700000000123}})";
    std::string body;
    put_string(body, d.topic);
    if (qos == 1) {
        if (++d.packet_id == 0) d.packet_id = 1;
        body.push_back(static_cast<char>(d.packet_id >> 8));
        body.push_back(static_cast<char>(d.packet_id & 255));
    }
    body += payload;
    put_packet(d.out, qos == 1 ? 0x32 : 0x30, body);
    ++d.sent;
}

std::string points_json(int count) {
    static const char* const samples[] = {R"("temp":21.5)", R"("Power":{"value":1.25,"quality":9})",
                                          R"("status":"running")", R"("branchCurr":[1.02,2.02,7.93])"};
    std::string json = "{";
    for (int i = 0; i < count; ++i)
        json += std::string(i ? "," : "") +
                (i < 4 ? samples[i] : "\"p" + std::to_string(i) + "\":" + std::to_string(i));
    return json + "}";
}

} // namespace

int main(int argc, char** argv) {
    int clients = 4, window = 256, seconds = 5, qos = 0, points = 3;
    std::string hub_binary = parent_dir(parent_dir(own_executable())) + "/tools/hub/enos-hub", dir;
    bool simulator_only = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string name = argv[i], value = argv[i + 1];
        if (name == "--clients")
            clients = std::atoi(value.c_str());
        else if (name == "--window")
            window = std::atoi(value.c_str());
        else if (name == "--seconds")
            seconds = std::atoi(value.c_str());
        else if (name == "--qos")
            qos = std::atoi(value.c_str());
        else if (name == "--points")
            points = std::atoi(value.c_str());
        else if (name == "--hub")
            hub_binary = value;
        else if (name == "--dir")
            dir = value;
        else if (name == "--simulator-only")
            simulator_only = value != "0";
        else
            fail("unknown option " + name);
    }
    if (clients < 1 || window < 1 || seconds < 1 || (qos != 0 && qos != 1) || points < 1)
        fail("bad option value");

    HubInfo hub;
    std::vector<Device> devices;
    if (simulator_only) {
        char templ[] = "/tmp/hub_replies.XXXXXX";
        if (!mkdtemp(templ)) fail("mkdtemp failed");
        dir = owned_hub.temp_dir = templ;
        const int listener = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 1) != 0 ||
            getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            fail("cannot listen on 127.0.0.1");
        std::ofstream(dir + "/registry.json") << registry_json(clients);
        std::ofstream(dir + "/admin.token") << "bench\n";
        std::ofstream(dir + "/hub.json")
            << R"({"host":"127.0.0.1","port":)" << ntohs(addr.sin_port) << R"(,"registry":")" << dir
            << R"(/registry.json","store":")" << dir << R"(/hub.db"})";
        hub.simulator_pid = owned_simulator.pid =
            spawn({hub_binary, "simulate", "--dir", dir}, dir + "/simulator.log");
        pollfd p{listener, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) fail("the simulator did not connect (see " + dir + "/simulator.log)");
        Device sim;
        sim.fd = accept(listener, nullptr, nullptr);
        close(listener);
        int on = 1;
        setsockopt(sim.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        fcntl(sim.fd, F_SETFL, O_NONBLOCK);
        sim.topic = "/sys/" + std::string(product_key) + "/" + device_key(0) + "/thing/measurepoint/post";
        devices.push_back(std::move(sim));
    } else {
        if (dir.empty()) {
            char templ[] = "/tmp/hub_replies.XXXXXX";
            if (!mkdtemp(templ)) fail("mkdtemp failed");
            dir = owned_hub.temp_dir = templ;
            std::ofstream(dir + "/registry.json") << registry_json(clients);
            owned_hub.binary = hub_binary;
            if (run_process({hub_binary, "start", "--dir", dir + "/hub", "--port", "0", "--registry",
                             dir + "/registry.json"},
                            std::chrono::seconds(60))
                    .exit_code != 0)
                fail("`" + hub_binary + " start` failed (use --hub PATH to name the enos-hub binary)");
            dir = owned_hub.run_dir = dir + "/hub";
        }
        hub = HubInfo::load(dir);
        for (int i = 0; i < clients; ++i)
            devices.push_back(connect_device(hub.port, i));
    }
    const auto ready_deadline = Clock::now() + std::chrono::seconds(10);
    std::vector<pollfd> fds(devices.size());
    auto pump = [&](int timeout_ms) {
        for (std::size_t i = 0; i < devices.size(); ++i)
            fds[i] =
                pollfd{devices[i].fd, static_cast<short>(POLLIN | (devices[i].out.empty() ? 0 : POLLOUT)), 0};
        poll(fds.data(), fds.size(), timeout_ms);
        for (std::size_t i = 0; i < devices.size(); ++i) {
            if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) read_packets(devices[i]);
            flush(devices[i]);
        }
    };
    for (Device& d : devices)
        flush(d);
    while (true) {
        bool all = true;
        for (const Device& d : devices)
            all = all && d.connected && d.subscribed;
        if (all) break;
        if (Clock::now() > ready_deadline) fail("devices did not get connected and subscribed within 10 s");
        pump(100);
    }

    const std::string point_text = points_json(points);
    const auto fill_windows = [&] {
        for (Device& d : devices) {
            while (d.sent - d.replied - d.errors < static_cast<std::uint64_t>(window))
                queue_request(d, qos, point_text);
            flush(d);
        }
    };
    const auto total_replied = [&] {
        std::uint64_t n = 0;
        for (const Device& d : devices)
            n += d.replied;
        return n;
    };

    const auto warmup_end = Clock::now() + std::chrono::seconds(1);
    while (Clock::now() < warmup_end)
        fill_windows(), pump(10);
    const std::uint64_t replied_before = total_replied();
    const double broker_cpu_before = cpu_seconds(hub.broker_pid),
                 simulator_cpu_before = cpu_seconds(hub.simulator_pid);
    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    while (Clock::now() < end)
        fill_windows(), pump(10);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const std::uint64_t replied = total_replied() - replied_before;
    const double broker_cpu = cpu_seconds(hub.broker_pid) - broker_cpu_before;
    const double simulator_cpu = cpu_seconds(hub.simulator_pid) - simulator_cpu_before;

    // Drain: every request sent must get its reply (QoS 0 on loopback loses nothing unless a queue
    // overflowed), so a shortfall here is reported, not hidden.
    const auto drain_deadline = Clock::now() + std::chrono::seconds(10);
    std::uint64_t sent = 0, answered = 0, errors = 0;
    while (Clock::now() < drain_deadline) {
        sent = answered = errors = 0;
        for (const Device& d : devices)
            sent += d.sent, answered += d.replied, errors += d.errors;
        if (answered + errors >= sent) break;
        pump(50);
    }

    if (simulator_only)
        std::printf("hub_replies: the simulator alone, requests from this program playing the broker\n");
    std::printf("hub_replies: %d clients, window %d, QoS %d, %d points per post: %.0f replies/s "
                "(%llu replies in %.2f s; %llu requests in all, %llu error replies, %llu unanswered)\n",
                clients, window, qos, points, static_cast<double>(replied) / elapsed,
                static_cast<unsigned long long>(replied), elapsed, static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(errors),
                static_cast<unsigned long long>(sent - answered - errors));
    // CPU per reply tells who the bottleneck is on a shared machine, where replies/s also measures
    // whoever else is running.
    if (replied > 0 && hub.simulator_pid > 0)
        std::printf(
            "hub_replies: CPU per reply: broker %.1f us, simulator %.1f us (reply and store threads)\n",
            broker_cpu * 1e6 / static_cast<double>(replied),
            simulator_cpu * 1e6 / static_cast<double>(replied));
    std::printf("BENCH name=%s_qos%d sdk=%.0f paho=- unit=replies/s ratio=-\n",
                simulator_only ? "hub_simulator_replies" : "hub_replies", qos,
                static_cast<double>(replied) / elapsed);
    for (Device& d : devices)
        close(d.fd);
    return errors == 0 && answered + errors == sent ? 0 : 1;
}
