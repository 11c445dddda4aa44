#include "run.hpp"

#include "output.hpp"

#include <enos/device/client/device_client.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <optional>
#include <pthread.h>
#include <unistd.h>

namespace enos::cli {

using namespace enos::device;

// ---- arguments turned into SDK values ----------------------------------------------------------

int bad_operand(const Args& args, const std::string& detail) {
    std::fprintf(stderr, "enos-device %s: %s\nTry 'enos-device --help'.\n", args.command_name.c_str(),
                 detail.c_str());
    return exit_usage;
}

namespace {

std::optional<Points> parse_object(const std::string& text, std::string& error) {
    auto value = parse_value(text);
    if (!value) {
        error = "not valid JSON: " + value.error().message();
        return std::nullopt;
    }
    if (!value->is_object()) {
        error = "expected a JSON object like {\"name\": value}";
        return std::nullopt;
    }
    return value->as_object();
}

/// A JSON array of strings, or a comma-separated list; empty text means no names.
std::optional<std::vector<std::string>> parse_names(const std::string& text, std::string& error) {
    std::vector<std::string> names;
    if (!text.empty() && text.front() == '[') {
        auto value = parse_value(text);
        if (!value || !value->is_array()) {
            error = "expected a JSON array of names like [\"a\",\"b\"] or a comma list a,b";
            return std::nullopt;
        }
        for (const auto& item : value->as_array()) {
            if (!item.is_string()) {
                error = "every name in the array must be a string";
                return std::nullopt;
            }
            names.push_back(item.as_string());
        }
        return names;
    }
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::size_t end = comma == std::string::npos ? text.size() : comma;
        if (end > start) names.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return names;
}

std::optional<Tags> parse_tags(const std::string& text, std::string& error) {
    auto points = parse_object(text, error);
    if (!points) return std::nullopt;
    Tags tags;
    for (auto& [key, value] : *points) {
        if (!value.is_string()) {
            error = "tag '" + key + "' must have a string value";
            return std::nullopt;
        }
        tags.emplace_back(key, value.as_string());
    }
    return tags;
}

} // namespace

ClientOptions client_options(const Args& args) {
    ClientOptions options;
    options.server_url = args.url;
    options.product_key = args.product_key;
    options.product_secret = args.product_secret;
    if (args.command == Command::integration) {
        options.integration_channel = true; // securemode 4: no device key, no device secret
    } else {
        options.device_key = args.device_key;
        options.device_secret = args.device_secret;
        options.device_secret_file = args.secret_file;
    }
    options.client_id = args.client_id;
    options.connect_timeout = std::chrono::milliseconds(args.timeout_ms);
    options.request_timeout = std::chrono::milliseconds(args.timeout_ms);
    options.activation_timeout = std::chrono::milliseconds(args.timeout_ms);
    options.tls.ca_file = args.ca_file;
    options.tls.cert_file = args.cert_file;
    options.tls.key_file = args.key_file;
    options.log_level = args.verbose ? LogLevel::debug : LogLevel::warn;
    // The SDK keeps secrets out of its log lines, so they can go to stderr as they are.
    options.log_sink = [](LogLevel level, std::string_view message) {
        std::fprintf(stderr, "enos-device [%.*s] %.*s\n", static_cast<int>(to_string(level).size()),
                     to_string(level).data(), static_cast<int>(message.size()), message.data());
    };
    return options;
}

// ---- outcomes ------------------------------------------------------------------------------------

namespace {

/// Exit code for an error of connect() or of a request.
int exit_code_for(const Error& error) {
    if (error.code.category() == cloud_category()) return exit_cloud;
    if (error.code.category() != device_category()) return exit_failure;
    switch (static_cast<errc>(error.code.value())) {
    case errc::timeout: return exit_timeout;
    case errc::invalid_argument:
    case errc::missing_argument:
    case errc::unsupported_sign_method:
    case errc::qos_not_allowed:
    case errc::payload_too_large:
    case errc::too_many_items:
    case errc::non_finite_number: return exit_usage;
    case errc::not_connected:
    case errc::disconnected:
    case errc::connect_failed:
    case errc::host_unreachable:
    case errc::protocol_rejected:
    case errc::identifier_rejected:
    case errc::server_unavailable:
    case errc::bad_credentials:
    case errc::not_authorized:
    case errc::tls_error:
    case errc::certificate_not_yet_valid:
    case errc::certificate_expired:
    case errc::key_mismatch: return exit_connect;
    default: return exit_failure;
    }
}

const char* error_kind(int exit_code) {
    switch (exit_code) {
    case exit_usage: return "usage";
    case exit_connect: return "connect";
    case exit_cloud: return "cloud";
    case exit_timeout: return "timeout";
    default: return "failure";
    }
}

} // namespace

int report_error(const Args& args, const Error& error) {
    const int code = exit_code_for(error);
    JsonLine line;
    line.boolean("ok", false).str("command", args.command_name).str("error", error_kind(code));
    if (code == exit_cloud) {
        line.num("code", error.code.value()).str("message", error.detail);
    } else {
        line.str("message", error.message());
    }
    emit(line);
    return code;
}

int report_response(const Args& args, const Result<Response>& response) {
    if (!response) return report_error(args, response.error());
    JsonLine line;
    line.boolean("ok", true).str("command", args.command_name);
    if (args.command == Command::raw_up) {
        line.str("reply_hex", to_hex(response->raw));
    } else {
        line.str("id", response->id).num("code", response->code).str("message", response->message);
        line.raw("data", response->data_json);
    }
    emit(line);
    return exit_ok;
}

std::optional<DeviceClient> connect_client(const Args& args, ClientOptions options, int& exit_code) {
    auto client = DeviceClient::create(std::move(options));
    if (!client) {
        // create() checks the options: keys, secret, URL, TLS files. All of them are the user's input.
        exit_code = exit_code_for(client.error()) == exit_connect ? exit_connect : exit_usage;
        emit(JsonLine()
                 .boolean("ok", false)
                 .str("command", args.command_name)
                 .str("error", error_kind(exit_code))
                 .str("message", client.error().message()));
        return std::nullopt;
    }
    if (Status connected = client->connect(); !connected) {
        // Whatever stopped the connect (refusal, TLS, unreachable, or no CONNACK in time), the
        // command never got to run: that is the "connect" exit code.
        exit_code = exit_connect;
        emit(JsonLine()
                 .boolean("ok", false)
                 .str("command", args.command_name)
                 .str("error", "connect")
                 .str("message", connected.error().message()));
        return std::nullopt;
    }
    return std::move(*client);
}

namespace {

/// The operand of a request command, parsed before connecting so a typo costs no connection.
struct RequestInput {
    Points points;                  ///< measure points, event values, attribute values
    std::vector<std::string> names; ///< attribute or tag names
    Tags tags;
    std::string bytes; ///< raw-up
};

std::optional<RequestInput> parse_operands(const Args& args, std::string& error) {
    const std::string operand = args.operands.empty() ? std::string() : args.operands.back();
    RequestInput input;
    const bool update = args.verb == "update";
    switch (args.command) {
    case Command::post_measurepoints:
    case Command::post_event:
        if (auto points = parse_object(operand, error))
            input.points = std::move(*points);
        else
            return std::nullopt;
        break;
    case Command::attributes:
    case Command::tags:
        if (update && args.command == Command::attributes) {
            if (auto points = parse_object(operand, error))
                input.points = std::move(*points);
            else
                return std::nullopt;
        } else if (update) {
            if (auto tags = parse_tags(operand, error))
                input.tags = std::move(*tags);
            else
                return std::nullopt;
        } else if (auto names = parse_names(operand, error)) {
            input.names = std::move(*names);
        } else {
            return std::nullopt;
        }
        break;
    case Command::raw_up:
        if (!from_hex(operand, input.bytes) || input.bytes.empty()) {
            error = "expected hex bytes like 0a1b2c (pairs may be separated by spaces or ':')";
            return std::nullopt;
        }
        break;
    default: break;
    }
    return input;
}

Result<Response> send_request(const Args& args, DeviceClient& client, const RequestInput& input) {
    SendOptions options;
    options.qos = args.qos;
    options.timeout = std::chrono::milliseconds(args.timeout_ms);
    switch (args.command) {
    case Command::post_measurepoints:
        return args.resume ? client.send(up::MeasurepointResume{input.points, args.time_ms}, options)
                           : client.send(up::MeasurepointPost{input.points, args.time_ms}, options);
    case Command::post_event:
        return client.send(up::EventPost{args.operands.front(), input.points, args.time_ms}, options);
    case Command::attributes:
        if (args.verb == "update") return client.send(up::AttributeUpdate{input.points}, options);
        if (args.verb == "query") return client.send(up::AttributeQuery{input.names}, options);
        return client.send(up::AttributeDelete{input.names}, options);
    case Command::tags:
        if (args.verb == "update") return client.send(up::TagUpdate{input.tags}, options);
        if (args.verb == "query") return client.send(up::TagQuery{input.names}, options);
        return client.send(up::TagDelete{input.names}, options);
    case Command::raw_up: return client.send(up::RawPost{input.bytes}, options);
    default: return Error{errc::invalid_argument, "not a request command"};
    }
}

// ---- serve ---------------------------------------------------------------------------------------

/// Prints one line for a command and answers it by echoing its params as data.
CommandReply echo(const device::Command& command) {
    JsonLine line;
    line.str("command", to_string(command.kind)).str("topic", command.topic);
    if (!command.id.empty()) line.str("id", command.id);
    if (!command.service_id.empty()) line.str("service_id", command.service_id);
    if (!command.message_id.empty()) line.str("message_id", command.message_id);
    if (!command.method.empty()) line.str("method", command.method);
    if (command.kind == CommandKind::raw_down) {
        line.str("payload_hex", to_hex(command.payload));
        emit(line);
        return CommandReply::bytes(command.payload);
    }
    line.raw("params", command.params_json);
    emit(line);
    return CommandReply::ok_json(command.params_json.empty() ? "{}" : command.params_json);
}

const char* signal_name(int signal) {
    switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "";
    }
}

} // namespace

int run_request(const Args& args) {
    std::string error;
    auto input = parse_operands(args, error);
    if (!input) return bad_operand(args, error);
    ClientOptions options = client_options(args);
    options.auto_reconnect = false; // one request: a dropped link is an error to report, not to hide
    options.subscribe_commands = false;
    int exit_code = exit_ok;
    auto client = connect_client(args, std::move(options), exit_code);
    if (!client) return exit_code;
    exit_code = report_response(args, send_request(args, *client, *input));
    (void)client->disconnect();
    return exit_code;
}

int run_serve(const Args& args) {
    // SIGINT/SIGTERM are taken with sigwait on this thread; SIGUSR1 is how a callback asks to stop.
    // Blocked before the client starts its threads, so they inherit the mask and never see them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto client = DeviceClient::create(client_options(args));
    if (!client) {
        const int code = exit_code_for(client.error()) == exit_connect ? exit_connect : exit_usage;
        emit(JsonLine()
                 .boolean("ok", false)
                 .str("command", "serve")
                 .str("error", error_kind(code))
                 .str("message", client.error().message()));
        return code;
    }
    client->on_service(std::string(any_service), echo);
    client->on_rrpc(echo);
    client->on_command(CommandKind::measurepoint_set, echo);
    client->on_command(CommandKind::measurepoint_get, echo);
    client->on_command(CommandKind::raw_down, echo);
    client->on_connection([](const ConnectionEvent& event) {
        // The first connect is printed once connect() returned; reconnects and losses here.
        if (event.kind == ConnectionEventKind::connected && !event.reconnect) return;
        JsonLine line;
        line.str("event", to_string(event.kind));
        if (event.reason.code) line.str("reason", event.reason.message());
        if (event.kind == ConnectionEventKind::retrying) line.num("retry_in_ms", event.retry_in.count());
        emit(line);
        // Refused: the SDK will not retry by itself, so serving is over.
        if (event.kind == ConnectionEventKind::refused) kill(getpid(), SIGUSR1);
    });

    if (Status connected = client->connect(); !connected) {
        emit(JsonLine()
                 .boolean("ok", false)
                 .str("command", "serve")
                 .str("error", "connect")
                 .str("message", connected.error().message()));
        return exit_connect;
    }
    emit(JsonLine()
             .str("event", "connected")
             .str("url", args.url)
             .str("product_key", args.product_key)
             .str("device_key", args.device_key));

    int exit_code = exit_ok;
    int signal = 0;
    if (args.serve_for_ms) {
        timespec limit{static_cast<time_t>(*args.serve_for_ms / 1000),
                       static_cast<long>(*args.serve_for_ms % 1000) * 1'000'000L};
        signal = sigtimedwait(&signals, nullptr, &limit);
        while (signal < 0 && errno == EINTR)
            signal = sigtimedwait(&signals, nullptr, &limit);
    } else {
        while (sigwait(&signals, &signal) != 0) {
        }
    }
    JsonLine stopped;
    stopped.str("event", "stopped");
    if (signal == SIGUSR1) {
        stopped.str("reason", "connection refused");
        exit_code = exit_connect;
    } else if (signal > 0) {
        stopped.str("signal", signal_name(signal));
    } else {
        stopped.str("reason", "time limit");
    }
    // The "stopped" line is the last one: no connection events after it.
    client->on_connection({});
    (void)client->disconnect();
    emit(stopped);
    return exit_code;
}

} // namespace enos::cli
