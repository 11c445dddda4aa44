// Entry points of the cloud side of enos-hub: the simulator daemon that answers device requests and
// keeps what they send in the SQLite store, the downstream command injection, and the store queries.
// main.cpp dispatches to these; each returns the process exit code.
#pragma once

namespace enos::hub {

/// Exit codes shared by the cloud-side commands.
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1,
    exit_usage = 2,        ///< bad or missing arguments (a usage message is printed on stderr)
    exit_unreachable = 3,  ///< the hub (broker or store) cannot be reached
    exit_device_error = 4, ///< the device replied with a code other than 200
    exit_timeout = 5,      ///< no reply within --timeout-ms
};

/// `enos-hub simulate --dir RUNDIR`: the cloud simulator daemon (started by `enos-hub start`).
int simulator_main(int argc, char** argv);

/// argv[0] is the command: invoke | rrpc | set-measurepoints | get-measurepoints | raw-down |
/// ota-upgrade | subdevice. Prints the device's reply as one JSON line on stdout.
int inject_main(int argc, char** argv);

/// `enos-hub query KIND --pk PK --dk DK [--dir RUNDIR]`: one JSON line per stored row.
int query_main(int argc, char** argv);

} // namespace enos::hub
