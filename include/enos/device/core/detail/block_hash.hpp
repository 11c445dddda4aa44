// Shared Merkle–Damgård framing of SHA-1, SHA-256 and MD5: 64-byte blocks, a single 0x80 byte, zero
// padding, and the message length in bits in the last 8 bytes of the final block. Only the byte order
// of that length differs (big-endian for SHA, little-endian for MD5).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace enos::device::detail {

inline constexpr std::uint32_t rotl32(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }
inline constexpr std::uint32_t rotr32(std::uint32_t x, int n) noexcept { return (x >> n) | (x << (32 - n)); }

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}
inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

/// Buffers input into 64-byte blocks and hands each full block to Derived::compress(const uint8_t*).
template <class Derived, bool BigEndianLength>
class BlockHash {
public:
    static constexpr std::size_t block_size = 64;

    void update(const void* data, std::size_t size) noexcept {
        auto bytes = static_cast<const std::uint8_t*>(data);
        total_bytes_ += size;
        if (used_ > 0) {
            std::size_t take = block_size - used_ < size ? block_size - used_ : size;
            std::memcpy(buffer_.data() + used_, bytes, take);
            used_ += take;
            bytes += take;
            size -= take;
            if (used_ < block_size) return;
            self().compress(buffer_.data());
            used_ = 0;
        }
        for (; size >= block_size; bytes += block_size, size -= block_size) self().compress(bytes);
        if (size > 0) std::memcpy(buffer_.data(), bytes, size);
        used_ = size;
    }
    void update(std::string_view data) noexcept { update(data.data(), data.size()); }

protected:
    /// Appends the padding and the length; afterwards Derived writes out its state.
    void pad() noexcept {
        const std::uint64_t bit_length = total_bytes_ * 8;
        buffer_[used_++] = 0x80;
        if (used_ > block_size - 8) {
            std::memset(buffer_.data() + used_, 0, block_size - used_);
            self().compress(buffer_.data());
            used_ = 0;
        }
        std::memset(buffer_.data() + used_, 0, block_size - 8 - used_);
        for (int i = 0; i < 8; ++i) {
            const int shift = BigEndianLength ? 56 - 8 * i : 8 * i;
            buffer_[block_size - 8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bit_length >> shift);
        }
        self().compress(buffer_.data());
        used_ = 0;
        total_bytes_ = 0;
    }

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    std::array<std::uint8_t, block_size> buffer_{};
    std::size_t used_ = 0;
    std::uint64_t total_bytes_ = 0;
};

} // namespace enos::device::detail
