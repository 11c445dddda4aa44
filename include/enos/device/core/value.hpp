// Value: the JSON-like type of measure points, attributes, event and service parameters
// (docs/protocol.md §5.1). It keeps integers and floating-point numbers apart, because the cloud validates
// them against the thing model: 1 and 1.0 are different values on the wire.
#pragma once

#include <enos/device/core/detail/json_reader.hpp>
#include <enos/device/core/detail/json_writer.hpp>
#include <enos/device/core/result.hpp>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace enos::device {

class Value {
public:
    /// In the order of the alternatives held inside.
    enum class Type { null, boolean, integer, floating, string, array, object };

    using Array = std::vector<Value>;
    /// Members in insertion order; the wire order follows it.
    using Object = std::vector<std::pair<std::string, Value>>;

    Value() noexcept = default;
    Value(std::nullptr_t) noexcept {}
    Value(bool b) noexcept : data_(b) {}
    /// Any integer type except bool. Unsigned values above INT64_MAX cannot be held as an integer and
    /// become floating point (the cloud's integer types are 32 and 64 bit signed).
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Value(T n) noexcept : data_(from_integer(n)) {}
    Value(float d) noexcept : data_(static_cast<double>(d)) {}
    Value(double d) noexcept : data_(d) {}
    Value(const char* s) : data_(std::string(s ? s : "")) {}
    Value(std::string s) noexcept : data_(std::move(s)) {}
    Value(std::string_view s) : data_(std::string(s)) {}
    Value(Array items) noexcept : data_(std::move(items)) {}
    Value(Object members) noexcept : data_(std::move(members)) {}

    static Value array(std::initializer_list<Value> items) { return Value(Array(items)); }
    static Value object(std::initializer_list<std::pair<std::string, Value>> members) {
        return Value(Object(members));
    }
    /// A measure point with a quality code: {"value": v, "quality": q}.
    static Value with_quality(Value v, int quality) {
        Object members;
        members.reserve(2);
        members.emplace_back("value", std::move(v));
        members.emplace_back("quality", quality);
        return Value(std::move(members));
    }

    Type type() const noexcept { return static_cast<Type>(data_.index()); }
    bool is_null() const noexcept { return type() == Type::null; }
    bool is_bool() const noexcept { return type() == Type::boolean; }
    bool is_int() const noexcept { return type() == Type::integer; }
    bool is_double() const noexcept { return type() == Type::floating; }
    bool is_number() const noexcept { return is_int() || is_double(); }
    bool is_string() const noexcept { return type() == Type::string; }
    bool is_array() const noexcept { return type() == Type::array; }
    bool is_object() const noexcept { return type() == Type::object; }

    // Accessors never throw: asked for the wrong type they return an empty/zero value, so check
    // type() first when the input is not trusted.
    bool as_bool() const noexcept { return is_bool() && std::get<bool>(data_); }
    std::int64_t as_int() const noexcept { return is_int() ? std::get<std::int64_t>(data_) : 0; }
    /// Integers convert to double; other types give 0.
    double as_double() const noexcept {
        if (is_double()) return std::get<double>(data_);
        return is_int() ? static_cast<double>(std::get<std::int64_t>(data_)) : 0.0;
    }
    const std::string& as_string() const noexcept {
        return is_string() ? std::get<std::string>(data_) : empty<std::string>();
    }
    const Array& as_array() const noexcept { return is_array() ? std::get<Array>(data_) : empty<Array>(); }
    const Object& as_object() const noexcept {
        return is_object() ? std::get<Object>(data_) : empty<Object>();
    }

    /// Mutable access for building values in place; nullptr when the value has another type.
    Array* mutable_array() noexcept { return std::get_if<Array>(&data_); }
    Object* mutable_object() noexcept { return std::get_if<Object>(&data_); }

    /// The member named `key` of an object (the first one if repeated); nullptr if absent or not an
    /// object.
    const Value* find(std::string_view key) const noexcept {
        for (const auto& member : as_object())
            if (member.first == key) return &member.second;
        return nullptr;
    }

    /// Structural equality; 1 (integer) and 1.0 (floating) are not equal, member order matters.
    friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }
    friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

private:
    using Storage = std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Object>;

    template <class T> static Storage from_integer(T n) noexcept {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
            if (n > static_cast<T>(std::numeric_limits<std::int64_t>::max()))
                return Storage(std::in_place_type<double>, static_cast<double>(n));
        }
        return Storage(std::in_place_type<std::int64_t>, static_cast<std::int64_t>(n));
    }

    template <class T> static const T& empty() noexcept {
        static const T none{};
        return none;
    }

    Storage data_;
};

/// Identifier -> value, in the order given (measure points, attributes, event and service parameters).
using Points = std::vector<std::pair<std::string, Value>>;

namespace detail {

/// Where and why a value could not be written. `path` is relative to the value passed in
/// (".Power.value", "[2]") and is only built on failure.
struct JsonFault {
    errc code{};
    std::string path;
};

/// Appends `v` as JSON. Strict mode refuses NaN/infinity (errc::non_finite_number) and strings that
/// are not UTF-8 (errc::invalid_argument); lenient mode writes null and U+FFFD instead.
inline bool append_json_value(std::string& out, const Value& v, JsonFault& fault, bool lenient = false) {
    switch (v.type()) {
    case Value::Type::null: out.append("null", 4); return true;
    case Value::Type::boolean: v.as_bool() ? out.append("true", 4) : out.append("false", 5); return true;
    case Value::Type::integer: append_json_int(out, v.as_int()); return true;
    case Value::Type::floating:
        if (append_json_double(out, v.as_double())) return true;
        if (lenient) {
            out.append("null", 4);
            return true;
        }
        fault.code = errc::non_finite_number;
        return false;
    case Value::Type::string:
        if (append_json_string(out, v.as_string(), lenient)) return true;
        fault.code = errc::invalid_argument;
        return false;
    case Value::Type::array: {
        out.push_back('[');
        std::size_t index = 0;
        for (const Value& item : v.as_array()) {
            if (index != 0) out.push_back(',');
            if (!append_json_value(out, item, fault, lenient)) {
                fault.path.insert(0, "[" + std::to_string(index) + "]");
                return false;
            }
            ++index;
        }
        out.push_back(']');
        return true;
    }
    case Value::Type::object: {
        out.push_back('{');
        bool first = true;
        for (const auto& [key, member] : v.as_object()) {
            if (!first) out.push_back(',');
            first = false;
            if (!append_json_string(out, key, lenient)) {
                fault.code = errc::invalid_argument;
                fault.path.insert(0, "." + key);
                return false;
            }
            out.push_back(':');
            if (!append_json_value(out, member, fault, lenient)) {
                fault.path.insert(0, "." + key);
                return false;
            }
        }
        out.push_back('}');
        return true;
    }
    }
    return true;
}

/// The SAX callbacks for null, booleans and numbers of a RapidJSON handler: each becomes a Value,
/// integers and floating-point numbers kept apart, and goes to `Handler::scalar(Value)`. Every
/// handler that reads JSON into Values shares them, so a number reads the same everywhere.
template <class Handler> class SaxScalars {
public:
    bool Null() { return handler().scalar(Value()); }
    bool Bool(bool b) { return handler().scalar(Value(b)); }
    bool Int(int n) { return handler().scalar(Value(n)); }
    bool Uint(unsigned n) { return handler().scalar(Value(n)); }
    bool Int64(std::int64_t n) { return handler().scalar(Value(n)); }
    bool Uint64(std::uint64_t n) { return handler().scalar(Value(n)); }
    bool Double(double d) { return handler().scalar(Value(d)); }
    // Only called with kParseNumbersAsStringsFlag, which is not used.
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }

private:
    Handler& handler() { return static_cast<Handler&>(*this); }
};

/// RapidJSON SAX handler that builds a Value.
class ValueBuilder : public SaxScalars<ValueBuilder> {
public:
    bool scalar(Value v) { return add(std::move(v)); }
    bool String(const char* s, rapidjson::SizeType n, bool) { return add(Value(std::string(s, n))); }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        keys_.emplace_back(s, n);
        return true;
    }
    bool StartObject() { return open(Value(Value::Object{})); }
    bool EndObject(rapidjson::SizeType) { return close(); }
    bool StartArray() { return open(Value(Value::Array{})); }
    bool EndArray(rapidjson::SizeType) { return close(); }

    bool too_deep() const noexcept { return too_deep_; }
    Value take() { return std::move(root_); }

private:
    bool open(Value container) {
        if (open_.size() >= max_json_depth) {
            too_deep_ = true;
            return false;
        }
        open_.push_back(std::move(container));
        return true;
    }
    bool close() {
        Value done = std::move(open_.back());
        open_.pop_back();
        return add(std::move(done));
    }
    bool add(Value v) {
        if (open_.empty()) {
            root_ = std::move(v);
        } else if (auto* items = open_.back().mutable_array()) {
            items->push_back(std::move(v));
        } else {
            open_.back().mutable_object()->emplace_back(std::move(keys_.back()), std::move(v));
            keys_.pop_back();
        }
        return true;
    }

    std::vector<Value> open_;       // containers being filled, innermost last
    std::vector<std::string> keys_; // pending member names, innermost last
    Value root_;
    bool too_deep_ = false;
};

} // namespace detail

/// Parses one JSON document. Errors: errc::malformed_json (with the offset), errc::input_too_large
/// (512 KB or more, or nesting deeper than 128 levels). Numbers with a fraction or exponent become
/// floating point, others integers (beyond the int64 range: floating point).
inline Result<Value> parse_value(std::string_view json) {
    detail::ValueBuilder builder;
    if (Status parsed = detail::parse_json(json, builder); !parsed) return parsed.error();
    return builder.take();
}

/// Compact JSON text of `v`. Meant for display and for handing values on: a NaN or infinity is
/// written as null and bytes that are not UTF-8 as U+FFFD. The payload encoders refuse both instead.
inline std::string to_json(const Value& v) {
    std::string out;
    detail::JsonFault ignored;
    detail::append_json_value(out, v, ignored, true);
    return out;
}

} // namespace enos::device
