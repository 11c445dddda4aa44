// Cloud: dispatch of what arrives, replies, and the state shared by the method handlers.
#include "cloud.hpp"
#include "cloud_detail.hpp"

#include "transport/gzip_codec.hpp"
#include <enos/device/core/limits.hpp>

#include <cstdio>
#include <iterator>

namespace enos::hub::sim {

using detail::split_id;

namespace {

constexpr std::string_view broker_events_prefix = "$hub/events/";

/// The request id of a payload that cannot be decoded (too large, not JSON), if it starts the way
/// every SDK writes it: {"id":"..." or {"id":123. Lets the device correlate the error reply.
std::string peek_id(std::string_view payload) {
    const std::size_t key = payload.substr(0, 256).find("\"id\"");
    if (key == std::string_view::npos) return {};
    std::size_t i = key + 4;
    while (i < payload.size() && (payload[i] == ' ' || payload[i] == ':'))
        ++i;
    if (i >= payload.size()) return {};
    if (payload[i] == '"') {
        const std::size_t end = payload.find('"', i + 1);
        if (end == std::string_view::npos || end - i > 128) return {};
        return std::string(payload.substr(i + 1, end - i - 1));
    }
    std::size_t end = i;
    while (end < payload.size() && end - i < 20 && payload[end] >= '0' && payload[end] <= '9')
        ++end;
    return std::string(payload.substr(i, end - i));
}

/// The envelope rules of device::decode_request (id a string or an integer, method required, the
/// batch flags booleans), applied to a payload parsed once: params stay a Value instead of being
/// written out and parsed again, which matters at tens of thousands of requests per second.
Status decode(std::string_view payload, Cloud::Call& call) {
    auto parsed = device::parse_value(payload);
    if (!parsed) return parsed.error();
    Value::Object* envelope = parsed->mutable_object();
    if (envelope == nullptr) return Error{errc::wrong_type, "payload must be a JSON object"};
    device::Request& r = call.request;
    if (Status s = device::detail::read_id(parsed->find("id"), r.id); !s) return s;
    const Value* method = parsed->find("method");
    if (method == nullptr || !method->is_string() || method->as_string().empty())
        return Error{errc::missing_field, "field 'method' must be a non-empty string"};
    r.method = method->as_string();
    for (auto [key, flag] : {std::pair{"allowOfflineSubDevice", &r.allow_offline_sub_device},
                             std::pair{"skipInvalidMeasurepoints", &r.skip_invalid_measurepoints}}) {
        const Value* v = parsed->find(key);
        if (v == nullptr || v->is_null()) continue;
        if (!v->is_bool())
            return Error{errc::wrong_type, std::string("field '") + key + "' must be a boolean"};
        *flag = v->as_bool();
    }
    for (auto& [key, value] : *envelope)
        if (key == "params") {
            call.params = std::move(value);
            break;
        }
    return {};
}

/// The method a request on this topic must name (built once per kind; events carry their id).
const std::string& expected_method(const device::UpstreamTopic& topic) {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> all(std::size(device::detail::up_routes));
        for (const auto& route : device::detail::up_routes)
            all.at(static_cast<std::size_t>(route.method)) = device::method_name(route.method);
        return all;
    }();
    if (topic.method == UpMethod::event_post) {
        thread_local std::string event_method;
        return event_method = device::method_name(topic.method, topic.event_id);
    }
    return names.at(static_cast<std::size_t>(topic.method));
}

/// Value of a registry tag entry as the text stored for it (strings as is, anything else as JSON).
std::string tag_text(const Value& v) {
    return v.is_string() ? v.as_string() : device::to_json(v);
}

} // namespace

Cloud::Cloud(Registry registry, Store& store, Publish publish)
    : registry_(std::move(registry)), store_(store), publish_(std::move(publish)) {}

std::vector<std::string> Cloud::subscriptions() {
    using device::DownKind;
    std::vector<std::string> topics;
    for (const auto& route : device::detail::up_routes)
        topics.push_back(device::request_topic(route.method, "+", "+", "+"));
    for (DownKind kind :
         {DownKind::sub_device_enable, DownKind::sub_device_disable, DownKind::sub_device_delete})
        topics.push_back(device::command_topic(kind, "+", "+"));
    topics.push_back(device::command_topic(DownKind::activate_info, "+", "+") + "_reply");
    topics.push_back(std::string(broker_events_prefix) + "#");
    return topics;
}

Status Cloud::load() {
    for (const Device& d : registry_.devices)
        devices_[device_id(d.product_key, d.device_key)] =
            DeviceState{d.device_secret, d.enabled, false, d.gateway, false};

    RegistrySeed seed;
    for (const TopologyEntry& t : registry_.topology)
        for (const DeviceRef& sub : t.sub_devices)
            seed.topology.push_back(TopologyLink{t.gateway, sub});
    const auto seed_values = [](const std::map<std::string, std::string>& from, std::vector<DeviceValue>& to,
                                bool as_tags) {
        for (const auto& [id, json] : from) {
            const auto [pk, dk] = split_id(id);
            auto object = device::parse_value(json);
            if (!object || !object->is_object()) continue; // the registry loader already refused these
            for (const auto& [name, value] : object->as_object())
                to.push_back(DeviceValue{pk, dk, name, as_tags ? tag_text(value) : device::to_json(value)});
        }
    };
    seed_values(registry_.attributes, seed.attributes, false);
    seed_values(registry_.tags, seed.tags, true);
    if (auto s = store_.seed_once(seed, now_ms()); !s) return s;

    auto devices = store_.load_devices();
    if (!devices) return devices.error();
    for (StoredDevice& stored : *devices) {
        DeviceState& d = devices_[device_id(stored.product_key, stored.device_key)];
        if (stored.secret) d.secret = std::move(*stored.secret);
        d.enabled = stored.enabled;
        d.deleted = stored.deleted;
        d.registered = stored.registered;
    }
    auto topology = store_.load_topology();
    if (!topology) return topology.error();
    for (TopologyLink& link : *topology) {
        const std::string gateway = device_id(link.gateway.product_key, link.gateway.device_key);
        gateway_of_[device_id(link.sub_device.product_key, link.sub_device.device_key)] = gateway;
        subs_[gateway].push_back(std::move(link.sub_device));
    }
    auto attributes = store_.load_attributes();
    if (!attributes) return attributes.error();
    for (DeviceValue& a : *attributes)
        attributes_[device_id(a.product_key, a.device_key)][a.name] = std::move(a.value);
    auto tags = store_.load_tags();
    if (!tags) return tags.error();
    for (DeviceValue& t : *tags)
        tags_[device_id(t.product_key, t.device_key)][t.name] = std::move(t.value);
    auto activations = store_.load_activations();
    if (!activations) return activations.error();
    for (StoredActivation& stored : *activations) {
        const std::string id = device_id(stored.product_key, stored.device_key);
        Activation& a = activations_[id];
        a.secret = std::move(stored.secret);
        a.activated = stored.activated;
        if (a.activated) devices_[id].secret = a.secret;
    }
    return store_.clear_sessions();
}

void Cloud::on_message(std::string_view topic, std::string_view payload) {
    if (topic.substr(0, broker_events_prefix.size()) == broker_events_prefix)
        return on_broker_event(topic, payload);
    if (auto up = device::parse_upstream_topic(topic)) {
        if (device::is_raw(up->method)) return on_raw(*up, topic, payload);
        return on_request(*up, topic, payload);
    }
    if (auto command = device::parse_arrived_topic(topic)) {
        // The plugin compresses the cloud's commands to a gateway that announced GZIP as they pass
        // the broker, so the simulator overhears them compressed.
        if (device::detail::looks_like_gzip(payload)) {
            auto plain = device::detail::gzip_decompress(payload, device::limits::max_payload_bytes);
            if (!plain) {
                std::fprintf(stderr, "enos-hub simulate: undecodable GZIP command on %.*s ignored: %s\n",
                             static_cast<int>(topic.size()), topic.data(), plain.error().detail.c_str());
                return;
            }
            return on_sub_device_command(command->kind, *plain);
        }
        return on_sub_device_command(command->kind, payload);
    }
    if (auto answered = device::parse_command_reply_topic(topic);
        answered && answered->kind == device::DownKind::activate_info)
        return on_activation_reply(answered->product_key, answered->device_key, payload);
}

void Cloud::on_request(const device::UpstreamTopic& topic, std::string_view topic_text,
                       std::string_view payload) {
    if (payload.empty()) return reply(topic_text, "", Answer::fail(code_empty_payload, "Payload is empty"));
    if (payload.size() >= device::limits::max_payload_bytes)
        return reply(topic_text, peek_id(payload),
                     Answer::fail(code_too_large, "Msg size is too large, discard the message"));
    Call call; // member-wise, which keeps g++ 12's -O3 maybe-uninitialized false positive away
    call.topic = topic;
    call.received_at = now_ms();
    if (Status s = decode(payload, call); !s) {
        const int code = s.error() == errc::input_too_large ? code_too_large : code_bad_payload;
        return reply(topic_text, call.request.id.empty() ? peek_id(payload) : call.request.id,
                     Answer::fail(code, "Payload format error: " + s.error().detail));
    }
    const std::string& expected = expected_method(topic);
    if (call.request.method != expected)
        return reply(topic_text, call.request.id,
                     Answer::fail(code_method_mismatch,
                                  "Methods not consistent: the topic expects '" + expected + "'"));
    reply(topic_text, call.request.id, answer(call));
}

Answer Cloud::answer(const Call& call) {
    switch (call.topic.method) {
    case UpMethod::measurepoint_post: return post_measurepoints(call, false);
    case UpMethod::measurepoint_resume: return post_measurepoints(call, true);
    case UpMethod::measurepoint_post_batch: return post_measurepoints_batch(call, false);
    case UpMethod::measurepoint_resume_batch: return post_measurepoints_batch(call, true);
    case UpMethod::event_post: return post_event(call);
    case UpMethod::attribute_query: return query_attributes(call);
    case UpMethod::attribute_update: return update_attributes(call);
    case UpMethod::attribute_delete: return delete_attributes(call);
    case UpMethod::tag_query: return query_tags(call);
    case UpMethod::tag_update: return update_tags(call);
    case UpMethod::tag_delete: return delete_tags(call);
    case UpMethod::tsl_template_get: return tsl_template(call);
    case UpMethod::device_register: return register_devices(call);
    case UpMethod::topo_add: return add_topology(call);
    case UpMethod::topo_get: return get_topology(call);
    case UpMethod::topo_delete: return delete_topology(call);
    case UpMethod::sub_login: return login(call);
    case UpMethod::sub_login_batch: return login_batch(call);
    case UpMethod::sub_logout: return logout(call);
    case UpMethod::ota_inform: return ota_inform(call);
    case UpMethod::ota_getversion: return ota_getversion(call);
    case UpMethod::ota_progress: return ota_progress(call);
    case UpMethod::log_post: return post_log(call);
    case UpMethod::network_status_report: return report_network_status(call);
    case UpMethod::connection_state_post: return post_connection_state(call);
    case UpMethod::integration_measurepoint_post: return integration_measurepoints(call);
    case UpMethod::integration_event_post: return integration_events(call);
    case UpMethod::integration_attribute_post: return integration_attributes(call);
    case UpMethod::raw_up:
    case UpMethod::integration_raw_up: break; // answered by on_raw
    }
    return Answer::fail(code_method_mismatch, "no such method");
}

void Cloud::reply(std::string_view request_topic, std::string_view id, const Answer& answer) {
    if (auto s =
            device::encode_reply_raw_data(reply_buffer_, id, answer.code, answer.message, answer.data_json);
        !s) {
        std::fprintf(stderr, "enos-hub simulate: cannot encode a reply: %s\n", s.error().message().c_str());
        return;
    }
    std::string topic(request_topic);
    topic += "_reply";
    publish_(topic, reply_buffer_, reply_qos, false);
}

void Cloud::on_raw(const device::UpstreamTopic& topic, std::string_view topic_text,
                   std::string_view payload) {
    // The product's parsing script is simulated as the identity: the reply carries the same bytes.
    const bool answered = payload.size() < device::limits::max_payload_bytes;
    store_.record_raw_message({topic.product_key, topic.device_key}, std::string(topic_text),
                              std::string(payload),
                              answered ? std::optional<std::string>(payload) : std::nullopt, now_ms());
    if (!answered) {
        std::fprintf(stderr, "enos-hub simulate: raw message of %zu bytes on %.*s discarded (limit 512 KB)\n",
                     payload.size(), static_cast<int>(topic_text.size()), topic_text.data());
        return;
    }
    std::string reply_topic(topic_text);
    reply_topic += "_reply";
    publish_(reply_topic, payload, reply_qos, false);
}

Cloud::DeviceState* Cloud::find_device(std::string_view pk, std::string_view dk) {
    const auto it = devices_.find(device_id(pk, dk));
    return it == devices_.end() || it->second.deleted ? nullptr : &it->second;
}

const std::string* Cloud::gateway_of(const std::string& sub_id) const {
    const auto it = gateway_of_.find(sub_id);
    return it == gateway_of_.end() ? nullptr : &it->second;
}

bool Cloud::logged_in(const std::string& sub_id, const std::string& gateway_id) const {
    const auto it = session_gateway_.find(sub_id);
    return it != session_gateway_.end() && it->second == gateway_id;
}

void Cloud::end_session(const std::string& sub_id) {
    if (session_gateway_.erase(sub_id) == 0) return;
    const auto [pk, dk] = split_id(sub_id);
    store_.end_session({pk, dk});
}

void Cloud::end_sessions_of_gateway(const std::string& gateway_id) {
    for (auto it = session_gateway_.begin(); it != session_gateway_.end();)
        it = it->second == gateway_id ? session_gateway_.erase(it) : std::next(it);
    const auto [pk, dk] = split_id(gateway_id);
    store_.end_sessions_of_gateway({pk, dk});
}

void Cloud::save_device(std::string_view pk, std::string_view dk, const DeviceState& state,
                        std::string details, bool committed) {
    StoredDevice row;
    row.product_key = pk;
    row.device_key = dk;
    // Registry devices keep their secret in the registry file; only generated ones are stored.
    if (state.registered) row.secret = state.secret;
    row.enabled = state.enabled;
    row.deleted = state.deleted;
    row.registered = state.registered;
    if (!details.empty()) row.details = std::move(details);
    store_.save_device(std::move(row), now_ms(), committed);
}

void Cloud::set_attributes(std::string_view pk, std::string_view dk, const Value::Object& attributes,
                           std::int64_t now) {
    auto& stored = attributes_[device_id(pk, dk)];
    std::vector<std::pair<std::string, std::string>> rows;
    rows.reserve(attributes.size());
    for (const auto& [name, value] : attributes) {
        std::string json = device::to_json(value);
        stored[name] = json;
        rows.emplace_back(name, std::move(json));
    }
    store_.set_attributes({std::string(pk), std::string(dk)}, std::move(rows), now);
}

void Cloud::store_points(std::string pk, std::string dk, const Value::Object& points, std::int64_t time,
                         bool resumed, std::int64_t received_at, const std::string& request_id) {
    std::vector<std::pair<std::string, std::string>> rows;
    rows.reserve(points.size());
    for (const auto& [name, value] : points)
        rows.emplace_back(name, device::to_json(value));
    store_.record_measurepoints({std::move(pk), std::move(dk)}, std::move(rows), time, resumed, received_at,
                                request_id);
}

} // namespace enos::hub::sim
