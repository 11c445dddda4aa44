// MD5 per RFC 1321. Kept only because EnOS accepts signmethod=md5 for signatures.
#pragma once

#include <enos/device/core/detail/block_hash.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace enos::device::detail {

class Md5 : public BlockHash<Md5, false> {
public:
    using Digest = std::array<std::uint8_t, 16>;

    Digest finish() noexcept {
        pad();
        Digest out{};
        for (std::size_t i = 0; i < 4; ++i) store_le32(out.data() + 4 * i, state_[i]);
        state_ = initial_state;
        return out;
    }

    void compress(const std::uint8_t* block) noexcept {
        // RFC 1321 §3.4: T[i] = floor(2^32 * |sin(i + 1)|), and the per-round rotation amounts.
        static constexpr std::uint32_t t_table[64] = {
            0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
            0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
            0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
            0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
            0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
            0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
            0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
            0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
        static constexpr int shifts[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

        std::uint32_t x[16];
        for (int i = 0; i < 16; ++i) x[i] = load_le32(block + 4 * i);

        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        for (int i = 0; i < 64; ++i) {
            const int round = i / 16;
            std::uint32_t f;
            int word;
            switch (round) {
            case 0:
                f = (b & c) | (~b & d);
                word = i;
                break;
            case 1:
                f = (b & d) | (c & ~d);
                word = (5 * i + 1) % 16;
                break;
            case 2:
                f = b ^ c ^ d;
                word = (3 * i + 5) % 16;
                break;
            default:
                f = c ^ (b | ~d);
                word = (7 * i) % 16;
                break;
            }
            const std::uint32_t sum = a + f + t_table[i] + x[word];
            a = d;
            d = c;
            c = b;
            b = b + rotl32(sum, shifts[round][i % 4]);
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
    }

private:
    static constexpr std::array<std::uint32_t, 4> initial_state = {0x67452301, 0xefcdab89, 0x98badcfe,
                                                                   0x10325476};
    std::array<std::uint32_t, 4> state_ = initial_state;
};

inline Md5::Digest md5(std::string_view data) noexcept {
    Md5 hash;
    hash.update(data);
    return hash.finish();
}

} // namespace enos::device::detail
