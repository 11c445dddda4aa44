// Processes and local ports for the launcher: daemons in their own session, tools run to
// completion, pids that are only signalled while they still run what we started.
// Failures throw std::runtime_error with a message for the user.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace enos::hub {

/// The path of the running executable.
std::string self_executable();

/// The first executable `name` in $PATH, then in `extra_dirs`.
std::optional<std::string> find_in_path(const std::string& name, const std::vector<std::string>& extra_dirs);

/// Starts a daemon in its own session: stdin from /dev/null, stdout and stderr appended to
/// `log_path`, no other inherited descriptor. Returns its pid once exec succeeded.
pid_t spawn_daemon(std::vector<std::string> args, const std::string& log_path);

/// Runs a tool to completion; returns its exit status and appends its combined output to `output`.
int run_tool(std::vector<std::string> args, std::string& output);

/// The pid exists and is not a zombie (a daemon whose parent exited may stay one when nothing reaps it).
bool process_alive(pid_t pid);

/// The pid is alive and has `arg` among its arguments. Recorded pids are only signalled when this
/// holds: after a crash or a reboot the number may belong to something else.
bool runs_with(pid_t pid, const std::string& arg);

/// When the process started (clock ticks after boot, /proc/PID/stat field 22): with the pid, an
/// identity that survives pid reuse. nullopt if there is no such process.
std::optional<unsigned long long> process_start_ticks(pid_t pid);

/// SIGTERM, then SIGKILL after `grace`; true when the process is gone. Reaps it if it is our child.
bool stop_process(pid_t pid, std::chrono::milliseconds grace);

/// True once our own child `pid` has exited (it is reaped here).
bool child_exited(pid_t pid);

/// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();
/// Something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(std::uint16_t port);
/// 127.0.0.1:port can be bound right now.
bool port_free(std::uint16_t port);

} // namespace enos::hub
