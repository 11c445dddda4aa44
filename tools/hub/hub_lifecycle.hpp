// Starting, waiting for and stopping the hub's processes (mosquitto, the simulator, the owner
// watcher) through the pids recorded in the run directory. The generic process and port helpers
// are in processes.hpp; this file knows which processes a hub has and how each signals readiness.
#pragma once

#include "run_dir.hpp"

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace enos::hub {

using Clock = std::chrono::steady_clock;

/// --mosquitto if given, else $ENOS_HUB_MOSQUITTO, else the first mosquitto in $PATH or sbin.
std::string find_mosquitto(const std::optional<std::string>& given);
/// --plugin if given, else $ENOS_HUB_PLUGIN, else the plugin next to enos-hub or where it is installed.
std::string find_plugin(const std::optional<std::string>& given);

/// Starts mosquitto with RUNDIR/mosquitto.conf, logging to RUNDIR/mosquitto.log.
pid_t launch_broker(const RunDir& run, const std::string& mosquitto);

/// What happened while waiting for the broker to listen.
enum class BrokerStart { ready, port_taken };

/// Waits until the broker accepts connections on info.port.
BrokerStart wait_for_broker(const RunDir& run, pid_t pid, const HubInfo& info, Clock::time_point deadline);

/// The simulator writes simulator.ready once its subscriptions are acknowledged, after every
/// (re)connect to the broker.
void wait_for_simulator(const RunDir& run, pid_t pid, Clock::time_point deadline);

/// Stops whatever the run directory records as running. Returns a note per process for stderr.
std::vector<std::string> stop_recorded(const RunDir& run, bool broker, bool simulator);

/// The watcher of `--owner-pid` goes first, so it cannot race a stop that is already under way.
void stop_watcher(const RunDir& run);

/// hub.json records a broker or a simulator that still runs.
bool hub_running(const RunDir& run);

} // namespace enos::hub
