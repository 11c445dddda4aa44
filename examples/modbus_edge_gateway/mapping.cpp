#include "mapping.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace modbus_edge {
namespace {

using Json = rapidjson::Value;

/// Thrown inside the parser only; load_mapping turns it into the error text.
struct FieldError {
    std::string text;
};

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
    throw FieldError{field + ": " + problem};
}

const Json& member(const Json& object, const std::string& where, const char* name) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd()) fail(where + "." + name, "missing");
    return it->value;
}

const Json* optional_member(const Json& object, const char* name) {
    const auto it = object.FindMember(name);
    return it == object.MemberEnd() ? nullptr : &it->value;
}

/// Members this level does not know are refused, so a typo ("writeable") is not silently ignored.
void only_known(const Json& object, const std::string& where, std::initializer_list<const char*> known) {
    for (const auto& m : object.GetObject()) {
        const std::string name = m.name.GetString();
        if (!name.empty() && name[0] == '_') continue; // free for comments
        bool found = false;
        for (const char* k : known)
            found = found || name == k;
        if (!found) fail(where + "." + name, "unknown field");
    }
}

std::string text(const Json& v, const std::string& where) {
    if (!v.IsString() || v.GetStringLength() == 0) fail(where, "must be a non-empty string");
    return std::string(v.GetString(), v.GetStringLength());
}

long integer(const Json& v, const std::string& where, long min, long max) {
    if (!v.IsInt64() || v.GetInt64() < min || v.GetInt64() > max)
        fail(where, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return static_cast<long>(v.GetInt64());
}

double number(const Json& v, const std::string& where) {
    if (!v.IsNumber()) fail(where, "must be a number");
    return v.GetDouble();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

/// The sub-device secret comes from an environment variable or a file, so the mapping file can be
/// shared and versioned without secrets in it.
std::string read_secret(const Json& sub, const std::string& where, const std::string& base_dir) {
    const Json* env = optional_member(sub, "secretEnv");
    const Json* file = optional_member(sub, "secretFile");
    if ((env == nullptr) == (file == nullptr))
        fail(where, "needs exactly one of 'secretEnv' (environment variable name) or 'secretFile' (path)");
    if (env != nullptr) {
        const std::string name = text(*env, where + ".secretEnv");
        const char* value = std::getenv(name.c_str());
        if (value == nullptr || *value == '\0')
            fail(where + ".secretEnv", "environment variable " + name + " is not set or empty");
        return value;
    }
    std::string path = text(*file, where + ".secretFile");
    if (path[0] != '/' && !base_dir.empty()) path = base_dir + "/" + path;
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(where + ".secretFile", "cannot read " + path);
    std::string secret;
    std::getline(in, secret); // the first line; a trailing newline is not part of the secret
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
    if (secret.empty()) fail(where + ".secretFile", path + " is empty");
    return secret;
}

PointMap read_point(const std::string& id, const Json& p, const std::string& where) {
    if (!p.IsObject()) fail(where, "must be an object");
    only_known(p, where, {"register", "kind", "type", "wordOrder", "scale", "offset", "writable"});
    PointMap point;
    point.id = id;
    point.address = static_cast<int>(integer(member(p, where, "register"), where + ".register", 0, 65535));

    const std::string kind = text(member(p, where, "kind"), where + ".kind");
    if (kind == "holding")
        point.kind = RegisterKind::holding;
    else if (kind == "input")
        point.kind = RegisterKind::input;
    else
        fail(where + ".kind", "must be \"holding\" or \"input\", not \"" + kind + "\"");

    const std::string type = text(member(p, where, "type"), where + ".type");
    if (type == "uint16")
        point.type = RegisterType::uint16;
    else if (type == "int16")
        point.type = RegisterType::int16;
    else if (type == "uint32")
        point.type = RegisterType::uint32;
    else if (type == "int32")
        point.type = RegisterType::int32;
    else if (type == "float32")
        point.type = RegisterType::float32;
    else
        fail(where + ".type", "must be uint16, int16, uint32, int32 or float32, not \"" + type + "\"");
    if (point.address + point.words() > 65536)
        fail(where + ".register", "the value runs past register 65535");

    if (const Json* order = optional_member(p, "wordOrder")) {
        const std::string o = text(*order, where + ".wordOrder");
        if (o == "big")
            point.word_order = WordOrder::high_first;
        else if (o == "little")
            point.word_order = WordOrder::low_first;
        else
            fail(where + ".wordOrder", "must be \"big\" (high word first) or \"little\", not \"" + o + "\"");
    }
    if (const Json* scale = optional_member(p, "scale")) {
        point.scale = number(*scale, where + ".scale");
        if (point.scale == 0.0) fail(where + ".scale", "must not be 0 (a set would divide by it)");
    }
    if (const Json* offset = optional_member(p, "offset")) point.offset = number(*offset, where + ".offset");
    if (const Json* writable = optional_member(p, "writable")) {
        if (!writable->IsBool()) fail(where + ".writable", "must be true or false");
        point.writable = writable->GetBool();
    }
    if (point.writable && point.kind == RegisterKind::input)
        fail(where + ".writable", "input registers are read-only; only holding registers can be writable");
    return point;
}

SubDeviceMap read_sub_device(const Json& s, const std::string& where, const std::string& base_dir) {
    if (!s.IsObject()) fail(where, "must be an object");
    only_known(s, where, {"productKey", "deviceKey", "secretEnv", "secretFile", "points"});
    SubDeviceMap sub;
    sub.product_key = text(member(s, where, "productKey"), where + ".productKey");
    sub.device_key = text(member(s, where, "deviceKey"), where + ".deviceKey");
    sub.secret = read_secret(s, where, base_dir);
    const Json& points = member(s, where, "points");
    if (!points.IsObject() || points.MemberCount() == 0)
        fail(where + ".points", "must be an object of measure point id -> register");
    for (const auto& m : points.GetObject()) {
        const std::string id(m.name.GetString(), m.name.GetStringLength());
        if (id.empty()) fail(where + ".points", "a measure point id is empty");
        sub.points.push_back(read_point(id, m.value, where + ".points." + id));
    }
    return sub;
}

EndpointMap read_endpoint(const Json& e, const std::string& where, const std::string& base_dir) {
    if (!e.IsObject()) fail(where, "must be an object");
    only_known(e, where, {"host", "port", "unitId", "pollIntervalMs", "timeoutMs", "subDevices"});
    EndpointMap endpoint;
    endpoint.host = text(member(e, where, "host"), where + ".host");
    endpoint.port = static_cast<int>(integer(member(e, where, "port"), where + ".port", 1, 65535));
    if (const Json* unit = optional_member(e, "unitId"))
        endpoint.unit_id = static_cast<int>(integer(*unit, where + ".unitId", 0, 255));
    if (const Json* interval = optional_member(e, "pollIntervalMs"))
        endpoint.poll_interval =
            std::chrono::milliseconds(integer(*interval, where + ".pollIntervalMs", 10, 86400000));
    if (const Json* timeout = optional_member(e, "timeoutMs"))
        endpoint.response_timeout =
            std::chrono::milliseconds(integer(*timeout, where + ".timeoutMs", 10, 60000));
    const Json& subs = member(e, where, "subDevices");
    if (!subs.IsArray() || subs.Empty()) fail(where + ".subDevices", "must be a non-empty array");
    for (rapidjson::SizeType i = 0; i < subs.Size(); ++i)
        endpoint.sub_devices.push_back(
            read_sub_device(subs[i], where + ".subDevices[" + std::to_string(i) + "]", base_dir));
    return endpoint;
}

} // namespace

std::optional<Mapping> parse_mapping(const std::string& json, const std::string& base_dir,
                                     std::string& error) {
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    if (doc.HasParseError()) {
        error = "not valid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                rapidjson::GetParseError_En(doc.GetParseError());
        return std::nullopt;
    }
    try {
        if (!doc.IsObject()) fail("(top level)", "must be an object");
        only_known(doc, "(top level)", {"endpoints"});
        const Json& endpoints = member(doc, "(top level)", "endpoints");
        if (!endpoints.IsArray() || endpoints.Empty()) fail("endpoints", "must be a non-empty array");
        Mapping mapping;
        std::set<std::string> devices;
        for (rapidjson::SizeType i = 0; i < endpoints.Size(); ++i) {
            const std::string where = "endpoints[" + std::to_string(i) + "]";
            mapping.endpoints.push_back(read_endpoint(endpoints[i], where, base_dir));
            for (const SubDeviceMap& sub : mapping.endpoints.back().sub_devices)
                if (!devices.insert(sub.product_key + "/" + sub.device_key).second)
                    fail(where, "sub-device " + sub.product_key + "/" + sub.device_key +
                                    " is mapped twice (one sub-device belongs to one endpoint)");
        }
        return mapping;
    } catch (const FieldError& e) {
        error = e.text;
        return std::nullopt;
    }
}

std::optional<Mapping> load_mapping(const std::string& path, std::string& error) {
    std::ifstream probe(path);
    if (!probe) {
        error = path + ": cannot read the mapping file";
        return std::nullopt;
    }
    const auto slash = path.find_last_of('/');
    auto mapping =
        parse_mapping(read_file(path), slash == std::string::npos ? "." : path.substr(0, slash), error);
    if (!mapping) error = path + ": " + error;
    return mapping;
}

enos::device::Value decode_point(const PointMap& point, const std::uint16_t* words) {
    std::uint32_t raw32 = 0;
    if (point.words() == 2) {
        const std::uint32_t high = point.word_order == WordOrder::high_first ? words[0] : words[1];
        const std::uint32_t low = point.word_order == WordOrder::high_first ? words[1] : words[0];
        raw32 = (high << 16) | low;
    }
    std::int64_t raw_int = 0;
    switch (point.type) {
    case RegisterType::uint16: raw_int = words[0]; break;
    case RegisterType::int16: raw_int = static_cast<std::int16_t>(words[0]); break;
    case RegisterType::uint32: raw_int = raw32; break;
    case RegisterType::int32: raw_int = static_cast<std::int32_t>(raw32); break;
    case RegisterType::float32: {
        float f = 0;
        static_assert(sizeof f == sizeof raw32);
        std::memcpy(&f, &raw32, sizeof f);
        return enos::device::Value(static_cast<double>(f) * point.scale + point.offset);
    }
    }
    if (point.scale == 1.0 && point.offset == 0.0) return enos::device::Value(raw_int);
    return enos::device::Value(static_cast<double>(raw_int) * point.scale + point.offset);
}

std::optional<std::vector<std::uint16_t>> encode_point(const PointMap& point,
                                                       const enos::device::Value& value, std::string& error) {
    if (!value.is_number()) {
        error = "value of " + point.id + " must be a number";
        return std::nullopt;
    }
    const double raw = (value.as_double() - point.offset) / point.scale;
    std::uint32_t bits = 0;
    if (point.type == RegisterType::float32) {
        const float f = static_cast<float>(raw);
        if (!std::isfinite(f)) {
            error = "value of " + point.id + " does not fit float32";
            return std::nullopt;
        }
        std::memcpy(&bits, &f, sizeof bits);
    } else {
        const double rounded = std::round(raw);
        double min = 0, max = 0;
        switch (point.type) {
        case RegisterType::uint16: max = 65535; break;
        case RegisterType::int16: min = -32768, max = 32767; break;
        case RegisterType::uint32: max = 4294967295.0; break;
        case RegisterType::int32: min = -2147483648.0, max = 2147483647.0; break;
        case RegisterType::float32: break;
        }
        if (!(rounded >= min && rounded <= max)) {
            error = "value of " + point.id + " is out of range: the register holds " +
                    std::to_string(static_cast<std::int64_t>(min)) + " to " +
                    std::to_string(static_cast<std::int64_t>(max)) + " after scale and offset";
            return std::nullopt;
        }
        bits = static_cast<std::uint32_t>(static_cast<std::int64_t>(rounded));
    }
    if (point.words() == 1) return std::vector<std::uint16_t>{static_cast<std::uint16_t>(bits)};
    const auto high = static_cast<std::uint16_t>(bits >> 16), low = static_cast<std::uint16_t>(bits);
    if (point.word_order == WordOrder::high_first) return std::vector<std::uint16_t>{high, low};
    return std::vector<std::uint16_t>{low, high};
}

} // namespace modbus_edge
