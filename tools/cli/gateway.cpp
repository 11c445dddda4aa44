// enos-device's gateway commands (register, topo, sub-login, sub-logout, post-batch) and the
// message-integration channel (integration post-*). Operands and secrets are read before anything
// connects, so a typo costs no connection; sub-device secrets come from options, the environment or
// a file, and are never printed.
#include "output.hpp"
#include "run.hpp"

#include <enos/device/core/value.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <unistd.h>

namespace enos::cli {
namespace {

using namespace enos::device;

Error operand_error(std::string detail) {
    return Error{errc::invalid_argument, std::move(detail)};
}

/// "PK/DK" operands.
Result<std::vector<DeviceIdentity>> parse_sub_devices(const std::vector<std::string>& operands) {
    std::vector<DeviceIdentity> out;
    for (const std::string& text : operands) {
        const std::size_t slash = text.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == text.size() ||
            text.find('/', slash + 1) != std::string::npos)
            return operand_error("'" + text + "' is not a sub-device: write PRODUCT_KEY/DEVICE_KEY");
        out.push_back(DeviceIdentity{text.substr(0, slash), text.substr(slash + 1)});
    }
    return out;
}

std::string label(std::string_view pk, std::string_view dk) {
    return std::string(pk) + "/" + std::string(dk);
}

/// The sub-devices' secrets: per device from --sub-secrets, otherwise --sub-secret.
class SecretBook {
public:
    static Result<SecretBook> load(const Args& args) {
        SecretBook book;
        book.fallback_ = args.sub_secret;
        if (args.sub_secrets_file.empty()) return book;
        std::ifstream in(args.sub_secrets_file);
        if (!in) return operand_error("cannot read --sub-secrets " + args.sub_secrets_file);
        std::string line;
        for (int number = 1; std::getline(in, line); ++number) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            // The detail names the line, never its content: it holds a secret.
            const std::string where = args.sub_secrets_file + " line " + std::to_string(number);
            auto entry = parse_value(line);
            if (!entry || !entry->is_object())
                return operand_error(where + " is not a JSON object {\"productKey\",\"deviceKey\",\"deviceSecret\"}");
            const Value* pk = entry->find("productKey");
            const Value* dk = entry->find("deviceKey");
            const Value* secret = entry->find("deviceSecret");
            if (!pk || !dk || !secret || !pk->is_string() || !dk->is_string() || !secret->is_string())
                return operand_error(where + " needs the strings productKey, deviceKey and deviceSecret");
            book.by_device_[label(pk->as_string(), dk->as_string())] = secret->as_string();
        }
        return book;
    }

    Result<std::string> secret_of(const std::string& pk, const std::string& dk) const {
        if (auto it = by_device_.find(label(pk, dk)); it != by_device_.end()) return it->second;
        if (!fallback_.empty()) return fallback_;
        return operand_error("no secret for sub-device " + label(pk, dk) +
                             ": not in --sub-secrets, and no --sub-secret");
    }

private:
    std::map<std::string, std::string> by_device_;
    std::string fallback_;
};

/// The operand: a JSON array of objects (a single object counts as an array of one).
Result<std::vector<Value>> parse_objects(const std::string& text, std::string_view what) {
    auto value = parse_value(text);
    if (!value) return operand_error("not valid JSON: " + value.error().message());
    std::vector<Value> items;
    if (value->is_object())
        items.push_back(std::move(*value));
    else if (value->is_array())
        items = value->as_array();
    if (items.empty()) return operand_error("expected a JSON array of " + std::string(what));
    for (const Value& item : items)
        if (!item.is_object()) return operand_error("every element must be a JSON object (" + std::string(what) + ")");
    return items;
}

/// An optional string member; false when present but not a string.
bool read_string(const Value& object, std::string_view key, std::string& out) {
    const Value* v = object.find(key);
    if (v == nullptr) return true;
    if (!v->is_string()) return false;
    out = v->as_string();
    return true;
}

/// An optional integer member "time" (epoch ms).
bool read_time(const Value& object, std::optional<std::int64_t>& out) {
    const Value* v = object.find("time");
    if (v == nullptr) return true;
    if (!v->is_int()) return false;
    out = v->as_int();
    return true;
}

Result<std::vector<SubDeviceRegistration>> parse_registrations(const std::string& text) {
    auto items = parse_objects(text, "devices to register");
    if (!items) return items.error();
    std::vector<SubDeviceRegistration> out;
    for (std::size_t i = 0; i < items->size(); ++i) {
        const Value& item = (*items)[i];
        const std::string where = "element " + std::to_string(i);
        SubDeviceRegistration r;
        if (!read_string(item, "productKey", r.product_key) || r.product_key.empty())
            return operand_error(where + " needs a productKey");
        if (!read_string(item, "deviceKey", r.device_key) || !read_string(item, "deviceDesc", r.description) ||
            !read_string(item, "timezone", r.timezone))
            return operand_error(where + ": deviceKey, deviceDesc and timezone must be strings");
        if (const Value* name = item.find("deviceName")) {
            if (name->is_string()) {
                r.name = name->as_string();
            } else if (name->is_object()) { // {"defaultValue":…, "i18nValue":{locale: text}}
                const Value* localized = name->find("i18nValue");
                if (!read_string(*name, "defaultValue", r.name) || (localized && !localized->is_object()))
                    return operand_error(where + ".deviceName must be a string or {defaultValue, i18nValue}");
                if (localized)
                    for (const auto& [locale, text_value] : localized->as_object()) {
                        if (!text_value.is_string())
                            return operand_error(where + ".deviceName.i18nValue." + locale + " must be a string");
                        r.localized_names.emplace_back(locale, text_value.as_string());
                    }
            } else {
                return operand_error(where + ".deviceName must be a string or {defaultValue, i18nValue}");
            }
        }
        if (const Value* attributes = item.find("deviceAttributes")) {
            if (!attributes->is_object()) return operand_error(where + ".deviceAttributes must be an object");
            r.attributes = attributes->as_object();
        }
        out.push_back(std::move(r));
    }
    return out;
}

Result<std::vector<MeasurePointSample>> parse_samples(const std::string& text) {
    auto items = parse_objects(text, "samples {\"productKey\",\"deviceKey\",\"measurepoints\",\"time\"}");
    if (!items) return items.error();
    std::vector<MeasurePointSample> out;
    for (std::size_t i = 0; i < items->size(); ++i) {
        const Value& item = (*items)[i];
        const std::string where = "element " + std::to_string(i);
        MeasurePointSample s;
        if (!read_string(item, "productKey", s.product_key) || !read_string(item, "deviceKey", s.device_key))
            return operand_error(where + ": productKey and deviceKey must be strings");
        const Value* points = item.find("measurepoints");
        if (points == nullptr || !points->is_object())
            return operand_error(where + " needs \"measurepoints\": {\"name\": value, ...}");
        s.points = points->as_object();
        if (!read_time(item, s.time_ms)) return operand_error(where + ".time must be epoch milliseconds");
        out.push_back(std::move(s));
    }
    return out;
}

/// The member of each record holding its values, by integration verb.
std::string_view integration_values_key(const std::string& verb) {
    if (verb == "post-events") return "events";
    if (verb == "post-attributes") return "attributes";
    return "measurepoints";
}

Result<std::vector<IntegrationRecord>> parse_records(const std::string& text, std::string_view values_key) {
    auto items = parse_objects(text, "records {\"deviceKey\",\"time\",\"" + std::string(values_key) + "\"}");
    if (!items) return items.error();
    std::vector<IntegrationRecord> out;
    for (std::size_t i = 0; i < items->size(); ++i) {
        const Value& item = (*items)[i];
        const std::string where = "element " + std::to_string(i);
        IntegrationRecord r;
        if (!read_string(item, "deviceKey", r.device_key) || r.device_key.empty())
            return operand_error(where + " needs a deviceKey");
        const Value* values = item.find(values_key);
        if (values == nullptr || !values->is_object())
            return operand_error(where + " needs \"" + std::string(values_key) + "\": {...}");
        r.values = values->as_object();
        if (!read_time(item, r.time_ms)) return operand_error(where + ".time must be epoch milliseconds");
        out.push_back(std::move(r));
    }
    return out;
}

/// Appends the issued secrets to the --secrets-out file, opened (mode 0600) before connecting.
class SecretsOut {
public:
    static Result<SecretsOut> open(const std::string& path) {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) return Error{errc::invalid_argument, "cannot open --secrets-out " + path + ": " + std::strerror(errno)};
        return SecretsOut(fd, path);
    }
    SecretsOut(SecretsOut&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
    SecretsOut(const SecretsOut&) = delete;
    SecretsOut& operator=(const SecretsOut&) = delete;
    SecretsOut& operator=(SecretsOut&&) = delete;
    ~SecretsOut() {
        if (fd_ >= 0) ::close(fd_);
    }

    Status write(const std::vector<RegisteredDevice>& devices) {
        std::string text;
        for (const RegisteredDevice& d : devices) {
            text += "{\"productKey\":";
            append_json_string(text, d.product_key);
            text += ",\"deviceKey\":";
            append_json_string(text, d.device_key);
            text += ",\"deviceSecret\":";
            append_json_string(text, d.device_secret);
            text += "}\n";
        }
        for (std::size_t done = 0; done < text.size();) {
            const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return Error{errc::store_error, "cannot write --secrets-out " + path_ + ": " + std::strerror(errno)};
            done += static_cast<std::size_t>(n);
        }
        if (::fsync(fd_) != 0) return Error{errc::store_error, "cannot sync --secrets-out " + path_};
        return {};
    }

private:
    SecretsOut(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_;
    std::string path_;
};

/// Everything a gateway command sends, read before connecting.
struct GatewayInput {
    std::vector<SubDeviceRegistration> registrations;
    std::vector<DeviceIdentity> sub_devices;
    std::vector<SubDeviceCredentials> credentials; ///< topo add, sub-login
    std::vector<MeasurePointSample> samples;
    std::vector<IntegrationRecord> records;
    std::optional<SecretsOut> secrets_out;
};

Result<std::vector<SubDeviceCredentials>> sign_inputs(const Args& args, const std::vector<DeviceIdentity>& subs) {
    auto book = SecretBook::load(args);
    if (!book) return book.error();
    std::vector<SubDeviceCredentials> out;
    for (const DeviceIdentity& d : subs) {
        auto secret = book->secret_of(d.product_key, d.device_key);
        if (!secret) return secret.error();
        SubDeviceCredentials c;
        c.product_key = d.product_key;
        c.device_key = d.device_key;
        c.secret = std::move(*secret);
        c.timestamp = args.timestamp;
        out.push_back(std::move(c));
    }
    return out;
}

Result<GatewayInput> read_input(const Args& args) {
    GatewayInput in;
    const std::string operand = args.operands.empty() ? std::string() : args.operands.front();
    switch (args.command) {
    case Command::register_devices: {
        auto r = parse_registrations(operand);
        if (!r) return r.error();
        in.registrations = std::move(*r);
        auto out = SecretsOut::open(args.secrets_out);
        if (!out) return out.error();
        in.secrets_out.emplace(std::move(*out));
        break;
    }
    case Command::post_batch: {
        auto samples = parse_samples(operand);
        if (!samples) return samples.error();
        in.samples = std::move(*samples);
        if (args.login_first) {
            for (const MeasurePointSample& s : in.samples) {
                if (s.product_key.empty() || (s.product_key == args.product_key && s.device_key == args.device_key))
                    continue;
                bool seen = false;
                for (const DeviceIdentity& d : in.sub_devices)
                    seen |= d.product_key == s.product_key && d.device_key == s.device_key;
                if (!seen) in.sub_devices.push_back(DeviceIdentity{s.product_key, s.device_key});
            }
            if (in.sub_devices.empty()) return operand_error("--login: the samples name no sub-device");
            auto signed_subs = sign_inputs(args, in.sub_devices);
            if (!signed_subs) return signed_subs.error();
            in.credentials = std::move(*signed_subs);
        }
        break;
    }
    case Command::integration: {
        auto records = parse_records(operand, integration_values_key(args.verb));
        if (!records) return records.error();
        in.records = std::move(*records);
        break;
    }
    default: {
        auto subs = parse_sub_devices(args.operands);
        if (!subs) return subs.error();
        in.sub_devices = std::move(*subs);
        if (args.command == Command::sub_login || (args.command == Command::topo && args.verb == "add")) {
            auto signed_subs = sign_inputs(args, in.sub_devices);
            if (!signed_subs) return signed_subs.error();
            in.credentials = std::move(*signed_subs);
        }
        break;
    }
    }
    return in;
}

/// One login for several sub-devices, over one shared timestamp (§3.11).
up::SubDeviceLoginBatch batch_login(const Args& args, const std::vector<SubDeviceCredentials>& credentials) {
    up::SubDeviceLoginBatch batch;
    for (const SubDeviceCredentials& c : credentials)
        batch.devices.push_back(SubDeviceSecret{c.product_key, c.device_key, c.secret, SecureMode::static_secret});
    batch.timestamp = args.timestamp;
    return batch;
}

/// register: prints keys and asset ids; the secrets go only to the --secrets-out file.
int finish_register(const Args& args, const Result<Response>& response, SecretsOut& secrets) {
    if (!response) return report_error(args, response.error());
    auto devices = decode_device_register_reply(response->data_json);
    if (!devices) return report_error(args, devices.error());
    if (Status s = secrets.write(*devices); !s) return report_error(args, s.error());
    std::string data = "[";
    for (const RegisteredDevice& d : *devices) {
        data += data.size() > 1 ? ",{\"productKey\":" : "{\"productKey\":";
        append_json_string(data, d.product_key);
        data += ",\"deviceKey\":";
        append_json_string(data, d.device_key);
        data += ",\"assetId\":";
        append_json_string(data, d.asset_id);
        data += '}';
    }
    data += ']';
    emit(JsonLine()
             .boolean("ok", true)
             .str("command", args.command_name)
             .str("id", response->id)
             .num("code", response->code)
             .str("message", response->message)
             .raw("data", data)
             .str("secrets_out", args.secrets_out));
    return exit_ok;
}

int send_gateway(const Args& args, DeviceClient& client, GatewayInput& in) {
    SendOptions options;
    options.qos = args.qos;
    options.timeout = std::chrono::milliseconds(args.timeout_ms);
    switch (args.command) {
    case Command::register_devices:
        return finish_register(args, client.send(up::DeviceRegister{in.registrations}, options), *in.secrets_out);
    case Command::topo:
        if (args.verb == "get") return report_response(args, client.send(up::TopoGet{}, options));
        if (args.verb == "add") return report_response(args, client.send(up::TopoAdd{in.credentials}, options));
        return report_response(args, client.send(up::TopoDelete{in.sub_devices}, options));
    case Command::sub_login:
        if (in.credentials.size() == 1)
            return report_response(args, client.send(up::SubDeviceLogin{in.credentials.front()}, options));
        return report_response(args, client.send(batch_login(args, in.credentials), options));
    case Command::sub_logout: {
        // combine.logout has no batch form: one request per sub-device, one line each.
        int exit_code = exit_ok;
        for (const DeviceIdentity& d : in.sub_devices) {
            const int code =
                report_response(args, client.send(up::SubDeviceLogout{d.product_key, d.device_key}, options));
            if (exit_code == exit_ok) exit_code = code;
        }
        return exit_code;
    }
    case Command::post_batch: {
        if (!in.credentials.empty()) {
            // The sessions last as long as this connection: log in, then post.
            Result<Response> login = client.send(batch_login(args, in.credentials), options);
            if (!login) return report_error(args, login.error());
        }
        up::MeasurepointPostBatch batch{in.samples, BatchFlags{args.allow_offline_sub_device, args.skip_invalid_measurepoints}};
        return report_response(args, client.send(batch, options));
    }
    case Command::integration:
        if (args.verb == "post-events")
            return report_response(args, client.send(up::IntegrationEventPost{in.records}, options));
        if (args.verb == "post-attributes")
            return report_response(args, client.send(up::IntegrationAttributePost{in.records}, options));
        return report_response(args, client.send(up::IntegrationMeasurepointPost{in.records}, options));
    default: return report_error(args, Error{errc::invalid_argument, "not a gateway command"});
    }
}

} // namespace

int run_gateway(const Args& args) {
    auto input = read_input(args);
    if (!input) return bad_operand(args, input.error().detail);
    ClientOptions options = client_options(args);
    options.auto_reconnect = false;
    options.subscribe_commands = false;
    int exit_code = exit_ok;
    auto client = connect_client(args, std::move(options), exit_code);
    if (!client) return exit_code;
    exit_code = send_gateway(args, *client, *input);
    (void)client->disconnect();
    return exit_code;
}

} // namespace enos::cli
