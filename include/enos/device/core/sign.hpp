// The EnOS signature (docs/protocol.md §1.4): a plain digest of "clientId{..}deviceKey{..}productKey{..}
// timestamp{..}" followed by the secret. Used for the CONNECT password and for the sub-device
// signatures of topo add, login and batch login (§3.10–3.11). The digests are header-only, so
// firmware with its own MQTT stack can sign without a crypto library.
#pragma once

#include <enos/device/core/detail/hex.hpp>
#include <enos/device/core/detail/md5.hpp>
#include <enos/device/core/detail/sha1.hpp>
#include <enos/device/core/detail/sha256.hpp>
#include <enos/device/core/detail/strings.hpp>
#include <enos/device/core/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace enos::device {

enum class SignMethod { sha256, sha1, md5 };

/// Letter case of the hex signature. `platform` follows the reference SDK: lower case for sha256 and
/// md5, UPPER case for sha1. The broker compares case-insensitively; `upper` matches the EnOS docs.
enum class HexCase { platform, upper, lower };

/// Accepts sha256, sha1, md5 and the legacy aliases hmacsha256, hmacsha1, hmacmd5 (which are plain
/// digests too), in any letter case and with surrounding white space. Anything else, including an
/// empty name, is errc::unsupported_sign_method: silently signing with another algorithm would only
/// turn a configuration mistake into a puzzling CONNACK 4.
inline Result<SignMethod> parse_sign_method(std::string_view name) {
    const std::string key = detail::to_lower_ascii(detail::trim_ascii(name));
    if (key == "sha256" || key == "hmacsha256") return SignMethod::sha256;
    if (key == "sha1" || key == "hmacsha1") return SignMethod::sha1;
    if (key == "md5" || key == "hmacmd5") return SignMethod::md5;
    if (key.empty()) return Error{errc::unsupported_sign_method, "sign method is empty"};
    return Error{errc::unsupported_sign_method,
                 "sign method " + detail::quoted_excerpt(name) + " is not sha256, sha1 or md5"};
}

/// Canonical wire name ("sha256", "sha1", "md5"); empty for a value outside the enum.
constexpr std::string_view to_string(SignMethod method) noexcept {
    switch (method) {
    case SignMethod::sha256: return "sha256";
    case SignMethod::sha1: return "sha1";
    case SignMethod::md5: return "md5";
    }
    return {};
}

/// Whether `hex_case` means upper-case hex for `method`.
constexpr bool uses_upper_hex(SignMethod method, HexCase hex_case) noexcept {
    return hex_case == HexCase::upper || (hex_case == HexCase::platform && method == SignMethod::sha1);
}

/// The four signed parameters, exactly as they appear on the wire.
struct SignParams {
    std::string_view client_id, device_key, product_key, timestamp;
};

/// The string that is hashed: the parameters in key order (clientId < deviceKey < productKey <
/// timestamp), each as key + value without separators, then the secret.
inline std::string sign_input(const SignParams& p, std::string_view secret) {
    using namespace std::string_view_literals;
    std::string out;
    out.reserve(40 + p.client_id.size() + p.device_key.size() + p.product_key.size() + p.timestamp.size() +
                secret.size());
    out.append("clientId"sv).append(p.client_id);
    out.append("deviceKey"sv).append(p.device_key);
    out.append("productKey"sv).append(p.product_key);
    out.append("timestamp"sv).append(p.timestamp);
    out.append(secret);
    return out;
}

/// Hex digest of `data`; empty for a SignMethod value outside the enum.
inline std::string hex_digest(SignMethod method, std::string_view data, bool upper) {
    switch (method) {
    case SignMethod::sha256: return detail::to_hex(detail::sha256(data), upper);
    case SignMethod::sha1: return detail::to_hex(detail::sha1(data), upper);
    case SignMethod::md5: return detail::to_hex(detail::md5(data), upper);
    }
    return {};
}

/// The signature: hex digest of sign_input(). Used as the CONNECT password and as "sign" in
/// sub-device topo add / login / batch login.
inline std::string sign(const SignParams& params, std::string_view secret, SignMethod method = SignMethod::sha256,
                        HexCase hex_case = HexCase::platform) {
    return hex_digest(method, sign_input(params, secret), uses_upper_hex(method, hex_case));
}

/// Compares two hex signatures ignoring letter case. For inputs of equal length the time taken does
/// not depend on where they differ, so a verifier does not leak how much of a guess was right.
inline bool signature_equals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        // Branch-free ASCII fold: set the 0x20 bit of 'A'..'Z' only.
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        const unsigned fx = x | (static_cast<unsigned>(static_cast<unsigned char>(x - 'A') < 26u) << 5);
        const unsigned fy = y | (static_cast<unsigned>(static_cast<unsigned char>(y - 'A') < 26u) << 5);
        diff |= fx ^ fy;
    }
    return diff == 0;
}

} // namespace enos::device
