// What every fuzz target shares: the libFuzzer entry point's signature and a check that stops the
// run when an invariant breaks. The check is not assert(): it must also fire in the release builds
// that replay the corpora under ctest.
#pragma once

#include <enos/device/core/value.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace enos::fuzz {

/// Aborts (a crash to libFuzzer, a failure to the replay driver) when `holds` is false.
inline void require(bool holds, const char* invariant) {
    if (holds) return;
    std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
    std::abort();
}

/// Known gap, left to the decoder's UTF-8 checks: RapidJSON 1.1 decodes a lone UTF-16 surrogate
/// escape ("\udc00") into bytes that are not UTF-8, which every encoder then refuses. The round
/// trip invariants skip decoded strings for which this is false.
inline bool is_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    for (std::size_t n = 0; p != end; p += n)
        if ((n = enos::device::detail::utf8_sequence_length(p, end)) == 0) return false;
    return true;
}

namespace detail {

/// Whether `ours` holds the numbers of `theirs` (a RapidJSON DOM of the same text) where both have
/// the same shape; the DOM reads at normal precision, so doubles only have to be close.
inline bool same_numbers(const enos::device::Value& ours, const rapidjson::Value& theirs) {
    if (theirs.IsNumber()) {
        if (!ours.is_number()) return false;
        const double a = ours.as_double(), b = theirs.GetDouble();
        return a == b || std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
    }
    if (theirs.IsArray() && ours.is_array() && ours.as_array().size() == theirs.Size()) {
        for (rapidjson::SizeType i = 0; i < theirs.Size(); ++i)
            if (!same_numbers(ours.as_array()[i], theirs[i])) return false;
    }
    if (theirs.IsObject() && ours.is_object() && ours.as_object().size() == theirs.MemberCount()) {
        std::size_t i = 0;
        for (const auto& member : theirs.GetObject())
            if (!same_numbers(ours.as_object()[i++].second, member.value)) return false;
    }
    return true;
}

} // namespace detail

/// A differential check of number reading: `value`, decoded from the first member `member` of the
/// payload `json`, holds the numbers that an independent reader (RapidJSON's DOM at normal
/// precision) finds there.
inline bool numbers_agree(std::string_view json, const char* member, const enos::device::Value& value) {
    rapidjson::Document theirs;
    theirs.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (theirs.HasParseError() || !theirs.IsObject()) return true;
    const auto found = theirs.FindMember(member);
    return found == theirs.MemberEnd() || detail::same_numbers(value, found->value);
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

} // namespace enos::fuzz
