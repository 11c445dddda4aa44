#include "output.hpp"

#include <cstdio>
#include <mutex>

namespace enos::cli {

void append_json_string(std::string& out, std::string_view value) {
    static constexpr char digits[] = "0123456789abcdef";
    out += '"';
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (u < 0x20) {
                out += "\\u00";
                out += digits[u >> 4];
                out += digits[u & 0x0f];
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

void JsonLine::key(std::string_view k) {
    if (body_.size() > 1) body_ += ',';
    append_json_string(body_, k);
    body_ += ':';
}

JsonLine& JsonLine::str(std::string_view k, std::string_view value) {
    key(k);
    append_json_string(body_, value);
    return *this;
}

JsonLine& JsonLine::num(std::string_view k, std::int64_t value) {
    key(k);
    body_ += std::to_string(value);
    return *this;
}

JsonLine& JsonLine::boolean(std::string_view k, bool value) {
    key(k);
    body_ += value ? "true" : "false";
    return *this;
}

JsonLine& JsonLine::raw(std::string_view k, std::string_view json) {
    key(k);
    body_ += json.empty() ? std::string_view("null") : json;
    return *this;
}

void emit(const JsonLine& line) {
    static std::mutex mutex;
    const std::string text = line.text() + "\n";
    std::lock_guard<std::mutex> lock(mutex);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += digits[u >> 4];
        out += digits[u & 0x0f];
    }
    return out;
}

bool from_hex(std::string_view hex, std::string& bytes) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bytes.clear();
    int high = -1;
    for (char c : hex) {
        if (c == ' ' || c == ':' || c == '\t') {
            if (high >= 0) return false; // a separator inside a byte pair
            continue;
        }
        const int n = nibble(c);
        if (n < 0) return false;
        if (high < 0) {
            high = n;
        } else {
            bytes += static_cast<char>(high << 4 | n);
            high = -1;
        }
    }
    return high < 0;
}

} // namespace enos::cli
