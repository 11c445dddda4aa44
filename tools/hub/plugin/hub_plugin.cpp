#include "hub_plugin.hpp"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "transport/gzip_codec.hpp"
#include <enos/device/core/credentials.hpp>

#include <charconv>
#include <cstring>
#include <vector>

namespace enos::hub::plugin {

using device::errc;
using device::Error;

namespace {

constexpr const char* connect_event_topic = "$hub/events/connect";
constexpr const char* disconnect_event_topic = "$hub/events/disconnect";

// Client-supplied text in log lines is cut short so one CONNECT cannot flood the log.
std::string excerpt(const char* text, std::size_t max = 160) {
    if (!text) return "(none)";
    std::string s(text);
    if (s.size() > max) s = s.substr(0, max) + "...";
    return s;
}

std::string describe(const Identity& who) {
    return who.role == Role::admin ? std::string("the admin identity") : who.key();
}

Result<std::int64_t> parse_ms(const std::string& name, const std::string& value) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < 0)
        return Error{errc::invalid_argument, "plugin_opt_" + name + " must be a non-negative integer"};
    return n;
}

std::vector<std::string_view> split(std::string_view topic) {
    std::vector<std::string_view> levels;
    while (true) {
        const std::size_t slash = topic.find('/');
        levels.push_back(topic.substr(0, slash));
        if (slash == std::string_view::npos) return levels;
        topic.remove_prefix(slash + 1);
    }
}

// "pk/dk" of an object with string productKey and deviceKey, or empty.
std::string sub_device_key(const rapidjson::Value& v) {
    if (!v.IsObject()) return {};
    const auto pk = v.FindMember("productKey");
    const auto dk = v.FindMember("deviceKey");
    if (pk == v.MemberEnd() || dk == v.MemberEnd() || !pk->value.IsString() || !dk->value.IsString())
        return {};
    return std::string(pk->value.GetString(), pk->value.GetStringLength()) + "/" +
           std::string(dk->value.GetString(), dk->value.GetStringLength());
}

// A compressing device's publish may inflate to more than the platform's 512 KB, so that the
// simulator can answer 1008 as for a plain one; beyond this it is dropped unread.
constexpr std::size_t max_inflated_bytes = 1024 * 1024;

// Hands mosquitto a new payload; it frees the old one. Zero-terminated, as mosquitto keeps its own.
bool replace_payload(mosquitto_evt_message& event, const std::string& bytes) {
    void* copy = mosquitto_malloc(bytes.size() + 1);
    if (copy == nullptr) return false;
    std::memcpy(copy, bytes.data(), bytes.size());
    static_cast<char*>(copy)[bytes.size()] = '\0';
    event.payload = copy;
    event.payloadlen = static_cast<std::uint32_t>(bytes.size());
    return true;
}

} // namespace

Result<PluginOptions> parse_plugin_options(const std::vector<std::pair<std::string, std::string>>& options) {
    PluginOptions out;
    for (const auto& [key, value] : options) {
        if (key == "registry") {
            out.registry_path = value;
        } else if (key == "admin_token_file") {
            out.admin_token_file = value;
        } else if (key == "admin_username") {
            out.admin_username = value;
        } else if (key == "store") {
            out.store_path = value;
        } else if (key == "connect_limit") {
            if (value != "on" && value != "off")
                return Error{errc::invalid_argument, "plugin_opt_connect_limit must be on or off"};
            out.limits.enabled = value == "on";
        } else if (key == "connect_window_max") {
            auto n = parse_ms(key, value);
            if (!n) return n.error();
            out.limits.window_max = static_cast<int>(std::min<std::int64_t>(*n, 1000000));
        } else if (key == "connect_min_interval_ms" || key == "connect_window_ms" ||
                   key == "connect_block_ms") {
            auto n = parse_ms(key, value);
            if (!n) return n.error();
            const std::chrono::milliseconds ms{*n};
            (key == "connect_min_interval_ms" ? out.limits.min_interval
             : key == "connect_window_ms"     ? out.limits.window
                                              : out.limits.block) = ms;
        } else {
            return Error{errc::invalid_argument, "unknown option plugin_opt_" + key};
        }
    }
    if (out.registry_path.empty()) return Error{errc::missing_argument, "plugin_opt_registry is required"};
    if (out.admin_token_file.empty())
        return Error{errc::missing_argument, "plugin_opt_admin_token_file is required"};
    return out;
}

HubPlugin::HubPlugin(Registry registry, PluginOptions options, std::string admin_token)
    : registry_(std::move(registry)), options_(std::move(options)), activations_(options_.store_path),
      limiter_(options_.limits),
      authenticator_(registry_, activations_, limiter_, options_.admin_username, std::move(admin_token)) {}

const HubPlugin::Session* HubPlugin::session_of(const mosquitto* client) const {
    const auto it = sessions_.find(client);
    if (it == sessions_.end()) return nullptr;
    const char* id = mosquitto_client_id(client);
    if (!id || it->second.mqtt_client_id != id) return nullptr;
    return &it->second;
}

int HubPlugin::on_basic_auth(const mosquitto_evt_basic_auth& event) {
    const char* client_id = mosquitto_client_id(event.client);
    std::string store_error;
    const AuthResult result =
        authenticator_.authenticate({client_id ? client_id : "", event.username ? event.username : "",
                                     event.password ? event.password : ""},
                                    ConnectLimiter::Clock::now(), store_error);
    if (!store_error.empty()) mosquitto_log_printf(MOSQ_LOG_WARNING, "enos-hub: %s", store_error.c_str());

    if (!result.identity) {
        // mosquitto 2.0 answers MOSQ_ERR_AUTH with CONNACK 5 (not authorised); it offers a plugin no
        // way to send CONNACK 4, so the reason lives in the log.
        mosquitto_log_printf(MOSQ_LOG_NOTICE,
                             "enos-hub: refused CONNECT of client '%s' user '%s' from %s: %s",
                             excerpt(client_id).c_str(), excerpt(event.username).c_str(),
                             excerpt(mosquitto_client_address(event.client)).c_str(), result.reason.c_str());
        return MOSQ_ERR_AUTH;
    }

    Session session{*result.identity, client_id ? client_id : "", next_connection_id_++};
    forget(event.client); // a client object the broker reuses without a DISCONNECT event for the old one
    sessions_[event.client] = session;
    if (session.who.role != Role::admin) {
        ++open_connections_[session.who.key()];
        if (session.who.gzip) ++gzip_connections_[session.who.key()];
        publish_event(connect_event_topic, session.who, session.connection_id);
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "enos-hub: %s logged in (securemode %d, client '%s'%s)",
                         describe(session.who).c_str(), session.who.secure_mode, excerpt(client_id).c_str(),
                         session.who.gzip ? ", GZIP payloads" : "");
    return MOSQ_ERR_SUCCESS;
}

int HubPlugin::on_acl_check(const mosquitto_evt_acl_check& event) {
    if (event.access == MOSQ_ACL_UNSUBSCRIBE) return MOSQ_ERR_SUCCESS;
    const Access access = event.access == MOSQ_ACL_SUBSCRIBE ? Access::subscribe
                          : event.access == MOSQ_ACL_WRITE   ? Access::publish
                                                             : Access::deliver;
    const char* topic = event.topic ? event.topic : "";
    const Session* session = session_of(event.client);
    std::string reason;
    if (!session) {
        // The simulator's persistent session while it is away (a broker restart restores it before the
        // simulator is back): what it subscribed to is queued for it, and only the admin can resume it.
        const char* username = mosquitto_client_username(event.client);
        if (access == Access::deliver && username && username == options_.admin_username)
            return MOSQ_ERR_SUCCESS;
        reason = "connection has no authenticated identity";
    } else {
        const Identity& who = session->who;
        const auto subs = who.gateway ? sub_sessions_.find(who.key()) : sub_sessions_.end();
        reason = check_topic(who, access, topic, subs == sub_sessions_.end() ? nullptr : &subs->second);
        if (reason.empty() && access == Access::publish) reason = check_retain(who, event.retain);
        if (reason.empty()) return MOSQ_ERR_SUCCESS;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "enos-hub: denied %s of '%s' for %s (client '%s'): %s",
                         to_string(access), excerpt(topic).c_str(),
                         session ? describe(session->who).c_str() : "an unknown client",
                         excerpt(mosquitto_client_id(event.client)).c_str(), reason.c_str());
    return MOSQ_ERR_ACL_DENIED;
}

int HubPlugin::on_message(mosquitto_evt_message& event) {
    const Session* session = session_of(event.client);
    if (!session || !event.topic || event.payloadlen == 0) return MOSQ_ERR_SUCCESS;
    if (session->who.role != Role::admin)
        return session->who.gzip ? inflate_from_device(event, *session) : MOSQ_ERR_SUCCESS;
    // Only the simulator (admin) speaks for the cloud; a device cannot forge its own login reply.
    if (std::string_view(event.topic).rfind("/ext/session/", 0) == 0)
        follow_sub_device_sessions(
            event.topic, std::string_view(static_cast<const char*>(event.payload), event.payloadlen));
    if (!gzip_connections_.empty() && receives_gzip(event.topic)) return deflate_for_device(event);
    return MOSQ_ERR_SUCCESS;
}

int HubPlugin::inflate_from_device(mosquitto_evt_message& event, const Session& session) const {
    const std::string_view payload(static_cast<const char*>(event.payload), event.payloadlen);
    auto plain = device::detail::gzip_decompress(payload, max_inflated_bytes);
    if (!plain) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE,
                             "enos-hub: dropped publish of '%s' (%u bytes) from %s: the client id announced "
                             "GZIP but the payload does not inflate: %s",
                             excerpt(event.topic).c_str(), event.payloadlen, describe(session.who).c_str(),
                             plain.error().detail.c_str());
        return MOSQ_ERR_ACL_DENIED; // acknowledged (QoS 1) and delivered to no one
    }
    if (!replace_payload(event, *plain)) return MOSQ_ERR_NOMEM;
    return MOSQ_ERR_SUCCESS;
}

int HubPlugin::deflate_for_device(mosquitto_evt_message& event) const {
    const std::string_view payload(static_cast<const char*>(event.payload), event.payloadlen);
    auto compressed = device::detail::gzip_compress(payload);
    if (!compressed || !replace_payload(event, *compressed)) {
        mosquitto_log_printf(MOSQ_LOG_WARNING, "enos-hub: cannot compress the publish on '%s'",
                             excerpt(event.topic).c_str());
        return MOSQ_ERR_NOMEM;
    }
    return MOSQ_ERR_SUCCESS;
}

bool HubPlugin::receives_gzip(std::string_view topic) const {
    // /sys/{pk}/{dk}/..., /ext/session/{pk}/{dk}/... and /sys/{pk}/integration/...
    const auto levels = split(topic);
    const bool sys = levels.size() >= 4 && levels[0].empty() && levels[1] == "sys";
    const bool ext = levels.size() >= 5 && levels[0].empty() && levels[1] == "ext" && levels[2] == "session";
    if (!sys && !ext) return false;
    const std::string pk(levels[sys ? 2 : 3]), dk(levels[sys ? 3 : 4]);
    std::vector<std::string> owners{pk + "/" + dk};
    if (sys && dk == "integration") owners.push_back(pk + "/" + std::string(device::integration_device_key));
    for (const std::string& owner : owners) {
        if (gzip_connections_.count(owner) != 0) return true;
        for (const auto& entry : gzip_connections_) { // a sub-device behind a compressing gateway
            const auto subs = sub_sessions_.find(entry.first);
            if (subs != sub_sessions_.end() && subs->second.count(owner) != 0) return true;
        }
    }
    return false;
}

void HubPlugin::follow_sub_device_sessions(std::string_view topic, std::string_view payload) {
    const auto levels = split(topic);
    // /ext/session/{gwPk}/{gwDk}/combine/...
    if (levels.size() < 7 || levels[5] != "combine") return;
    const std::string gateway = std::string(levels[3]) + "/" + std::string(levels[4]);
    const std::string_view action = levels.size() == 7 ? levels[6] : std::string_view();
    const bool batch = levels.size() == 8 && levels[6] == "login" && levels[7] == "batch_reply";
    const bool login = action == "login_reply";
    const bool logout = action == "logout_reply" || action == "disable" || action == "delete";
    if (!login && !logout && !batch) return;
    // A reply for a gateway that is no longer connected has nothing to open.
    if ((login || batch) && open_connections_.count(gateway) == 0) return;

    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(payload.data(),
                                                                                  payload.size());
    if (doc.HasParseError() || !doc.IsObject()) return;
    const auto code = doc.FindMember("code");
    const bool ok = code != doc.MemberEnd() && code->value.IsInt() && code->value.GetInt() == 200;
    const auto data = doc.FindMember("data");
    const auto params = doc.FindMember("params");

    if (login && ok && data != doc.MemberEnd()) {
        if (auto sub = sub_device_key(data->value); !sub.empty()) sub_sessions_[gateway].insert(sub);
    } else if (batch && data != doc.MemberEnd() && data->value.IsObject()) {
        // Partial success still logs in the listed ones.
        const auto logged = data->value.FindMember("loginedSubDevices");
        if (logged != data->value.MemberEnd() && logged->value.IsArray())
            for (const auto& entry : logged->value.GetArray())
                if (auto sub = sub_device_key(entry); !sub.empty()) sub_sessions_[gateway].insert(sub);
    } else if (action == "logout_reply" && ok && data != doc.MemberEnd()) {
        if (auto it = sub_sessions_.find(gateway); it != sub_sessions_.end())
            it->second.erase(sub_device_key(data->value));
    } else if ((action == "disable" || action == "delete") && params != doc.MemberEnd() &&
               params->value.IsArray()) {
        // The cloud disabling or deleting a sub-device ends its session too.
        if (auto it = sub_sessions_.find(gateway); it != sub_sessions_.end())
            for (const auto& entry : params->value.GetArray())
                it->second.erase(sub_device_key(entry));
    }
}

int HubPlugin::on_disconnect(const mosquitto_evt_disconnect& event) {
    forget(event.client);
    return MOSQ_ERR_SUCCESS;
}

void HubPlugin::forget(const mosquitto* client) {
    const auto it = sessions_.find(client);
    if (it == sessions_.end()) return;
    const Session session = std::move(it->second);
    sessions_.erase(it);
    if (session.who.role == Role::admin) return;

    // A device that reconnects with the same client id replaces its old connection; the device only
    // counts as gone (sub-devices logged out, simulator told) when its last connection closes.
    const std::string key = session.who.key();
    if (session.who.gzip && --gzip_connections_[key] <= 0) gzip_connections_.erase(key);
    if (--open_connections_[key] > 0) return;
    open_connections_.erase(key);
    sub_sessions_.erase(key);
    publish_event(disconnect_event_topic, session.who, session.connection_id);
}

void HubPlugin::publish_event(const char* topic, const Identity& who, std::uint64_t connection_id) const {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("clientId");
    w.String(who.raw_client_id.c_str(), static_cast<rapidjson::SizeType>(who.raw_client_id.size()));
    w.Key("productKey");
    w.String(who.product_key.c_str(), static_cast<rapidjson::SizeType>(who.product_key.size()));
    w.Key("deviceKey");
    w.String(who.device_key.c_str(), static_cast<rapidjson::SizeType>(who.device_key.size()));
    w.Key("secureMode");
    w.Int(who.secure_mode);
    w.Key("gateway");
    w.Bool(who.gateway);
    w.Key("connectionId");
    w.Uint64(connection_id);
    w.EndObject();
    const int rc = mosquitto_broker_publish_copy(nullptr, topic, static_cast<int>(buffer.GetSize()),
                                                 buffer.GetString(), 1, false, nullptr);
    if (rc != MOSQ_ERR_SUCCESS)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "enos-hub: cannot publish %s (error %d)", topic, rc);
}

} // namespace enos::hub::plugin
