// Compact JSON output appended to a caller-owned std::string. The encoders write fixed shapes, so
// there is no structural bookkeeping (and nothing to allocate): once the string has grown to its
// working size, encoding into it again costs no heap allocation.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/internal/dtoa.h>

namespace enos::device::detail {

/// Length of the well-formed UTF-8 sequence starting at p (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), or 0 if it is not one.
inline std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) noexcept {
    const unsigned char c = p[0];
    const auto available = static_cast<std::size_t>(end - p);
    auto continuation = [&](std::size_t i) { return i < available && (p[i] & 0xC0) == 0x80; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return continuation(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!continuation(1) || !continuation(2)) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0; // overlong
        if (c == 0xED && p[1] > 0x9F) return 0; // UTF-16 surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0; // overlong
        if (c == 0xF4 && p[1] > 0x8F) return 0; // above U+10FFFF
        return 4;
    }
    return 0;
}

/// Appends `s` escaped for a JSON string, without the quotes. Returns false (leaving `out` partly
/// written) if `s` is not valid UTF-8: the cloud would reject or mangle such a payload, so it never
/// leaves the device. With `lenient`, each offending byte becomes U+FFFD instead.
inline bool append_json_string_content(std::string& out, std::string_view s, bool lenient = false) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    const auto* run = p; // start of the bytes not yet copied
    auto flush = [&] { out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run)); };
    while (p != end) {
        const unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++p;
            continue;
        }
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence_length(p, end);
            if (n != 0) {
                p += n;
                continue;
            }
            if (!lenient) return false;
            flush();
            out.append("\xEF\xBF\xBD", 3);
            run = ++p;
            continue;
        }
        flush();
        out.push_back('\\');
        switch (c) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '\b': out.push_back('b'); break;
        case '\f': out.push_back('f'); break;
        case '\n': out.push_back('n'); break;
        case '\r': out.push_back('r'); break;
        case '\t': out.push_back('t'); break;
        default:
            out.append("u00", 3);
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
        run = ++p;
    }
    flush();
    return true;
}

/// Appends `s` as a quoted JSON string; see append_json_string_content().
inline bool append_json_string(std::string& out, std::string_view s, bool lenient = false) {
    out.push_back('"');
    if (!append_json_string_content(out, s, lenient)) return false;
    out.push_back('"');
    return true;
}

inline void append_json_int(std::string& out, std::int64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

/// Appends text that reads back as exactly `d`, always with a fraction or exponent so the receiver
/// sees a floating-point number ("1.0", never "1"). False for NaN and infinity, which JSON cannot
/// express. RapidJSON's Grisu2 (what its own Writer uses) is about twice as fast as std::to_chars
/// here; its output always round-trips, and is the shortest form in all but rare cases.
inline bool append_json_double(std::string& out, double d) {
    if (!std::isfinite(d)) return false;
    char buf[32];
    const char* last = rapidjson::internal::dtoa(d, buf);
    out.append(buf, static_cast<std::size_t>(last - buf));
    return true;
}

} // namespace enos::device::detail
