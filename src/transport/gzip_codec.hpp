// GZIP (RFC 1952) over zlib: the one payload compression EnOS negotiates that this SDK speaks
// (docs/protocol.md §5.6). Shared by the client's transport and enos-hub. Not part of the stable API.
#pragma once

#include <enos/device/core/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace enos::device::detail {

/// One gzip member holding `data`, at zlib's default level (the level of Java's GZIPOutputStream).
Result<std::string> gzip_compress(std::string_view data);

/// The bytes of a gzip stream (one member or several in a row, as Java's GZIPInputStream reads
/// them). errc::invalid_argument when `data` is not a complete gzip stream or has bytes after it;
/// errc::input_too_large when it would inflate to more than `max_size` bytes (nothing larger is
/// ever inflated).
Result<std::string> gzip_decompress(std::string_view data, std::size_t max_size);

/// Whether `data` starts like a gzip member (magic bytes 1f 8b); JSON never does.
inline bool looks_like_gzip(std::string_view data) noexcept {
    return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
           static_cast<unsigned char>(data[1]) == 0x8b;
}

} // namespace enos::device::detail
