#include "transport/gzip_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace enos::device::detail {
namespace {

constexpr int gzip_window_bits = 15 + 16; // 32 KiB window, gzip wrapper (not zlib, not raw)

Error zlib_error(const char* what, const z_stream& stream, int rc) {
    std::string detail = std::string(what) + ": ";
    detail += stream.msg != nullptr ? stream.msg : rc == Z_BUF_ERROR ? "truncated stream" : zError(rc);
    return Error{errc::invalid_argument, std::move(detail)};
}

} // namespace

Result<std::string> gzip_compress(std::string_view data) {
    if (data.size() > UINT_MAX) return Error{errc::input_too_large, "payload too large to compress"};
    z_stream stream{};
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return Error{errc::invalid_argument, "cannot start GZIP compression (out of memory)"};
    std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&stream, Z_FINISH); // the bound guarantees one call suffices
    out.resize(stream.total_out);
    deflateEnd(&stream);
    if (rc != Z_STREAM_END) return Error{errc::invalid_argument, "GZIP compression failed"};
    return out;
}

Result<std::string> gzip_decompress(std::string_view data, std::size_t max_size) {
    if (!looks_like_gzip(data)) return Error{errc::invalid_argument, "not a GZIP stream (no gzip header)"};
    if (data.size() > UINT_MAX) return Error{errc::input_too_large, "compressed payload too large"};
    z_stream stream{};
    if (inflateInit2(&stream, gzip_window_bits) != Z_OK)
        return Error{errc::invalid_argument, "cannot start GZIP decompression (out of memory)"};
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    std::string out;
    char chunk[16384];
    Result<std::string> result = Error{errc::invalid_argument, "GZIP stream is truncated"};
    while (true) {
        stream.next_out = reinterpret_cast<Bytef*>(chunk);
        stream.avail_out = sizeof chunk;
        const int rc = inflate(&stream, Z_NO_FLUSH);
        const std::size_t produced = sizeof chunk - stream.avail_out;
        if (out.size() + produced > max_size) {
            result = Error{errc::input_too_large,
                           "GZIP payload inflates to more than " + std::to_string(max_size) + " bytes"};
            break;
        }
        out.append(chunk, produced);
        if (rc == Z_STREAM_END) {
            if (stream.avail_in == 0) {
                result = std::move(out);
                break;
            }
            // Another member follows (or garbage, which the next header check refuses).
            if (!looks_like_gzip(
                    std::string_view(reinterpret_cast<const char*>(stream.next_in), stream.avail_in))) {
                result = Error{errc::invalid_argument, "bytes after the end of the GZIP stream"};
                break;
            }
            inflateReset(&stream);
            continue;
        }
        if (rc != Z_OK) {
            if (rc != Z_BUF_ERROR || stream.avail_in != 0 || produced != 0)
                result = zlib_error("corrupt GZIP stream", stream, rc);
            break; // Z_BUF_ERROR with all input used: the stream ended early
        }
        if (stream.avail_in == 0 && produced == 0) break; // truncated
    }
    inflateEnd(&stream);
    return result;
}

} // namespace enos::device::detail
