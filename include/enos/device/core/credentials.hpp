// CONNECT credentials for the three secure modes (docs/protocol.md §1.2–1.3), and the strict parsers the
// broker side uses to read them back.
#pragma once

#include <enos/device/core/detail/strings.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/sign.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace enos::device {

enum class SecureMode : int { static_secret = 2, dynamic_activation = 3, integration = 4 };

/// Device key that the message-integration channel (securemode 4) uses in the username and signature.
inline constexpr std::string_view integration_device_key = "%channel%";

/// Device keys no device may have: "%channel%" is the integration channel's identity, and a device
/// "integration" would own /sys/{pk}/integration/..., the channel's topics.
constexpr bool is_reserved_device_key(std::string_view device_key) noexcept {
    return device_key == integration_device_key || device_key == "integration";
}

struct CredentialInput {
    std::string product_key, device_key; ///< device_key is ignored ("%channel%") for integration
    std::string secret;                  ///< deviceSecret (mode 2) or productSecret (modes 3, 4)
    SecureMode mode = SecureMode::static_secret;
    SignMethod method = SignMethod::sha256;
    HexCase hex_case = HexCase::platform;
    std::string client_id; ///< raw client id; empty -> device_key (modes 2, 3) or product_key (mode 4)
    std::string timestamp; ///< epoch ms as a decimal string; empty -> now
    /// Optional "{k=v,...}" appended to the raw client id and signed with it (docs/protocol.md §1.6; the
    /// only way to announce payload compression, e.g. "{compress=GZIP}"). Not counted against the
    /// 64-character limit, because the reference SDK appends it to ids that already use it all.
    std::string extra_info;
};

/// The three CONNECT fields.
struct ConnectCredentials {
    std::string client_id, username, password;
};

/// Current Unix time in milliseconds as a decimal string.
inline std::string now_ms_string() {
    using namespace std::chrono;
    return std::to_string(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

namespace detail {

/// pk/dk end up in topics ('/', '+', '#'), in "dk&pk" ('&') and in the client id ('|'), so those
/// characters, white space and control characters would make the device unreachable or ambiguous.
inline Status check_key(std::string_view what, std::string_view key) {
    if (key.empty()) return Error{errc::missing_argument, std::string(what) + " is empty"};
    for (char c : key) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) return Error{errc::invalid_argument, std::string(what) + " contains white space or a control character"};
        if (c == '/' || c == '+' || c == '#' || c == '&' || c == '|')
            return Error{errc::invalid_argument, std::string(what) + " contains '" + c + "'"};
    }
    return {};
}

inline Status check_client_id(std::string_view client_id, std::string_view extra_info) {
    if (client_id.empty()) return Error{errc::missing_argument, "client id is empty"};
    if (utf8_length(client_id) > limits::max_client_id_chars)
        return Error{errc::invalid_argument, "client id longer than " +
                                                 std::to_string(limits::max_client_id_chars) + " characters"};
    if (client_id.find('|') != std::string_view::npos)
        return Error{errc::invalid_argument, "client id contains '|'"};
    if (!extra_info.empty()) {
        if (extra_info.size() < 2 || extra_info.front() != '{' || extra_info.back() != '}')
            return Error{errc::invalid_argument, "extra info must have the form {key=value,...}"};
        if (extra_info.find('|') != std::string_view::npos)
            return Error{errc::invalid_argument, "extra info contains '|'"};
    }
    return {};
}

} // namespace detail

/// Builds client id, username and password. Errors name the offending input (never the secret).
inline Result<ConnectCredentials> make_connect_credentials(const CredentialInput& in) {
    const bool integration = in.mode == SecureMode::integration;
    if (in.mode != SecureMode::static_secret && in.mode != SecureMode::dynamic_activation && !integration)
        return Error{errc::invalid_argument, "securemode must be 2, 3 or 4"};
    if (to_string(in.method).empty()) return Error{errc::unsupported_sign_method, "sign method is not sha256, sha1 or md5"};
    if (in.hex_case != HexCase::platform && in.hex_case != HexCase::upper && in.hex_case != HexCase::lower)
        return Error{errc::invalid_argument, "hex case is not platform, upper or lower"};
    if (auto s = detail::check_key("product_key", in.product_key); !s) return s.error();
    if (!integration)
        if (auto s = detail::check_key("device_key", in.device_key); !s) return s.error();
    if (in.secret.empty()) return Error{errc::missing_argument, "secret is empty"};

    const std::string_view device_key = integration ? integration_device_key : std::string_view(in.device_key);
    const std::string_view raw_id =
        !in.client_id.empty() ? std::string_view(in.client_id) : integration ? std::string_view(in.product_key) : device_key;
    if (auto s = detail::check_client_id(raw_id, in.extra_info); !s) return s.error();

    const std::string timestamp = in.timestamp.empty() ? now_ms_string() : in.timestamp;
    if (!detail::is_decimal_digits(timestamp)) return Error{errc::invalid_argument, "timestamp must be decimal digits"};

    std::string signed_id = std::string(raw_id) + in.extra_info;
    ConnectCredentials out;
    out.password = sign({signed_id, device_key, in.product_key, timestamp}, in.secret, in.method, in.hex_case);
    out.client_id = std::move(signed_id);
    out.client_id += "|securemode=" + std::to_string(static_cast<int>(in.mode)) + ",signmethod=";
    out.client_id += to_string(in.method);
    out.client_id += ",timestamp=" + timestamp + "|";
    out.username = std::string(device_key) + "&" + in.product_key;
    return out;
}

/// What the broker reads from "raw|securemode=2,signmethod=sha256,timestamp=...|".
struct ClientIdFields {
    std::string raw_client_id; ///< everything before the first '|', byte-exact (it is signed)
    int secure_mode = 0;
    SignMethod method = SignMethod::sha256;
    std::string method_name; ///< signmethod as sent (e.g. "hmacsha1")
    std::string timestamp;   ///< as sent (it is signed)
};

/// Strict parser for the MQTT client id of a CONNECT. The section between the two '|' must contain
/// exactly the keys securemode, signmethod and timestamp (any order, each once, nothing after the
/// closing '|'). Spaces around keys and values inside that section are tolerated: the EnOS docs'
/// template shows "securemode=2, signmethod=..." with a space, those bytes are not signed, and
/// refusing them would only give a device that followed the docs a bare CONNACK 2. The raw client id
/// is taken byte-exact. The timestamp must be decimal digits, optionally with a fraction, since the
/// reference Python SDK sends "1700000000000.123"; its value is otherwise free (it is signed).
inline Result<ClientIdFields> parse_mqtt_client_id(std::string_view mqtt_client_id) {
    const auto bad = [](std::string detail) { return Error{errc::invalid_argument, std::move(detail)}; };
    const std::size_t open = mqtt_client_id.find('|');
    if (open == std::string_view::npos) return bad("client id has no '|securemode=...|' section");
    if (open == 0) return bad("raw client id (before the first '|') is empty");
    if (mqtt_client_id.back() != '|' || mqtt_client_id.size() == open + 1)
        return bad("client id section is not closed by a final '|'");
    std::string_view section = mqtt_client_id.substr(open + 1, mqtt_client_id.size() - open - 2);
    if (section.find('|') != std::string_view::npos) return bad("client id has more than two '|'");

    ClientIdFields out;
    out.raw_client_id = std::string(mqtt_client_id.substr(0, open));
    bool have_mode = false, have_method = false, have_timestamp = false;
    while (true) {
        const std::size_t comma = section.find(',');
        const std::string_view item = section.substr(0, comma);
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) return bad("client id item " + detail::quoted_excerpt(item) + " has no '='");
        const std::string_view key = detail::trim_ascii(item.substr(0, eq));
        const std::string_view value = detail::trim_ascii(item.substr(eq + 1));
        if (value.empty()) return bad("client id item " + detail::quoted_excerpt(key) + " has no value");
        bool* seen = nullptr;
        if (key == "securemode") {
            seen = &have_mode;
            if (value == "2" || value == "3" || value == "4")
                out.secure_mode = value[0] - '0';
            else
                return bad("securemode " + detail::quoted_excerpt(value) + " is not 2, 3 or 4");
        } else if (key == "signmethod") {
            seen = &have_method;
            auto method = parse_sign_method(value);
            if (!method) return method.error();
            out.method = *method;
            out.method_name = std::string(value);
        } else if (key == "timestamp") {
            seen = &have_timestamp;
            const std::size_t dot = value.find('.');
            const bool digits = dot == std::string_view::npos
                                    ? detail::is_decimal_digits(value)
                                    : detail::is_decimal_digits(value.substr(0, dot)) &&
                                          detail::is_decimal_digits(value.substr(dot + 1));
            if (!digits) return bad("timestamp must be decimal digits");
            out.timestamp = std::string(value);
        } else {
            return bad("unknown key " + detail::quoted_excerpt(key) + " in client id");
        }
        if (*seen) return bad("key " + std::string(key) + " appears twice in client id");
        *seen = true;
        if (comma == std::string_view::npos) break;
        section.remove_prefix(comma + 1);
    }
    if (!have_mode) return bad("client id has no securemode");
    if (!have_method) return bad("client id has no signmethod");
    if (!have_timestamp) return bad("client id has no timestamp");
    return out;
}

/// What the broker reads from the username "dk&pk" (dk is "%channel%" in securemode 4).
struct UsernameFields {
    std::string device_key, product_key;
};

/// Strict parser for the username: exactly one '&', both sides non-empty, no white space.
inline Result<UsernameFields> parse_mqtt_username(std::string_view username) {
    const std::size_t amp = username.find('&');
    if (amp == std::string_view::npos) return Error{errc::invalid_argument, "username has no '&' (expected dk&pk)"};
    if (username.find('&', amp + 1) != std::string_view::npos)
        return Error{errc::invalid_argument, "username has more than one '&'"};
    UsernameFields out{std::string(username.substr(0, amp)), std::string(username.substr(amp + 1))};
    if (auto s = detail::check_key("device key in username", out.device_key); !s)
        return Error{errc::invalid_argument, s.error().detail};
    if (auto s = detail::check_key("product key in username", out.product_key); !s)
        return Error{errc::invalid_argument, s.error().detail};
    return out;
}

} // namespace enos::device
