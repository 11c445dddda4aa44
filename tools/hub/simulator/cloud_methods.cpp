// Cloud: one handler per upstream method of docs/protocol.md §3. Each validates the whole request before it
// changes anything, so a refused request leaves no trace ("the whole request fails with the first
// error", §3.2, §3.16).
#include "cloud.hpp"
#include "cloud_detail.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/sign.hpp>

#include <set>

namespace enos::hub::sim {

using detail::field;
using detail::is_string_array;
using detail::json_array;
using detail::json_object;
using detail::point_problem;
using detail::text_field;

namespace {

std::string device_label(std::string_view pk, std::string_view dk) {
    std::string out(pk);
    out += '/';
    out += dk;
    return out;
}

std::string too_many(std::string_view what, std::size_t count, std::size_t limit) {
    return "too many " + std::string(what) + ": " + std::to_string(count) + " (at most " +
           std::to_string(limit) + ")";
}

/// "time" of a post: optional, an integer of epoch milliseconds.
bool read_time(const Value& object, std::int64_t fallback, std::int64_t& out) {
    const Value* t = field(object, "time");
    if (t == nullptr) {
        out = fallback;
        return true;
    }
    if (!t->is_int()) return false;
    out = t->as_int();
    return true;
}

std::string pk_dk_json(std::string_view pk, std::string_view dk) {
    return "{\"productKey\":" + json_quote(pk) + ",\"deviceKey\":" + json_quote(dk) + "}";
}

const char* const tsl_template_json =
    R"({"tslAttributeMap":{"name":{"dataType":"STRING"},"ratedPower":{"dataType":"FLOAT"}},)"
    R"("tslMeasurepointMap":{"temp":{"dataType":"FLOAT"},"Power":{"dataType":"FLOAT","hasQuality":true},)"
    R"("status":{"dataType":"STRING"}},"tslEventMap":{"overTemp":{"outputData":{"temp":{"dataType":"FLOAT"}}}},)"
    R"("tslServiceMap":{"setPower":{"inputData":{"Power":{"dataType":"STRING"}}}}})";

} // namespace

Answer Cloud::post_measurepoints(const Call& call, bool resumed) {
    const Value* points = field(call.params, "measurepoints");
    if (points == nullptr || !points->is_object())
        return Answer::fail(code_bad_params, "params.measurepoints must be an object");
    std::int64_t time = 0;
    if (!read_time(call.params, call.received_at, time))
        return Answer::fail(code_bad_params, "params.time must be an integer (epoch milliseconds)");
    for (const auto& [name, value] : points->as_object())
        if (auto problem = point_problem(name, value))
            return Answer::fail(code_model_invalid, "Model validate failed: " + *problem);
    store_points(call.topic.product_key, call.topic.device_key, points->as_object(), time, resumed,
                 call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::post_measurepoints_batch(const Call& call, bool resumed) {
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    const bool allow_offline = call.request.allow_offline_sub_device.value_or(false);
    const bool skip_invalid = call.request.skip_invalid_measurepoints.value_or(false);
    const std::string gateway = device_id(call.topic.product_key, call.topic.device_key);

    struct Sample {
        std::string pk, dk;
        Value::Object points;
        std::int64_t time;
    };
    std::vector<Sample> accepted;
    const auto& items = call.params.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const Value& item = items[i];
        if (!item.is_object()) return Answer::fail(code_bad_params, where + " must be an object");
        auto pk = text_field(item, "productKey"), dk = text_field(item, "deviceKey");
        if (pk.has_value() != dk.has_value())
            return Answer::fail(code_bad_params,
                                where + " must give both productKey and deviceKey, or neither");
        if (!pk || (*pk == call.topic.product_key && *dk == call.topic.device_key)) {
            pk = call.topic.product_key;
            dk = call.topic.device_key;
        } else {
            const std::string sub = device_id(*pk, *dk);
            const DeviceState* d = find_device(*pk, *dk);
            if (d == nullptr)
                return Answer::fail(code_sub_not_found, "sub-device " + sub + " does not exist");
            if (!d->enabled) return Answer::fail(code_sub_disabled, "sub-device " + sub + " is disabled");
            const std::string* its_gateway = gateway_of(sub);
            if (its_gateway == nullptr || *its_gateway != gateway)
                return Answer::fail(code_no_permission, sub + " is not a sub-device of this gateway");
            if (!allow_offline && !logged_in(sub, gateway))
                return Answer::fail(code_no_permission,
                                    "sub-device " + sub +
                                        " is not logged in (allowOfflineSubDevice is false)");
        }
        const Value* points = field(item, "measurepoints");
        if (points == nullptr || !points->is_object())
            return Answer::fail(code_bad_params, where + ".measurepoints must be an object");
        Sample sample{std::move(*pk), std::move(*dk), {}, 0};
        if (!read_time(item, call.received_at, sample.time))
            return Answer::fail(code_bad_params, where + ".time must be an integer (epoch milliseconds)");
        for (const auto& [name, value] : points->as_object()) {
            if (auto problem = point_problem(name, value)) {
                if (skip_invalid) continue;
                return Answer::fail(code_model_invalid, "Model validate failed: " + where + ": " + *problem);
            }
            sample.points.emplace_back(name, value);
        }
        accepted.push_back(std::move(sample));
    }
    for (Sample& s : accepted)
        store_points(std::move(s.pk), std::move(s.dk), s.points, s.time, resumed, call.received_at,
                     call.request.id);
    return Answer::ok();
}

Answer Cloud::post_event(const Call& call) {
    const Value* events = field(call.params, "events");
    if (events == nullptr || !events->is_object())
        return Answer::fail(code_bad_params, "params.events must be an object");
    std::int64_t time = 0;
    if (!read_time(call.params, call.received_at, time))
        return Answer::fail(code_bad_params, "params.time must be an integer (epoch milliseconds)");
    store_.record_events(
        call.topic.product_key,
        {EventRecord{call.topic.device_key, call.topic.event_id, device::to_json(*events), time}},
        call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::query_attributes(const Call& call) {
    const Value* names = field(call.params, "attributes");
    if (names == nullptr || !is_string_array(*names))
        return Answer::fail(code_attribute_query_format,
                            "Attribute query data format error: params.attributes must be an array of names");
    if (names->as_array().size() > device::limits::max_attributes)
        return Answer::fail(code_bad_params,
                            too_many("attributes", names->as_array().size(), device::limits::max_attributes));
    std::vector<std::pair<std::string, std::string>> found;
    const auto it = attributes_.find(device_id(call.topic.product_key, call.topic.device_key));
    if (it != attributes_.end()) {
        if (names->as_array().empty()) {
            found.assign(it->second.begin(), it->second.end());
        } else {
            for (const Value& name : names->as_array())
                if (const auto a = it->second.find(name.as_string()); a != it->second.end())
                    found.emplace_back(*a);
        }
    }
    return Answer::ok(json_object(found));
}

Answer Cloud::update_attributes(const Call& call) {
    const Value* attributes = field(call.params, "attributes");
    if (attributes == nullptr || !attributes->is_object())
        return Answer::fail(code_model_invalid, "Model validate failed: params.attributes must be an object");
    if (attributes->as_object().size() > device::limits::max_attributes)
        return Answer::fail(code_bad_params, too_many("attributes", attributes->as_object().size(),
                                                      device::limits::max_attributes));
    set_attributes(call.topic.product_key, call.topic.device_key, attributes->as_object(), call.received_at);
    return Answer::ok();
}

Answer Cloud::delete_attributes(const Call& call) {
    const Value* names = field(call.params, "attributes");
    if (names == nullptr || !is_string_array(*names))
        return Answer::fail(
            code_attribute_delete_format,
            "Attribute delete data format error: params.attributes must be an array of names");
    if (names->as_array().size() > device::limits::max_attributes)
        return Answer::fail(code_bad_params,
                            too_many("attributes", names->as_array().size(), device::limits::max_attributes));
    auto& stored = attributes_[device_id(call.topic.product_key, call.topic.device_key)];
    std::vector<std::string> deleted;
    for (const Value& name : names->as_array())
        if (stored.erase(name.as_string()) != 0) deleted.push_back(name.as_string());
    store_.delete_attributes({call.topic.product_key, call.topic.device_key}, std::move(deleted));
    return Answer::ok();
}

Answer Cloud::query_tags(const Call& call) {
    const Value* names = field(call.params, "tags");
    if (names == nullptr || !is_string_array(*names))
        return Answer::fail(code_bad_params, "params.tags must be an array of tag keys");
    if (names->as_array().size() > device::limits::max_tags)
        return Answer::fail(code_bad_params,
                            too_many("tags", names->as_array().size(), device::limits::max_tags));
    std::vector<std::pair<std::string, std::string>> found;
    const auto it = tags_.find(device_id(call.topic.product_key, call.topic.device_key));
    if (it != tags_.end()) {
        for (const auto& [key, value] : it->second) {
            bool wanted = names->as_array().empty();
            for (const Value& name : names->as_array())
                wanted = wanted || name.as_string() == key;
            if (wanted) found.emplace_back(key, json_quote(value));
        }
    }
    return Answer::ok(json_object(found));
}

Answer Cloud::update_tags(const Call& call) {
    if (!call.params.is_array())
        return Answer::fail(code_bad_params, "params must be an array of {tagKey, tagValue}");
    const auto& items = call.params.as_array();
    if (items.size() > device::limits::max_tags)
        return Answer::fail(code_bad_params, too_many("tags", items.size(), device::limits::max_tags));
    std::vector<std::pair<std::string, std::string>> updates;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const auto key = text_field(items[i], "tagKey");
        const auto value = text_field(items[i], "tagValue");
        if (!key || key->empty())
            return Answer::fail(code_bad_params, where + ".tagKey must be a non-empty string");
        if (!value) return Answer::fail(code_bad_params, where + ".tagValue must be a string");
        updates.emplace_back(*key, *value);
    }
    auto& stored = tags_[device_id(call.topic.product_key, call.topic.device_key)];
    for (const auto& [key, value] : updates)
        stored[key] = value;
    store_.set_tags({call.topic.product_key, call.topic.device_key}, std::move(updates), call.received_at);
    return Answer::ok();
}

Answer Cloud::delete_tags(const Call& call) {
    const Value* names = field(call.params, "tags");
    if (names == nullptr || !is_string_array(*names))
        return Answer::fail(code_bad_params, "params.tags must be an array of tag keys");
    if (names->as_array().size() > device::limits::max_tags)
        return Answer::fail(code_bad_params,
                            too_many("tags", names->as_array().size(), device::limits::max_tags));
    auto& stored = tags_[device_id(call.topic.product_key, call.topic.device_key)];
    std::vector<std::string> deleted;
    for (const Value& name : names->as_array())
        if (stored.erase(name.as_string()) != 0) deleted.push_back(name.as_string());
    store_.delete_tags({call.topic.product_key, call.topic.device_key}, std::move(deleted));
    return Answer::ok();
}

Answer Cloud::tsl_template(const Call&) {
    return Answer::ok(tsl_template_json);
}

Answer Cloud::register_devices(const Call& call) {
    const DeviceState* gateway = find_device(call.topic.product_key, call.topic.device_key);
    if (gateway == nullptr || !gateway->gateway)
        return Answer::fail(code_bad_params, device_label(call.topic.product_key, call.topic.device_key) +
                                                 " is not a gateway and cannot register sub-devices");
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    const auto& items = call.params.as_array();
    if (items.size() > device::limits::max_registrations)
        return Answer::fail(code_bad_params,
                            too_many("devices to register", items.size(), device::limits::max_registrations));

    struct Registration {
        std::string pk, dk, details;
        const Value* attributes;
    };
    std::vector<Registration> todo;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const Value& item = items[i];
        const auto pk = text_field(item, "productKey");
        if (!pk || pk->empty())
            return Answer::fail(code_bad_params, where + ".productKey must be a non-empty string");
        if (registry_.find_product(*pk) == nullptr)
            return Answer::fail(code_bad_params, where + ": product " + *pk + " does not exist");
        std::string dk;
        if (const Value* given = field(item, "deviceKey")) {
            if (!given->is_string() || given->as_string().empty() ||
                !device::is_valid_topic_level(given->as_string()))
                return Answer::fail(code_bad_params,
                                    where + ".deviceKey must be a non-empty key without '/', '+', '#'");
            dk = given->as_string();
            if (device::is_reserved_device_key(dk))
                return Answer::fail(code_bad_params, where + ".deviceKey '" + dk +
                                                         "' is reserved (the integration channel's identity "
                                                         "and topics)");
        } else {
            do
                dk = "dk" + random_token(10);
            while (devices_.count(device_id(*pk, dk)) != 0);
        }
        if (find_device(*pk, dk) != nullptr || !seen.insert(device_id(*pk, dk)).second)
            return Answer::fail(code_bad_params,
                                where + ": device " + device_label(*pk, dk) + " already exists");
        const Value* attributes = field(item, "deviceAttributes");
        if (attributes != nullptr && !attributes->is_object())
            return Answer::fail(code_bad_params, where + ".deviceAttributes must be an object");
        if (attributes != nullptr && attributes->as_object().size() > device::limits::max_attributes)
            return Answer::fail(code_bad_params, too_many("attributes", attributes->as_object().size(),
                                                          device::limits::max_attributes));
        Value::Object details;
        for (const char* key : {"deviceName", "deviceDesc", "timezone"})
            if (const Value* v = field(item, key)) details.emplace_back(key, *v);
        todo.push_back(
            Registration{*pk, std::move(dk), device::to_json(Value(std::move(details))), attributes});
    }

    std::vector<std::string> created;
    for (const Registration& r : todo) {
        DeviceState& d = devices_[device_id(r.pk, r.dk)];
        d = DeviceState{random_token(24), true, false, false, true};
        // The store commits in order: once the last row is in, the plugin can admit every new device
        // that connects on its own after reading the reply.
        save_device(r.pk, r.dk, d, r.details, &r == &todo.back());
        if (r.attributes != nullptr) set_attributes(r.pk, r.dk, r.attributes->as_object(), call.received_at);
        created.push_back(json_object({{"productKey", json_quote(r.pk)},
                                       {"deviceKey", json_quote(r.dk)},
                                       {"deviceSecret", json_quote(d.secret)},
                                       {"assetId", json_quote(asset_id_of(r.pk, r.dk))}}));
    }
    return Answer::ok(json_array(created));
}

Answer Cloud::add_topology(const Call& call) {
    const std::string gateway = device_id(call.topic.product_key, call.topic.device_key);
    const DeviceState* gw = find_device(call.topic.product_key, call.topic.device_key);
    if (gw == nullptr || !gw->gateway) return Answer::fail(code_bad_params, gateway + " is not a gateway");
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    std::vector<DeviceRef> added;
    const auto& items = call.params.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const Value& item = items[i];
        const auto pk = text_field(item, "productKey"), dk = text_field(item, "deviceKey");
        const auto client_id = text_field(item, "clientId");
        const auto timestamp = text_field(item, "timestamp", true);
        const auto sign = text_field(item, "sign");
        auto method_name = text_field(item, "signMethod");
        if (!method_name) method_name = text_field(item, "signmethod"); // both spellings are in use (§8.2)
        if (!pk || !dk || !client_id || !timestamp || !sign)
            return Answer::fail(code_bad_params,
                                where + " needs productKey, deviceKey, clientId, timestamp and sign");
        const std::string sub = device_id(*pk, *dk);
        const DeviceState* d = find_device(*pk, *dk);
        if (d == nullptr) return Answer::fail(code_sub_not_found, "sub-device " + sub + " does not exist");
        if (sub == gateway) return Answer::fail(code_bad_params, "a gateway cannot be its own sub-device");
        if (const std::string* other = gateway_of(sub); other != nullptr && *other != gateway)
            return Answer::fail(code_bad_params, sub + " is already a sub-device of " + *other);
        const auto method = device::parse_sign_method(method_name.value_or("sha256"));
        if (!method) return Answer::fail(code_bad_params, where + ": " + method.error().detail);
        if (d->secret.empty()) return Answer::fail(code_auth_failed, sub + " has no device secret yet");
        const std::string expected = device::sign({*client_id, *dk, *pk, *timestamp}, d->secret, *method);
        if (!device::signature_equals(expected, *sign))
            return Answer::fail(code_auth_failed, "the signature of " + sub + " does not verify");
        if (gateway_of(sub) == nullptr) added.push_back(DeviceRef{*pk, *dk});
    }
    for (const DeviceRef& sub : added) {
        gateway_of_[device_id(sub.product_key, sub.device_key)] = gateway;
        subs_[gateway].push_back(sub);
    }
    store_.add_sub_devices({call.topic.product_key, call.topic.device_key}, std::move(added),
                           call.received_at);
    return Answer::ok();
}

Answer Cloud::get_topology(const Call& call) {
    std::vector<std::string> entries;
    const auto it = subs_.find(device_id(call.topic.product_key, call.topic.device_key));
    if (it != subs_.end())
        for (const DeviceRef& sub : it->second)
            entries.push_back(pk_dk_json(sub.product_key, sub.device_key));
    return Answer::ok(json_array(entries));
}

Answer Cloud::delete_topology(const Call& call) {
    const std::string gateway = device_id(call.topic.product_key, call.topic.device_key);
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    std::vector<DeviceRef> removed;
    for (const Value& item : call.params.as_array()) {
        const auto pk = text_field(item, "productKey"), dk = text_field(item, "deviceKey");
        if (!pk || !dk) return Answer::fail(code_bad_params, "every entry needs productKey and deviceKey");
        const std::string sub = device_id(*pk, *dk);
        const std::string* its_gateway = gateway_of(sub);
        if (its_gateway == nullptr || *its_gateway != gateway)
            return Answer::fail(code_topo_delete_failed,
                                "Remove topo failure, " + sub + " is not a sub-device of " + gateway);
        if (logged_in(sub, gateway))
            return Answer::fail(code_topo_delete_failed, "Remove topo failure, " + sub + " is still online");
        removed.push_back(DeviceRef{*pk, *dk});
    }
    auto& list = subs_[gateway];
    for (const DeviceRef& sub : removed) {
        gateway_of_.erase(device_id(sub.product_key, sub.device_key));
        for (auto it = list.begin(); it != list.end(); ++it)
            if (it->product_key == sub.product_key && it->device_key == sub.device_key) {
                list.erase(it);
                break;
            }
    }
    store_.remove_sub_devices(std::move(removed));
    return Answer::ok();
}

Answer Cloud::login_one(const std::string& gateway_pk, const std::string& gateway_dk, const std::string& pk,
                        const std::string& dk, const std::string& client_id, const std::string& timestamp,
                        const std::string& sign_method, const std::string& sign,
                        const std::string& secure_mode) {
    const std::string sub = device_id(pk, dk);
    const std::string gateway = device_id(gateway_pk, gateway_dk);
    DeviceState* d = find_device(pk, dk);
    if (d == nullptr)
        return Answer::fail(code_sub_not_found, "It failed to query device, not existed this device: " + sub);
    if (!d->enabled) return Answer::fail(code_sub_disabled, "sub-device " + sub + " is disabled");
    const std::string* its_gateway = gateway_of(sub);
    if (its_gateway == nullptr || *its_gateway != gateway)
        return Answer::fail(code_sub_not_in_topology, "Sub device cannot connect to mqtt: " + sub +
                                                          " is not a sub-device of " + gateway);
    const auto method = device::parse_sign_method(sign_method);
    if (!method) return Answer::fail(code_bad_params, method.error().detail);

    const bool activating = secure_mode == "3";
    std::string secret;
    if (activating) {
        const Product* product = registry_.find_product(pk);
        if (product == nullptr || !product->dynamic_activation)
            return Answer::fail(code_activation_refused, "Dynamic activate is not allowed for product " + pk);
        if (const auto a = activations_.find(sub); a != activations_.end() && a->second.activated)
            return Answer::fail(code_activation_refused,
                                sub + " is activated already; log in with secureMode 2");
        secret = product->product_secret;
    } else if (secure_mode == "2") {
        secret = d->secret;
        if (secret.empty())
            return Answer::fail(code_auth_failed, sub + " has no device secret yet (activate it first)");
    } else {
        return Answer::fail(code_bad_params, "secureMode must be \"2\" or \"3\"");
    }
    const std::string expected = device::sign({client_id, dk, pk, timestamp}, secret, *method);
    if (!device::signature_equals(expected, sign))
        return Answer::fail(code_auth_failed, "the signature of " + sub + " does not verify");

    std::vector<std::pair<std::string, std::string>> data = {{"assetId", json_quote(asset_id_of(pk, dk))},
                                                             {"productKey", json_quote(pk)},
                                                             {"deviceKey", json_quote(dk)}};
    if (activating) {
        Activation& a = activations_[sub];
        a = Activation{random_token(24), "", true};
        d->secret = a.secret;
        data.emplace_back("deviceSecret", json_quote(a.secret));
        store_.save_activation(pk, dk, a.secret, true);
    }
    session_gateway_[sub] = gateway;
    store_.open_session({gateway_pk, gateway_dk}, {pk, dk}, asset_id_of(pk, dk), now_ms());
    return Answer::ok(json_object(data));
}

Answer Cloud::login(const Call& call) {
    const Value& p = call.params;
    const auto pk = text_field(p, "productKey"), dk = text_field(p, "deviceKey"),
               client_id = text_field(p, "clientId");
    const auto timestamp = text_field(p, "timestamp", true), sign = text_field(p, "sign");
    if (!pk || !dk || !client_id || !timestamp || !sign)
        return Answer::fail(code_bad_params,
                            "params needs productKey, deviceKey, clientId, timestamp and sign");
    return login_one(call.topic.product_key, call.topic.device_key, *pk, *dk, *client_id, *timestamp,
                     text_field(p, "signMethod").value_or("sha256"), *sign,
                     text_field(p, "secureMode", true).value_or("2"));
}

Answer Cloud::login_batch(const Call& call) {
    const Value& p = call.params;
    const auto client_id = text_field(p, "clientId"), timestamp = text_field(p, "timestamp", true);
    const Value* subs = field(p, "subDevices");
    if (!client_id || !timestamp || subs == nullptr || !subs->is_array() || subs->as_array().empty())
        return Answer::fail(code_bad_params,
                            "params needs clientId, timestamp and a non-empty subDevices array");
    // The SDK's chunk size stands in for the platform's limit, which is not documented.
    if (subs->as_array().size() > device::limits::max_batch_login)
        return Answer::fail(code_bad_params, too_many("sub-devices in one batch login", subs->as_array().size(),
                                                      device::limits::max_batch_login));
    const std::string method = text_field(p, "signMethod").value_or("sha256");
    for (const Value& item : subs->as_array())
        if (!text_field(item, "productKey") || !text_field(item, "deviceKey") || !text_field(item, "sign"))
            return Answer::fail(code_bad_params,
                                "every subDevices entry needs productKey, deviceKey and sign");

    std::vector<std::string> logined, failed;
    std::string reasons;
    for (const Value& item : subs->as_array()) {
        const std::string pk = *text_field(item, "productKey"), dk = *text_field(item, "deviceKey");
        Answer one =
            login_one(call.topic.product_key, call.topic.device_key, pk, dk, *client_id, *timestamp, method,
                      *text_field(item, "sign"), text_field(item, "secureMode", true).value_or("2"));
        if (one.code == code_ok) {
            logined.push_back(std::move(one.data_json));
        } else {
            failed.push_back(pk_dk_json(pk, dk));
            reasons += (reasons.empty() ? "" : "; ") + std::to_string(one.code) + " " + one.message;
        }
    }
    const std::string data =
        json_object({{"loginedSubDevices", json_array(logined)}, {"failedSubDevices", json_array(failed)}});
    if (failed.empty()) return Answer::ok(data);
    return Answer::fail(code_sub_disabled,
                        std::to_string(failed.size()) + " of " + std::to_string(subs->as_array().size()) +
                            " sub-devices failed to log in: " + reasons,
                        data);
}

Answer Cloud::logout(const Call& call) {
    const auto pk = text_field(call.params, "productKey"), dk = text_field(call.params, "deviceKey");
    if (!pk || !dk) return Answer::fail(code_bad_params, "params needs productKey and deviceKey");
    if (find_device(*pk, *dk) == nullptr)
        return Answer::fail(code_sub_not_found,
                            "It failed to query device, not existed this device: " + device_id(*pk, *dk));
    const std::string sub = device_id(*pk, *dk);
    if (logged_in(sub, device_id(call.topic.product_key, call.topic.device_key))) end_session(sub);
    return Answer::ok(pk_dk_json(*pk, *dk));
}

Answer Cloud::ota_inform(const Call& call) {
    const auto version = text_field(call.params, "version");
    if (!version || version->empty())
        return Answer::fail(code_bad_params, "params.version must be a non-empty string");
    store_.record_ota_version({call.topic.product_key, call.topic.device_key}, *version, call.received_at,
                              call.request.id);
    return Answer::ok();
}

Answer Cloud::ota_getversion(const Call& call) {
    std::vector<std::string> offers;
    for (const Firmware& f : registry_.firmware) {
        if (f.product_key != call.topic.product_key) continue;
        if (!f.device_key.empty() && f.device_key != call.topic.device_key) continue;
        offers.push_back(json_object({{"version", json_quote(f.version)},
                                      {"signMethod", json_quote(f.sign_method)},
                                      {"sign", json_quote(f.sign)},
                                      {"fileUrl", json_quote(f.file_url)},
                                      {"fileSize", std::to_string(f.file_size)}}));
    }
    return Answer::ok(json_array(offers));
}

Answer Cloud::ota_progress(const Call& call) {
    const auto step = text_field(call.params, "step", true);
    if (!step) return Answer::fail(code_bad_params, "params.step must be a string of an integer up to 100");
    if (auto n = parse_integer(*step, "params.step", -1000000, 100); !n)
        return Answer::fail(code_bad_params, n.error().detail);
    const Value* desc = field(call.params, "desc");
    if (desc != nullptr && !desc->is_string())
        return Answer::fail(code_bad_params, "params.desc must be a string");
    store_.record_ota_progress({call.topic.product_key, call.topic.device_key}, *step,
                               desc ? std::optional<std::string>(desc->as_string()) : std::nullopt,
                               call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::post_log(const Call& call) {
    const Value* logs = field(call.params, "logs");
    if (logs == nullptr || !logs->is_object())
        return Answer::fail(code_bad_params, "params.logs must be an object");
    std::int64_t time = 0;
    if (!read_time(call.params, call.received_at, time))
        return Answer::fail(code_bad_params, "params.time must be an integer (epoch milliseconds)");
    store_.record_log({call.topic.product_key, call.topic.device_key}, device::to_json(*logs), time,
                      call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::report_network_status(const Call& call) {
    const Value* report_time = field(call.params, "reportTime");
    if (report_time == nullptr || !report_time->is_int())
        return Answer::fail(code_bad_params, "params.reportTime must be an integer (epoch milliseconds)");
    const Value* collect_time = field(call.params, "collectTime");
    if (collect_time != nullptr && !collect_time->is_int())
        return Answer::fail(code_bad_params, "params.collectTime must be an integer (epoch milliseconds)");
    for (const char* name : {"rssi", "snr", "packetLossRate"})
        if (const Value* v = field(call.params, name); v != nullptr && !v->is_number())
            return Answer::fail(code_bad_params, std::string("params.") + name + " must be a number");
    for (const char* name : {"networkType", "errorInfo"})
        if (const Value* v = field(call.params, name); v != nullptr && !v->is_string())
            return Answer::fail(code_bad_params, std::string("params.") + name + " must be a string");
    store_.record_network_status({call.topic.product_key, call.topic.device_key},
                                 device::to_json(call.params), report_time->as_int(), call.received_at,
                                 call.request.id);
    return Answer::ok();
}

Answer Cloud::post_connection_state(const Call& call) {
    const Value* nodes = field(call.params, "nodes");
    if (nodes == nullptr || !nodes->is_array())
        return Answer::fail(code_bad_params, "params.nodes must be an array");
    for (std::size_t i = 0; i < nodes->as_array().size(); ++i) {
        const Value& node = nodes->as_array()[i];
        const auto node_id = text_field(node, "nodeId");
        const Value* state = field(node, "state");
        if (!node_id || node_id->empty() || state == nullptr || !state->is_int() || state->as_int() < 1 ||
            state->as_int() > 3)
            return Answer::fail(code_bad_params, "params.nodes[" + std::to_string(i) +
                                                     "] needs a nodeId and a state of 1 (connected), 2 "
                                                     "(disconnected) or 3 (unknown)");
    }
    const Value* full = field(call.params, "isFull");
    if (full != nullptr && !full->is_bool())
        return Answer::fail(code_bad_params, "params.isFull must be a boolean");
    const Value* relations = field(call.params, "relations");
    if (relations != nullptr && !relations->is_object())
        return Answer::fail(code_bad_params, "params.relations must be an object");
    if (relations != nullptr && !relations->as_object().empty() && !(full != nullptr && full->as_bool()))
        return Answer::fail(code_bad_params, "params.relations is only allowed when isFull is true");
    if (relations != nullptr)
        for (const auto& [parent, children] : relations->as_object()) {
            bool names = children.is_array();
            for (std::size_t i = 0; names && i < children.as_array().size(); ++i)
                names = children.as_array()[i].is_string();
            if (!names)
                return Answer::fail(code_bad_params,
                                    "params.relations." + parent + " must be an array of child node ids");
        }
    const Value* report_time = field(call.params, "reportTime");
    std::optional<std::int64_t> t;
    if (report_time != nullptr && report_time->is_int()) t = report_time->as_int();
    store_.record_connection_state({call.topic.product_key, call.topic.device_key},
                                   device::to_json(call.params), t, call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::integration_measurepoints(const Call& call) {
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    const std::string& pk = call.topic.product_key;
    struct Sample {
        std::string dk;
        const Value::Object* points;
        std::int64_t time;
    };
    std::vector<Sample> accepted;
    const auto& items = call.params.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const auto dk = text_field(items[i], "deviceKey");
        if (!dk) return Answer::fail(code_bad_params, where + ".deviceKey must be a string");
        if (find_device(pk, *dk) == nullptr)
            return Answer::fail(code_integration_device_not_found, "Device not found: " + device_id(pk, *dk));
        const Value* points = field(items[i], "measurepoints");
        if (points == nullptr || !points->is_object())
            return Answer::fail(code_bad_params, where + ".measurepoints must be an object");
        for (const auto& [name, value] : points->as_object())
            if (auto problem = point_problem(name, value))
                return Answer::fail(code_model_invalid, "Model validate failed: " + where + ": " + *problem);
        std::int64_t time = 0;
        if (!read_time(items[i], call.received_at, time))
            return Answer::fail(code_bad_params, where + ".time must be an integer (epoch milliseconds)");
        accepted.push_back(Sample{*dk, &points->as_object(), time});
    }
    for (const Sample& s : accepted)
        store_points(pk, s.dk, *s.points, s.time, false, call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::integration_events(const Call& call) {
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    const std::string& pk = call.topic.product_key;
    std::vector<EventRecord> rows;
    const auto& items = call.params.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const auto dk = text_field(items[i], "deviceKey");
        if (!dk) return Answer::fail(code_bad_params, where + ".deviceKey must be a string");
        if (find_device(pk, *dk) == nullptr)
            return Answer::fail(code_integration_device_not_found, "Device not found: " + device_id(pk, *dk));
        const Value* events = field(items[i], "events");
        if (events == nullptr || !events->is_object())
            return Answer::fail(code_bad_params,
                                where + ".events must be an object of event id -> parameters");
        std::int64_t time = 0;
        if (!read_time(items[i], call.received_at, time))
            return Answer::fail(code_bad_params, where + ".time must be an integer (epoch milliseconds)");
        for (const auto& [event_id, params] : events->as_object()) {
            if (!params.is_object())
                return Answer::fail(code_bad_params, where + ".events." + event_id + " must be an object");
            rows.push_back(EventRecord{*dk, event_id, device::to_json(params), time});
        }
    }
    store_.record_events(pk, std::move(rows), call.received_at, call.request.id);
    return Answer::ok();
}

Answer Cloud::integration_attributes(const Call& call) {
    if (!call.params.is_array() || call.params.as_array().empty())
        return Answer::fail(code_bad_params, "params must be a non-empty array");
    const std::string& pk = call.topic.product_key;
    const auto& items = call.params.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "params[" + std::to_string(i) + "]";
        const auto dk = text_field(items[i], "deviceKey");
        if (!dk) return Answer::fail(code_bad_params, where + ".deviceKey must be a string");
        if (find_device(pk, *dk) == nullptr)
            return Answer::fail(code_integration_device_not_found, "Device not found: " + device_id(pk, *dk));
        const Value* attributes = field(items[i], "attributes");
        if (attributes == nullptr || !attributes->is_object())
            return Answer::fail(code_bad_params, where + ".attributes must be an object");
        if (attributes->as_object().size() > device::limits::max_attributes)
            return Answer::fail(code_bad_params, too_many("attributes", attributes->as_object().size(),
                                                          device::limits::max_attributes));
    }
    for (const Value& item : items)
        set_attributes(pk, *text_field(item, "deviceKey"), field(item, "attributes")->as_object(),
                       call.received_at);
    return Answer::ok();
}

} // namespace enos::hub::sim
