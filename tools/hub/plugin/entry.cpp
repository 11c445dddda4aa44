// The mosquitto 2.0 plugin entry points (v5 plugin API). Everything that can fail or throw stays on
// this side of the C boundary: an exception escaping into the broker would abort it.
#include "hub_plugin.hpp"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <exception>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#define ENOS_HUB_EXPORT __attribute__((visibility("default")))

namespace {

using enos::hub::plugin::HubPlugin;

struct PluginState {
    mosquitto_plugin_id_t* id = nullptr;
    std::unique_ptr<HubPlugin> hub;
};

// The events the plugin handles, each forwarded to the matching HubPlugin member.
template <class Event, auto Handler> int forward(int, void* event_data, void* userdata) {
    auto* state = static_cast<PluginState*>(userdata);
    try {
        return (state->hub.get()->*Handler)(*static_cast<Event*>(event_data));
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "enos-hub: internal error: %s", e.what());
    } catch (...) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "enos-hub: internal error");
    }
    // Fail closed for decisions, let messages pass: a lost reply is worse than a missed bookkeeping step.
    return std::is_same_v<Event, mosquitto_evt_basic_auth> || std::is_same_v<Event, mosquitto_evt_acl_check>
               ? MOSQ_ERR_AUTH
               : MOSQ_ERR_SUCCESS;
}

struct Callback {
    int event;
    MOSQ_FUNC_generic_callback fn;
};

const Callback callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, forward<mosquitto_evt_basic_auth, &HubPlugin::on_basic_auth>},
    {MOSQ_EVT_ACL_CHECK, forward<mosquitto_evt_acl_check, &HubPlugin::on_acl_check>},
    {MOSQ_EVT_MESSAGE, forward<mosquitto_evt_message, &HubPlugin::on_message>},
    {MOSQ_EVT_DISCONNECT, forward<mosquitto_evt_disconnect, &HubPlugin::on_disconnect>},
};

std::string read_token(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read the admin token file " + path);
    std::string token;
    in >> token;
    if (token.empty()) throw std::runtime_error("the admin token file " + path + " is empty");
    return token;
}

std::unique_ptr<HubPlugin> make_hub(const mosquitto_opt* options, int count) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (int i = 0; i < count; ++i)
        pairs.emplace_back(options[i].key ? options[i].key : "", options[i].value ? options[i].value : "");
    auto parsed = enos::hub::plugin::parse_plugin_options(pairs);
    if (!parsed) throw std::runtime_error(parsed.error().detail);
    auto registry = enos::hub::load_registry(parsed->registry_path);
    if (!registry) throw std::runtime_error(registry.error().detail);
    std::string token = read_token(parsed->admin_token_file);
    return std::make_unique<HubPlugin>(std::move(*registry), std::move(*parsed), std::move(token));
}

} // namespace

extern "C" {

ENOS_HUB_EXPORT int mosquitto_plugin_version(int supported_version_count, const int* supported_versions) {
    for (int i = 0; i < supported_version_count; ++i)
        if (supported_versions[i] == MOSQ_PLUGIN_VERSION) return MOSQ_PLUGIN_VERSION;
    return -1;
}

ENOS_HUB_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                          struct mosquitto_opt* options, int option_count) {
    auto state = std::make_unique<PluginState>();
    state->id = identifier;
    try {
        state->hub = make_hub(options, option_count);
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "enos-hub: cannot start the plugin: %s", e.what());
        return MOSQ_ERR_INVAL;
    }
    for (const Callback& cb : callbacks) {
        const int rc = mosquitto_callback_register(identifier, cb.event, cb.fn, nullptr, state.get());
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "enos-hub: cannot register for event %d (error %d)", cb.event,
                                 rc);
            for (const Callback& done : callbacks) {
                if (done.event == cb.event) break;
                mosquitto_callback_unregister(identifier, done.event, done.fn, nullptr);
            }
            return rc;
        }
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "enos-hub: plugin ready");
    *userdata = state.release();
    return MOSQ_ERR_SUCCESS;
}

ENOS_HUB_EXPORT int mosquitto_plugin_cleanup(void* userdata, struct mosquitto_opt*, int) {
    std::unique_ptr<PluginState> state(static_cast<PluginState*>(userdata));
    if (!state) return MOSQ_ERR_SUCCESS;
    for (const Callback& cb : callbacks)
        mosquitto_callback_unregister(state->id, cb.event, cb.fn, nullptr);
    return MOSQ_ERR_SUCCESS;
}

} // extern "C"
