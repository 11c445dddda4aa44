// enos-device: a command-line EnOS device. Parses the arguments, then either signs (no network) or
// connects with DeviceClient and runs one command; the result is printed as JSON lines and the exit
// code says how it went (see args.hpp).
#include "args.hpp"
#include "output.hpp"
#include "run.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/client/version.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace enos::cli {
namespace {

int run_sign(const Args& args) {
    auto method = device::parse_sign_method(args.sign_method);
    if (!method) {
        std::fprintf(stderr, "enos-device: %s\n", method.error().message().c_str());
        return exit_usage;
    }
    device::CredentialInput input;
    input.product_key = args.product_key;
    input.device_key = args.device_key;
    const bool dynamic = !args.product_secret.empty();
    input.secret = dynamic ? args.product_secret : args.device_secret;
    input.mode = dynamic ? device::SecureMode::dynamic_activation : device::SecureMode::static_secret;
    input.method = *method;
    input.client_id = args.client_id;
    input.timestamp = args.timestamp;
    auto credentials = device::make_connect_credentials(input);
    if (!credentials) {
        std::fprintf(stderr, "enos-device: %s\n", credentials.error().message().c_str());
        return exit_usage;
    }
    emit(JsonLine()
             .str("client_id", credentials->client_id)
             .str("username", credentials->username)
             .str("password", credentials->password));
    return exit_ok;
}

} // namespace
} // namespace enos::cli

int main(int argc, char** argv) {
    using namespace enos::cli;
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    auto args = parse_args(arguments);
    if (!args) {
        std::fprintf(stderr, "enos-device: %s\nTry 'enos-device --help'.\n", args.error().detail.c_str());
        return exit_usage;
    }
    switch (args->command) {
    case Command::help: std::fputs(usage_text(), stdout); return exit_ok;
    case Command::version:
        std::printf("enos-device %s (library %s)\n", ENOS_DEVICE_VERSION_STRING,
                    enos::device::library_version());
        return exit_ok;
    case Command::sign: return run_sign(*args);
    case Command::serve: return run_serve(*args);
    case Command::register_devices:
    case Command::topo:
    case Command::sub_login:
    case Command::sub_logout:
    case Command::post_batch:
    case Command::integration: return run_gateway(*args);
    default: return run_request(*args);
    }
}
