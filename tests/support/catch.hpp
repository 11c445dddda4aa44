// One include for Catch2 2.x (Debian 12) and 3.x: the test macros are the same in both.
#pragma once
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
