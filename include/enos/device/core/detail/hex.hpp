// Hex encoding of digests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace enos::device::detail {

inline void append_hex(std::string& out, const std::uint8_t* data, std::size_t size, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (std::size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0x0f];
    }
}

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes, bool upper) {
    std::string out;
    out.reserve(2 * N);
    append_hex(out, bytes.data(), N, upper);
    return out;
}

} // namespace enos::device::detail
