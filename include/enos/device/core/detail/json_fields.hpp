// Reading typed fields out of a parsed JSON object, with errors that name the field
// ("field 'data.loginedSubDevices[2].deviceKey' is missing"). Used by every payload decoder.
#pragma once

#include <enos/device/core/result.hpp>
#include <enos/device/core/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device::detail {

inline std::string type_name(Value::Type type) {
    switch (type) {
    case Value::Type::null: return "null";
    case Value::Type::boolean: return "a boolean";
    case Value::Type::integer: return "an integer";
    case Value::Type::floating: return "a floating-point number";
    case Value::Type::string: return "a string";
    case Value::Type::array: return "an array";
    case Value::Type::object: return "an object";
    }
    return "unknown";
}

inline Error wrong_type_error(const std::string& path, std::string_view expected, const Value& got) {
    return Error{errc::wrong_type,
                 "field '" + path + "' must be " + std::string(expected) + ", not " + type_name(got.type())};
}

inline Error missing_field_error(const std::string& path) {
    return Error{errc::missing_field, "field '" + path + "' is missing"};
}

/// Parses the JSON text of a payload part ("params", "data"); empty text means the part was absent.
inline Result<Value> parse_part(std::string_view json, const std::string& path) {
    if (json.empty()) return missing_field_error(path);
    Result<Value> parsed = parse_value(json);
    if (!parsed) return Error{parsed.code(), "'" + path + "': " + parsed.error().detail};
    return parsed;
}

/// Converts JSON values to C++ fields; each overload states what it accepts.
inline Status convert(const Value& v, const std::string& path, std::string& out) {
    if (!v.is_string()) return wrong_type_error(path, "a string", v);
    out = v.as_string();
    return {};
}
inline Status convert(const Value& v, const std::string& path, std::int64_t& out) {
    if (!v.is_int()) return wrong_type_error(path, "an integer", v);
    out = v.as_int();
    return {};
}
inline Status convert(const Value& v, const std::string& path, bool& out) {
    if (!v.is_bool()) return wrong_type_error(path, "a boolean", v);
    out = v.as_bool();
    return {};
}
inline Status convert(const Value& v, const std::string&, Value& out) {
    out = v;
    return {};
}
/// An object of identifier -> value.
inline Status convert(const Value& v, const std::string& path, Points& out) {
    if (!v.is_object()) return wrong_type_error(path, "an object", v);
    out = v.as_object();
    return {};
}
/// An array of strings.
inline Status convert(const Value& v, const std::string& path, std::vector<std::string>& out) {
    if (!v.is_array()) return wrong_type_error(path, "an array of strings", v);
    out.clear();
    out.reserve(v.as_array().size());
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
        const Value& item = v.as_array()[i];
        if (!item.is_string())
            return wrong_type_error(path + "[" + std::to_string(i) + "]", "a string", item);
        out.push_back(item.as_string());
    }
    return {};
}

/// Reads the members of one JSON object. The first problem is kept and later reads are skipped, so a
/// decoder reads all its fields and checks once at the end.
class ObjectReader {
public:
    /// `path` names the object in errors ("data", "params[3]").
    ObjectReader(const Value& object, std::string path) : object_(object), path_(std::move(path)) {
        if (!object.is_object()) status_ = wrong_type_error(path_, "an object", object);
    }

    /// A member that must be present (and not null).
    template <class T> ObjectReader& required(std::string_view key, T& out) {
        if (!status_) return *this;
        const Value* v = object_.find(key);
        if (v == nullptr || v->is_null()) {
            status_ = missing_field_error(member_path(key));
        } else {
            status_ = convert(*v, member_path(key), out);
        }
        return *this;
    }

    /// A member that may be absent or null; `out` is left unchanged then.
    template <class T> ObjectReader& optional(std::string_view key, T& out) {
        if (!status_) return *this;
        const Value* v = object_.find(key);
        if (v != nullptr && !v->is_null()) status_ = convert(*v, member_path(key), out);
        return *this;
    }
    template <class T> ObjectReader& optional(std::string_view key, std::optional<T>& out) {
        if (!status_) return *this;
        const Value* v = object_.find(key);
        if (v != nullptr && !v->is_null()) {
            T converted{};
            status_ = convert(*v, member_path(key), converted);
            if (status_) out = std::move(converted);
        }
        return *this;
    }

    /// An optional array whose elements are objects, each read by `read(ObjectReader&, T&)`.
    template <class T, class ReadFn>
    ObjectReader& optional_list(std::string_view key, std::vector<T>& out, ReadFn read) {
        if (!status_) return *this;
        const Value* v = object_.find(key);
        if (v != nullptr && !v->is_null()) status_ = read_list(*v, member_path(key), out, read);
        return *this;
    }

    explicit operator bool() const noexcept { return status_.ok(); }
    const Error& error() const noexcept { return status_.error(); }

    /// Reads every element of the array `list` (named `path`) with `read(ObjectReader&, T&)`.
    template <class T, class ReadFn>
    static Status read_list(const Value& list, const std::string& path, std::vector<T>& out, ReadFn read) {
        if (!list.is_array()) return wrong_type_error(path, "an array", list);
        out.clear();
        out.reserve(list.as_array().size());
        for (std::size_t i = 0; i < list.as_array().size(); ++i) {
            ObjectReader item(list.as_array()[i], path + "[" + std::to_string(i) + "]");
            T element{};
            read(item, element);
            if (!item) return item.error();
            out.push_back(std::move(element));
        }
        return {};
    }

private:
    std::string member_path(std::string_view key) const { return path_ + "." + std::string(key); }

    const Value& object_;
    std::string path_;
    Status status_;
};

/// Decodes a whole payload part that is a list of objects ("data": [...]).
template <class T, class ReadFn>
Result<std::vector<T>> decode_list(std::string_view json, const std::string& path, ReadFn read) {
    Result<Value> parsed = parse_part(json, path);
    if (!parsed) return parsed.error();
    std::vector<T> out;
    if (Status s = ObjectReader::read_list(*parsed, path, out, read); !s) return s.error();
    return out;
}

/// Decodes a whole payload part that is one object read by `read(ObjectReader&, T&)`.
template <class T, class ReadFn>
Result<T> decode_object(std::string_view json, const std::string& path, ReadFn read) {
    Result<Value> parsed = parse_part(json, path);
    if (!parsed) return parsed.error();
    ObjectReader reader(*parsed, path);
    T out{};
    if (reader) read(reader, out);
    if (!reader) return reader.error();
    return out;
}

/// Decodes a payload part that is a single value converted by convert() (Points, names, ...).
template <class T> Result<T> decode_as(std::string_view json, const std::string& path) {
    Result<Value> parsed = parse_part(json, path);
    if (!parsed) return parsed.error();
    T out{};
    if (Status s = convert(*parsed, path, out); !s) return s.error();
    return out;
}

} // namespace enos::device::detail
