// SubDevice: a gateway's handle on one of its sub-devices (docs/client.md, "Gateway"). Requests sent
// through it go to the sub-device's topics over the gateway's connection; its handlers answer the
// commands that arrive on the sub-device's topics.
//
// A SubDevice is cheap and copyable: it holds the keys and a weak reference to the client's core,
// so it may outlive its DeviceClient (its calls then fail with errc::shutting_down and registering
// handlers does nothing). Its methods are thread-safe and run their callbacks on the client's
// dispatcher thread, like DeviceClient's.
#pragma once

#include <enos/device/client/device_client.hpp>
#include <enos/device/client/export.hpp>
#include <enos/device/client/sub_device_session.hpp>

#include <memory>
#include <string>

namespace enos::device {

class ENOS_DEVICE_API SubDevice {
public:
    /// An empty handle: every call fails with errc::shutting_down.
    SubDevice() = default;

    const std::string& product_key() const noexcept { return product_key_; }
    const std::string& device_key() const noexcept { return device_key_; }
    DeviceIdentity identity() const { return {product_key_, device_key_}; }
    /// Its session as the gateway's client knows it.
    SubDeviceState state() const;

    // --- requests: as DeviceClient's, on this sub-device's topics ---------------------------------
    // options.product_key / device_key are replaced by this sub-device's. A sub-device that is
    // disabled or deleted fails at once with errc::sub_device_disabled; one whose login failed, or
    // that was never logged in through this client, with errc::sub_device_offline. While it is being
    // logged in again after a reconnect, queued reports (offline queue) wait, other requests fail
    // with errc::sub_device_offline.

    template <class Request> Result<Response> send(const Request& request, SendOptions options = {}) const {
        Result<RequestBody> body = encode_body(request, wall_clock_ms());
        if (!body) return body.error();
        return send_body(std::move(*body), std::move(options));
    }

    template <class Request>
    void send_async(const Request& request, ResponseCallback callback, SendOptions options = {}) const {
        Result<RequestBody> body = encode_body(request, wall_clock_ms());
        if (!body) return fail_async(std::move(callback), body.error());
        send_body_async(std::move(*body), std::move(callback), std::move(options));
    }

    template <class Request> Status send_nowait(const Request& request, SendOptions options = {}) const {
        Result<RequestBody> body = encode_body(request, wall_clock_ms());
        if (!body) return body.error();
        return send_body_nowait(std::move(*body), std::move(options));
    }

    // --- commands on this sub-device's topics ---------------------------------------------------
    // Same rules as DeviceClient's. A command of a kind this sub-device has no handler for goes to
    // the gateway's handler of that kind (Command::product_key/device_key name the sub-device),
    // else it is answered 1101. An empty std::function removes the handler.

    void on_service(std::string service_id, ServiceHandler handler) const;
    void on_service_async(std::string service_id, AsyncCommandHandler handler) const;
    void on_rrpc(RrpcHandler handler) const;
    void on_rrpc_async(AsyncCommandHandler handler) const;
    void on_command(CommandKind kind, CommandHandler handler) const;
    void on_command_async(CommandKind kind, AsyncCommandHandler handler) const;

private:
    friend class DeviceClient;
    SubDevice(std::weak_ptr<detail::ClientCore> core, std::string product_key, std::string device_key);

    Result<Response> send_body(RequestBody body, SendOptions options) const;
    void send_body_async(RequestBody body, ResponseCallback callback, SendOptions options) const;
    Status send_body_nowait(RequestBody body, SendOptions options) const;
    std::int64_t wall_clock_ms() const;
    void fail_async(ResponseCallback callback, Error error) const;

    std::weak_ptr<detail::ClientCore> core_;
    std::string product_key_, device_key_;
};

} // namespace enos::device
