#include "args.hpp"

#include <cerrno>
#include <cstdlib>

namespace enos::tools {

using device::errc;
using device::Error;
using device::Result;

namespace {

Error usage_error(std::string detail) {
    return Error{errc::invalid_argument, std::move(detail)};
}

const OptionSpec* find_option(const std::vector<OptionSpec>& options, std::string_view name) {
    for (const OptionSpec& spec : options)
        if (spec.name == name) return &spec;
    return nullptr;
}

/// "-" and "-12" are values (stdin, negative numbers), not options.
bool looks_like_option(std::string_view arg) {
    return arg.size() >= 2 && arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9');
}

} // namespace

bool ParsedArgs::has(std::string_view option) const {
    for (const GivenOption& given : options_)
        if (given.name == option) return true;
    return false;
}

std::optional<std::string> ParsedArgs::value(std::string_view option) const {
    for (auto it = options_.rbegin(); it != options_.rend(); ++it)
        if (it->name == option) return it->value;
    return std::nullopt;
}

std::vector<std::string> ParsedArgs::values(std::string_view option) const {
    std::vector<std::string> out;
    for (const GivenOption& given : options_)
        if (given.name == option) out.push_back(given.value);
    return out;
}

Result<ParsedArgs> parse_command_line(const std::vector<std::string>& args,
                                      const std::vector<OptionSpec>& options) {
    ParsedArgs parsed;
    bool only_positionals = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (only_positionals || !looks_like_option(arg)) {
            parsed.positionals_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            only_positionals = true;
            continue;
        }
        std::string_view name = arg;
        std::optional<std::string> inline_value;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            inline_value = std::string(name.substr(eq + 1));
            name = name.substr(0, eq);
        }
        const OptionSpec* spec = find_option(options, name);
        if (!spec) return usage_error("unknown option '" + std::string(name) + "'");
        if (spec->at_most_once && parsed.has(spec->name))
            return usage_error(std::string(name) + " given twice");
        std::string value;
        if (spec->takes == Takes::nothing) {
            if (inline_value) return usage_error(std::string(name) + " takes no value");
        } else if (inline_value) {
            value = std::move(*inline_value);
        } else {
            if (i + 1 >= args.size()) return usage_error(std::string(name) + " needs a value");
            value = args[++i];
        }
        parsed.options_.push_back(GivenOption{spec->name, std::move(value)});
        if (spec->ends_parsing) break;
    }
    return parsed;
}

std::vector<std::string> arguments_from(int argc, char** argv, int first) {
    std::vector<std::string> out;
    for (int i = first; i < argc; ++i)
        out.emplace_back(argv[i]);
    return out;
}

Result<std::int64_t> parse_integer(std::string_view text, std::string_view what, std::int64_t min,
                                   std::int64_t max) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
        return usage_error(std::string(what) + " must be a whole number from " + std::to_string(min) +
                           " to " + std::to_string(max));
    return static_cast<std::int64_t>(v);
}

void print_subcommands(std::ostream& out, const std::vector<Subcommand>& commands) {
    constexpr std::size_t summary_column = 20;
    for (const Subcommand& command : commands) {
        out << "  " << command.name;
        for (std::size_t n = command.name.size(); n < summary_column; ++n)
            out << ' ';
        out << command.summary << "\n";
    }
}

const Subcommand* find_subcommand(const std::vector<Subcommand>& commands, std::string_view name) {
    for (const Subcommand& command : commands)
        if (command.name == name) return &command;
    return nullptr;
}

} // namespace enos::tools
