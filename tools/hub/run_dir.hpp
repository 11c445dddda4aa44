// The run directory of a hub and the state kept in it: its location, hub.json (how every command
// finds the hub), the recorded pids and the files written atomically into it. The layout is
// described in tools/hub/README.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace enos::hub {

/// The privileged identity the simulator and the injection commands log in with.
constexpr const char* admin_username = "enos-hub-admin";

/// The run directory and the files `start` writes into it (see tools/hub/README.md).
struct RunDir {
    std::string dir;

    /// `--dir` if given, else $ENOS_HUB_DIR, else ./.enos-hub; made absolute.
    explicit RunDir(const std::optional<std::string>& flag);
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

/// Creates the run directory with mode 0700, or tightens an existing one of ours to 0700: it holds
/// the admin token, private keys and hub.db (issued device secrets). Refuses a path that is not a
/// directory or belongs to another user.
void prepare_run_dir(const RunDir& run);
/// Makes an existing file readable and writable by its owner only (0600); absent files are skipped.
void make_private(const std::string& path);
/// The run directory's files that hold secrets: the admin token, the simulator's store (activation
/// and registration secrets, with its WAL files) and the broker's saved session (the retained
/// activation messages). Certificates' keys live in certs/.
std::vector<std::string> secret_files(const RunDir& run);

std::string read_file(const std::string& path);
/// Writes through a temporary file and a rename, so readers never see half a file. The file has
/// `mode` from its creation on.
void write_file(const std::string& path, const std::string& text, mode_t mode = 0644);
/// The last lines of a log file, indented, for error messages.
std::string log_tail(const std::string& path, std::size_t lines = 8);

void write_hub_info(const RunDir& run, const HubInfo& info);
/// nullopt when there is no hub.json.
std::optional<HubInfo> read_hub_info(const RunDir& run);

/// The pid recorded in `pid_file` of the run directory; 0 when there is none.
pid_t recorded_pid(const RunDir& run, const char* pid_file);

} // namespace enos::hub
