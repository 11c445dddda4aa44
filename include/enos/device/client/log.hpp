// Logging of the client: one callback (the sink) chosen by the application, and a level filter.
// The SDK never writes to stdout/stderr by itself, and secrets never reach the sink.
#pragma once

#include <functional>
#include <string_view>

namespace enos::device {

enum class LogLevel { trace, debug, info, warn, error, off };

/// Receives every log line at or above ClientOptions::log_level. Called from any SDK thread
/// (the transport's, the dispatcher's, the timer's or the caller's), possibly concurrently: it must
/// be thread-safe and quick. It may not call back into the DeviceClient that logs.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

constexpr std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
    }
    return "unknown";
}

} // namespace enos::device
