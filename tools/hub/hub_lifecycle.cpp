#include "hub_lifecycle.hpp"

#include "launcher_errors.hpp"
#include "processes.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#ifndef ENOS_HUB_PLUGIN_RELDIR
#define ENOS_HUB_PLUGIN_RELDIR "../lib/enos-hub"
#endif

namespace enos::hub {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr const char* plugin_file_name = "libenos_hub_plugin.so";

} // namespace

std::string find_mosquitto(const std::optional<std::string>& given) {
    if (given) {
        if (::access(given->c_str(), X_OK) != 0)
            throw Failure("--mosquitto " + *given + " is not an executable");
        return *given;
    }
    if (const char* env = std::getenv("ENOS_HUB_MOSQUITTO"); env && *env) return env;
    if (auto found = find_in_path("mosquitto", {"/usr/sbin", "/usr/local/sbin", "/sbin"})) return *found;
    throw Failure(
        "mosquitto not found: install it (Debian: apt-get install mosquitto) or pass --mosquitto PATH");
}

std::string find_plugin(const std::optional<std::string>& given) {
    if (given) {
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

pid_t launch_broker(const RunDir& run, const std::string& mosquitto) {
    return spawn_daemon({mosquitto, "-c", run.file("mosquitto.conf")}, run.file("mosquitto.log"));
}

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

std::vector<std::string> stop_recorded(const RunDir& run, bool broker, bool simulator) {
    std::vector<std::string> notes;
    const auto stop_one = [&](const char* what, const char* pid_file, const std::string& marker) {
        const pid_t pid = recorded_pid(run, pid_file);
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

void stop_watcher(const RunDir& run) {
    const pid_t pid = recorded_pid(run, "watch.pid");
    if (pid != 0 && runs_with(pid, "watch") && runs_with(pid, run.dir)) stop_process(pid, milliseconds(5000));
    fs::remove(run.file("watch.pid"));
}

bool hub_running(const RunDir& run) {
    const auto info = read_hub_info(run);
    if (!info) return false;
    return runs_with(info->broker_pid, run.file("mosquitto.conf")) || runs_with(info->simulator_pid, run.dir);
}

} // namespace enos::hub
