// The writer behind every payload encoder: appends to the caller's buffer, checks each piece as it
// goes, and turns the first problem into an Error that names the offending field. Field names are
// only put together when something is wrong, so a successful encode allocates nothing.
#pragma once

#include <enos/device/core/detail/json_writer.hpp>
#include <enos/device/core/limits.hpp>
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

/// A field of the payload being written, for error messages: prefix, optional [index], suffix,
/// e.g. {"params", 3, ".measurepoints"} names "params[3].measurepoints".
struct Field {
    static constexpr std::size_t no_index = static_cast<std::size_t>(-1);
    std::string_view prefix;
    std::size_t index = no_index;
    std::string_view suffix;

    Field(const char* p) : prefix(p) {}
    Field(std::string_view p, std::size_t i = no_index, std::string_view s = {})
        : prefix(p), index(i), suffix(s) {}

    std::string name() const {
        std::string text(prefix);
        if (index != no_index) text += "[" + std::to_string(index) + "]";
        text += suffix;
        return text;
    }
};

class PayloadWriter {
public:
    /// Clears `out`; whatever it held is replaced (its capacity is kept and reused).
    explicit PayloadWriter(std::string& out) noexcept : out_(out) { out_.clear(); }

    /// Writes `{"id":..,"version":"1.1","method":..` and leaves the object open for the rest. The
    /// method may come in parts (head + middle + tail) so that "thing.event.{id}.post" needs no
    /// temporary string.
    bool begin_request(std::string_view id, std::string_view method, std::string_view middle = {},
                       std::string_view tail = {}) {
        out_.append("{\"id\":", 6);
        if (!id_string(id)) return false;
        out_.append(",\"version\":\"1.1\",\"method\":\"", 27);
        if (method.empty() && middle.empty() && tail.empty())
            return fail(errc::missing_argument, "method is empty");
        for (std::string_view part : {method, middle, tail})
            if (!append_json_string_content(out_, part))
                return fail(errc::invalid_argument, "method is not valid UTF-8");
        out_.push_back('"');
        return true;
    }

    /// Writes `{"id":..,"code":..,"message":..` and leaves the object open for "data".
    /// An empty id is allowed here: a request whose id could not be read still deserves an answer
    /// (the cloud queues further commands until the device replies).
    bool begin_reply(std::string_view id, int code, std::string_view message) {
        out_.append("{\"id\":", 6);
        if (!string(id, "id")) return false;
        out_.append(",\"code\":", 8);
        append_json_int(out_, code);
        out_.append(",\"message\":", 11);
        return string(message, "message");
    }

    /// A constant JSON fragment (keys, punctuation) written as is.
    void raw(std::string_view fragment) { out_.append(fragment); }
    void raw(char c) { out_.push_back(c); }

    void integer(std::int64_t n) { append_json_int(out_, n); }
    void boolean(bool b) { b ? out_.append("true", 4) : out_.append("false", 5); }

    bool string(std::string_view s, const Field& field) {
        if (append_json_string(out_, s)) return true;
        return fail(errc::invalid_argument, "field '" + field.name() + "' is not valid UTF-8");
    }

    /// A string the protocol requires to be non-empty (keys, identifiers, signatures).
    bool required_string(std::string_view s, const Field& field) {
        if (s.empty()) return fail(errc::missing_argument, "field '" + field.name() + "' is empty");
        return string(s, field);
    }

    bool number(double d, const Field& field) {
        if (append_json_double(out_, d)) return true;
        return fail(errc::non_finite_number, "field '" + field.name() + "' is NaN or infinite");
    }

    bool value(const Value& v, const Field& field) {
        JsonFault fault;
        if (append_json_value(out_, v, fault)) return true;
        return fail_value(fault, field.name());
    }

    /// An object of identifier -> value; identifiers must be non-empty.
    bool points(const Points& points, const Field& field) {
        out_.push_back('{');
        if (!members(points, field)) return false;
        out_.push_back('}');
        return true;
    }

    /// The members of points() without the braces, after `first_written` members already written.
    bool members(const Points& points, const Field& field, bool first_written = false) {
        for (const auto& [key, v] : points) {
            if (first_written) out_.push_back(',');
            first_written = true;
            if (key.empty())
                return fail(errc::invalid_argument, "field '" + field.name() + "' has an empty identifier");
            if (!append_json_string(out_, key)) {
                return fail(errc::invalid_argument,
                            "field '" + field.name() + "' has an identifier that is not valid UTF-8");
            }
            out_.push_back(':');
            JsonFault fault;
            if (!append_json_value(out_, v, fault)) return fail_value(fault, field.name() + "." + key);
        }
        return true;
    }

    /// The platform's per-request item limits (attributes, tags, registrations).
    bool at_most(std::size_t count, std::size_t limit, const Field& field) {
        if (count <= limit) return true;
        return fail(errc::too_many_items, "field '" + field.name() + "' has " + std::to_string(count) +
                                              " items; the limit is " + std::to_string(limit));
    }

    /// A JSON array of non-empty strings.
    bool names(const std::vector<std::string>& names, std::string_view field) {
        out_.push_back('[');
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i != 0) out_.push_back(',');
            if (!required_string(names[i], Field(field, i))) return false;
        }
        out_.push_back(']');
        return true;
    }

    /// `,"time":ms` (with the given key fragment) when a time is given; epoch ms cannot be negative.
    bool time(std::string_view key_fragment, std::optional<std::int64_t> ms, const Field& field) {
        if (!ms) return true;
        if (*ms < 0) return fail(errc::invalid_argument, "field '" + field.name() + "' is negative");
        out_.append(key_fragment);
        append_json_int(out_, *ms);
        return true;
    }

    /// Splices JSON text that was produced elsewhere, after checking that it is one valid document.
    bool raw_json(std::string_view json, std::string_view field);

    /// Closes the payload and checks the platform's size limit.
    Status finish() {
        if (failed_) return error_;
        if (out_.size() >= limits::max_payload_bytes) {
            fail(errc::payload_too_large, "encoded payload is " + std::to_string(out_.size()) +
                                              " bytes; EnOS accepts less than " +
                                              std::to_string(limits::max_payload_bytes));
            return error_;
        }
        return {};
    }

    /// Records the first problem; `out` is emptied so a half-written payload is never sent by mistake.
    bool fail(Error error) {
        if (!failed_) {
            failed_ = true;
            error_ = std::move(error);
        }
        out_.clear();
        return false;
    }
    bool fail(errc code, std::string detail) { return fail(Error{code, std::move(detail)}); }

    const Error& error() const noexcept { return error_; }
    std::size_t size() const noexcept { return out_.size(); }

private:
    bool id_string(std::string_view id) {
        if (id.empty()) return fail(errc::missing_argument, "id is empty");
        return string(id, "id");
    }

    bool fail_value(const JsonFault& fault, const std::string& name) {
        const std::string where = "field '" + name + fault.path + "'";
        if (fault.code == errc::non_finite_number) return fail(fault.code, where + " is NaN or infinite");
        return fail(fault.code, where + " is not valid UTF-8");
    }

    std::string& out_;
    Error error_;
    bool failed_ = false;
};

/// Validates that `json` is exactly one JSON document (without building anything).
inline Status check_json_text(std::string_view json) {
    struct Checker : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Checker> {
        std::size_t depth = 0;
        bool deep = false;
        bool StartObject() { return enter(); }
        bool StartArray() { return enter(); }
        bool EndObject(rapidjson::SizeType) { return leave(); }
        bool EndArray(rapidjson::SizeType) { return leave(); }
        bool enter() {
            deep = ++depth > max_json_depth;
            return !deep;
        }
        bool leave() {
            --depth;
            return true;
        }
        bool too_deep() const noexcept { return deep; }
    } checker;
    return parse_json(json, checker);
}

inline bool PayloadWriter::raw_json(std::string_view json, std::string_view field) {
    // Keeps malformed_json for text that does not parse; a document too big or too deep to read
    // back would not fit in a payload either.
    if (Status valid = check_json_text(json); !valid) {
        const errc code =
            valid.code() == errc::input_too_large ? errc::payload_too_large : errc::malformed_json;
        return fail(code, "field '" + std::string(field) + "' is not valid JSON: " + valid.error().detail);
    }
    out_.append(json);
    return true;
}

} // namespace enos::device::detail
