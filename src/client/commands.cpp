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
constexpr int payload_format_code = 1220;

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

/// The id of a command that failed to decode, when there is one to echo.
std::string readable_id(std::string_view payload) {
    Result<Value> parsed = parse_value(payload);
    if (!parsed || !parsed->is_object()) return {};
    const Value* id = parsed->find("id");
    if (id == nullptr) return {};
    if (id->is_string()) return id->as_string();
    if (id->is_int()) return std::to_string(id->as_int());
    return {};
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

void ClientCore::handle_command(const ArrivedTopic& arrived, const std::string& topic,
                                const std::string& payload) {
    Command command;
    command.kind = command_kind(arrived.kind);
    command.topic = topic;
    command.product_key = arrived.product_key;
    command.device_key = arrived.device_key;
    command.payload = payload;
    const std::string reply_topic = command_reply_topic(arrived);

    if (command.kind != CommandKind::raw_down) {
        Result<Request> request = decode_request(payload);
        if (!request) {
            ++counters_.commands_malformed;
            command.id = readable_id(payload);
            log(LogLevel::warn, "malformed command on " + topic + ": " + request.error().message() +
                                    (command.id.empty() ? " (no id, not answered)" : ""));
            if (!command.id.empty())
                send_command_reply(command, reply_topic,
                                   CommandReply::error(payload_format_code,
                                                       "malformed command: " + request.error().message()));
            return;
        }
        command.id = std::move(request->id);
        command.method = std::move(request->method);
        command.params_json = std::move(request->params_json);
        if (command.kind == CommandKind::service) command.service_id = arrived.service_id;
        if (command.kind == CommandKind::rrpc) {
            command.message_id = arrived.message_id;
            constexpr std::string_view prefix = "thing.service.";
            if (command.method.compare(0, prefix.size(), prefix) == 0)
                command.service_id = command.method.substr(prefix.size());
        }
    }

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

void ClientCore::send_command_reply(const Command& command, const std::string& reply_topic,
                                    const CommandReply& reply) {
    std::string body;
    int code = reply.code;
    if (command.kind == CommandKind::raw_down) {
        if (!reply.raw) {
            log(LogLevel::warn, "raw command on " + command.topic + " answered without bytes (code " +
                                    std::to_string(reply.code) + "): nothing sent");
            if (reply.code == 1102) ++counters_.commands_failed;
            return;
        }
        body = *reply.raw;
    } else if (Status s =
                   encode_reply_raw_data(body, command.id, reply.code, reply.message,
                                         reply.data_json.empty() ? std::string_view("{}") : reply.data_json);
               !s) {
        // Invalid JSON in data_json, or a reply above the size limit: still answer, as a failure.
        code = 1102;
        (void)encode_reply(body, command.id, code,
                           handler_failure("its reply could not be encoded: " + s.error().message()));
    }
    if (code == 1102) ++counters_.commands_failed;
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
