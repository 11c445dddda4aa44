// Commands from the cloud (docs/protocol.md §4) and how the application answers them.
#pragma once

#include <enos/device/client/export.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/value.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace enos::device {

enum class CommandKind {
    service,            ///< §4.3 /sys/{pk}/{dk}/thing/service/{serviceId}
    rrpc,               ///< §4.4 /sys/{pk}/{dk}/rrpc/request/{messageId}
    measurepoint_set,   ///< §4.1 params: identifier -> value
    measurepoint_get,   ///< §4.2 params: array of identifiers; reply data: identifier -> value
    raw_down,           ///< §4.5 bytes; reply with CommandReply::bytes()
    traffic_control,    ///< §4.9
    device_enable,      ///< §4.7 legacy thing.enable
    device_disable,     ///< §4.7 legacy thing.disable
    device_delete,      ///< §4.7 legacy thing.delete
    ota_upgrade,        ///< §4.8 params: version, sign, signMethod, fileUrl, fileSize
    sub_device_enable,  ///< §4.6 params: [{productKey, deviceKey}]
    sub_device_disable, ///< §4.6
    sub_device_delete,  ///< §4.6
};

/// One command as it arrived. Handlers receive it by const reference; copy what must outlive the call.
struct Command {
    CommandKind kind = CommandKind::service;
    std::string topic;       ///< the topic it arrived on
    std::string product_key; ///< device the command is for (a sub-device's on a gateway)
    std::string device_key;
    std::string id;          ///< request id, echoed in the reply (empty for raw_down)
    std::string method;      ///< e.g. "thing.service.setPower"
    std::string service_id;  ///< service and rrpc: "setPower" (from the topic, or the method for rrpc)
    std::string message_id;  ///< rrpc: the last topic level, where the response goes
    std::string params_json; ///< JSON text of "params" (empty for raw_down)
    std::string payload;     ///< the payload as received (raw_down: the bytes)

    /// The params as a Value (object, or array for measurepoint_get and sub-device notices).
    Result<Value> params() const { return parse_value(params_json); }
};

using ServiceCall = Command;
using RrpcCall = Command;

/// What a handler answers. Build it with the factories; the reply is published at QoS 0 on the
/// command's reply topic with the command's id.
struct CommandReply {
    int code = 200;
    std::string message;
    std::string data_json;          ///< JSON text of "data"; empty: {}
    std::optional<std::string> raw; ///< raw_down only: bytes sent as they are, without an envelope

    CommandReply() = default;
    /// A failed handler: code 1102 and the error's text (docs/protocol.md §6.2).
    CommandReply(const Error& error) : code(1102), message(error.message()) {}

    static CommandReply ok() { return {}; }
    static CommandReply ok(const Value& data) { return ok_json(to_json(data)); }
    /// data_json must be valid JSON; otherwise the SDK answers 1102 instead.
    static CommandReply ok_json(std::string data_json) {
        CommandReply r;
        r.data_json = std::move(data_json);
        return r;
    }
    /// An application-defined failure; EnOS reserves codes below 2000 for itself.
    static CommandReply error(int code, std::string message) {
        CommandReply r;
        r.code = code;
        r.message = std::move(message);
        return r;
    }
    /// The handler could not do it: code 1102 with this text.
    static CommandReply failed(std::string message) { return error(1102, std::move(message)); }
    /// raw_down: answer with these bytes on down_raw_reply.
    static CommandReply bytes(std::string payload) {
        CommandReply r;
        r.raw = std::move(payload);
        return r;
    }
};

namespace detail {
struct ResponderState;
}

/// Lets a handler answer later (long-running services). Copyable; all copies share one reply slot.
/// The first reply() wins; later ones return false. If the last copy is destroyed without a reply,
/// the SDK answers 1102 "no reply" so the cloud is not left waiting. May be used from any thread,
/// and after the DeviceClient is gone (then reply() returns false and nothing is sent).
class ENOS_DEVICE_API Responder {
public:
    Responder() = default;
    /// Publishes the reply; true if this call answered the command.
    bool reply(CommandReply reply) const noexcept;
    /// True until someone replied.
    bool pending() const noexcept;
    /// The command being answered (empty Command for a default-constructed Responder).
    const Command& command() const noexcept;

    explicit Responder(std::shared_ptr<detail::ResponderState> state) : state_(std::move(state)) {}

private:
    std::shared_ptr<detail::ResponderState> state_;
};

/// Answers a command on the dispatcher thread. Throwing is allowed: the reply is 1102 with the
/// exception's text. Return an Error (implicitly converted) for the same effect without throwing.
using CommandHandler = std::function<CommandReply(const Command&)>;
/// Answers later through the Responder (which may be moved to another thread).
using AsyncCommandHandler = std::function<void(const Command&, Responder)>;
using ServiceHandler = CommandHandler;
using RrpcHandler = CommandHandler;

/// Service id that selects every service without a handler of its own.
inline constexpr std::string_view any_service = "*";

constexpr std::string_view to_string(CommandKind kind) noexcept {
    switch (kind) {
    case CommandKind::service: return "service";
    case CommandKind::rrpc: return "rrpc";
    case CommandKind::measurepoint_set: return "measurepoint_set";
    case CommandKind::measurepoint_get: return "measurepoint_get";
    case CommandKind::raw_down: return "raw_down";
    case CommandKind::traffic_control: return "traffic_control";
    case CommandKind::device_enable: return "device_enable";
    case CommandKind::device_disable: return "device_disable";
    case CommandKind::device_delete: return "device_delete";
    case CommandKind::ota_upgrade: return "ota_upgrade";
    case CommandKind::sub_device_enable: return "sub_device_enable";
    case CommandKind::sub_device_disable: return "sub_device_disable";
    case CommandKind::sub_device_delete: return "sub_device_delete";
    }
    return "unknown";
}

} // namespace enos::device
