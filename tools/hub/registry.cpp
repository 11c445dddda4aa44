#include "registry.hpp"

#include <enos/device/core/credentials.hpp>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

namespace enos::hub {

using enos::device::errc;
using enos::device::Error;
using enos::device::Status;
using Json = rapidjson::Value;

const Product* Registry::find_product(std::string_view product_key) const {
    for (const auto& p : products)
        if (p.product_key == product_key) return &p;
    return nullptr;
}

const Device* Registry::find_device(std::string_view product_key, std::string_view device_key) const {
    for (const auto& d : devices)
        if (d.product_key == product_key && d.device_key == device_key) return &d;
    return nullptr;
}

std::string device_id(std::string_view product_key, std::string_view device_key) {
    std::string id(product_key);
    id += '/';
    id.append(device_key);
    return id;
}

namespace {

Error invalid(const std::string& where, const std::string& what) {
    return Error{errc::invalid_argument, where + ": " + what};
}

std::string json_text(const Json& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

// Typos in field names ("enable" for "enabled") would otherwise be ignored silently and leave a
// device in a state the author did not mean; keys starting with '_' are free for comments.
Status check_fields(const Json& object, const std::string& where, std::initializer_list<const char*> known) {
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
        const std::string_view name(it->name.GetString(), it->name.GetStringLength());
        if (!name.empty() && name.front() == '_') continue;
        bool found = false;
        for (const char* k : known)
            found = found || name == k;
        if (!found) return invalid(where, "unknown field '" + std::string(name) + "'");
    }
    return {};
}

Result<std::string> string_field(const Json& object, const std::string& where, const char* name,
                                 bool required) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd()) {
        if (required) return invalid(where, "missing field '" + std::string(name) + "'");
        return std::string();
    }
    if (!it->value.IsString()) return invalid(where + "." + name, "must be a string");
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

Result<std::string> key_field(const Json& object, const std::string& where, const char* name) {
    auto value = string_field(object, where, name, true);
    if (!value) return value;
    if (auto s = device::detail::check_key(name, *value); !s)
        return invalid(where + "." + name, s.error().detail);
    return value;
}

Result<bool> bool_field(const Json& object, const std::string& where, const char* name, bool fallback) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd()) return fallback;
    if (!it->value.IsBool()) return invalid(where + "." + name, "must be true or false");
    return it->value.GetBool();
}

// Each entry of a top-level array is handed to `parse_entry(entry, "name[i]")`.
template <class Fn> Status for_each_entry(const Json& root, const char* name, Fn&& parse_entry) {
    const auto it = root.FindMember(name);
    if (it == root.MemberEnd()) return {};
    if (!it->value.IsArray()) return invalid(name, "must be an array");
    for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i) {
        const std::string where = std::string(name) + "[" + std::to_string(i) + "]";
        const Json& entry = it->value[i];
        if (!entry.IsObject()) return invalid(where, "must be an object");
        if (auto s = parse_entry(entry, where); !s) return s;
    }
    return {};
}

Result<DeviceRef> ref_fields(const Json& object, const std::string& where) {
    auto pk = key_field(object, where, "productKey");
    if (!pk) return pk.error();
    auto dk = key_field(object, where, "deviceKey");
    if (!dk) return dk.error();
    return DeviceRef{std::move(*pk), std::move(*dk)};
}

Result<DeviceRef> parse_ref(const Json& object, const std::string& where) {
    if (!object.IsObject()) return invalid(where, "must be an object with productKey and deviceKey");
    if (auto s = check_fields(object, where, {"productKey", "deviceKey"}); !s) return s.error();
    return ref_fields(object, where);
}

Status parse_product(Registry& registry, const Json& entry, const std::string& where) {
    if (auto s = check_fields(entry, where, {"productKey", "productSecret", "dynamicActivation"}); !s)
        return s;
    Product p;
    auto pk = key_field(entry, where, "productKey");
    if (!pk) return pk.error();
    p.product_key = std::move(*pk);
    auto secret = string_field(entry, where, "productSecret", false);
    if (!secret) return secret.error();
    p.product_secret = std::move(*secret);
    auto dynamic = bool_field(entry, where, "dynamicActivation", false);
    if (!dynamic) return dynamic.error();
    p.dynamic_activation = *dynamic;
    if (p.dynamic_activation && p.product_secret.empty())
        return invalid(where, "dynamicActivation needs a productSecret");
    if (registry.find_product(p.product_key))
        return invalid(where, "product '" + p.product_key + "' is listed twice");
    registry.products.push_back(std::move(p));
    return {};
}

Status parse_device(Registry& registry, const Json& entry, const std::string& where) {
    if (auto s =
            check_fields(entry, where, {"productKey", "deviceKey", "deviceSecret", "enabled", "gateway"});
        !s)
        return s;
    Device d;
    auto ref = ref_fields(entry, where);
    if (!ref) return ref.error();
    d.product_key = std::move(ref->product_key);
    d.device_key = std::move(ref->device_key);
    if (enos::device::is_reserved_device_key(d.device_key))
        return invalid(where, "deviceKey '" + d.device_key +
                                  "' is reserved (the integration channel's identity and topics)");
    auto secret = string_field(entry, where, "deviceSecret", false);
    if (!secret) return secret.error();
    d.device_secret = std::move(*secret);
    auto enabled = bool_field(entry, where, "enabled", true);
    if (!enabled) return enabled.error();
    d.enabled = *enabled;
    auto gateway = bool_field(entry, where, "gateway", false);
    if (!gateway) return gateway.error();
    d.gateway = *gateway;
    if (registry.find_device(d.product_key, d.device_key))
        return invalid(where, "device '" + device_id(d.product_key, d.device_key) + "' is listed twice");
    registry.devices.push_back(std::move(d));
    return {};
}

Status parse_topology(Registry& registry, const Json& entry, const std::string& where) {
    if (auto s = check_fields(entry, where, {"gateway", "subDevices"}); !s) return s;
    TopologyEntry t;
    const auto gw = entry.FindMember("gateway");
    if (gw == entry.MemberEnd()) return invalid(where, "missing field 'gateway'");
    auto gateway = parse_ref(gw->value, where + ".gateway");
    if (!gateway) return gateway.error();
    t.gateway = std::move(*gateway);
    const Device* gateway_device = registry.find_device(t.gateway.product_key, t.gateway.device_key);
    if (!gateway_device)
        return invalid(where + ".gateway",
                       "'" + device_id(t.gateway.product_key, t.gateway.device_key) + "' is not in devices");
    if (!gateway_device->gateway)
        return invalid(where + ".gateway", "'" + device_id(t.gateway.product_key, t.gateway.device_key) +
                                               "' is not marked \"gateway\": true");
    const auto subs = entry.FindMember("subDevices");
    if (subs == entry.MemberEnd() || !subs->value.IsArray())
        return invalid(where, "'subDevices' must be an array");
    for (rapidjson::SizeType i = 0; i < subs->value.Size(); ++i) {
        const std::string sub_where = where + ".subDevices[" + std::to_string(i) + "]";
        auto sub = parse_ref(subs->value[i], sub_where);
        if (!sub) return sub.error();
        if (!registry.find_device(sub->product_key, sub->device_key))
            return invalid(sub_where,
                           "'" + device_id(sub->product_key, sub->device_key) + "' is not in devices");
        t.sub_devices.push_back(std::move(*sub));
    }
    registry.topology.push_back(std::move(t));
    return {};
}

Status parse_firmware(Registry& registry, const Json& entry, const std::string& where) {
    if (auto s =
            check_fields(entry, where,
                         {"productKey", "deviceKey", "version", "signMethod", "sign", "fileUrl", "fileSize"});
        !s)
        return s;
    Firmware f;
    auto pk = key_field(entry, where, "productKey");
    if (!pk) return pk.error();
    f.product_key = std::move(*pk);
    if (entry.HasMember("deviceKey")) {
        auto dk = key_field(entry, where, "deviceKey");
        if (!dk) return dk.error();
        f.device_key = std::move(*dk);
    }
    auto version = string_field(entry, where, "version", true);
    if (!version) return version.error();
    if (version->empty()) return invalid(where + ".version", "must not be empty");
    f.version = std::move(*version);
    for (auto [name, target] : {std::pair{"signMethod", &f.sign_method}, std::pair{"sign", &f.sign},
                                std::pair{"fileUrl", &f.file_url}}) {
        auto value = string_field(entry, where, name, false);
        if (!value) return value.error();
        *target = std::move(*value);
    }
    if (const auto size = entry.FindMember("fileSize"); size != entry.MemberEnd()) {
        if (!size->value.IsInt64() || size->value.GetInt64() < 0)
            return invalid(where + ".fileSize", "must be a non-negative integer");
        f.file_size = size->value.GetInt64();
    }
    registry.firmware.push_back(std::move(f));
    return {};
}

// "attributes" and "tags": {"pk/dk": {...}}; tag values are strings on the platform.
Status parse_device_objects(const Json& root, const char* name, bool strings_only,
                            std::map<std::string, std::string>& out) {
    const auto it = root.FindMember(name);
    if (it == root.MemberEnd()) return {};
    if (!it->value.IsObject()) return invalid(name, "must be an object keyed by \"productKey/deviceKey\"");
    for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
        const std::string key(m->name.GetString(), m->name.GetStringLength());
        const std::string where = std::string(name) + "[\"" + key + "\"]";
        const auto slash = key.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == key.size() ||
            key.find('/', slash + 1) != std::string::npos)
            return invalid(where, "key must be \"productKey/deviceKey\"");
        if (!m->value.IsObject()) return invalid(where, "must be an object");
        if (strings_only)
            for (auto v = m->value.MemberBegin(); v != m->value.MemberEnd(); ++v)
                if (!v->value.IsString())
                    return invalid(where + "." + v->name.GetString(), "tag values must be strings");
        out[key] = json_text(m->value);
    }
    return {};
}

Status check_references(const Registry& registry) {
    for (std::size_t i = 0; i < registry.devices.size(); ++i) {
        const Device& d = registry.devices[i];
        if (!d.device_secret.empty()) continue;
        const Product* p = registry.find_product(d.product_key);
        if (!p || !p->dynamic_activation)
            return invalid("devices[" + std::to_string(i) + "]",
                           "no deviceSecret, and product '" + d.product_key +
                               "' is not listed with \"dynamicActivation\": true, so it could never log in");
    }
    return {};
}

std::string describe_position(std::string_view text, std::size_t offset) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

} // namespace

Result<Registry> parse_registry(std::string_view text) {
    rapidjson::Document doc;
    // Iterative: a file of nothing but '[' must not exhaust the stack.
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(text.data(), text.size());
    if (doc.HasParseError())
        return Error{errc::malformed_json, "invalid JSON at " +
                                               describe_position(text, doc.GetErrorOffset()) + ": " +
                                               rapidjson::GetParseError_En(doc.GetParseError())};
    if (!doc.IsObject()) return invalid("registry", "the top level must be a JSON object");
    if (auto s = check_fields(doc, "registry",
                              {"products", "devices", "topology", "firmware", "attributes", "tags"});
        !s)
        return s.error();

    Registry registry;
    const auto with = [&registry](Status (*fn)(Registry&, const Json&, const std::string&)) {
        return [&registry, fn](const Json& entry, const std::string& where) {
            return fn(registry, entry, where);
        };
    };
    if (auto s = for_each_entry(doc, "products", with(parse_product)); !s) return s.error();
    if (auto s = for_each_entry(doc, "devices", with(parse_device)); !s) return s.error();
    if (auto s = check_references(registry); !s) return s.error();
    if (auto s = for_each_entry(doc, "topology", with(parse_topology)); !s) return s.error();
    if (auto s = for_each_entry(doc, "firmware", with(parse_firmware)); !s) return s.error();
    if (auto s = parse_device_objects(doc, "attributes", false, registry.attributes); !s) return s.error();
    if (auto s = parse_device_objects(doc, "tags", true, registry.tags); !s) return s.error();
    return registry;
}

Result<Registry> load_registry(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{errc::invalid_argument, path + ": cannot open the registry file"};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Error{errc::invalid_argument, path + ": cannot read the registry file"};
    auto registry = parse_registry(text.str());
    if (!registry) return Error{registry.error().code, path + ": " + registry.error().detail};
    return registry;
}

} // namespace enos::hub
