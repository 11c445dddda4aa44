// The SubDevice handle: the keys and a weak reference to the core; every call goes through the same
// core paths as DeviceClient's, with the sub-device's keys.
#include "client/client_core.hpp"

#include <enos/device/client/sub_device.hpp>

namespace enos::device {
namespace {

Error gone_error() {
    return Error{errc::shutting_down, "the gateway's client is gone (or this SubDevice is empty)"};
}

/// The request as the sub-device's: its keys replace whatever the options named.
Result<detail::PreparedRequest> prepare_as(detail::ClientCore& core, const SubDevice& sub, RequestBody body,
                                           SendOptions options) {
    options.product_key = sub.product_key();
    options.device_key = sub.device_key();
    return core.prepare(std::move(body), options);
}

} // namespace

SubDevice::SubDevice(std::weak_ptr<detail::ClientCore> core, std::string product_key, std::string device_key)
    : core_(std::move(core)), product_key_(std::move(product_key)), device_key_(std::move(device_key)) {}

SubDeviceState SubDevice::state() const {
    auto core = core_.lock();
    return core ? core->sub_device_state(product_key_, device_key_) : SubDeviceState::unknown;
}

Result<Response> SubDevice::send_body(RequestBody body, SendOptions options) const {
    auto core = core_.lock();
    if (!core) return gone_error();
    Result<detail::PreparedRequest> request = prepare_as(*core, *this, std::move(body), std::move(options));
    if (!request) return request.error();
    return core->send_blocking(std::move(*request));
}

void SubDevice::send_body_async(RequestBody body, ResponseCallback callback, SendOptions options) const {
    auto core = core_.lock();
    if (!core) return fail_async(std::move(callback), gone_error());
    Result<detail::PreparedRequest> request = prepare_as(*core, *this, std::move(body), std::move(options));
    if (!request) return core->fail_async(std::move(callback), request.error());
    core->send_async(std::move(*request), std::move(callback));
}

Status SubDevice::send_body_nowait(RequestBody body, SendOptions options) const {
    auto core = core_.lock();
    if (!core) return gone_error();
    Result<detail::PreparedRequest> request = prepare_as(*core, *this, std::move(body), std::move(options));
    if (!request) return request.error();
    return core->send_nowait(std::move(*request));
}

std::int64_t SubDevice::wall_clock_ms() const {
    auto core = core_.lock();
    return core ? core->wall_clock_ms() : detail::wall_clock_ms();
}

void SubDevice::fail_async(ResponseCallback callback, Error error) const {
    if (auto core = core_.lock())
        core->fail_async(std::move(callback), std::move(error));
    else if (callback) // no dispatcher left: answered on the caller's thread
        callback(std::move(error));
}

void SubDevice::on_service(std::string service_id, ServiceHandler handler) const {
    if (auto core = core_.lock())
        core->set_sub_service_handler(identity(), std::move(service_id), {std::move(handler), nullptr});
}
void SubDevice::on_service_async(std::string service_id, AsyncCommandHandler handler) const {
    if (auto core = core_.lock())
        core->set_sub_service_handler(identity(), std::move(service_id), {nullptr, std::move(handler)});
}
void SubDevice::on_rrpc(RrpcHandler handler) const {
    if (auto core = core_.lock()) core->set_sub_rrpc_handler(identity(), {std::move(handler), nullptr});
}
void SubDevice::on_rrpc_async(AsyncCommandHandler handler) const {
    if (auto core = core_.lock()) core->set_sub_rrpc_handler(identity(), {nullptr, std::move(handler)});
}
void SubDevice::on_command(CommandKind kind, CommandHandler handler) const {
    if (kind == CommandKind::service || kind == CommandKind::rrpc) return; // on_service / on_rrpc
    if (auto core = core_.lock())
        core->set_sub_command_handler(identity(), kind, {std::move(handler), nullptr});
}
void SubDevice::on_command_async(CommandKind kind, AsyncCommandHandler handler) const {
    if (kind == CommandKind::service || kind == CommandKind::rrpc) return;
    if (auto core = core_.lock())
        core->set_sub_command_handler(identity(), kind, {nullptr, std::move(handler)});
}

} // namespace enos::device
