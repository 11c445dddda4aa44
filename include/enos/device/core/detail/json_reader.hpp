// Strict JSON input: RapidJSON's SAX reader run iteratively (no recursion, whatever the nesting),
// validating UTF-8, reading numbers at full precision and refusing anything after the document.
// Whatever arrives from the network goes through here, so every failure becomes an Error, never a
// crash or an exception.
#pragma once

#include <enos/device/core/limits.hpp>
#include <enos/device/core/result.hpp>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace enos::device::detail {

/// Deeper nesting than this is refused: no EnOS payload comes close, and everything that walks a
/// parsed value afterwards is recursive.
inline constexpr std::size_t max_json_depth = 128;

/// Runs `handler` (a RapidJSON SAX handler) over `text`. The handler reports nesting beyond
/// max_json_depth by returning false with `too_deep()` set.
template <class Handler> Status parse_json(std::string_view text, Handler& handler) {
    if (text.size() >= limits::max_payload_bytes)
        return Error{errc::input_too_large, "payload is " + std::to_string(text.size()) +
                                                " bytes; the limit is " +
                                                std::to_string(limits::max_payload_bytes)};
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                               rapidjson::kParseFullPrecisionFlag;
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    const rapidjson::ParseResult result = reader.Parse<flags>(stream, handler);
    if (handler.too_deep())
        return Error{errc::input_too_large,
                     "JSON nested deeper than " + std::to_string(max_json_depth) + " levels"};
    if (result.IsError()) {
        if (result.Code() == rapidjson::kParseErrorDocumentEmpty)
            return Error{errc::malformed_json, "payload is empty"};
        std::string what = rapidjson::GetParseError_En(result.Code());
        if (!what.empty() && what.back() == '.') what.pop_back();
        return Error{errc::malformed_json, what + " at offset " + std::to_string(result.Offset())};
    }
    // The reader stops at a NUL byte as if the input ended there; anything after it is garbage too.
    if (stream.Tell() != text.size())
        return Error{errc::malformed_json,
                     "unexpected data after the JSON document at offset " + std::to_string(stream.Tell())};
    return {};
}

} // namespace enos::device::detail
