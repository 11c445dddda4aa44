#include "soak.hpp"

#include "common/args.hpp"

#include <enos/device/core/value.hpp>

#include <iostream>

namespace enos::soak {

std::string format_status(const StatusLine& status) {
    std::string line = "{";
    for (const auto& [name, value] : status) {
        if (line.size() > 1) line += ",";
        line += "\"" + name + "\":" + std::to_string(value);
    }
    return line + "}";
}

std::optional<StatusLine> last_status(std::string_view output) {
    std::size_t end = output.rfind('\n');
    while (end != std::string_view::npos && end > 0) {
        const std::size_t begin = output.rfind('\n', end - 1);
        const std::size_t from = begin == std::string_view::npos ? 0 : begin + 1;
        auto value = device::parse_value(output.substr(from, end - from));
        if (value && value->is_object()) {
            StatusLine status;
            for (const auto& [name, member] : value->as_object())
                if (member.is_int()) status[name] = member.as_int();
            return status;
        }
        if (begin == std::string_view::npos) break;
        end = begin;
    }
    return std::nullopt;
}

} // namespace enos::soak

namespace {

const std::vector<enos::tools::Subcommand> commands = {
    {"run", enos::soak::run_main, "the soak: hub proxy, faults, traffic, checks (see tools/soak.sh)"},
    {"device", enos::soak::device_main, "the device under test (started by run)"},
};

} // namespace

int main(int argc, char** argv) {
    const auto* command = argc > 1 ? enos::tools::find_subcommand(commands, argv[1]) : nullptr;
    if (command == nullptr) {
        std::cerr << "usage: enos-soak COMMAND [OPTIONS]\n";
        enos::tools::print_subcommands(std::cerr, commands);
        return 2;
    }
    return command->run(argc - 1, argv + 1);
}
