// Shared pieces of the client-versus-raw-Paho benchmark (bench/client_vs_paho.cpp): the enos-hub it
// runs against, child processes, statistics, the privileged cloud-side client, and the allocation
// counter. Kept out of the SDK: a benchmark must not lean on the code it measures.
#pragma once

#include <mqtt/async_client.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <malloc.h>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
    std::exit(1);
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// ---- statistics --------------------------------------------------------------------------------

inline double percentile(std::vector<double> values, double p) {
    if (values.empty()) return std::nan("");
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

inline double median(std::vector<double> values) {
    return percentile(std::move(values), 50);
}

/// Bytes the C allocator currently hands out, whoever asked (Paho C allocates with malloc), in its
/// arenas and in blocks large enough to get their own mapping.
inline std::int64_t malloc_in_use() {
    const auto info = mallinfo2();
    return static_cast<std::int64_t>(info.uordblks + info.hblkhd);
}

/// Resident set size of this process in KiB.
inline long rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

// ---- child processes ----------------------------------------------------------------------------

struct ProcessOutput {
    int exit_code = -1;
    std::string out;
};

/// Runs argv[0] with argv, captures stdout (stderr passes through), kills it by its pid after
/// `limit`. Never waits on anything but its own child.
inline ProcessOutput run_process(const std::vector<std::string>& argv, std::chrono::seconds limit) {
    int fds[2];
    if (pipe(fds) != 0) fail("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) fail("fork failed");
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        std::fprintf(stderr, "cannot run %s\n", args[0]);
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    ProcessOutput result;
    const auto deadline = Clock::now() + limit;
    int status = 0;
    bool exited = false;
    while (!exited) {
        char buffer[4096];
        ssize_t n;
        while ((n = read(fds[0], buffer, sizeof buffer)) > 0)
            result.out.append(buffer, static_cast<std::size_t>(n));
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        if (Clock::now() > deadline) {
            std::fprintf(stderr, "%s: %s ran too long, killing pid %d\n", program_invocation_short_name,
                         argv[0].c_str(), pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            exited = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    char buffer[4096];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof buffer)) > 0)
        result.out.append(buffer, static_cast<std::size_t>(n));
    close(fds[0]);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

inline std::string own_executable() {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) fail("cannot read /proc/self/exe");
    return std::string(path, static_cast<std::size_t>(n));
}

inline std::string parent_dir(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

// ---- the hub ------------------------------------------------------------------------------------

/// What a running enos-hub wrote into its run directory (tools/hub/README.md: hub.json and admin.token).
struct HubInfo {
    std::string dir, host = "127.0.0.1";
    int port = 0;
    std::string admin_username, admin_password;
    pid_t broker_pid = 0, simulator_pid = 0;

    std::string url() const { return "tcp://" + host + ":" + std::to_string(port); }

    static HubInfo load(const std::string& dir) {
        HubInfo hub;
        hub.dir = dir;
        rapidjson::Document doc;
        const std::string text = read_file(dir + "/hub.json");
        if (doc.Parse(text.c_str()).HasParseError() || !doc.IsObject())
            fail("cannot read " + dir + "/hub.json");
        if (doc.HasMember("host") && doc["host"].IsString()) hub.host = doc["host"].GetString();
        if (!doc.HasMember("port") || !doc["port"].IsInt()) fail("hub.json has no port");
        hub.port = doc["port"].GetInt();
        hub.admin_username = doc.HasMember("admin_username") && doc["admin_username"].IsString()
                                 ? doc["admin_username"].GetString()
                                 : "enos-hub-admin";
        for (auto [key, out] : {std::pair{"broker_pid", &hub.broker_pid}, std::pair{"simulator_pid", &hub.simulator_pid}})
            if (doc.HasMember(key) && doc[key].IsInt()) *out = doc[key].GetInt();
        hub.admin_password = read_file(dir + "/admin.token");
        while (!hub.admin_password.empty() &&
               std::isspace(static_cast<unsigned char>(hub.admin_password.back())))
            hub.admin_password.pop_back();
        if (hub.admin_password.empty()) fail("cannot read " + dir + "/admin.token");
        return hub;
    }
};

/// The benchmark's product and devices; every measured connection uses a fresh device so the
/// hub's connect rate limit (1/s, 4 per 2 min per device) never throttles a measurement.
inline constexpr const char* product_key = "pkBench";
inline std::string device_key(int index) {
    return "bench" + std::to_string(index);
}
inline std::string device_secret(int index) {
    return "benchSecret" + std::to_string(index);
}

inline std::string registry_json(int devices) {
    std::string json =
        R"({"products":[{"productKey":"pkBench","productSecret":"benchProductSecret"}],"devices":[)";
    for (int i = 0; i < devices; ++i) {
        if (i) json += ',';
        json += R"({"productKey":"pkBench","deviceKey":")" + device_key(i) + R"(","deviceSecret":")" +
                device_secret(i) + "\"}";
    }
    return json + "]}";
}

// ---- TCP_NODELAY for the cloud side -------------------------------------------------------------

/// Sets TCP_NODELAY on every socket of this process connected to 127.0.0.1:port. Called right after
/// the cloud-side client connected and before any device client exists, so it touches only the
/// cloud's socket: the measured device keeps whatever its own library does.
inline int set_nodelay_on_sockets_to(int port) {
    int count = 0;
    DIR* fds = opendir("/proc/self/fd");
    if (!fds) return 0;
    while (dirent* entry = readdir(fds)) {
        const int fd = std::atoi(entry->d_name);
        if (fd <= 2) continue;
        struct stat st {};
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.sin_family != AF_INET)
            continue;
        if (ntohs(peer.sin_port) != port) continue;
        int on = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0) ++count;
    }
    closedir(fds);
    return count;
}

// ---- the privileged cloud-side client -----------------------------------------------------------

/// An admin MQTT client (as the hub's own tools use) that watches device topics and sends commands.
class CloudClient {
public:
    using Handler = std::function<void(const std::string& topic, const std::string& payload)>;

    CloudClient(const HubInfo& hub, Handler on_message)
        : client_(hub.url(), "bench-cloud-" + std::to_string(getpid()),
                  mqtt::create_options_builder().mqtt_version(MQTTVERSION_3_1_1).finalize()),
          on_message_(std::move(on_message)) {
        client_.set_message_callback(
            [this](mqtt::const_message_ptr msg) { on_message_(msg->get_topic(), msg->get_payload_str()); });
        auto options = mqtt::connect_options_builder()
                           .mqtt_version(MQTTVERSION_3_1_1)
                           .clean_session(true)
                           .user_name(hub.admin_username)
                           .password(hub.admin_password)
                           .max_inflight(1000)
                           .finalize();
        client_.connect(options)->wait();
        set_nodelay_on_sockets_to(hub.port);
    }
    ~CloudClient() {
        try {
            client_.disconnect()->wait();
        } catch (const std::exception&) {
        }
    }

    void subscribe(const std::string& filter, int qos) { client_.subscribe(filter, qos)->wait(); }
    void publish(const std::string& topic, const std::string& payload, int qos) {
        client_.publish(topic, payload.data(), payload.size(), qos, false);
    }

private:
    mqtt::async_client client_;
    Handler on_message_;
};

/// Counts events and lets one thread wait for a target count with a deadline.
class Counter {
public:
    void add(std::int64_t n = 1) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            value_ += n;
        }
        cv_.notify_all();
    }
    std::int64_t value() {
        std::lock_guard<std::mutex> lock(mutex_);
        return value_;
    }
    /// True when value() >= target before the deadline.
    bool wait_for_at_least(std::int64_t target, Clock::time_point deadline) {
        std::unique_lock<std::mutex> lock(mutex_);
        return cv_.wait_until(lock, deadline, [&] { return value_ >= target; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::int64_t value_ = 0;
};

/// "id" and "code" of a reply, read the way a hand-written client would (a real JSON parse).
struct ReplyFields {
    std::string id;
    int code = 0;
};
inline std::optional<ReplyFields> parse_reply_fields(const std::string& payload) {
    rapidjson::Document doc;
    if (doc.Parse(payload.c_str(), payload.size()).HasParseError() || !doc.IsObject()) return std::nullopt;
    ReplyFields fields;
    auto id = doc.FindMember("id");
    if (id == doc.MemberEnd() || !id->value.IsString()) return std::nullopt;
    fields.id = id->value.GetString();
    auto code = doc.FindMember("code");
    if (code != doc.MemberEnd() && code->value.IsInt()) fields.code = code->value.GetInt();
    return fields;
}

} // namespace bench
