// The cloud side of the hub: answers every device request of docs/protocol.md §3 the way the platform
// would, keeps what devices send (through the Store), runs dynamic activation (§1.8) and follows the
// sub-device lifecycle commands the cloud sends. All state lives in memory and is touched only from
// the MQTT thread; the store is its durable mirror.
#pragma once

#include "common.hpp"
#include "store.hpp"

#include "../registry.hpp"

#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/topics.hpp>
#include <enos/device/core/value.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace enos::hub::sim {

using device::UpMethod;
using device::Value;

/// The reply codes the simulator answers with: docs/protocol.md §6, plus 401 and 460 (tools/hub/README.md).
enum ReplyCode : int {
    code_ok = 200,
    code_auth_failed = 401, ///< a sub-device signature does not verify
    code_bad_params = 460,  ///< params malformed, or a limit exceeded (>200 attributes/tags, >1000 items)
    code_sub_not_found = 705,
    code_sub_disabled = 723, ///< also the batch-login partial failure
    code_activation_refused = 770,
    code_sub_not_in_topology = 771,
    code_too_large = 1008,
    code_no_permission = 1009, ///< data for a sub-device that is not logged in through this gateway
    code_model_invalid = 1204,
    code_attribute_query_format = 1208,
    code_attribute_delete_format = 1209,
    code_bad_payload = 1220,
    code_empty_payload = 1251,
    code_topo_delete_failed = 1256,
    code_integration_device_not_found = 1257,
    code_method_mismatch = 1260,
};

/// What the cloud answers: code, message and the JSON text of "data" (empty: no "data").
struct Answer {
    int code = code_ok;
    std::string message;
    std::string data_json = "{}";

    static Answer ok(std::string data_json = "{}") { return Answer{code_ok, "", std::move(data_json)}; }
    static Answer fail(int code, std::string message, std::string data_json = "") {
        return Answer{code, std::move(message), std::move(data_json)};
    }
};

class Cloud {
public:
    /// Sends a message through the broker (topic, payload, qos, retain).
    using Publish = std::function<void(const std::string&, std::string_view, int, bool)>;

    Cloud(Registry registry, Store& store, Publish publish);

    /// Seeds the store from the registry on the first start, then loads the state the store holds.
    /// Call before Store::start().
    Status load();

    /// Topic filters the simulator subscribes to.
    static std::vector<std::string> subscriptions();

    /// Everything that arrives on those subscriptions.
    void on_message(std::string_view topic, std::string_view payload);

    /// After every (re)connection: a restarted broker lost the retained activation messages, so the
    /// ones still waiting for the device's answer are published again.
    void on_connected();

    /// QoS of every reply (docs/protocol.md leaves it open; 0 as for the device's own command replies).
    static constexpr int reply_qos = 0;

    /// One decoded request on its way through the handlers.
    struct Call {
        device::UpstreamTopic topic;
        device::Request request; ///< params_json stays empty: `params` holds them
        Value params;
        std::int64_t received_at = 0;
    };

private:
    struct DeviceState {
        std::string secret; ///< registry, registration or activation secret; empty if none yet
        bool enabled = true;
        bool deleted = false;
        bool gateway = false;
        bool registered = false; ///< created by thing.device.register
    };
    struct Activation {
        std::string secret;
        std::string request_id;
        bool activated = false;
    };

    // dispatch
    void on_request(const device::UpstreamTopic& topic, std::string_view topic_text,
                    std::string_view payload);
    void on_raw(const device::UpstreamTopic& topic, std::string_view topic_text, std::string_view payload);
    void on_broker_event(std::string_view topic, std::string_view payload);
    void publish_activation(const std::string& device, const Activation& activation);
    void on_activation_reply(std::string_view pk, std::string_view dk, std::string_view payload);
    void on_sub_device_command(device::DownKind kind, std::string_view payload);
    void reply(std::string_view request_topic, std::string_view id, const Answer& answer);
    Answer answer(const Call& call);

    // upstream methods (docs/protocol.md §3)
    Answer post_measurepoints(const Call& call, bool resumed);
    Answer post_measurepoints_batch(const Call& call, bool resumed);
    Answer post_event(const Call& call);
    Answer query_attributes(const Call& call);
    Answer update_attributes(const Call& call);
    Answer delete_attributes(const Call& call);
    Answer query_tags(const Call& call);
    Answer update_tags(const Call& call);
    Answer delete_tags(const Call& call);
    Answer tsl_template(const Call& call);
    Answer register_devices(const Call& call);
    Answer add_topology(const Call& call);
    Answer get_topology(const Call& call);
    Answer delete_topology(const Call& call);
    Answer login(const Call& call);
    Answer login_batch(const Call& call);
    Answer logout(const Call& call);
    Answer ota_inform(const Call& call);
    Answer ota_getversion(const Call& call);
    Answer ota_progress(const Call& call);
    Answer post_log(const Call& call);
    Answer report_network_status(const Call& call);
    Answer post_connection_state(const Call& call);
    Answer integration_measurepoints(const Call& call);
    Answer integration_events(const Call& call);
    Answer integration_attributes(const Call& call);

    // state helpers
    DeviceState* find_device(std::string_view pk, std::string_view dk);
    const std::string* gateway_of(const std::string& sub_id) const;
    bool logged_in(const std::string& sub_id, const std::string& gateway_id) const;
    /// Checks one sub-device login; on success records the session and fills `data_json`.
    Answer login_one(const std::string& gateway_pk, const std::string& gateway_dk, const std::string& pk,
                     const std::string& dk, const std::string& client_id, const std::string& timestamp,
                     const std::string& sign_method, const std::string& sign, const std::string& secure_mode);
    void end_session(const std::string& sub_id);
    void end_sessions_of_gateway(const std::string& gateway_id);
    /// `committed`: return only once the row is in hub.db (the plugin reads it at the device's CONNECT).
    void save_device(std::string_view pk, std::string_view dk, const DeviceState& state,
                     std::string details = {}, bool committed = false);
    void set_attributes(std::string_view pk, std::string_view dk, const Value::Object& attributes,
                        std::int64_t now);
    void store_points(std::string pk, std::string dk, const Value::Object& points, std::int64_t time,
                      bool resumed, std::int64_t received_at, const std::string& request_id);

    Registry registry_;
    Store& store_;
    Publish publish_;
    std::unordered_map<std::string, DeviceState> devices_;         ///< "pk/dk"
    std::unordered_map<std::string, std::string> gateway_of_;      ///< sub "pk/dk" -> gateway "pk/dk"
    std::unordered_map<std::string, std::vector<DeviceRef>> subs_; ///< gateway "pk/dk" -> subs in order
    std::unordered_map<std::string, std::string> session_gateway_; ///< logged-in sub -> its gateway
    std::unordered_map<std::string, std::map<std::string, std::string>> attributes_; ///< name -> JSON text
    std::unordered_map<std::string, std::map<std::string, std::string>> tags_;
    std::unordered_map<std::string, Activation> activations_;
    std::string reply_buffer_;
};

} // namespace enos::hub::sim
