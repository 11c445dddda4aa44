// Helpers shared by the Cloud's source files: reading request params and writing JSON.
#pragma once

#include "common.hpp"

#include <enos/device/core/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::hub::sim::detail {

using device::Value;

/// "pk/dk" back into its two keys (keys never contain '/': they are topic levels).
inline std::pair<std::string, std::string> split_id(const std::string& id) {
    const std::size_t slash = id.find('/');
    return {id.substr(0, slash), id.substr(slash + 1)};
}

/// A member that is present and not null.
inline const Value* field(const Value& object, std::string_view key) {
    const Value* v = object.find(key);
    return v != nullptr && !v->is_null() ? v : nullptr;
}

/// A string member; with `integers_too`, an integer member in decimal (SDKs send timestamps and
/// secureMode either way).
inline std::optional<std::string> text_field(const Value& object, std::string_view key,
                                             bool integers_too = false) {
    const Value* v = field(object, key);
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return v->as_string();
    if (integers_too && v->is_int()) return std::to_string(v->as_int());
    return std::nullopt;
}

inline bool is_string_array(const Value& v) {
    if (!v.is_array()) return false;
    for (const Value& item : v.as_array())
        if (!item.is_string()) return false;
    return true;
}

/// Why a measure point value cannot be accepted, if it cannot. Without a thing model the simulator
/// checks what every model requires: a value, and for {"value","quality"} an integer quality.
inline std::optional<std::string> point_problem(const std::string& name, const Value& v) {
    if (v.is_null()) return "measure point '" + name + "' has no value";
    if (v.is_object() && v.find("quality") != nullptr) {
        if (field(v, "value") == nullptr) return "measure point '" + name + "' has a quality but no value";
        if (!v.find("quality")->is_int())
            return "measure point '" + name + "' has a quality that is not an integer";
    }
    return std::nullopt;
}

/// {"k":v,...} from keys and values that are JSON text already.
inline std::string json_object(const std::vector<std::pair<std::string, std::string>>& members) {
    std::string out = "{";
    for (const auto& [key, json] : members) {
        if (out.size() > 1) out += ',';
        out += json_quote(key);
        out += ':';
        out += json;
    }
    return out += '}';
}

/// [a,b,...] from elements that are JSON text already.
inline std::string json_array(const std::vector<std::string>& elements) {
    std::string out = "[";
    for (const std::string& json : elements) {
        if (out.size() > 1) out += ',';
        out += json;
    }
    return out += ']';
}

} // namespace enos::hub::sim::detail
