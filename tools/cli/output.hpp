// One JSON object per line on stdout. Lines are written whole under a lock and flushed at once, so
// output from the dispatcher thread (serve) and the main thread never interleaves and a reader
// piping the tool sees every line as soon as it happens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace enos::cli {

/// Builds {"k":v,...} in insertion order. Raw values must already be valid JSON text.
class JsonLine {
public:
    JsonLine& str(std::string_view key, std::string_view value);
    JsonLine& num(std::string_view key, std::int64_t value);
    JsonLine& boolean(std::string_view key, bool value);
    /// Valid JSON text (e.g. the data of a reply); empty text is written as null.
    JsonLine& raw(std::string_view key, std::string_view json);
    std::string text() const { return body_ + "}"; }

private:
    void key(std::string_view k);
    std::string body_ = "{";
};

/// Appends `value` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view value);

/// Writes the line and a newline to stdout, then flushes. Thread-safe.
void emit(const JsonLine& line);

std::string to_hex(std::string_view bytes);
/// Accepts upper or lower case, optional white space between byte pairs; false on anything else.
bool from_hex(std::string_view hex, std::string& bytes);

} // namespace enos::cli
