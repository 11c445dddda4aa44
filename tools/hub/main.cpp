// enos-hub: a local EnOS IoT Hub (mosquitto + the enos-hub plugin + the cloud simulator).
// This file only dispatches; the commands live in launcher.cpp and simulator/. Every command gets
// its own name as argv[0], like a program of its own.
#include "launcher.hpp"
#include "simulator/simulator.hpp"

#include "common/args.hpp"

#include <iostream>
#include <string_view>

namespace {

const std::vector<enos::tools::Subcommand> commands = {
    {"start", enos::hub::start_main, "start broker and simulator in a run directory, print the ports"},
    {"stop", enos::hub::stop_main, "stop the hub of a run directory (by recorded pid)"},
    {"broker-stop", enos::hub::broker_stop_main, "stop only the broker (simulate an outage)"},
    {"broker-start", enos::hub::broker_start_main, "start the broker again on the same ports"},
    {"issue-cert", enos::hub::issue_cert_main, "issue a device certificate signed by the hub CA"},
    {"simulate", enos::hub::simulator_main, "run the cloud simulator (started by `start`)"},
    {"watch", enos::hub::watch_main, "stop the hub when its owner process exits (started by `start`)"},
    {"invoke", enos::hub::inject_main, "invoke a service on a device, print its reply"},
    {"rrpc", enos::hub::inject_main, "send an RRPC request to a device, print its response"},
    {"set-measurepoints", enos::hub::inject_main, "send a measure point set command"},
    {"get-measurepoints", enos::hub::inject_main, "send a measure point get command"},
    {"raw-down", enos::hub::inject_main, "send a pass-through (raw) command"},
    {"ota-upgrade", enos::hub::inject_main, "push an OTA upgrade to a device"},
    {"subdevice", enos::hub::inject_main, "notify a gateway: subdevice enable|disable|delete"},
    {"traffic-control", enos::hub::inject_main, "ask a device to send less (traffic control)"},
    {"query", enos::hub::query_main, "print stored rows: measurepoints|events|attributes|tags|topology|ota"},
};

void print_help(std::ostream& out) {
    out << "usage: enos-hub COMMAND [OPTIONS]   (enos-hub COMMAND --help for the options)\n\ncommands:\n";
    enos::tools::print_subcommands(out, commands);
    out << "\nThe run directory defaults to $ENOS_HUB_DIR, else ./.enos-hub.\n"
           "Exit codes: 0 ok, 1 failure, 2 usage, 3 hub unreachable, 4 device replied non-200, 5 timeout.\n";
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print_help(std::cerr);
        return 2;
    }
    const std::string_view name = argv[1];
    if (name == "help" || name == "--help" || name == "-h") {
        print_help(std::cout);
        return 0;
    }
    if (const auto* command = enos::tools::find_subcommand(commands, name))
        return command->run(argc - 1, argv + 1); // argv[0] is the command name
    std::cerr << "enos-hub: unknown command '" << name << "'\n\n";
    print_help(std::cerr);
    return 2;
}
