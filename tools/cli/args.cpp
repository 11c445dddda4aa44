#include "args.hpp"

#include "common/args.hpp"

#include <enos/device/core/version.hpp>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace enos::cli {
namespace {

using device::errc;
using device::Error;
using device::Result;

Error usage(std::string detail) {
    return Error{errc::invalid_argument, std::move(detail)};
}

using tools::final_flag;
using tools::flag;
using tools::valued;

const std::vector<tools::OptionSpec> option_specs = {
    valued("--url"),
    valued("--product-key"),
    valued("--device-key"),
    valued("--device-secret"),
    valued("--product-secret"),
    valued("--sign-method"),
    valued("--client-id"),
    valued("--timestamp"),
    valued("--ca"),
    valued("--cert"),
    valued("--key"),
    valued("--secret-file"),
    valued("--qos"),
    valued("--timeout-ms"),
    valued("--time"),
    flag("--resume"),
    valued("--for-ms"),
    valued("--sub-secret"),
    valued("--sub-secrets"),
    valued("--secrets-out"),
    flag("--allow-offline-sub-device"),
    flag("--skip-invalid-measurepoints"),
    flag("--login"),
    final_flag("--help"),
    final_flag("-h"),
    final_flag("--version"),
    flag("--verbose"),
};

/// Epoch milliseconds and durations: digits only (no sign, no spaces), within [min, max].
std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) {
    if (text.size() > 19 || text.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    auto value = tools::parse_integer(text, {}, min, max);
    return value ? std::optional<std::int64_t>(*value) : std::nullopt;
}

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

struct CommandSpec {
    std::string_view name;
    Command command;
    std::size_t min_operands, max_operands;
};

constexpr CommandSpec command_specs[] = {
    {"sign", Command::sign, 0, 0},
    {"post-measurepoints", Command::post_measurepoints, 1, 1},
    {"post-event", Command::post_event, 2, 2},
    {"attributes", Command::attributes, 0, 1},
    {"tags", Command::tags, 0, 1},
    {"raw-up", Command::raw_up, 1, 1},
    {"serve", Command::serve, 0, 0},
    {"register", Command::register_devices, 1, 1},
    {"topo", Command::topo, 0, SIZE_MAX},
    {"sub-login", Command::sub_login, 1, SIZE_MAX},
    {"sub-logout", Command::sub_logout, 1, SIZE_MAX},
    {"post-batch", Command::post_batch, 1, 1},
    {"integration", Command::integration, 1, 1},
};

/// Commands with a verb as their first operand, and the verbs each takes.
struct VerbSpec {
    Command command;
    std::string_view verbs[3];
};
constexpr VerbSpec verb_specs[] = {
    {Command::attributes, {"query", "update", "delete"}},
    {Command::tags, {"query", "update", "delete"}},
    {Command::topo, {"add", "get", "delete"}},
    {Command::integration, {"post-measurepoints", "post-events", "post-attributes"}},
};

/// Gateway commands whose sub-devices sign (topology add, login) need their secrets.
bool signs_for_sub_devices(const Args& args) {
    return args.command == Command::sub_login || (args.command == Command::topo && args.verb == "add") ||
           (args.command == Command::post_batch && args.login_first);
}

// Options that only mean something to one command; elsewhere they are a mistake worth reporting.
struct CommandOnlyOption {
    std::string_view option;
    Command commands[3]; ///< unused places repeat the first
};
constexpr CommandOnlyOption command_only_options[] = {
    // --timestamp fixes the time of a signature: the CONNECT's (sign) or the sub-devices'.
    {"--timestamp", {Command::sign, Command::sub_login, Command::topo}},
    {"--time", {Command::post_measurepoints, Command::post_measurepoints, Command::post_measurepoints}},
    {"--resume", {Command::post_measurepoints, Command::post_measurepoints, Command::post_measurepoints}},
    {"--for-ms", {Command::serve, Command::serve, Command::serve}},
    {"--sub-secret", {Command::sub_login, Command::topo, Command::post_batch}},
    {"--sub-secrets", {Command::sub_login, Command::topo, Command::post_batch}},
    {"--secrets-out", {Command::register_devices, Command::register_devices, Command::register_devices}},
    {"--allow-offline-sub-device", {Command::post_batch, Command::post_batch, Command::post_batch}},
    {"--skip-invalid-measurepoints", {Command::post_batch, Command::post_batch, Command::post_batch}},
    {"--login", {Command::post_batch, Command::post_batch, Command::post_batch}},
};

Result<void> check_command_only_options(const Args& args, const std::vector<std::string_view>& seen) {
    for (const auto& rule : command_only_options) {
        bool applies = false;
        for (Command c : rule.commands)
            applies |= args.command == c;
        // post-batch signs only with --login; --timestamp then fixes the login's time.
        if (rule.option == "--timestamp" && args.command == Command::post_batch && args.login_first)
            applies = true;
        if (applies) continue;
        for (auto name : seen)
            if (name == rule.option)
                return usage(std::string(rule.option) + " is not an option of '" + args.command_name + "'");
    }
    return {};
}

Result<void> apply_option(Args& args, std::string_view name, const std::string& value) {
    if (name == "--url")
        args.url = value;
    else if (name == "--product-key")
        args.product_key = value;
    else if (name == "--device-key")
        args.device_key = value;
    else if (name == "--device-secret")
        args.device_secret = value;
    else if (name == "--product-secret")
        args.product_secret = value;
    else if (name == "--sign-method")
        args.sign_method = value;
    else if (name == "--client-id")
        args.client_id = value;
    else if (name == "--ca")
        args.ca_file = value;
    else if (name == "--cert")
        args.cert_file = value;
    else if (name == "--key")
        args.key_file = value;
    else if (name == "--secret-file")
        args.secret_file = value;
    else if (name == "--resume")
        args.resume = true;
    else if (name == "--sub-secret")
        args.sub_secret = value;
    else if (name == "--sub-secrets")
        args.sub_secrets_file = value;
    else if (name == "--secrets-out")
        args.secrets_out = value;
    else if (name == "--allow-offline-sub-device")
        args.allow_offline_sub_device = true;
    else if (name == "--skip-invalid-measurepoints")
        args.skip_invalid_measurepoints = true;
    else if (name == "--login")
        args.login_first = true;
    else if (name == "--verbose")
        args.verbose = true;
    else if (name == "--timestamp") {
        if (!parse_integer(value, 0, std::numeric_limits<std::int64_t>::max()))
            return usage("--timestamp must be epoch milliseconds, got '" + value + "'");
        args.timestamp = value;
    } else if (name == "--qos") {
        if (value != "0" && value != "1")
            return usage("--qos must be 0 or 1 (EnOS has no QoS 2), got '" + value + "'");
        args.qos = value == "1" ? 1 : 0;
    } else if (name == "--timeout-ms") {
        auto ms = parse_integer(value, 1, 3'600'000);
        if (!ms) return usage("--timeout-ms must be a whole number of milliseconds from 1 to 3600000");
        args.timeout_ms = static_cast<std::uint32_t>(*ms);
    } else if (name == "--time") {
        auto ms = parse_integer(value, 0, std::numeric_limits<std::int64_t>::max());
        if (!ms) return usage("--time must be epoch milliseconds, got '" + value + "'");
        args.time_ms = *ms;
    } else if (name == "--for-ms") {
        auto ms = parse_integer(value, 1, std::numeric_limits<std::uint32_t>::max());
        if (!ms) return usage("--for-ms must be a positive number of milliseconds");
        args.serve_for_ms = static_cast<std::uint32_t>(*ms);
    }
    return {};
}

Result<void> check_identity(const Args& args) {
    if (args.product_key.empty()) return usage("--product-key is required (or set ENOS_PRODUCT_KEY)");
    if (args.command == Command::integration) {
        // The channel is the product's own identity: no device key, signed with the product secret.
        if (args.product_secret.empty())
            return usage("integration needs --product-secret (or ENOS_PRODUCT_SECRET): securemode 4");
        if (!args.device_secret.empty())
            return usage("integration signs with the product secret: leave out --device-secret");
    } else if (args.device_key.empty()) {
        return usage("--device-key is required (or set ENOS_DEVICE_KEY)");
    } else if (args.device_secret.empty() == args.product_secret.empty()) {
        return usage("give exactly one of --device-secret or --product-secret "
                     "(or ENOS_DEVICE_SECRET / ENOS_PRODUCT_SECRET)");
    }
    if (signs_for_sub_devices(args) && args.sub_secret.empty() && args.sub_secrets_file.empty())
        return usage(args.command_name + " signs for its sub-devices: give --sub-secret S (or "
                                         "ENOS_SUB_DEVICE_SECRET) or --sub-secrets F");
    if (args.command == Command::register_devices && args.secrets_out.empty())
        return usage("register needs --secrets-out F: the cloud issues each new device's secret only once, "
                     "and enos-device never prints it");
    if (args.command != Command::sign) {
        if (!args.product_secret.empty() && args.secret_file.empty() && args.command != Command::integration)
            return usage(
                "--product-secret needs --secret-file: the cloud issues the device secret only once");
        const std::string_view url = args.url;
        if (url.rfind("tcp://", 0) != 0 && url.rfind("ssl://", 0) != 0)
            return usage("--url must start with tcp:// or ssl://, got '" + args.url + "'");
        if (args.cert_file.empty() != args.key_file.empty())
            return usage("--cert and --key go together (mutual TLS needs both)");
        if (!args.cert_file.empty() && url.rfind("ssl://", 0) != 0)
            return usage("--cert/--key need an ssl:// URL");
    }
    return {};
}

} // namespace

Result<Args> parse_args(const std::vector<std::string>& argv) {
    Args args;
    args.url = env_or_empty("ENOS_URL");
    if (args.url.empty()) args.url = "tcp://127.0.0.1:11883";
    args.product_key = env_or_empty("ENOS_PRODUCT_KEY");
    args.device_key = env_or_empty("ENOS_DEVICE_KEY");
    args.device_secret = env_or_empty("ENOS_DEVICE_SECRET");
    args.product_secret = env_or_empty("ENOS_PRODUCT_SECRET");
    args.sub_secret = env_or_empty("ENOS_SUB_DEVICE_SECRET");

    auto parsed = tools::parse_command_line(argv, option_specs);
    if (!parsed) return parsed.error();
    // Giving one kind of secret on the command line replaces the other from the environment.
    if (parsed->has("--device-secret") || parsed->has("--product-secret")) {
        args.device_secret.clear();
        args.product_secret.clear();
    }
    // In command-line order: a bad value before --help or --version is still reported.
    std::vector<std::string_view> seen;
    for (const tools::GivenOption& option : parsed->options()) {
        seen.push_back(option.name);
        if (option.name == "--help" || option.name == "-h") {
            args.command = Command::help;
            return args;
        }
        if (option.name == "--version") {
            args.command = Command::version;
            return args;
        }
        if (auto ok = apply_option(args, option.name, option.value); !ok) return ok.error();
    }

    const std::vector<std::string>& positionals = parsed->positionals();
    if (positionals.empty()) return usage("no command given");
    const CommandSpec* command = nullptr;
    for (const auto& spec : command_specs)
        if (spec.name == positionals.front()) command = &spec;
    if (!command) return usage("unknown command '" + positionals.front() + "'");
    args.command = command->command;
    args.command_name = positionals.front();
    std::size_t first_operand = 1;
    for (const VerbSpec& spec : verb_specs) {
        if (spec.command != args.command) continue;
        const std::string choices =
            std::string(spec.verbs[0]) + ", " + std::string(spec.verbs[1]) + " or " + std::string(spec.verbs[2]);
        if (positionals.size() < 2) return usage(args.command_name + " needs " + choices);
        args.verb = positionals[1];
        if (args.verb != spec.verbs[0] && args.verb != spec.verbs[1] && args.verb != spec.verbs[2])
            return usage(args.command_name + ": '" + args.verb + "' is not " + choices);
        args.command_name += " " + args.verb;
        first_operand = 2;
    }
    args.operands.assign(positionals.begin() + static_cast<std::ptrdiff_t>(first_operand), positionals.end());
    std::size_t min_operands = command->min_operands;
    std::size_t max_operands = command->max_operands;
    if ((args.command == Command::attributes || args.command == Command::tags) && args.verb != "query")
        min_operands = 1;
    if (args.command == Command::topo) {
        min_operands = args.verb == "get" ? 0 : 1;
        max_operands = args.verb == "get" ? 0 : SIZE_MAX;
    }
    if (args.operands.size() < min_operands)
        return usage(args.command_name + ": missing argument (see --help)");
    if (args.operands.size() > max_operands)
        return usage(args.command_name + ": unexpected argument '" + args.operands[max_operands] + "'");

    if (auto ok = check_command_only_options(args, seen); !ok) return ok.error();
    if (auto ok = check_identity(args); !ok) return ok.error();
    return args;
}

const char* usage_text() {
    return R"(enos-device: a command-line EnOS device (JSON lines on stdout)

Usage:
  enos-device [OPTIONS] COMMAND [ARGS]

Connection and identity:
  --url URL              tcp://HOST:PORT or ssl://HOST:PORT      (env ENOS_URL; default tcp://127.0.0.1:11883)
  --product-key PK       product key                             (env ENOS_PRODUCT_KEY)
  --device-key DK        device key                              (env ENOS_DEVICE_KEY)
  --device-secret S      device secret: static login, securemode 2   (env ENOS_DEVICE_SECRET)
  --product-secret S     product secret: dynamic activation, securemode 3 (env ENOS_PRODUCT_SECRET)
  --secret-file F        with --product-secret: keep the issued device secret in F (mode 0600) and
                         log in with it next time
  --sign-method M        sha256 (default), sha1 or md5
  --client-id ID         raw client id (default: the device key)
  --ca F                 CA certificate that signed the broker's certificate (ssl://)
  --cert F --key F       client certificate and private key for mutual TLS (ssl://)
  --qos 0|1              QoS of upstream requests (default: 1, events 0)
  --timeout-ms T         how long to wait for the connection and for each reply (default 10000)
  --verbose              SDK log lines on stderr (default: warnings and errors only)

Gateway (the device is the gateway; sub-devices are written PK/DK):
  --sub-secret S         the sub-devices' secret for topo add and sub-login (env ENOS_SUB_DEVICE_SECRET)
  --sub-secrets F        per sub-device secrets: JSON lines {"productKey","deviceKey","deviceSecret"}
                         (what register --secrets-out writes); wins over --sub-secret
  --timestamp MS         fixed sign timestamp of topo add and sub-login (default: now)

Commands:
  sign [--timestamp MS]              print client_id, username and password; does not connect
  post-measurepoints JSON [--time MS] [--resume]
                                     post {"id": value, ...}; --resume posts to the resume topic
  post-event ID JSON                 post event ID with output parameters {"name": value, ...}
  attributes query [NAMES]           NAMES: JSON array or comma list; empty or absent: all
  attributes update JSON             JSON object of attribute values
  attributes delete NAMES
  tags query [NAMES]
  tags update JSON                   JSON object {"tagKey": "tagValue", ...}
  tags delete NAMES
  raw-up HEX                         send bytes to the raw (pass-through) topic, print the reply as hex
  register JSON --secrets-out F      thing.device.register of [{"productKey":..., "deviceKey":...,
                                     "deviceName":..., "timezone":..., "deviceAttributes":{...}}, ...];
                                     prints the new keys and asset ids, appends the issued secrets to F
  topo get | topo add SUB... | topo delete SUB...
                                     the gateway's topology
  sub-login SUB...                   combine.login (one SUB) or combine.login.batch (several)
  sub-logout SUB...                  combine.logout of each SUB
  post-batch JSON [--allow-offline-sub-device] [--skip-invalid-measurepoints] [--login]
                                     thing.measurepoint.post.batch of [{"productKey":..., "deviceKey":...,
                                     "measurepoints":{...}, "time":MS}, ...]; --login first logs in the
                                     sub-devices it names (the session ends with this connection)
  integration post-measurepoints|post-events|post-attributes JSON
                                     securemode 4 (--product-key, --product-secret, no device key):
                                     [{"deviceKey":..., "time":MS, "measurepoints"|"events"|"attributes":{...}}]
  serve [--for-ms T]                 stay connected and answer services, measure-point set/get and
                                     RRPC by echoing the params as data; one JSON line per command;
                                     stops on SIGINT/SIGTERM (or after T ms)

Output: one JSON object per line on stdout. Secrets are never printed, except the password printed
by 'sign', which is what that command is for.

Exit codes:
  0 ok   2 usage error   3 connect or authentication refused   4 the cloud replied with a
  non-200 code   5 timeout   1 any other failure

Example (against a local enos-hub):
  enos-device --url tcp://127.0.0.1:11883 --product-key pkTest --device-key dev1 \
      --device-secret devSecret1 post-measurepoints '{"temp": 21.5}'
)";
}

} // namespace enos::cli
