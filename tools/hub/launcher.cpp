#include "launcher.hpp"

#include "certificates.hpp"
#include "processes.hpp"
#include "registry.hpp"

#include "common/args.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef ENOS_HUB_PLUGIN_RELDIR
#define ENOS_HUB_PLUGIN_RELDIR "../lib/enos-hub"
#endif

namespace enos::hub {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tools::flag;
using tools::ParsedArgs;
using tools::valued;

namespace {

constexpr const char* plugin_file_name = "libenos_hub_plugin.so";
constexpr const char* admin_username = "enos-hub-admin";
constexpr std::uint16_t default_port = 11883;
constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2, exit_timeout = 5;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Timeout : std::runtime_error {
    using std::runtime_error::runtime_error;
};

long long integer_option(const ParsedArgs& args, const std::string& name, long long fallback, long long min,
                         long long max) {
    const auto text = args.value(name);
    if (!text) return fallback;
    const auto value = tools::parse_integer(*text, name, min, max);
    if (!value) throw UsageError(value.error().detail);
    return *value;
}

std::uint16_t port_option(const ParsedArgs& args, const std::string& name, std::uint16_t fallback) {
    return static_cast<std::uint16_t>(integer_option(args, name, fallback, 0, 65535));
}

// ---- files -------------------------------------------------------------------------------------

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) throw Failure("cannot write " + tmp + ": " + std::strerror(errno));
    }
    ::chmod(tmp.c_str(), mode);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw Failure("cannot write " + path + ": " + std::strerror(errno));
}

std::string log_tail(const std::string& path, std::size_t lines = 8) {
    std::istringstream in(read_file(path));
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);)
        all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += "  " + all[i] + "\n";
    return out;
}

/// The run directory and the files `start` writes into it (see tools/hub/README.md).
struct RunDir {
    std::string dir;

    explicit RunDir(const std::optional<std::string>& flag) {
        std::string d =
            flag ? *flag : (std::getenv("ENOS_HUB_DIR") ? std::getenv("ENOS_HUB_DIR") : ".enos-hub");
        if (d.empty()) throw UsageError("--dir must not be empty");
        dir = fs::absolute(d).lexically_normal().string();
        while (dir.size() > 1 && dir.back() == '/')
            dir.pop_back();
    }
    std::string file(const char* name) const { return dir + "/" + name; }
    std::string hub_json() const { return file("hub.json"); }
    std::string certs() const { return file("certs"); }
};

/// hub.json: how every other command finds this hub.
struct HubInfo {
    std::uint16_t port = 0;
    std::uint16_t tls_port = 0; ///< 0: no TLS listener
    bool require_client_cert = false;
    std::string ca_file, ca_key_file, registry, store;
    pid_t broker_pid = 0, simulator_pid = 0;
};

void write_hub_info(const RunDir& run, const HubInfo& info) {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    const auto str = [&w](const char* key, const std::string& value) {
        w.Key(key);
        if (value.empty())
            w.Null();
        else
            w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    };
    const auto num = [&w](const char* key, long long value) {
        w.Key(key);
        if (value == 0)
            w.Null();
        else
            w.Int64(value);
    };
    w.StartObject();
    str("host", "127.0.0.1");
    num("port", info.port);
    num("tls_port", info.tls_port);
    w.Key("require_client_cert");
    w.Bool(info.require_client_cert);
    str("ca_file", info.ca_file);
    str("ca_key_file", info.ca_key_file);
    str("registry", info.registry);
    str("store", info.store);
    str("admin_username", admin_username);
    str("admin_token_file", run.file("admin.token"));
    str("dir", run.dir);
    num("broker_pid", info.broker_pid);
    num("simulator_pid", info.simulator_pid);
    w.EndObject();
    write_file(run.hub_json(), std::string(buffer.GetString(), buffer.GetSize()) + "\n");
}

std::optional<HubInfo> read_hub_info(const RunDir& run) {
    const std::string text = read_file(run.hub_json());
    if (text.empty()) return std::nullopt;
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) throw Failure(run.hub_json() + " is not valid JSON");
    HubInfo info;
    const auto integer = [&doc](const char* key) -> long long {
        const auto it = doc.FindMember(key);
        return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
    };
    const auto string = [&doc](const char* key) -> std::string {
        const auto it = doc.FindMember(key);
        return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
    };
    info.port = static_cast<std::uint16_t>(integer("port"));
    info.tls_port = static_cast<std::uint16_t>(integer("tls_port"));
    const auto cert = doc.FindMember("require_client_cert");
    info.require_client_cert = cert != doc.MemberEnd() && cert->value.IsBool() && cert->value.GetBool();
    info.ca_file = string("ca_file");
    info.ca_key_file = string("ca_key_file");
    info.registry = string("registry");
    info.store = string("store");
    info.broker_pid = static_cast<pid_t>(integer("broker_pid"));
    info.simulator_pid = static_cast<pid_t>(integer("simulator_pid"));
    return info;
}

// ---- the broker --------------------------------------------------------------------------------

std::string find_mosquitto(const ParsedArgs& args) {
    if (auto given = args.value("--mosquitto")) {
        if (::access(given->c_str(), X_OK) != 0)
            throw Failure("--mosquitto " + *given + " is not an executable");
        return *given;
    }
    if (const char* env = std::getenv("ENOS_HUB_MOSQUITTO"); env && *env) return env;
    if (auto found = find_in_path("mosquitto", {"/usr/sbin", "/usr/local/sbin", "/sbin"})) return *found;
    throw Failure(
        "mosquitto not found: install it (Debian: apt-get install mosquitto) or pass --mosquitto PATH");
}

std::string find_plugin(const ParsedArgs& args) {
    if (auto given = args.value("--plugin")) {
        if (!fs::exists(*given)) throw Failure("--plugin " + *given + " does not exist");
        return fs::absolute(*given).string();
    }
    if (const char* env = std::getenv("ENOS_HUB_PLUGIN"); env && *env) return env;
    const fs::path bin_dir = fs::path(self_executable()).parent_path();
    for (const fs::path& dir : {bin_dir, bin_dir / ENOS_HUB_PLUGIN_RELDIR, bin_dir / "../lib/enos-hub"}) {
        const fs::path candidate = dir / plugin_file_name;
        if (fs::exists(candidate)) return fs::canonical(candidate).string();
    }
    throw Failure(std::string("cannot find ") + plugin_file_name + " next to enos-hub or in " +
                  ENOS_HUB_PLUGIN_RELDIR + "; pass --plugin PATH");
}

std::string current_user() {
    if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
    return "root";
}

void check_config_value(const std::string& what, const std::string& value) {
    if (value.find_first_of("\r\n") != std::string::npos)
        throw Failure(what + " must not contain a line break");
}

struct BrokerConfig {
    std::string plugin, registry;
    std::uint16_t port = 0, tls_port = 0;
    std::string ca_file, cert_file, key_file;
    bool require_client_cert = false;
    std::vector<std::pair<std::string, std::string>> limit_options;
};

std::string mosquitto_conf(const RunDir& run, const BrokerConfig& c) {
    std::ostringstream conf;
    conf << "# Written by enos-hub start; rewritten on every start.\n"
         << "per_listener_settings false\n"
         << "allow_anonymous false\n"
         // Persistence keeps the simulator's session (and what is queued for it) across a broker
         // restart; saved when the broker exits, never in between.
         << "persistence true\n"
         << "persistence_location " << run.dir << "/\n"
         << "autosave_interval 0\n"
         << "queue_qos0_messages true\n"
         << "set_tcp_nodelay true\n"
         // Stay the user who started the hub: the run directory and the plugin belong to it.
         << "user " << current_user() << "\n"
         << "log_dest file " << run.file("mosquitto.log") << "\n"
         << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
         << "connection_messages true\n"
         // The simulator receives every device message; do not drop bursts for a busy subscriber.
         << "max_queued_messages 100000\n"
         << "max_inflight_messages 1000\n"
         << "plugin " << c.plugin << "\n"
         << "plugin_opt_registry " << c.registry << "\n"
         << "plugin_opt_admin_token_file " << run.file("admin.token") << "\n"
         << "plugin_opt_admin_username " << admin_username << "\n"
         << "plugin_opt_store " << run.file("hub.db") << "\n";
    for (const auto& [key, value] : c.limit_options)
        conf << "plugin_opt_" << key << " " << value << "\n";
    // The TLS listener opens first: once the plain port accepts, both are up, and readiness is
    // probed on the plain port alone (a bare TCP probe of the TLS port only litters the log).
    if (c.tls_port != 0) {
        conf << "\nlistener " << c.tls_port << " 127.0.0.1\n"
             << "cafile " << c.ca_file << "\n"
             << "certfile " << c.cert_file << "\n"
             << "keyfile " << c.key_file << "\n"
             << "require_certificate " << (c.require_client_cert ? "true" : "false") << "\n";
    }
    conf << "\nlistener " << c.port << " 127.0.0.1\n";
    return conf.str();
}

/// What happened while waiting for the broker to listen.
enum class BrokerStart { ready, port_taken };

BrokerStart wait_for_broker(const RunDir& run, pid_t pid, const HubInfo& info, Clock::time_point deadline) {
    const std::string log = run.file("mosquitto.log");
    while (Clock::now() < deadline) {
        if (child_exited(pid)) {
            const std::string tail = log_tail(log);
            if (tail.find("Address already in use") != std::string::npos) return BrokerStart::port_taken;
            throw Failure("mosquitto exited during start-up; end of " + log + ":\n" + tail);
        }
        if (port_accepts(info.port)) return BrokerStart::ready;
        std::this_thread::sleep_for(milliseconds(20));
    }
    stop_process(pid, milliseconds(2000));
    throw Timeout("mosquitto did not accept connections in time; end of " + log + ":\n" + log_tail(log));
}

/// The simulator writes simulator.ready once its subscriptions are acknowledged, after every
/// (re)connect to the broker.
void wait_for_simulator(const RunDir& run, pid_t pid, Clock::time_point deadline) {
    const std::string log = run.file("simulator.log");
    while (!fs::exists(run.file("simulator.ready"))) {
        ::waitpid(pid, nullptr, WNOHANG); // reaps it when it is our own child
        if (!process_alive(pid)) throw Failure("the simulator exited; end of " + log + ":\n" + log_tail(log));
        if (Clock::now() >= deadline)
            throw Timeout("the simulator did not become ready in time; end of " + log + ":\n" +
                          log_tail(log));
        std::this_thread::sleep_for(milliseconds(20));
    }
}

pid_t launch_broker(const RunDir& run, const std::string& mosquitto) {
    return spawn_daemon({mosquitto, "-c", run.file("mosquitto.conf")}, run.file("mosquitto.log"));
}

// ---- start / stop ------------------------------------------------------------------------------

std::string random_token() {
    std::random_device rd;
    std::string token;
    char hex[9];
    for (int i = 0; i < 8; ++i) {
        std::snprintf(hex, sizeof hex, "%08x", rd());
        token += hex;
    }
    return token;
}

/// Stops whatever the run directory records as running. Returns a note per process for stderr.
std::vector<std::string> stop_recorded(const RunDir& run, bool broker, bool simulator) {
    std::vector<std::string> notes;
    const auto pid_from = [&run](const char* file) -> pid_t {
        std::istringstream in(read_file(run.file(file)));
        long long pid = 0;
        return in >> pid && pid > 0 ? static_cast<pid_t>(pid) : 0;
    };
    const auto stop_one = [&](const char* what, const char* pid_file, const std::string& marker) {
        const pid_t pid = pid_from(pid_file);
        if (pid == 0) return;
        if (!runs_with(pid, marker)) {
            notes.push_back(std::string(what) + " (pid " + std::to_string(pid) + ") was not running");
        } else if (!stop_process(pid, milliseconds(5000))) {
            throw Failure(std::string("cannot stop the ") + what + " (pid " + std::to_string(pid) + ")");
        }
        fs::remove(run.file(pid_file));
    };
    // The simulator first, so it does not log a lost broker connection on every stop.
    if (simulator) stop_one("simulator", "simulator.pid", run.dir);
    if (broker) stop_one("broker", "broker.pid", run.file("mosquitto.conf"));
    if (simulator) fs::remove(run.file("simulator.ready"));
    return notes;
}

/// The watcher of `--owner-pid` goes first, so it cannot race a stop that is already under way.
void stop_watcher(const RunDir& run) {
    std::istringstream in(read_file(run.file("watch.pid")));
    long long pid = 0;
    if (in >> pid && runs_with(static_cast<pid_t>(pid), "watch") &&
        runs_with(static_cast<pid_t>(pid), run.dir))
        stop_process(static_cast<pid_t>(pid), milliseconds(5000));
    fs::remove(run.file("watch.pid"));
}

bool hub_running(const RunDir& run) {
    const auto info = read_hub_info(run);
    if (!info) return false;
    return runs_with(info->broker_pid, run.file("mosquitto.conf")) || runs_with(info->simulator_pid, run.dir);
}

std::vector<std::pair<std::string, std::string>> limit_options(const ParsedArgs& args) {
    std::vector<std::pair<std::string, std::string>> out;
    if (args.has("--no-connect-limit")) {
        out.emplace_back("connect_limit", "off");
        return out;
    }
    constexpr long long day_ms = 24LL * 3600 * 1000;
    out.emplace_back("connect_limit", "on");
    out.emplace_back("connect_min_interval_ms",
                     std::to_string(integer_option(args, "--connect-min-interval-ms", 1000, 0, day_ms)));
    out.emplace_back("connect_window_ms",
                     std::to_string(integer_option(args, "--connect-window-ms", 120000, 0, day_ms)));
    out.emplace_back("connect_window_max",
                     std::to_string(integer_option(args, "--connect-window-max", 4, 1, 1000000)));
    out.emplace_back("connect_block_ms",
                     std::to_string(integer_option(args, "--connect-block-ms", 300000, 0, day_ms)));
    return out;
}

void print_started(const RunDir& run, const HubInfo& info) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("host");
    w.String("127.0.0.1");
    w.Key("port");
    w.Uint(info.port);
    w.Key("tls_port");
    info.tls_port ? w.Uint(info.tls_port) : w.Null();
    w.Key("ca_file");
    info.ca_file.empty() ? w.Null() : w.String(info.ca_file.c_str());
    w.Key("dir");
    w.String(run.dir.c_str());
    w.Key("broker_pid");
    w.Int(info.broker_pid);
    w.Key("simulator_pid");
    info.simulator_pid ? w.Int(info.simulator_pid) : w.Null();
    w.EndObject();
    std::cout << buffer.GetString() << std::endl;
}

const char* start_usage =
    "usage: enos-hub start --registry FILE [--port P] [--tls-port P2] [--dir RUNDIR]\n"
    "                      [--ca-cert FILE --ca-key FILE] [--require-client-cert]\n"
    "                      [--no-connect-limit | --connect-min-interval-ms MS --connect-window-ms MS\n"
    "                       --connect-window-max N --connect-block-ms MS]\n"
    "                      [--fresh] [--replace] [--no-simulator] [--timeout-ms MS] [--owner-pid PID]\n"
    "                      [--mosquitto PATH] [--plugin PATH]\n"
    "Port 0 picks a free port. Prints one JSON line with the ports once broker and simulator are ready.\n";

int start(const ParsedArgs& args) {
    const RunDir run(args.value("--dir"));
    const auto registry_arg = args.value("--registry");
    if (!registry_arg) throw UsageError("--registry FILE is required");
    const std::string registry_path = fs::absolute(*registry_arg).lexically_normal().string();
    if (auto registry = load_registry(registry_path); !registry) throw Failure(registry.error().detail);

    const std::uint16_t wanted_port = port_option(args, "--port", default_port);
    const bool tls = args.has("--tls-port");
    const std::uint16_t wanted_tls_port = tls ? port_option(args, "--tls-port", 0) : 0;
    if (args.has("--require-client-cert") && !tls) throw UsageError("--require-client-cert needs --tls-port");
    if (args.has("--ca-cert") != args.has("--ca-key")) throw UsageError("--ca-cert and --ca-key go together");
    if (args.has("--ca-cert") && !tls) throw UsageError("--ca-cert needs --tls-port");
    const auto timeout = milliseconds(integer_option(args, "--timeout-ms", 30000, 1, 3600000));
    const auto limits = limit_options(args);
    const auto owner = static_cast<pid_t>(integer_option(args, "--owner-pid", 0, 0, 1 << 30));
    const auto owner_start = owner ? process_start_ticks(owner) : std::nullopt;
    if (owner && (!process_alive(owner) || !owner_start))
        throw Failure("--owner-pid " + std::to_string(owner) + " is not a running process");
    const std::string mosquitto = find_mosquitto(args);
    const std::string plugin = find_plugin(args);
    for (const auto& [what, value] :
         {std::pair{"the run directory", run.dir}, std::pair{"the registry path", registry_path},
          std::pair{"the plugin path", plugin}})
        check_config_value(what, value);

    fs::create_directories(run.dir);
    if (hub_running(run)) {
        if (!args.has("--replace"))
            throw Failure("a hub is already running in " + run.dir + "; stop it with: enos-hub stop --dir " +
                          run.dir + " (or pass --replace)");
        stop_watcher(run);
        stop_recorded(run, true, true);
    }
    if (wanted_port != 0 && !port_free(wanted_port))
        throw Failure("port " + std::to_string(wanted_port) +
                      " on 127.0.0.1 is already in use; pick another with --port");
    if (wanted_tls_port != 0 && !port_free(wanted_tls_port))
        throw Failure("port " + std::to_string(wanted_tls_port) +
                      " on 127.0.0.1 is already in use; pick another with --tls-port");

    for (const char* stale : {"hub.json", "broker.pid", "simulator.pid", "simulator.ready"})
        fs::remove(run.file(stale));
    if (args.has("--fresh"))
        for (const char* store : {"hub.db", "hub.db-wal", "hub.db-shm", "hub.db-journal", "mosquitto.db"})
            fs::remove(run.file(store));
    write_file(run.file("admin.token"), random_token() + "\n", 0600);

    HubInfo info;
    info.registry = registry_path;
    info.store = run.file("hub.db");
    BrokerConfig config;
    config.plugin = plugin;
    config.registry = registry_path;
    config.limit_options = limits;
    if (tls) {
        const CertificateTool certificates(run.certs());
        if (args.has("--ca-cert")) {
            info.ca_file = fs::absolute(*args.value("--ca-cert")).string();
            info.ca_key_file = fs::absolute(*args.value("--ca-key")).string();
        } else {
            info.ca_file = run.certs() + "/ca.crt";
            info.ca_key_file = run.certs() + "/ca.key";
            // Kept across restarts, so devices that stored the CA keep trusting the hub.
            if (!fs::exists(info.ca_file) || !fs::exists(info.ca_key_file))
                certificates.make_ca(info.ca_file, info.ca_key_file);
        }
        check_config_value("the CA path", info.ca_file);
        config.ca_file = info.ca_file;
        config.cert_file = run.certs() + "/server.crt";
        config.key_file = run.certs() + "/server.key";
        certificates.issue_server(info.ca_file, info.ca_key_file, config.cert_file, config.key_file);
        config.require_client_cert = info.require_client_cert = args.has("--require-client-cert");
    }

    // With picked ports another process may grab one between the probe and mosquitto's bind: retry.
    const auto deadline = Clock::now() + timeout;
    for (int attempt = 1;; ++attempt) {
        info.port = config.port = wanted_port ? wanted_port : free_port();
        info.tls_port = config.tls_port = tls ? (wanted_tls_port ? wanted_tls_port : free_port()) : 0;
        if (info.tls_port == info.port) continue;
        write_file(run.file("mosquitto.conf"), mosquitto_conf(run, config));
        info.broker_pid = launch_broker(run, mosquitto);
        const BrokerStart result = wait_for_broker(run, info.broker_pid, info, deadline);
        if (result == BrokerStart::ready) break;
        const bool picked = wanted_port == 0 && (!tls || wanted_tls_port == 0);
        if (!picked || attempt >= 5)
            throw Failure("port " + std::to_string(info.port) +
                          (tls ? " or " + std::to_string(info.tls_port) : "") + " is already in use");
    }
    write_file(run.file("broker.pid"), std::to_string(info.broker_pid) + "\n");
    write_hub_info(run, info);

    if (!args.has("--no-simulator")) {
        try {
            info.simulator_pid =
                spawn_daemon({self_executable(), "simulate", "--dir", run.dir}, run.file("simulator.log"));
            write_file(run.file("simulator.pid"), std::to_string(info.simulator_pid) + "\n");
            wait_for_simulator(run, info.simulator_pid, deadline);
        } catch (...) {
            stop_recorded(run, true, true);
            fs::remove(run.hub_json());
            throw;
        }
    }
    write_hub_info(run, info);
    if (owner) {
        const pid_t watcher =
            spawn_daemon({self_executable(), "watch", "--dir", run.dir, "--owner-pid", std::to_string(owner),
                          "--owner-start", std::to_string(*owner_start)},
                         run.file("watch.log"));
        write_file(run.file("watch.pid"), std::to_string(watcher) + "\n");
    }
    print_started(run, info);
    return exit_ok;
}

/// `enos-hub watch`: stops the hub once its owner process is gone, so a test that crashes or is
/// killed leaves no broker behind. The owner is identified by pid and start time (pids are reused).
int watch(const ParsedArgs& args) {
    const RunDir run(args.value("--dir"));
    const auto owner = static_cast<pid_t>(integer_option(args, "--owner-pid", 0, 1, 1 << 30));
    const auto owner_start =
        tools::parse_integer(args.value("--owner-start").value_or(""), "--owner-start",
                             std::numeric_limits<long long>::min(), std::numeric_limits<long long>::max());
    if (!owner_start) throw UsageError("--owner-start TICKS is required");
    while (process_alive(owner) &&
           process_start_ticks(owner) == static_cast<unsigned long long>(*owner_start) &&
           fs::exists(run.hub_json()))
        std::this_thread::sleep_for(milliseconds(200));
    if (fs::exists(run.hub_json())) {
        std::cerr << "enos-hub watch: owner " << owner << " is gone, stopping the hub in " << run.dir << "\n";
        stop_recorded(run, true, true);
        fs::remove(run.hub_json());
    }
    fs::remove(run.file("watch.pid"));
    return exit_ok;
}

RunDir existing_hub(const ParsedArgs& args, HubInfo& info) {
    RunDir run(args.value("--dir"));
    auto recorded = read_hub_info(run);
    if (!recorded)
        throw Failure("no hub in " + run.dir + " (no hub.json): start one with enos-hub start --dir " +
                      run.dir);
    info = *recorded;
    return run;
}

/// Parses the command's options and runs `body`, turning its exceptions into exit codes. --help
/// prints `usage` unless an argument before it was already wrong.
template <class Fn>
int guarded(const char* command, const char* usage, int argc, char** argv,
            std::vector<tools::OptionSpec> options, Fn&& body) {
    options.push_back(tools::final_flag("--help"));
    try {
        auto args =
            tools::parse_command_line(tools::arguments_from(argc, argv, 1), options); // argv[0]: the command
        if (!args) throw UsageError(args.error().detail);
        if (!args->positionals().empty())
            throw UsageError("unexpected argument '" + args->positionals().front() + "'");
        if (args->has("--help")) {
            std::cout << usage;
            return exit_ok;
        }
        return body(*args);
    } catch (const UsageError& e) {
        std::cerr << "enos-hub " << command << ": " << e.what() << "\n" << usage;
        return exit_usage;
    } catch (const Timeout& e) {
        std::cerr << "enos-hub " << command << ": " << e.what();
        return exit_timeout;
    } catch (const std::exception& e) {
        std::cerr << "enos-hub " << command << ": " << e.what() << "\n";
        return exit_failure;
    }
}

} // namespace

int start_main(int argc, char** argv) {
    return guarded("start", start_usage, argc, argv,
                   {flag("--require-client-cert"), flag("--no-simulator"), flag("--replace"), flag("--fresh"),
                    flag("--no-connect-limit"), valued("--registry"), valued("--port"), valued("--tls-port"),
                    valued("--dir"), valued("--ca-cert"), valued("--ca-key"), valued("--mosquitto"),
                    valued("--plugin"), valued("--timeout-ms"), valued("--connect-min-interval-ms"),
                    valued("--connect-window-ms"), valued("--connect-window-max"),
                    valued("--connect-block-ms"), valued("--owner-pid")},
                   [](const ParsedArgs& args) { return start(args); });
}

int stop_main(int argc, char** argv) {
    return guarded(
        "stop",
        "usage: enos-hub stop [--dir RUNDIR]\nStops the broker and the simulator by their recorded pids.\n",
        argc, argv, {valued("--dir")}, [](const ParsedArgs& args) {
            const RunDir run(args.value("--dir"));
            if (!fs::exists(run.hub_json()) && !fs::exists(run.file("broker.pid"))) {
                std::cerr << "enos-hub stop: no hub recorded in " << run.dir << "\n";
                return exit_ok;
            }
            stop_watcher(run);
            for (const auto& note : stop_recorded(run, true, true))
                std::cerr << "enos-hub stop: " << note << "\n";
            fs::remove(run.hub_json());
            return exit_ok;
        });
}

int watch_main(int argc, char** argv) {
    return guarded("watch",
                   "usage: enos-hub watch --dir RUNDIR --owner-pid PID --owner-start TICKS (run by start)\n",
                   argc, argv, {valued("--dir"), valued("--owner-pid"), valued("--owner-start")},
                   [](const ParsedArgs& args) { return watch(args); });
}

int broker_stop_main(int argc, char** argv) {
    return guarded("broker-stop",
                   "usage: enos-hub broker-stop [--dir RUNDIR]\nStops only mosquitto (an outage); "
                   "broker-start brings it "
                   "back on the same ports.\n",
                   argc, argv, {valued("--dir")}, [](const ParsedArgs& args) {
                       HubInfo info;
                       const RunDir run = existing_hub(args, info);
                       for (const auto& note : stop_recorded(run, true, false))
                           std::cerr << "enos-hub broker-stop: " << note << "\n";
                       // The simulator is no longer subscribed; it marks itself ready again once it
                       // has reconnected to the restarted broker.
                       fs::remove(run.file("simulator.ready"));
                       info.broker_pid = 0;
                       write_hub_info(run, info);
                       return exit_ok;
                   });
}

int broker_start_main(int argc, char** argv) {
    return guarded(
        "broker-start", "usage: enos-hub broker-start [--dir RUNDIR] [--timeout-ms MS] [--mosquitto PATH]\n",
        argc, argv, {valued("--dir"), valued("--timeout-ms"), valued("--mosquitto")},
        [](const ParsedArgs& args) {
            HubInfo info;
            const RunDir run = existing_hub(args, info);
            if (runs_with(info.broker_pid, run.file("mosquitto.conf")))
                throw Failure("the broker is already running (pid " + std::to_string(info.broker_pid) + ")");
            const auto timeout = milliseconds(integer_option(args, "--timeout-ms", 30000, 1, 3600000));
            info.broker_pid = launch_broker(run, find_mosquitto(args));
            if (wait_for_broker(run, info.broker_pid, info, Clock::now() + timeout) != BrokerStart::ready)
                throw Failure("port " + std::to_string(info.port) + " is taken by another process");
            write_file(run.file("broker.pid"), std::to_string(info.broker_pid) + "\n");
            write_hub_info(run, info);
            // Up once the cloud side is back; what devices send before that waits in its session.
            if (info.simulator_pid > 0) wait_for_simulator(run, info.simulator_pid, Clock::now() + timeout);
            print_started(run, info);
            return exit_ok;
        });
}

int issue_cert_main(int argc, char** argv) {
    return guarded("issue-cert",
                   "usage: enos-hub issue-cert [--dir RUNDIR] --pk PK --dk DK --out-cert FILE --out-key FILE "
                   "[--days N]\n"
                   "Issues a device (client) certificate signed by the hub's CA (subject O=PK, CN=DK).\n",
                   argc, argv,
                   {valued("--dir"), valued("--pk"), valued("--dk"), valued("--out-cert"),
                    valued("--out-key"), valued("--days")},
                   [](const ParsedArgs& args) {
                       HubInfo info;
                       const RunDir run = existing_hub(args, info);
                       for (const char* required : {"--pk", "--dk", "--out-cert", "--out-key"})
                           if (!args.has(required) || args.value(required)->empty())
                               throw UsageError(std::string(required) + " is required");
                       if (info.ca_file.empty() || info.ca_key_file.empty())
                           throw Failure("the hub in " + run.dir + " has no CA: start it with --tls-port");
                       const int days = static_cast<int>(integer_option(args, "--days", 825, 1, 36500));
                       const CertificateTool certificates(run.certs());
                       const std::string cert = fs::absolute(*args.value("--out-cert")).string();
                       const std::string key = fs::absolute(*args.value("--out-key")).string();
                       certificates.issue_device(*args.value("--pk"), *args.value("--dk"), info.ca_file,
                                                 info.ca_key_file, cert, key, days);
                       rapidjson::StringBuffer buffer;
                       rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
                       w.StartObject();
                       w.Key("cert");
                       w.String(cert.c_str());
                       w.Key("key");
                       w.String(key.c_str());
                       w.EndObject();
                       std::cout << buffer.GetString() << std::endl;
                       return exit_ok;
                   });
}

} // namespace enos::hub
