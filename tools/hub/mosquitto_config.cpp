#include "mosquitto_config.hpp"

#include "launcher_errors.hpp"

#include <pwd.h>
#include <unistd.h>

#include <sstream>

namespace enos::hub {

namespace {

std::string current_user() {
    if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
    return "root";
}

} // namespace

void check_config_value(const std::string& what, const std::string& value) {
    if (value.find_first_of("\r\n") != std::string::npos)
        throw Failure(what + " must not contain a line break");
}

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
         << "message_size_limit " << broker_payload_limit << "\n"
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

std::vector<std::pair<std::string, std::string>> connect_limit_options(const tools::ParsedArgs& args) {
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

} // namespace enos::hub
