// Commands from the cloud: decoding, finding the handler, running it on the dispatcher thread and
// answering (docs/protocol.md §4). Whatever arrives, the client answers or logs; it never crashes.
#include "client/client_core.hpp"

#include <enos/device/core/payload.hpp>
#include <enos/device/core/topics.hpp>

namespace enos::device {
namespace detail {
namespace {

// Reply codes the device sends (docs/protocol.md §4, §6).
constexpr int no_handler_code = 1101;
constexpr int handler_failed_code = 1102;
constexpr int too_large_code = 1008;       // "Msg size is too large"
constexpr int payload_format_code = 1220;  // "Payload format error"
constexpr int method_mismatch_code = 1260; // "Methods not consistent" (method versus topic)
constexpr int bad_params_code = 460;       // "request parameter error"

// Commands waiting for the dispatcher are bounded: the cloud sends one command at a time per
// device, so only a misbehaving broker gets near this. Each also costs its bookkeeping.
constexpr std::size_t max_queued_command_bytes = 16 * 1024 * 1024;
constexpr std::size_t queued_command_overhead = 512;

std::string size_text(std::size_t bytes) {
    return std::to_string(bytes) + " bytes; the limit is less than " +
           std::to_string(limits::max_payload_bytes);
}

CommandKind command_kind(DownKind kind) {
    switch (kind) {
    case DownKind::measurepoint_set: return CommandKind::measurepoint_set;
    case DownKind::measurepoint_get: return CommandKind::measurepoint_get;
    case DownKind::rrpc_request: return CommandKind::rrpc;
    case DownKind::raw_down: return CommandKind::raw_down;
    case DownKind::sub_device_enable: return CommandKind::sub_device_enable;
    case DownKind::sub_device_disable: return CommandKind::sub_device_disable;
    case DownKind::sub_device_delete: return CommandKind::sub_device_delete;
    case DownKind::device_enable: return CommandKind::device_enable;
    case DownKind::device_disable: return CommandKind::device_disable;
    case DownKind::device_delete: return CommandKind::device_delete;
    case DownKind::ota_upgrade: return CommandKind::ota_upgrade;
    case DownKind::traffic_control: return CommandKind::traffic_control;
    default: return CommandKind::service;
    }
}

/// What the params of each kind must be (docs/protocol.md §4): a handler never sees another shape.
enum class ParamsShape { object, optional_object, array, any };

ParamsShape params_shape(CommandKind kind) {
    switch (kind) {
    case CommandKind::measurepoint_set:
    case CommandKind::ota_upgrade: return ParamsShape::object;
    case CommandKind::measurepoint_get:
    case CommandKind::sub_device_enable:
    case CommandKind::sub_device_disable:
    case CommandKind::sub_device_delete: return ParamsShape::array;
    case CommandKind::traffic_control: return ParamsShape::any; // its params are not documented
    default: return ParamsShape::optional_object;
    }
}

/// Why the params do not fit the command (params_json is compact JSON, so its first byte names
/// its type); empty if they do.
std::string params_problem(CommandKind kind, const std::string& params_json) {
    const char first = params_json.empty() ? '\0' : params_json[0];
    switch (params_shape(kind)) {
    case ParamsShape::object: return first == '{' ? "" : "params must be a JSON object";
    case ParamsShape::optional_object:
        return first == '{' || first == '\0' ? "" : "params must be a JSON object or absent";
    case ParamsShape::array: return first == '[' ? "" : "params must be a JSON array";
    case ParamsShape::any: return "";
    }
    return "";
}

/// Why the method does not belong on the topic the command came on; empty if it does.
std::string method_problem(const ArrivedTopic& arrived, const std::string& method) {
    const std::string shown = detail::quoted_excerpt(method, 64);
    if (arrived.kind == DownKind::traffic_control) return {}; // its method is not documented
    if (arrived.kind == DownKind::rrpc_request) {             // names the service it calls
        constexpr std::string_view prefix = "thing.service.";
        if (method.size() > prefix.size() && method.compare(0, prefix.size(), prefix) == 0) return {};
        return "method " + shown + " is not a service method (thing.service.{id})";
    }
    const std::string expected = command_method(arrived.kind, arrived.service_id);
    if (method == expected) return {};
    return "method " + shown + " does not match the topic (expected '" + expected + "')";
}

/// A command as far as its topic tells.
Command command_on(const ArrivedTopic& arrived, const std::string& topic) {
    Command command;
    command.kind = command_kind(arrived.kind);
    command.topic = topic;
    command.product_key = arrived.product_key;
    command.device_key = arrived.device_key;
    return command;
}

std::string handler_failure(std::string_view what) {
    return "command handler execution failed, " + std::string(what);
}

} // namespace

ClientCore::Slot ClientCore::find_handler(const Command& command) const {
    std::lock_guard lock(handlers_mutex_);
    auto service = [&](const std::string& id) -> Slot {
        if (auto it = services_.find(id); it != services_.end()) return it->second;
        if (auto it = services_.find(std::string(any_service)); it != services_.end()) return it->second;
        return nullptr;
    };
    switch (command.kind) {
    case CommandKind::service: return service(command.service_id);
    case CommandKind::rrpc: return rrpc_ ? rrpc_ : service(command.service_id);
    default: {
        auto it = commands_.find(command.kind);
        return it == commands_.end() ? nullptr : it->second;
    }
    }
}

bool ClientCore::read_envelope(const ArrivedTopic& arrived, const std::string& reply_topic,
                               Command& command) {
    Result<Request> request = decode_request(command.payload);
    if (!request) {
        command.id = find_request_id(command.payload);
        refuse_command(command, reply_topic, payload_format_code,
                       "malformed command: " + request.error().message());
        return false;
    }
    command.id = std::move(request->id);
    command.method = std::move(request->method);
    command.params_json = std::move(request->params_json);
    if (std::string why = method_problem(arrived, command.method); !why.empty()) {
        refuse_command(command, reply_topic, method_mismatch_code, why);
        return false;
    }
    if (std::string why = params_problem(command.kind, command.params_json); !why.empty()) {
        refuse_command(command, reply_topic, bad_params_code, why);
        return false;
    }
    if (command.kind == CommandKind::service) command.service_id = arrived.service_id;
    if (command.kind == CommandKind::rrpc) {
        command.message_id = arrived.message_id;
        command.service_id = command.method.substr(std::string_view("thing.service.").size());
    }
    if (command.kind == CommandKind::sub_device_disable || command.kind == CommandKind::sub_device_delete)
        end_sub_device_sessions(command.params_json);
    return true;
}

void ClientCore::handle_command(const ArrivedTopic& arrived, const std::string& topic,
                                const std::string& payload) {
    Command command = command_on(arrived, topic);
    command.payload = payload;
    const std::string reply_topic = command_reply_topic(arrived);

    if (command.kind != CommandKind::raw_down && !read_envelope(arrived, reply_topic, command)) return;

    const Slot slot = find_handler(command);
    if (!slot) {
        ++counters_.commands_unhandled;
        if (command.kind == CommandKind::raw_down) {
            log(LogLevel::warn,
                "raw command on " + topic + " has no handler (raw commands get no default answer)");
            return;
        }
        send_command_reply(command, reply_topic,
                           CommandReply::error(no_handler_code, "downstream command handler not registered"));
        return;
    }
    if (slot->sync) {
        CommandReply reply;
        try {
            reply = slot->sync(command);
        } catch (const std::exception& e) {
            reply = CommandReply::failed(handler_failure(e.what()));
        } catch (...) {
            reply = CommandReply::failed(handler_failure("unknown exception"));
        }
        send_command_reply(command, reply_topic, reply);
        return;
    }
    Responder responder(std::make_shared<ResponderState>(weak_from_this(), command, reply_topic));
    try {
        slot->async(command, responder);
    } catch (const std::exception& e) {
        responder.reply(CommandReply::failed(handler_failure(e.what())));
    } catch (...) {
        responder.reply(CommandReply::failed(handler_failure("unknown exception")));
    }
}

bool ClientCore::queue_command(const ArrivedTopic& arrived, const std::string& topic,
                               const std::string& payload) {
    std::weak_ptr<ClientCore> weak = weak_from_this();
    Dispatcher::Task task;
    std::size_t cost = queued_command_overhead + topic.size();
    if (payload.size() >= limits::max_payload_bytes) {
        // Never queued whole: only the id to answer with travels to the dispatcher.
        std::string id = arrived.kind == DownKind::raw_down ? std::string() : find_request_id(payload);
        cost += id.size();
        task = [weak, arrived, topic, id = std::move(id), size = payload.size(), cost] {
            auto core = weak.lock();
            if (!core) return;
            core->queued_command_bytes_ -= cost;
            core->refuse_oversized_command(arrived, topic, id, size);
        };
    } else {
        cost += payload.size();
        task = [weak, arrived, topic, payload, cost] {
            auto core = weak.lock();
            if (!core) return;
            core->queued_command_bytes_ -= cost;
            core->handle_command(arrived, topic, payload);
        };
    }
    if (queued_command_bytes_.fetch_add(cost) + cost > max_queued_command_bytes) {
        queued_command_bytes_ -= cost;
        ++counters_.commands_dropped;
        if (!dropping_commands_.exchange(true))
            log(LogLevel::warn, "commands dropped: more than " + std::to_string(max_queued_command_bytes) +
                                    " bytes of them wait for the handlers (first on " + topic + ")");
        return false;
    }
    // User code never runs on the transport's thread: once the dispatcher stopped, commands are dropped.
    if (!dispatcher_->post(std::move(task))) {
        queued_command_bytes_ -= cost;
        log(LogLevel::warn, "command on " + topic + " dropped: the client is closing");
    }
    return true;
}

void ClientCore::refuse_oversized_command(const ArrivedTopic& arrived, const std::string& topic,
                                          const std::string& id, std::size_t size) {
    Command command = command_on(arrived, topic);
    command.id = id;
    refuse_command(command, command_reply_topic(arrived), too_large_code,
                   "command too large: " + size_text(size));
}

void ClientCore::refuse_command(const Command& command, const std::string& reply_topic, int code,
                                const std::string& reason) {
    const bool answerable = !command.id.empty() && command.kind != CommandKind::raw_down;
    // The reason names the problem, never the payload's contents.
    std::string outcome = " (answered " + std::to_string(code) + ")";
    if (command.kind == CommandKind::raw_down)
        outcome = " (raw commands get no error reply)";
    else if (!answerable)
        outcome = " (no readable id, not answered)";
    log(LogLevel::warn, "refused the command on " + command.topic + ": " + reason + outcome);
    if (answerable) send_command_reply(command, reply_topic, CommandReply::error(code, reason));
    ++counters_.commands_malformed; // last: whoever sees the count finds the log line and the reply
}

bool ClientCore::addressed_to_us(const ArrivedTopic& arrived) const {
    if (arrived.product_key == options_.product_key && arrived.device_key == options_.device_key) return true;
    std::lock_guard lock(sub_devices_mutex_);
    return sub_devices_.count(arrived.product_key + "/" + arrived.device_key) != 0;
}

std::vector<DeviceIdentity> ClientCore::follow_sub_device_sessions(UpMethod method,
                                                                   const std::string& data_json) {
    std::vector<DeviceIdentity> opened;
    std::vector<std::string> closed;
    if (method == UpMethod::sub_login) {
        if (auto session = decode_sub_login_reply(data_json))
            opened.push_back({session->product_key, session->device_key});
    } else if (method == UpMethod::sub_login_batch) {
        if (auto batch = decode_sub_login_batch_reply(data_json))
            for (const SubDeviceSession& session : batch->logged_in)
                opened.push_back({session.product_key, session.device_key});
    } else if (method == UpMethod::sub_logout) {
        auto device = detail::decode_object<DeviceIdentity>(data_json, "data", detail::read_identity);
        if (device) closed.push_back(device->product_key + "/" + device->device_key);
    }
    if (opened.empty() && closed.empty()) return opened;
    std::lock_guard lock(sub_devices_mutex_);
    for (const DeviceIdentity& d : opened)
        sub_devices_.insert(d.product_key + "/" + d.device_key);
    for (const std::string& key : closed)
        sub_devices_.erase(key);
    return opened;
}

void ClientCore::end_sub_device_sessions(const std::string& params_json) {
    auto devices = decode_sub_device_notice(params_json);
    if (!devices) return;
    std::lock_guard lock(sub_devices_mutex_);
    for (const DeviceIdentity& d : *devices)
        sub_devices_.erase(d.product_key + "/" + d.device_key);
}

void ClientCore::send_command_reply(const Command& command, const std::string& reply_topic,
                                    const CommandReply& reply) {
    std::string body;
    int code = reply.code;
    if (command.kind == CommandKind::raw_down) {
        if (!reply.raw) {
            log(LogLevel::warn, "raw command on " + command.topic + " answered without bytes (code " +
                                    std::to_string(reply.code) + "): nothing sent");
            if (reply.code == handler_failed_code) ++counters_.commands_failed;
            return;
        }
        if (reply.raw->size() >= limits::max_payload_bytes) {
            // Raw replies have no envelope to carry an error code: nothing is sent. Logged before
            // it is counted, so whoever sees the count also finds the reason in the log.
            log(LogLevel::error, "reply to the raw command on " + command.topic +
                                     " not sent: the handler's reply is " + size_text(reply.raw->size()));
            ++counters_.commands_failed;
            return;
        }
        body = *reply.raw;
    } else if (Status s =
                   encode_reply_raw_data(body, command.id, reply.code, reply.message,
                                         reply.data_json.empty() ? std::string_view("{}") : reply.data_json);
               !s) {
        // Invalid JSON in data_json, or a reply above the size limit: still answer, as a failure.
        code = handler_failed_code;
        log(LogLevel::error, "reply to the command on " + command.topic + " (id " +
                                 detail::quoted_excerpt(command.id, 64) +
                                 ") replaced by a 1102 failure: " + s.error().message());
        (void)encode_reply(body, command.id, code,
                           handler_failure("its reply could not be encoded: " + s.error().message()));
    }
    if (code == handler_failed_code) ++counters_.commands_failed;
    if (Status s = transport_->publish(reply_topic, body, command_reply_qos, nullptr); !s) {
        log(LogLevel::warn, "reply on " + reply_topic + " not sent: " + s.error().message());
        return;
    }
    ++counters_.commands_replied;
}

ResponderState::~ResponderState() {
    if (replied.exchange(true)) return;
    if (auto c = core.lock()) {
        try {
            c->send_command_reply(command, reply_topic, CommandReply::failed(handler_failure("no reply")));
        } catch (...) {
        }
    }
}

} // namespace detail

bool Responder::reply(CommandReply reply) const noexcept {
    if (!state_ || state_->replied.exchange(true)) return false;
    auto core = state_->core.lock();
    if (!core) return false;
    try {
        core->send_command_reply(state_->command, state_->reply_topic, reply);
    } catch (...) {
        return false;
    }
    return true;
}

bool Responder::pending() const noexcept {
    return state_ && !state_->replied.load();
}

const Command& Responder::command() const noexcept {
    static const Command none;
    return state_ ? state_->command : none;
}

} // namespace enos::device
