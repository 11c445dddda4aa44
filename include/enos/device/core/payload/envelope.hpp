// The request and reply envelopes (docs/protocol.md §2.1–2.2) and the generic encoders and decoders built
// on them. Every encoder writes into a caller-owned std::string, replacing its content; reuse the
// same string and encoding stops allocating once it has grown to the working size.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/json_reader.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/value.hpp>

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace enos::device {

/// The "version" the SDK writes into every request (the reference SDK's value; "1.0" is accepted too).
inline constexpr std::string_view protocol_version = "1.1";

/// EnOS accepts QoS 0 and 1. QoS 2 is errc::qos_not_allowed; anything else errc::invalid_argument.
inline Status check_qos(int qos) {
    if (qos == 0 || qos == 1) return {};
    if (qos == 2) return Error{errc::qos_not_allowed, "QoS 2 is not supported by EnOS; use 0 or 1"};
    return Error{errc::invalid_argument, "QoS " + std::to_string(qos) + " does not exist; use 0 or 1"};
}

/// {"id":id,"version":"1.1","method":method,"params":params}. A null `params` is written as {}.
inline Status encode_request(std::string& out, std::string_view id, std::string_view method,
                             const Value& params) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, method)) return w.error();
    w.raw(",\"params\":");
    if (params.is_null()) {
        w.raw("{}");
    } else if (!w.value(params, "params")) {
        return w.error();
    }
    w.raw('}');
    return w.finish();
}

/// {"id":id,"code":code,"message":message,"data":data}; "data" is left out when `data` is null. The
/// id may be empty, to answer a request whose id could not be read.
inline Status encode_reply(std::string& out, std::string_view id, int code, std::string_view message,
                           const Value& data = {}) {
    detail::PayloadWriter w(out);
    if (!w.begin_reply(id, code, message)) return w.error();
    if (!data.is_null()) {
        w.raw(",\"data\":");
        if (!w.value(data, "data")) return w.error();
    }
    w.raw('}');
    return w.finish();
}

/// Like encode_reply() with `data_json` spliced in as given (checked to be one JSON document); empty
/// leaves "data" out.
inline Status encode_reply_raw_data(std::string& out, std::string_view id, int code, std::string_view message,
                                    std::string_view data_json) {
    detail::PayloadWriter w(out);
    if (!w.begin_reply(id, code, message)) return w.error();
    if (!data_json.empty()) {
        w.raw(",\"data\":");
        if (!w.raw_json(data_json, "data")) return w.error();
    }
    w.raw('}');
    return w.finish();
}

/// A reply envelope as received (replies to the device's requests; on the hub side, the device's
/// replies to commands).
struct Reply {
    std::string id;        ///< as sent; a numeric id is given in decimal
    int code = 0;          ///< 200 = success (make_cloud_error(code) for an error_code)
    std::string message;   ///< "message", or "msg" when only that is present; empty if neither
    std::string data_json; ///< compact JSON text of "data"; empty when absent or null
};

/// A request envelope as received: commands from the cloud, and on the hub side the device's
/// requests.
struct Request {
    std::string id;      ///< as sent; a numeric id is given in decimal
    std::string version; ///< empty when absent
    std::string method;
    std::string params_json; ///< compact JSON text of "params"; empty when absent or null
    std::optional<bool> allow_offline_sub_device, skip_invalid_measurepoints; ///< batch flags, when present
};

namespace detail {

/// The top level of an envelope, read in one pass: scalar members become Values, nested members
/// (a reply's "data", a command's "params") are kept as their compact JSON text, so that they are
/// never built into a Value tree only to be written out again. A RapidJSON SAX handler for
/// parse_json(); members keep their order, and find() returns the first of a repeated key.
class EnvelopeReader : public SaxScalars<EnvelopeReader> {
public:
    EnvelopeReader() { members_.reserve(6); } // an envelope has up to six members

    /// The member's value (for an object or array, an empty one of that type); null if absent.
    const Value* find(std::string_view key) const noexcept {
        const Member* m = member(key);
        return m ? &m->value : nullptr;
    }
    /// The compact JSON of an optional member; empty when absent or null.
    std::string json(std::string_view key) const {
        const Member* m = member(key);
        if (m == nullptr || m->value.is_null()) return {};
        return m->json.empty() ? to_json(m->value) : m->json;
    }
    bool root_is_object() const noexcept { return root_is_object_; }
    bool too_deep() const noexcept { return too_deep_; }

    bool scalar(Value v) { // a top-level member's value, or written into a nested member's text
        if (depth_ == 0) {
            root_is_object_ = false;
        } else if (depth_ == 1 && root_is_object_) {
            members_.push_back(Member{std::move(key_), std::move(v), {}});
        } else if (nested()) {
            JsonFault ignored;
            append_json_value(comma(), v, ignored, true);
            need_comma_ = true;
        }
        return true;
    }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        if (!nested()) return scalar(Value(std::string(s, n)));
        append_json_string(comma(), std::string_view(s, n), true); // no Value (and copy) needed
        need_comma_ = true;
        return true;
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        if (depth_ == 1) {
            key_.assign(s, n);
        } else if (nested()) {
            std::string& out = comma();
            append_json_string(out, std::string_view(s, n), true);
            out.push_back(':');
            need_comma_ = false;
        }
        return true;
    }
    bool StartObject() { return open('{', Value(Value::Object{})); }
    bool EndObject(rapidjson::SizeType) { return close('}'); }
    bool StartArray() { return open('[', Value(Value::Array{})); }
    bool EndArray(rapidjson::SizeType) { return close(']'); }

private:
    struct Member {
        std::string key;
        Value value;      ///< the scalar; for an object or array, an empty one (it names the type)
        std::string json; ///< compact JSON of an object or array member
    };
    const Member* member(std::string_view key) const noexcept {
        for (const Member& m : members_)
            if (m.key == key) return &m;
        return nullptr;
    }
    /// Inside a member that is an object or array (and the root is an object).
    bool nested() const noexcept { return depth_ > 1 && root_is_object_; }
    std::string& comma() {
        std::string& out = members_.back().json;
        if (need_comma_) out.push_back(',');
        return out;
    }
    bool open(char bracket, Value type) {
        if (depth_ >= max_json_depth) {
            too_deep_ = true;
            return false;
        }
        if (depth_ == 0) {
            root_is_object_ = bracket == '{';
        } else if (depth_ == 1 && root_is_object_) {
            members_.push_back(Member{std::move(key_), std::move(type), std::string(1, bracket)});
        } else if (nested()) {
            comma().push_back(bracket);
        }
        need_comma_ = false;
        ++depth_;
        return true;
    }
    bool close(char bracket) {
        --depth_;
        if (depth_ >= 1 && root_is_object_) members_.back().json.push_back(bracket); // a member's own
        need_comma_ = true;
        return true;
    }

    std::vector<Member> members_;
    std::string key_;
    std::size_t depth_ = 0;
    bool need_comma_ = false;
    bool root_is_object_ = true;
    bool too_deep_ = false;
};

/// Reads the top level of an envelope; errc::wrong_type when the payload is not a JSON object.
inline Status read_envelope(std::string_view payload, EnvelopeReader& reader) {
    if (Status parsed = parse_json(payload, reader); !parsed) return parsed;
    if (!reader.root_is_object()) return Error{errc::wrong_type, "payload must be a JSON object"};
    return {};
}

/// "id" (null: absent): a string, or an integer (docs/protocol.md §8.20) turned into its decimal text.
inline Status read_id(const Value* id, std::string& out) {
    if (id == nullptr || id->is_null()) return missing_field_error("id");
    if (id->is_string()) {
        out = id->as_string();
    } else if (id->is_int()) {
        out = std::to_string(id->as_int());
    } else {
        return wrong_type_error("id", "a string or an integer", *id);
    }
    return {};
}

/// Whether `s` is well-formed UTF-8 (RFC 3629).
inline bool is_valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p != end) {
        const std::size_t n = utf8_sequence_length(p, end);
        if (n == 0) return false;
        p += n;
    }
    return true;
}

/// A RapidJSON SAX handler that looks only for the first top-level "id" and stops there. It keeps
/// nothing else and has no depth limit of its own (the parse is iterative), so it also reads the id
/// of a command that is too deep for decode_request().
class RequestIdScanner {
public:
    const std::string& id() const noexcept { return id_; }

    bool Null() { return other(); }
    bool Bool(bool) { return other(); }
    bool Int(int n) { return number(std::to_string(n)); }
    bool Uint(unsigned n) { return number(std::to_string(n)); }
    bool Int64(std::int64_t n) { return number(std::to_string(n)); }
    bool Uint64(std::uint64_t n) { return number(std::to_string(n)); }
    bool Double(double) { return other(); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        if (!at_id()) return true;
        if (is_valid_utf8(std::string_view(s, n))) id_.assign(s, n); // else it cannot be echoed
        return false;
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        key_is_id_ = depth_ == 1 && std::string_view(s, n) == "id";
        return true;
    }
    bool StartObject() { return open(true); }
    bool EndObject(rapidjson::SizeType) { return close(); }
    bool StartArray() { return open(false); }
    bool EndArray(rapidjson::SizeType) { return close(); }

private:
    bool at_id() const noexcept { return depth_ == 1 && key_is_id_; }
    bool number(std::string text) {
        if (!at_id()) return true;
        id_ = std::move(text);
        return false;
    }
    bool other() { return !at_id(); } // an id of another type cannot be echoed: stop
    bool open(bool object) {
        if (at_id() || (depth_ == 0 && !object)) return false;
        ++depth_;
        return true;
    }
    bool close() {
        --depth_;
        key_is_id_ = false;
        return true;
    }

    std::string id_;
    std::size_t depth_ = 0;
    bool key_is_id_ = false;
};

/// A whole string of decimal digits with an optional '-', within the int64 range.
inline bool parse_decimal(std::string_view text, std::int64_t& out) noexcept {
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, out);
    return !text.empty() && r.ec == std::errc() && r.ptr == end;
}

} // namespace detail

/// Decodes a reply envelope. "id" may be a string or a number; "code" an integer or a string of
/// digits (one SDK sends it quoted); "msg" is read when "message" is absent.
inline Result<Reply> decode_reply(std::string_view payload) {
    detail::EnvelopeReader envelope;
    if (Status s = detail::read_envelope(payload, envelope); !s) return s.error();
    Reply reply;
    if (Status s = detail::read_id(envelope.find("id"), reply.id); !s) return s.error();

    const Value* code = envelope.find("code");
    if (code == nullptr || code->is_null()) return detail::missing_field_error("code");
    std::int64_t number = 0;
    if (code->is_int()) {
        number = code->as_int();
    } else if (!code->is_string() || !detail::parse_decimal(code->as_string(), number)) {
        return detail::wrong_type_error("code", "an integer", *code);
    }
    if (number < std::numeric_limits<int>::min() || number > std::numeric_limits<int>::max())
        return Error{errc::wrong_type, "field 'code' is out of range: " + std::to_string(number)};
    reply.code = static_cast<int>(number);

    for (const char* key : {"message", "msg"}) {
        const Value* message = envelope.find(key);
        if (message == nullptr || message->is_null()) continue;
        if (!message->is_string()) return detail::wrong_type_error(key, "a string", *message);
        reply.message = message->as_string();
        break;
    }
    reply.data_json = envelope.json("data");
    return reply;
}

/// Decodes a request envelope: "id" (string or number) and "method" are required, "version",
/// "params" and the batch flags optional.
inline Result<Request> decode_request(std::string_view payload) {
    detail::EnvelopeReader envelope;
    if (Status s = detail::read_envelope(payload, envelope); !s) return s.error();
    Request request;
    if (Status s = detail::read_id(envelope.find("id"), request.id); !s) return s.error();
    auto top = [&](std::string_view key) { return envelope.find(key); };
    if (const Value* method = top("method"); method == nullptr || method->is_null()) {
        return detail::missing_field_error("method");
    } else if (!method->is_string()) {
        return detail::wrong_type_error("method", "a string", *method);
    } else if (method->as_string().empty()) {
        return Error{errc::missing_field, "field 'method' is empty"};
    } else {
        request.method = method->as_string();
    }
    if (const Value* version = top("version"); version != nullptr && !version->is_null()) {
        if (!version->is_string()) return detail::wrong_type_error("version", "a string", *version);
        request.version = version->as_string();
    }
    auto flag = [&](std::string_view key, std::optional<bool>& out) -> Status {
        const Value* v = top(key);
        if (v == nullptr || v->is_null()) return {};
        if (!v->is_bool()) return detail::wrong_type_error(std::string(key), "a boolean", *v);
        out = v->as_bool();
        return {};
    };
    if (Status s = flag("allowOfflineSubDevice", request.allow_offline_sub_device); !s) return s.error();
    if (Status s = flag("skipInvalidMeasurepoints", request.skip_invalid_measurepoints); !s) return s.error();
    request.params_json = envelope.json("params");
    return request;
}

/// The "id" of a request that decode_request() refused, so that the refusal can still be answered:
/// the first top-level "id" when it is a string (valid UTF-8) or an integer, read from at most the
/// first limits::max_payload_bytes bytes without building anything; empty when there is none. It
/// reads through invalid UTF-8 and any nesting before the id, and stops at the id.
inline std::string find_request_id(std::string_view payload) {
    payload = payload.substr(0, limits::max_payload_bytes);
    detail::RequestIdScanner scanner;
    rapidjson::MemoryStream stream(payload.data(), payload.size());
    rapidjson::Reader reader;
    (void)reader.Parse<rapidjson::kParseIterativeFlag>(stream, scanner); // stops early by design
    return scanner.id();
}

} // namespace enos::device
