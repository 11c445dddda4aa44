// The command-line parser shared by enos-hub (its launcher and cloud-side commands) and enos-device:
// one set of rules for options, values and positional arguments, and one wording for the errors, so
// every program reports a bad argument the same way. Usage texts stay with each command.
#pragma once

#include <enos/device/core/result.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace enos::tools {

enum class Takes { nothing, value };

/// One option a command accepts.
struct OptionSpec {
    std::string_view name;        ///< with its dashes: "--port", "-h"
    Takes takes = Takes::nothing; ///< a boolean flag, or an option with a value
    bool at_most_once = false;    ///< a second occurrence is an error (otherwise the last one counts)
    bool ends_parsing = false;    ///< --help and --version: the arguments after it are not looked at
};

/// Shorthands for option tables.
constexpr OptionSpec flag(std::string_view name) {
    return OptionSpec{name, Takes::nothing, false, false};
}
constexpr OptionSpec valued(std::string_view name) {
    return OptionSpec{name, Takes::value, false, false};
}
constexpr OptionSpec valued_once(std::string_view name) {
    return OptionSpec{name, Takes::value, true, false};
}
constexpr OptionSpec final_flag(std::string_view name) {
    return OptionSpec{name, Takes::nothing, false, true};
}

/// One option as given on the command line.
struct GivenOption {
    std::string_view name; ///< the spec's name
    std::string value;     ///< empty for a flag
};

/// What parse_command_line() found.
class ParsedArgs {
public:
    bool has(std::string_view option) const;
    /// The value of the last occurrence.
    std::optional<std::string> value(std::string_view option) const;
    /// Every value given for a repeatable option, in command-line order.
    std::vector<std::string> values(std::string_view option) const;
    /// The options in command-line order (for options whose effect depends on their order).
    const std::vector<GivenOption>& options() const { return options_; }
    const std::vector<std::string>& positionals() const { return positionals_; }

private:
    friend device::Result<ParsedArgs> parse_command_line(const std::vector<std::string>&,
                                                         const std::vector<OptionSpec>&);
    std::vector<GivenOption> options_;
    std::vector<std::string> positionals_;
};

/// Parses arguments (without the program or command name) against `options`:
///   --name value and --name=value for options with a value, --name for flags;
///   anything not starting with '-', a lone "-" and negative numbers are positional arguments,
///   and so is everything after "--".
/// Options and positional arguments may come in any order. Errors are usage errors
/// (errc::invalid_argument) whose detail names the offending argument: an unknown option, a
/// missing value, a value given to a flag, an option given twice that may be given once.
device::Result<ParsedArgs> parse_command_line(const std::vector<std::string>& args,
                                              const std::vector<OptionSpec>& options);

/// argv[first..argc) as strings.
std::vector<std::string> arguments_from(int argc, char** argv, int first);

/// `text` as a decimal number within [min, max] (strtoll's syntax); otherwise a usage error that
/// names `what`.
device::Result<std::int64_t> parse_integer(std::string_view text, std::string_view what, std::int64_t min,
                                           std::int64_t max);

/// A subcommand of a program: `program NAME ARGS...` runs `run` with NAME as argv[0].
struct Subcommand {
    std::string_view name;
    int (*run)(int argc, char** argv);
    std::string_view summary;
};

/// The command list of a usage text: one line per subcommand, summaries aligned.
void print_subcommands(std::ostream& out, const std::vector<Subcommand>& commands);

/// The subcommand argv[1] names, if there is one.
const Subcommand* find_subcommand(const std::vector<Subcommand>& commands, std::string_view name);

} // namespace enos::tools
