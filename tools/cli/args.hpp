// Command line of enos-device: what the user asked for, parsed and checked before anything connects.
#pragma once

#include <enos/device/core/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace enos::cli {

/// Exit codes, part of the tool's interface (scripts and tests rely on them).
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1, ///< anything the other codes do not describe (local I/O error, internal failure)
    exit_usage = 2,   ///< bad arguments: unknown option, missing key, malformed JSON or hex
    exit_connect = 3, ///< connect refused or failed: credentials, authorisation, TLS, unreachable
    exit_cloud = 4,   ///< the cloud replied with a code other than 200
    exit_timeout = 5, ///< no reply (or no connection) within --timeout-ms
};

enum class Command {
    help,
    version,
    sign,
    post_measurepoints,
    post_event,
    attributes,
    tags,
    raw_up,
    serve,
    // gateway (docs/protocol.md §3.2, §3.9–3.11)
    register_devices,
    topo,
    sub_login,
    sub_logout,
    post_batch,
    // message-integration channel, securemode 4 (§3.16)
    integration,
};

/// Every option and positional argument; validated for the command by parse_args().
struct Args {
    Command command = Command::help;
    std::string command_name; ///< as typed, for output ("attributes update")

    std::string url; ///< tcp://HOST:PORT or ssl://HOST:PORT
    std::string product_key, device_key;
    std::string device_secret, product_secret; ///< exactly one of them for commands that sign
    std::string sign_method = "sha256";
    std::string client_id; ///< raw client id; empty: the device key
    std::string timestamp; ///< sign only: fixed timestamp instead of now
    std::string ca_file, cert_file, key_file;
    std::string secret_file; ///< dynamic activation: where the issued device secret is kept
    int qos = -1;            ///< -1: the method's own QoS (1, or 0 for events)
    bool verbose = false;    ///< SDK log lines (debug and up) on stderr; otherwise warnings only
    std::uint32_t timeout_ms = 10000;
    std::optional<std::int64_t> time_ms;       ///< post-measurepoints --time
    bool resume = false;                       ///< post-measurepoints --resume
    std::optional<std::uint32_t> serve_for_ms; ///< serve --for-ms: stop by itself after this long
    std::string verb; ///< attributes/tags: query|update|delete; topo: add|get|delete; integration: post-*
    // gateway commands
    std::string sub_secret;       ///< --sub-secret (or ENOS_SUB_DEVICE_SECRET): every sub-device's secret
    std::string sub_secrets_file; ///< --sub-secrets F: JSON lines {productKey, deviceKey, deviceSecret}
    std::string secrets_out;      ///< register --secrets-out F: where the issued secrets are appended
    bool allow_offline_sub_device = false;    ///< post-batch
    bool skip_invalid_measurepoints = false;  ///< post-batch
    bool login_first = false;                 ///< post-batch --login: log the sub-devices in first
    std::vector<std::string> operands;         ///< positional arguments after the command (and verb)
};

/// Parses argv (without argv[0]). Values may also come from the environment (ENOS_URL,
/// ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY, ENOS_DEVICE_SECRET, ENOS_PRODUCT_SECRET,
/// ENOS_SUB_DEVICE_SECRET) so secrets need not
/// appear in the process list; options win over the environment. Errors are usage errors whose
/// detail names the offending argument and never contains a secret.
device::Result<Args> parse_args(const std::vector<std::string>& argv);

/// The --help text.
const char* usage_text();

} // namespace enos::cli
