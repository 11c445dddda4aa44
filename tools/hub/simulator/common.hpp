// Small pieces shared by the simulator, the injection commands and the store queries: locating a
// running hub through its run directory, clocks, random keys and hex.
#pragma once

#include "common/args.hpp"

#include <enos/device/core/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace enos::hub::sim {

using device::errc;
using device::Error;
using device::Result;
using device::Status;
using tools::parse_integer;

/// Where and how to reach a running hub (RUNDIR/hub.json and RUNDIR/admin.token).
struct HubEndpoint {
    std::string dir;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string registry; ///< path of the registry file the hub was started with
    std::string store;    ///< path of the SQLite store
    std::string admin_username = "enos-hub-admin";
    std::string admin_password;
};

/// `--dir` if given, else $ENOS_HUB_DIR, else ./.enos-hub.
std::string run_dir_or_default(const std::optional<std::string>& dir);

/// Reads RUNDIR/hub.json and RUNDIR/admin.token. The error never contains the token.
Result<HubEndpoint> read_hub_endpoint(const std::string& dir);

std::int64_t now_ms();
/// `n` bytes from the kernel's CSPRNG (getrandom); aborts if the kernel cannot give them, since a
/// guessable secret is worse than none.
void random_bytes(void* out, std::size_t n);
/// `n` random characters from [A-Za-z0-9], uniformly from the kernel's CSPRNG (device secrets,
/// generated device keys, client ids).
std::string random_token(std::size_t n);
/// `bytes` random bytes as lower-case hex (the admin token).
std::string random_hex(std::size_t bytes);
std::string to_hex(std::string_view bytes);
/// Hex digits (either case, even count, no separators) to bytes.
Result<std::string> from_hex(std::string_view hex);
/// A stable 8-character asset id derived from the device identity, the same across restarts.
std::string asset_id_of(std::string_view product_key, std::string_view device_key);
/// A JSON string literal for `text` (quotes included, control characters escaped).
std::string json_quote(std::string_view text);

} // namespace enos::hub::sim
