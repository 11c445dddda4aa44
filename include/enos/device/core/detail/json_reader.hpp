// Strict JSON input: RapidJSON's SAX reader run iteratively (no recursion, whatever the nesting),
// validating UTF-8, reading numbers exactly and refusing anything after the document.
// Whatever arrives from the network goes through here, so every failure becomes an Error, never a
// crash or an exception.
#pragma once

#include <enos/device/core/limits.hpp>
#include <enos/device/core/result.hpp>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

namespace enos::device::detail {

/// Deeper nesting than this is refused: no EnOS payload comes close, and everything that walks a
/// parsed value afterwards is recursive.
inline constexpr std::size_t max_json_depth = 128;

/// Whether a JSON number too far from zero or too close to it for a double is the former: its
/// order of magnitude (exponent plus the place of its first non-zero digit) is positive.
inline bool exceeds_double(std::string_view number) noexcept {
    const std::size_t e = number.find_first_of("eE");
    const std::string_view mantissa = number.substr(0, e);
    const std::size_t point = std::min(mantissa.find('.'), mantissa.size());
    const std::size_t first = mantissa.find_first_of("123456789");
    if (first == std::string_view::npos) return false;
    long long order =
        first < point ? static_cast<long long>(point - first) - 1 : -static_cast<long long>(first - point);
    long long exponent = 0;
    if (e != std::string_view::npos) {
        for (char c : number.substr(e + 1))
            if (c >= '0' && c <= '9') exponent = std::min(exponent * 10 + (c - '0'), 1000000000LL);
        if (number.find('-', e) != std::string_view::npos) exponent = -exponent;
    }
    return order + exponent > 0;
}

/// Hands RapidJSON's events on to `Handler`, converting numbers from their text with std::from_chars
/// (exactly rounded). RapidJSON 1.1's own full-precision conversion turns some zeros into garbage
/// ("0e100" reads as about -2e146), asserts on long mantissas in debug builds and passes zero to
/// __builtin_clzll, so it hands numbers over as text. Handlers see the events RapidJSON would send:
/// Int/Uint/Int64/Uint64 for integers that fit, Double otherwise.
template <class Handler> class ExactNumbers {
public:
    explicit ExactNumbers(Handler& handler) noexcept : handler_(handler) {}

    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        const char* end = s + n;
        const std::string_view text(s, n);
        if (text.find_first_of(".eE") == std::string_view::npos) {
            if (text.front() == '-') {
                std::int64_t v = 0;
                if (std::from_chars(s, end, v).ec == std::errc())
                    return v >= std::numeric_limits<int>::min() ? handler_.Int(static_cast<int>(v))
                                                                : handler_.Int64(v);
            } else {
                std::uint64_t v = 0;
                if (std::from_chars(s, end, v).ec == std::errc())
                    return v <= std::numeric_limits<unsigned>::max() ? handler_.Uint(static_cast<unsigned>(v))
                                                                     : handler_.Uint64(v);
            }
        }
        double d = 0;
        const auto [ptr, ec] = std::from_chars(s, end, d);
        if (ec == std::errc::result_out_of_range) {
            if (exceeds_double(text)) {
                too_big_ = true;
                return false;
            }
            d = text.front() == '-' ? -0.0 : 0.0; // below the smallest double
        } else if (ec != std::errc() || ptr != end) {
            return false; // not reached: RapidJSON checked the syntax
        }
        return handler_.Double(d);
    }
    bool too_big() const noexcept { return too_big_; }

    // Everything else as it comes (the number events only with other parse flags).
    bool Null() { return handler_.Null(); }
    bool Bool(bool b) { return handler_.Bool(b); }
    bool Int(int n) { return handler_.Int(n); }
    bool Uint(unsigned n) { return handler_.Uint(n); }
    bool Int64(std::int64_t n) { return handler_.Int64(n); }
    bool Uint64(std::uint64_t n) { return handler_.Uint64(n); }
    bool Double(double d) { return handler_.Double(d); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return handler_.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return handler_.Key(s, n, copy); }
    bool StartObject() { return handler_.StartObject(); }
    bool EndObject(rapidjson::SizeType n) { return handler_.EndObject(n); }
    bool StartArray() { return handler_.StartArray(); }
    bool EndArray(rapidjson::SizeType n) { return handler_.EndArray(n); }

private:
    Handler& handler_;
    bool too_big_ = false;
};

/// Runs `handler` (a RapidJSON SAX handler) over `text`. The handler reports nesting beyond
/// max_json_depth by returning false with `too_deep()` set.
template <class Handler> Status parse_json(std::string_view text, Handler& handler) {
    if (text.size() >= limits::max_payload_bytes)
        return Error{errc::input_too_large, "payload is " + std::to_string(text.size()) +
                                                " bytes; the limit is " +
                                                std::to_string(limits::max_payload_bytes)};
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                               rapidjson::kParseNumbersAsStringsFlag;
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    ExactNumbers<Handler> numbers(handler);
    const rapidjson::ParseResult result = reader.Parse<flags>(stream, numbers);
    if (handler.too_deep())
        return Error{errc::input_too_large,
                     "JSON nested deeper than " + std::to_string(max_json_depth) + " levels"};
    if (result.IsError()) {
        if (result.Code() == rapidjson::kParseErrorDocumentEmpty)
            return Error{errc::malformed_json, "payload is empty"};
        const auto code = numbers.too_big() ? rapidjson::kParseErrorNumberTooBig : result.Code();
        std::string what = rapidjson::GetParseError_En(code);
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
