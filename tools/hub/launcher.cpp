// The launcher commands of enos-hub (start, stop, broker-stop, broker-start, issue-cert, watch):
// their options, usage texts and exit codes, and the order in which `start` brings a hub up. What a
// hub consists of lives next door: run_dir (state on disk), mosquitto_config (the broker's
// configuration) and hub_lifecycle (its processes).
#include "launcher.hpp"

#include "certificates.hpp"
#include "hub_lifecycle.hpp"
#include "launcher_errors.hpp"
#include "mosquitto_config.hpp"
#include "processes.hpp"
#include "registry.hpp"

#include "common/args.hpp"
#include "simulator/common.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace enos::hub {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using tools::flag;
using tools::ParsedArgs;
using tools::valued;

namespace {

constexpr std::uint16_t default_port = 11883;
constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2, exit_timeout = 5;

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
    const auto limits = connect_limit_options(args);
    const auto owner = static_cast<pid_t>(integer_option(args, "--owner-pid", 0, 0, 1 << 30));
    const auto owner_start = owner ? process_start_ticks(owner) : std::nullopt;
    if (owner && (!process_alive(owner) || !owner_start))
        throw Failure("--owner-pid " + std::to_string(owner) + " is not a running process");
    const std::string mosquitto = find_mosquitto(args.value("--mosquitto"));
    const std::string plugin = find_plugin(args.value("--plugin"));
    for (const auto& [what, value] :
         {std::pair{"the run directory", run.dir}, std::pair{"the registry path", registry_path},
          std::pair{"the plugin path", plugin}})
        check_config_value(what, value);

    prepare_run_dir(run);
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
    // A run directory from an older hub may hold these with looser modes.
    for (const auto& file : secret_files(run))
        make_private(file);
    write_file(run.file("admin.token"), sim::random_hex(32) + "\n", 0600);

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
            make_private(info.ca_key_file);
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
            info.broker_pid = launch_broker(run, find_mosquitto(args.value("--mosquitto")));
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
