// Cloud: what the broker and the cloud's own commands tell the simulator — connections (and dynamic
// activation, docs/protocol.md §1.8), disconnections, and sub-device enable/disable/delete.
#include "cloud.hpp"
#include "cloud_detail.hpp"

#include <cstdio>

namespace enos::hub::sim {

using detail::field;
using detail::text_field;

void Cloud::on_broker_event(std::string_view topic, std::string_view payload) {
    auto event = device::parse_value(payload);
    if (!event || !event->is_object()) {
        std::fprintf(stderr, "enos-hub simulate: unreadable broker event on %.*s\n",
                     static_cast<int>(topic.size()), topic.data());
        return;
    }
    const auto pk = text_field(*event, "productKey"), dk = text_field(*event, "deviceKey");
    if (!pk || !dk) return;
    const bool connected = topic == "$hub/events/connect";
    if (!connected && topic != "$hub/events/disconnect") return;
    const Value* mode = field(*event, "secureMode");
    const std::optional<std::int64_t> secure_mode =
        mode != nullptr && mode->is_int() ? std::optional<std::int64_t>(mode->as_int()) : std::nullopt;
    store_.record_connection({*pk, *dk}, text_field(*event, "clientId"), secure_mode,
                             connected ? "connect" : "disconnect", now_ms());
    if (!connected) return end_sessions_of_gateway(device_id(*pk, *dk));
    if (secure_mode != 3) return;

    // Dynamic activation: the plugin let this securemode-3 login in, so the device is entitled to a
    // secret. It is published retained because the device subscribes only after its CONNACK.
    const std::string id = device_id(*pk, *dk);
    Activation& a = activations_[id];
    if (a.activated) return; // the plugin refuses these; nothing to hand out twice
    // One secret per device until it confirms: a device that reconnects first (or gets the previous
    // retained message) receives the same secret and request id, so whichever copy it answers counts.
    if (a.secret.empty()) {
        a.secret = random_token(24);
        store_.save_activation(*pk, *dk, a.secret, false);
    }
    if (a.request_id.empty()) a.request_id = std::to_string(now_ms());
    publish_activation(id, a);
}

void Cloud::publish_activation(const std::string& device, const Activation& activation) {
    const auto [pk, dk] = detail::split_id(device);
    const Value params = Value::object({{"assetId", asset_id_of(pk, dk)},
                                        {"productKey", pk},
                                        {"deviceKey", dk},
                                        {"deviceSecret", activation.secret}});
    std::string payload;
    if (auto s = device::encode_request(payload, activation.request_id, "thing.activate.info", params); !s)
        return;
    publish_(device::command_topic(device::DownKind::activate_info, pk, dk), payload, 1, true);
}

void Cloud::on_connected() {
    for (const auto& [id, activation] : activations_)
        if (!activation.activated && !activation.request_id.empty()) publish_activation(id, activation);
}

void Cloud::on_activation_reply(std::string_view pk, std::string_view dk, std::string_view payload) {
    const std::string id = device_id(pk, dk);
    const auto it = activations_.find(id);
    if (it == activations_.end() || it->second.activated) return;
    Activation& a = it->second;
    auto reply = device::decode_reply(payload);
    if (!reply || reply->id != a.request_id || reply->code != code_ok) {
        std::fprintf(stderr, "enos-hub simulate: activation of %s not confirmed (%s)\n", id.c_str(),
                     !reply                      ? reply.error().message().c_str()
                     : reply->id != a.request_id ? "reply to another request"
                                                 : "device answered an error");
        return;
    }
    a.activated = true;
    DeviceState& d = devices_[id];
    d.secret = a.secret;
    // Committed before the device can reconnect in securemode 2: the plugin reads this row.
    store_.confirm_activation(std::string(pk), std::string(dk));
    publish_(device::command_topic(device::DownKind::activate_info, pk, dk), "", 1,
             true); // clears the retained one
}

void Cloud::on_sub_device_command(device::DownKind kind, std::string_view payload) {
    using device::DownKind;
    if (kind != DownKind::sub_device_enable && kind != DownKind::sub_device_disable &&
        kind != DownKind::sub_device_delete)
        return;
    auto request = device::decode_request(payload);
    if (!request) return;
    auto params = device::parse_value(request->params_json);
    if (!params || !params->is_array()) return;
    for (const Value& item : params->as_array()) {
        const auto pk = text_field(item, "productKey"), dk = text_field(item, "deviceKey");
        if (!pk || !dk) continue;
        DeviceState* d = find_device(*pk, *dk);
        if (d == nullptr) continue;
        const std::string sub = device_id(*pk, *dk);
        if (kind == DownKind::sub_device_enable) {
            d->enabled = true;
        } else {
            end_session(sub);
            if (kind == DownKind::sub_device_disable) d->enabled = false;
        }
        if (kind == DownKind::sub_device_delete) {
            d->deleted = true;
            if (const auto g = gateway_of_.find(sub); g != gateway_of_.end()) {
                auto& list = subs_[g->second];
                for (auto it = list.begin(); it != list.end(); ++it)
                    if (it->product_key == *pk && it->device_key == *dk) {
                        list.erase(it);
                        break;
                    }
                gateway_of_.erase(g);
            }
            store_.remove_sub_devices({DeviceRef{*pk, *dk}});
        }
        save_device(*pk, *dk, *d);
    }
}

} // namespace enos::hub::sim
