// Small ASCII string helpers shared by the core headers (locale-independent on purpose: protocol
// tokens are ASCII, and std::tolower depends on the global locale).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace enos::device::detail {

inline constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline constexpr bool is_ascii_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

inline constexpr std::string_view trim_ascii(std::string_view s) noexcept {
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
    return s;
}

inline std::string to_lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

inline constexpr bool is_decimal_digits(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

inline constexpr bool ends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// Number of UTF-8 code points (continuation bytes are not counted), i.e. "characters" as the EnOS
/// documentation counts them for the client id.
inline constexpr std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

/// Quotes a user-supplied token for an error detail, cut short so a huge input cannot flood logs.
inline std::string quoted_excerpt(std::string_view s, std::size_t max_chars = 40) {
    std::string out = "'";
    if (s.size() > max_chars) {
        out.append(s.substr(0, max_chars));
        out += "...";
    } else {
        out.append(s);
    }
    out += '\'';
    return out;
}

} // namespace enos::device::detail
