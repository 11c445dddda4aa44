// What enos-hub writes for mosquitto: RUNDIR/mosquitto.conf, with the listeners, the persistence
// that keeps the simulator's session across broker restarts, and the plugin's options (registry,
// store, admin identity, connect limits). Rewritten on every start.
#pragma once

#include "common/args.hpp"
#include "run_dir.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace enos::hub {

/// mosquitto's message_size_limit. The platform takes payloads below 512 KiB (docs/protocol.md
/// §1.1) and answers bigger requests with code 1008, so the broker must let those reach the
/// simulator: it forwards payloads up to twice the platform's limit and drops larger ones unseen
/// (a QoS 1 publish is still acknowledged), so no client can make the hub buffer 256 MB messages.
constexpr std::size_t broker_payload_limit = 1024 * 1024;

struct BrokerConfig {
    std::string plugin, registry;
    std::uint16_t port = 0, tls_port = 0;
    std::string ca_file, cert_file, key_file;
    bool require_client_cert = false;
    std::vector<std::pair<std::string, std::string>> limit_options;
};

/// The configuration file's text.
std::string mosquitto_conf(const RunDir& run, const BrokerConfig& config);

/// Paths go into the configuration file one per line: a line break would start a directive.
void check_config_value(const std::string& what, const std::string& value);

/// The plugin's connect-limit options from --no-connect-limit and --connect-*.
std::vector<std::pair<std::string, std::string>> connect_limit_options(const tools::ParsedArgs& args);

} // namespace enos::hub
