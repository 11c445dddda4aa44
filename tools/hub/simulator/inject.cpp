// The downstream commands: `enos-hub invoke|rrpc|set-measurepoints|get-measurepoints|raw-down|
// ota-upgrade|subdevice|traffic-control`. Each connects as the hub's privileged identity, subscribes to where
// the device answers, publishes the command with a fresh id, prints the device's reply as one JSON line and
// records command and reply in the store.
#include "simulator.hpp"

#include "common.hpp"
#include "file_service.hpp"
#include "mqtt_client.hpp"
#include "store.hpp"

#include <enos/device/core/detail/hex.hpp>
#include <enos/device/core/detail/md5.hpp>
#include <enos/device/core/detail/sha256.hpp>
#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/topics.hpp>
#include <enos/device/core/value.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <unistd.h>

namespace enos::hub {

namespace {

using namespace sim;
using device::DownKind;
using device::Value;

constexpr const char* common_options =
    "  --pk PK --dk DK          the device (for subdevice: the gateway)\n"
    "  --timeout-ms T           how long to wait for the reply (default 5000)\n"
    "  --dir RUNDIR | --port P  the hub (default $ENOS_HUB_DIR, else ./.enos-hub; --port overrides its "
    "port)\n"
    "Prints the device's reply as one JSON line. Exit codes: 0 reply 200, 2 usage, 3 hub unreachable,\n"
    "4 reply other than 200, 5 no reply in time.\n";

struct CommandInfo {
    const char* name;
    const char* synopsis;
    std::initializer_list<std::string_view> options; ///< besides the common ones
};

const CommandInfo command_infos[] = {
    {"invoke", "enos-hub invoke --pk PK --dk DK --service ID [--params JSON]", {"--service", "--params"}},
    {"rrpc", "enos-hub rrpc --pk PK --dk DK --service ID [--params JSON]", {"--service", "--params"}},
    {"set-measurepoints", "enos-hub set-measurepoints --pk PK --dk DK --params JSON", {"--params"}},
    {"get-measurepoints", "enos-hub get-measurepoints --pk PK --dk DK --names a,b,...", {"--names"}},
    {"raw-down", "enos-hub raw-down --pk PK --dk DK --hex HEX", {"--hex"}},
    {"ota-upgrade",
     "enos-hub ota-upgrade --pk PK --dk DK --version V (--file PATH | --file-url U --file-size N)\n"
     "       [--sign S] [--sign-method md5|sha256]\n"
     "  --file puts PATH on the hub's file service (RUNDIR/file-service.url) and sends its path, size and\n"
     "  digest (default md5); --file-url, --file-size and --sign then override what is sent",
     {"--version", "--file", "--file-url", "--file-size", "--sign", "--sign-method"}},
    {"subdevice",
     "enos-hub subdevice enable|disable|delete --pk GWPK --dk GWDK --sub-pk PK --sub-dk DK",
     {"--sub-pk", "--sub-dk"}},
    {"traffic-control", "enos-hub traffic-control --pk PK --dk DK [--params JSON]", {"--params"}},
};

/// What one command sends and where its answer comes back.
struct Command {
    std::string pk, dk; ///< the device addressed (subdevice: the gateway)
    std::string kind;   ///< the command word (subdevice: "subdevice-disable" etc.)
    std::string topic, reply_topic;
    std::string payload;
    std::string request_id;  ///< empty for raw-down (raw replies carry no id)
    std::string file_source; ///< ota-upgrade --file: copied to the file service at file_path
    std::string file_path;   ///< its path on the file service
};

struct UsageError {
    std::string text;
};

std::string fresh_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::to_string(now_ms()) + std::to_string(100 + rng() % 900);
}

Result<Value> json_option(const tools::ParsedArgs& o, const char* name, bool object_required,
                          std::string_view fallback) {
    const std::string text = o.value(std::string("--") + name).value_or(std::string(fallback));
    auto value = device::parse_value(text);
    if (!value)
        return Error{errc::invalid_argument,
                     std::string("--") + name + " is not valid JSON: " + value.error().detail};
    if (object_required && !value->is_object())
        return Error{errc::invalid_argument, std::string("--") + name + " must be a JSON object"};
    return value;
}

/// "1.2/rc" -> "1.2_rc": one safe path level of the file service.
std::string path_level(const std::string& text) {
    std::string out;
    for (char ch : text.substr(0, 64))
        out +=
            (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_') ? ch : '_';
    return out.empty() ? "_" : out;
}

/// Size and hex digest of a file (md5 or sha256).
Result<std::pair<std::int64_t, std::string>> file_digest(const std::string& path, const std::string& method) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{errc::invalid_argument, "--file: cannot read " + path};
    device::detail::Md5 md5;
    device::detail::Sha256 sha256;
    std::int64_t size = 0;
    char buffer[64 * 1024];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        const std::string_view chunk(buffer, static_cast<std::size_t>(in.gcount()));
        md5.update(chunk);
        sha256.update(chunk);
        size += static_cast<std::int64_t>(chunk.size());
    }
    if (in.bad()) return Error{errc::invalid_argument, "--file: cannot read " + path};
    return std::pair{size, method == "sha256" ? device::detail::to_hex(sha256.finish(), false)
                                              : device::detail::to_hex(md5.finish(), false)};
}

/// The params of ota.device.upgrade: from --file (put on the file service) and the overrides.
Result<Value> ota_params(const tools::ParsedArgs& o, Command& c) {
    const auto version = o.value("--version"), file = o.value("--file");
    std::optional<std::string> url = o.value("--file-url"), size = o.value("--file-size"),
                               sign = o.value("--sign");
    const std::string sign_method = o.value("--sign-method").value_or("md5");
    if (!version || version->empty()) return Error{errc::missing_argument, "--version is required"};
    if (file) {
        if (sign_method != "md5" && sign_method != "sha256")
            return Error{errc::invalid_argument, "--sign-method must be md5 or sha256 with --file"};
        auto digest = file_digest(*file, sign_method);
        if (!digest) return digest.error();
        const std::size_t slash = file->find_last_of('/');
        c.file_source = *file;
        c.file_path = "/ota/" + c.pk + "/" + c.dk + "/" + path_level(*version) + "-" + random_token(6) + "/" +
                      path_level(slash == std::string::npos ? *file : file->substr(slash + 1));
        if (!url) url = c.file_path;
        if (!size) size = std::to_string(digest->first);
        if (!sign) sign = digest->second;
    } else if (!url || url->empty() || !size) {
        return Error{errc::missing_argument, "--file, or --file-url and --file-size, are required"};
    } else if (o.has("--sign-method") && !sign) {
        return Error{errc::invalid_argument, "--sign-method needs --sign"};
    }
    auto bytes = parse_integer(*size, "--file-size", 0, INT64_MAX);
    if (!bytes) return bytes.error();
    Value::Object p{{"version", *version}};
    if (sign) {
        p.emplace_back("sign", *sign);
        p.emplace_back("signMethod", sign_method);
    }
    p.emplace_back("fileUrl", *url);
    p.emplace_back("fileSize", *bytes);
    return Value(std::move(p));
}

/// Copies --file under RUNDIR/files at its path on the file service.
Status publish_file(const HubEndpoint& hub, const Command& c) {
    const std::string target = file_service_root(hub.dir) + c.file_path;
    std::error_code ec;
    std::filesystem::create_directories(target.substr(0, target.find_last_of('/')), ec);
    if (!ec)
        std::filesystem::copy_file(c.file_source, target, std::filesystem::copy_options::overwrite_existing,
                                   ec);
    if (ec) return Error{errc::invalid_argument, "cannot copy --file to " + target + ": " + ec.message()};
    return {};
}

/// Builds the command from the options; errors are usage errors.
Result<Command> build(const std::string& word, const std::string& sub_op, const tools::ParsedArgs& o) {
    const std::string pk = o.value("--pk").value_or(""), dk = o.value("--dk").value_or("");
    if (pk.empty() || dk.empty()) return Error{errc::missing_argument, "--pk and --dk are required"};
    for (const std::string* key : {&pk, &dk})
        if (!device::is_valid_topic_level(*key))
            return Error{errc::invalid_argument, "'" + *key + "' cannot be a topic level"};
    Command c;
    c.pk = pk;
    c.dk = dk;
    c.kind = word;
    c.request_id = fresh_id();
    std::string method;
    Value params;
    if (word == "invoke" || word == "rrpc") {
        const std::string service = o.value("--service").value_or("");
        if (service.empty() || !device::is_valid_topic_level(service))
            return Error{errc::missing_argument, "--service ID is required (a single topic level)"};
        auto p = json_option(o, "params", true, "{}");
        if (!p) return p.error();
        params = std::move(*p);
        method = device::command_method(DownKind::service_invoke, service);
        if (word == "invoke") {
            c.topic = device::command_topic(DownKind::service_invoke, pk, dk, service);
            c.reply_topic = c.topic + "_reply";
        } else {
            const std::string message_id = fresh_id();
            c.topic = device::command_topic(DownKind::rrpc_request, pk, dk, message_id);
            device::ArrivedTopic request{DownKind::rrpc_request, pk, dk, {}, message_id, {}, {}};
            c.reply_topic = device::command_reply_topic(request);
        }
    } else if (word == "set-measurepoints") {
        if (!o.has("--params")) return Error{errc::missing_argument, "--params JSON is required"};
        auto p = json_option(o, "params", true, "");
        if (!p) return p.error();
        params = std::move(*p);
        method = device::command_method(DownKind::measurepoint_set);
        c.topic = device::command_topic(DownKind::measurepoint_set, pk, dk);
    } else if (word == "get-measurepoints") {
        const std::string names = o.value("--names").value_or("");
        if (names.empty()) return Error{errc::missing_argument, "--names a,b,... is required"};
        Value::Array list;
        for (std::size_t start = 0; start <= names.size();) {
            const std::size_t comma = std::min(names.find(',', start), names.size());
            if (comma == start) return Error{errc::invalid_argument, "--names has an empty name"};
            list.emplace_back(names.substr(start, comma - start));
            start = comma + 1;
        }
        params = Value(std::move(list));
        method = device::command_method(DownKind::measurepoint_get);
        c.topic = device::command_topic(DownKind::measurepoint_get, pk, dk);
    } else if (word == "raw-down") {
        if (!o.has("--hex")) return Error{errc::missing_argument, "--hex HEX is required"};
        auto bytes = from_hex(*o.value("--hex"));
        if (!bytes) return Error{errc::invalid_argument, "--hex: " + bytes.error().detail};
        c.topic = device::command_topic(DownKind::raw_down, pk, dk);
        c.reply_topic = c.topic + "_reply";
        c.payload = std::move(*bytes);
        c.request_id.clear();
        return c;
    } else if (word == "ota-upgrade") {
        auto p = ota_params(o, c);
        if (!p) return p.error();
        params = std::move(*p);
        method = device::command_method(DownKind::ota_upgrade);
        c.topic = device::command_topic(DownKind::ota_upgrade, pk, dk);
    } else if (word == "traffic-control") {
        auto p = json_option(o, "params", true, "{}");
        if (!p) return p.error();
        params = std::move(*p);
        method = device::command_method(DownKind::traffic_control);
        c.topic = device::command_topic(DownKind::traffic_control, pk, dk);
    } else { // subdevice
        const DownKind kind = sub_op == "enable"    ? DownKind::sub_device_enable
                              : sub_op == "disable" ? DownKind::sub_device_disable
                                                    : DownKind::sub_device_delete;
        const std::string sub_pk = o.value("--sub-pk").value_or(""),
                          sub_dk = o.value("--sub-dk").value_or("");
        if (sub_pk.empty() || sub_dk.empty())
            return Error{errc::missing_argument, "--sub-pk and --sub-dk are required"};
        params = Value::array({Value::object({{"productKey", sub_pk}, {"deviceKey", sub_dk}})});
        method = device::command_method(kind);
        c.topic = device::command_topic(kind, pk, dk);
        c.kind = "subdevice-" + sub_op;
    }
    if (c.reply_topic.empty()) c.reply_topic = c.topic + "_reply";
    if (auto s = device::encode_request(c.payload, c.request_id, method, params); !s)
        return Error{errc::invalid_argument, s.error().detail};
    return c;
}

/// Records the command and its outcome (best effort: the store belongs to a running simulator, and
/// a missing store only means nothing is recorded).
void record(const HubEndpoint& hub, const Command& c, std::int64_t sent_at,
            const std::optional<std::string>& reply, std::optional<std::int64_t> code) {
    if (::access(hub.store.c_str(), W_OK) != 0) return;
    auto store = Store::open_existing(hub.store, Store::Access::read_write);
    if (!store) return;
    CommandRecord row;
    row.product_key = c.pk;
    row.device_key = c.dk;
    row.command = c.kind;
    row.request_id = c.request_id;
    row.topic = c.topic;
    row.payload = c.payload;
    row.reply_topic = c.reply_topic;
    row.sent_at = sent_at;
    row.reply = reply;
    row.reply_code = code;
    if (reply) row.replied_at = now_ms();
    (void)(*store)->record_command(row);
}

int usage(const CommandInfo* info, const std::string& error) {
    if (!error.empty()) std::fprintf(stderr, "enos-hub %s: %s\n", info ? info->name : "", error.c_str());
    if (info) std::fprintf(stderr, "usage: %s\n%s", info->synopsis, common_options);
    return exit_usage;
}

} // namespace

int inject_main(int argc, char** argv) {
    const std::string word = argc > 0 ? argv[0] : "";
    const CommandInfo* info = nullptr;
    for (const CommandInfo& i : command_infos)
        if (word == i.name) info = &i;
    if (!info) return usage(nullptr, "unknown command " + word);

    int first = 1;
    std::string sub_op;
    if (word == "subdevice") {
        sub_op = argc > 1 ? argv[1] : "";
        if (sub_op == "--help") sub_op.clear();
        if (sub_op != "enable" && sub_op != "disable" && sub_op != "delete") {
            if (argc > 1 && std::string(argv[1]) == "--help") {
                std::printf("usage: %s\n%s", info->synopsis, common_options);
                return exit_ok;
            }
            return usage(info, "the first argument must be enable, disable or delete");
        }
        first = 2;
    }
    for (int i = first; i < argc; ++i)
        if (std::string(argv[i]) == "--help") {
            std::printf("usage: %s\n%s", info->synopsis, common_options);
            return exit_ok;
        }
    std::vector<tools::OptionSpec> known;
    for (std::string_view name : {"--pk", "--dk", "--timeout-ms", "--dir", "--port"})
        known.push_back(tools::valued_once(name));
    for (std::string_view name : info->options)
        known.push_back(tools::valued_once(name));
    auto options = tools::parse_command_line(tools::arguments_from(argc, argv, first), known);
    if (!options) return usage(info, options.error().detail);
    if (!options->positionals().empty())
        return usage(info, "unexpected argument " + options->positionals().front());
    int timeout_ms = 5000;
    if (auto t = options->value("--timeout-ms")) {
        auto n = parse_integer(*t, "--timeout-ms", 1, 3600000);
        if (!n) return usage(info, n.error().detail);
        timeout_ms = static_cast<int>(*n);
    }
    std::optional<int> port;
    if (auto p = options->value("--port")) {
        auto n = parse_integer(*p, "--port", 1, 65535);
        if (!n) return usage(info, n.error().detail);
        port = static_cast<int>(*n);
    }
    auto command = build(word, sub_op, *options);
    if (!command) return usage(info, command.error().detail);

    auto hub = read_hub_endpoint(run_dir_or_default(options->value("--dir")));
    if (!hub) {
        std::fprintf(stderr, "enos-hub %s: %s\n", word.c_str(), hub.error().message().c_str());
        return exit_unreachable;
    }
    if (port) hub->port = *port;
    if (!command->file_source.empty())
        if (Status s = publish_file(*hub, *command); !s) {
            std::fprintf(stderr, "enos-hub %s: %s\n", word.c_str(), s.error().message().c_str());
            return exit_failure;
        }

    std::optional<std::string> reply;
    MqttClient client([&](std::string_view topic, std::string_view payload) {
        if (reply || topic != command->reply_topic) return;
        if (!command->request_id.empty()) {
            auto decoded = device::decode_reply(payload);
            if (decoded && decoded->id != command->request_id) return; // an answer to someone else's command
        }
        reply = std::string(payload);
    });
    const auto connect_deadline =
        MqttClient::Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 5000));
    if (Status s = client.connect(*hub, "enos-hub-cmd-" + std::to_string(::getpid()) + "-" + random_token(6),
                                  connect_deadline);
        !s) {
        std::fprintf(stderr, "enos-hub %s: %s\n", word.c_str(), s.error().message().c_str());
        return exit_unreachable;
    }
    client.subscribe({command->reply_topic}, 1);
    while (!client.subscribed()) {
        if (MqttClient::Clock::now() >= connect_deadline || !client.poll(100)) {
            std::fprintf(stderr, "enos-hub %s: the broker did not confirm the subscription to %s\n",
                         word.c_str(), command->reply_topic.c_str());
            return exit_unreachable;
        }
    }
    const std::int64_t sent_at = now_ms();
    client.publish(command->topic, command->payload, 1);
    const auto deadline = MqttClient::Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!reply && MqttClient::Clock::now() < deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - MqttClient::Clock::now());
        if (Status s = client.poll(static_cast<int>(std::clamp<long long>(left.count(), 1, 100))); !s) {
            std::fprintf(stderr, "enos-hub %s: %s\n", word.c_str(), s.error().message().c_str());
            return exit_unreachable;
        }
    }
    client.close();

    if (!reply) {
        record(*hub, *command, sent_at, std::nullopt, std::nullopt);
        std::fprintf(stderr, "enos-hub %s: no reply on %s within %d ms\n", word.c_str(),
                     command->reply_topic.c_str(), timeout_ms);
        return exit_timeout;
    }
    if (command->request_id.empty()) { // raw: bytes, no envelope
        record(*hub, *command, sent_at, reply, std::nullopt);
        std::printf("{\"topic\":%s,\"hex\":\"%s\"}\n", json_quote(command->reply_topic).c_str(),
                    to_hex(*reply).c_str());
        return exit_ok;
    }
    auto decoded = device::decode_reply(*reply);
    auto parsed = device::parse_value(*reply);
    record(*hub, *command, sent_at, reply,
           decoded ? std::optional<std::int64_t>(decoded->code) : std::nullopt);
    if (!decoded || !parsed) {
        std::printf("{\"error\":%s,\"payload\":%s}\n",
                    json_quote("the device's reply is not a reply envelope: " +
                               (decoded ? parsed.error().detail : decoded.error().detail))
                        .c_str(),
                    json_quote(*reply).c_str());
        return exit_device_error;
    }
    std::printf("%s\n", device::to_json(*parsed).c_str());
    return decoded->code == 200 ? exit_ok : exit_device_error;
}

} // namespace enos::hub
