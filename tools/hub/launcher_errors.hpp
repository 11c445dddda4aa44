// How the launcher commands (start, stop, broker-stop, broker-start, issue-cert, watch) fail: each
// exception becomes one exit code and one line on stderr in launcher.cpp. Thrown from the run
// directory, configuration and process code alike, so they live apart from all of them.
#pragma once

#include "common/args.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace enos::hub {

/// Bad or missing arguments: exit 2, with the command's usage text.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
/// Anything else that went wrong: exit 1.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};
/// A process did not become ready in time: exit 5.
struct Timeout : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The value of an integer option within [min, max], or `fallback` when it is absent.
inline long long integer_option(const tools::ParsedArgs& args, const std::string& name, long long fallback,
                                long long min, long long max) {
    const auto text = args.value(name);
    if (!text) return fallback;
    const auto value = tools::parse_integer(*text, name, min, max);
    if (!value) throw UsageError(value.error().detail);
    return *value;
}

inline std::uint16_t port_option(const tools::ParsedArgs& args, const std::string& name,
                                 std::uint16_t fallback) {
    return static_cast<std::uint16_t>(integer_option(args, name, fallback, 0, 65535));
}

} // namespace enos::hub
