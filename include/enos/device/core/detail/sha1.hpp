// SHA-1 per FIPS 180-4 §6.1. Kept only because EnOS accepts signmethod=sha1 for signatures (no
// collision resistance is needed there: the secret is part of the hashed string).
#pragma once

#include <enos/device/core/detail/block_hash.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace enos::device::detail {

class Sha1 : public BlockHash<Sha1, true> {
public:
    using Digest = std::array<std::uint8_t, 20>;

    Digest finish() noexcept {
        pad();
        Digest out{};
        for (std::size_t i = 0; i < 5; ++i) store_be32(out.data() + 4 * i, state_[i]);
        state_ = initial_state;
        return out;
    }

    void compress(const std::uint8_t* block) noexcept {
        std::uint32_t w[80];
        for (int t = 0; t < 16; ++t) w[t] = load_be32(block + 4 * t);
        for (int t = 16; t < 80; ++t) w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3], e = state_[4];
        for (int t = 0; t < 80; ++t) {
            std::uint32_t f, k;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5a827999;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ed9eba1;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8f1bbcdc;
            } else {
                f = b ^ c ^ d;
                k = 0xca62c1d6;
            }
            const std::uint32_t temp = rotl32(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = rotl32(b, 30);
            b = a;
            a = temp;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
        state_[4] += e;
    }

private:
    static constexpr std::array<std::uint32_t, 5> initial_state = {0x67452301, 0xefcdab89, 0x98badcfe,
                                                                   0x10325476, 0xc3d2e1f0};
    std::array<std::uint32_t, 5> state_ = initial_state;
};

inline Sha1::Digest sha1(std::string_view data) noexcept {
    Sha1 hash;
    hash.update(data);
    return hash.finish();
}

} // namespace enos::device::detail
