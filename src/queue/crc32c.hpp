// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the offline store's records.
// Table-driven, eight bytes per step ("slicing by 8"); the tables are built at compile time.
// Check value: crc32c("123456789") == 0xE3069283.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace enos::device::detail {

namespace crc32c_tables {

using Table = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Table make() {
    Table t{};
    for (std::uint32_t byte = 0; byte < 256; ++byte) {
        std::uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        t[0][byte] = crc;
    }
    for (std::size_t k = 1; k < 8; ++k)
        for (std::size_t byte = 0; byte < 256; ++byte)
            t[k][byte] = (t[k - 1][byte] >> 8) ^ t[0][t[k - 1][byte] & 0xFF];
    return t;
}

inline constexpr Table tables = make();

} // namespace crc32c_tables

class Crc32c {
public:
    Crc32c& update(const void* data, std::size_t size) noexcept {
        const auto* p = static_cast<const unsigned char*>(data);
        const auto& tables = crc32c_tables::tables;
        std::uint32_t crc = state_;
        while (size >= 8) {
            const std::uint32_t low = crc ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                                             std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
            crc = tables[7][low & 0xFF] ^ tables[6][(low >> 8) & 0xFF] ^ tables[5][(low >> 16) & 0xFF] ^
                  tables[4][low >> 24] ^ tables[3][p[4]] ^ tables[2][p[5]] ^ tables[1][p[6]] ^
                  tables[0][p[7]];
            p += 8;
            size -= 8;
        }
        while (size-- > 0)
            crc = tables[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
        state_ = crc;
        return *this;
    }
    Crc32c& update(std::string_view bytes) noexcept { return update(bytes.data(), bytes.size()); }

    std::uint32_t value() const noexcept { return ~state_; }

private:
    std::uint32_t state_ = 0xFFFFFFFFu;
};

inline std::uint32_t crc32c(std::string_view bytes) noexcept {
    return Crc32c{}.update(bytes).value();
}

} // namespace enos::device::detail
