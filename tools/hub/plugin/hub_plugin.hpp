// The broker side of enos-hub: one object per mosquitto process, fed by the plugin callbacks
// (entry.cpp). It authenticates CONNECTs, applies the topic rules, follows the simulator's sub-device
// login/logout replies so gateways may use their sub-devices' topics, and tells the simulator who
// connected and disconnected on $hub/events/….
#pragma once

#include "activation_store.hpp"
#include "authenticator.hpp"
#include "connect_limiter.hpp"
#include "identity.hpp"
#include "topic_rules.hpp"

#include "../registry.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

struct mosquitto;
struct mosquitto_evt_basic_auth;
struct mosquitto_evt_acl_check;
struct mosquitto_evt_message;
struct mosquitto_evt_disconnect;

namespace enos::hub::plugin {

/// Everything the plugin reads from the `plugin_opt_*` lines of mosquitto.conf.
struct PluginOptions {
    std::string registry_path;                     ///< plugin_opt_registry (required)
    std::string admin_token_file;                  ///< plugin_opt_admin_token_file (required)
    std::string admin_username = "enos-hub-admin"; ///< plugin_opt_admin_username
    std::string store_path;                        ///< plugin_opt_store: hub.db of the simulator
    ConnectLimits limits;                          ///< plugin_opt_connect_*
};

/// Parses "key=value" plugin options; errors name the option.
Result<PluginOptions> parse_plugin_options(const std::vector<std::pair<std::string, std::string>>& options);

class HubPlugin {
public:
    HubPlugin(Registry registry, PluginOptions options, std::string admin_token);
    HubPlugin(const HubPlugin&) = delete;
    HubPlugin& operator=(const HubPlugin&) = delete;

    int on_basic_auth(const mosquitto_evt_basic_auth& event);
    int on_acl_check(const mosquitto_evt_acl_check& event);
    /// Follows sub-device sessions in the cloud's replies, and applies GZIP at the broker boundary
    /// (docs/protocol.md §5.6): a compressing device's publishes are inflated before anyone reads
    /// them (one that does not inflate is dropped and logged), and what the cloud publishes to it
    /// (its own topics, its sub-devices' while it is their gateway) is compressed.
    int on_message(mosquitto_evt_message& event);
    int on_disconnect(const mosquitto_evt_disconnect& event);

private:
    struct Session {
        Identity who;
        std::string mqtt_client_id; ///< guards against a reused client pointer
        std::uint64_t connection_id = 0;
    };

    const Session* session_of(const mosquitto* client) const;
    void forget(const mosquitto* client);
    void follow_sub_device_sessions(std::string_view topic, std::string_view payload);
    void publish_event(const char* topic, const Identity& who, std::uint64_t connection_id) const;
    int inflate_from_device(mosquitto_evt_message& event, const Session& session) const;
    int deflate_for_device(mosquitto_evt_message& event) const;
    /// Whether a message on `topic` goes to a connection that announced GZIP.
    bool receives_gzip(std::string_view topic) const;

    Registry registry_;
    PluginOptions options_;
    ActivationStore activations_;
    ConnectLimiter limiter_;
    Authenticator authenticator_;
    std::unordered_map<const mosquitto*, Session> sessions_;
    std::unordered_map<std::string, int> open_connections_;      ///< identity key -> live connections
    std::unordered_map<std::string, SubDeviceSet> sub_sessions_; ///< gateway key -> logged-in sub-devices
    std::unordered_map<std::string, int> gzip_connections_;      ///< identity key -> live GZIP connections
    std::uint64_t next_connection_id_ = 1;
};

} // namespace enos::hub::plugin
