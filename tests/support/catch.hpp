// One include for Catch2 2.x (Debian 12) and 3.x: the test macros are the same in both.
#pragma once
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <string_view>

namespace enos::test {

/// Whether `text` contains `part`: most checks of messages and logs look for a phrase in them.
inline bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

} // namespace enos::test
