// The DeviceClient facade: argument plumbing into the core. Every request form of every method goes
// through ClientCore::prepare() and one of send_blocking / send_async / send_nowait.
#include "client/client_core.hpp"
#include "transport/paho_transport.hpp"

#include "client/testing.hpp"
#include <enos/device/client/sub_device.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/payload.hpp>

#include <chrono>

namespace enos::device {
namespace {

Error closed_error() {
    return Error{errc::shutting_down, "the client was moved from or closed"};
}

} // namespace

// ---- lifetime --------------------------------------------------------------------------------------

Result<DeviceClient> DeviceClient::create(ClientOptions options) {
    LogSink sink = options.log_sink;
    const LogLevel level = options.log_level;
    auto transport =
        std::make_unique<detail::PahoTransport>([sink, level](LogLevel l, const std::string& text) {
            if (l < level || l == LogLevel::off || !sink) return;
            try {
                sink(l, text);
            } catch (...) {
            }
        });
    return detail::create_client(std::move(options), std::move(transport),
                                 std::make_shared<detail::SteadyClock>());
}

DeviceClient::DeviceClient(std::shared_ptr<detail::ClientCore> core) noexcept : core_(std::move(core)) {}

DeviceClient::DeviceClient(DeviceClient&& other) noexcept = default;

DeviceClient& DeviceClient::operator=(DeviceClient&& other) noexcept {
    if (this != &other) {
        if (core_) core_->shutdown();
        core_ = std::move(other.core_);
    }
    return *this;
}

DeviceClient::~DeviceClient() {
    // Shut down first: after that no transport callback or timer can hold the core, so the last
    // reference goes away here (or in a dispatcher task still running, which is fine too).
    if (core_) core_->shutdown();
}

Status DeviceClient::connect() {
    return core_ ? core_->connect() : Status(closed_error());
}
Status DeviceClient::disconnect() {
    return core_ ? core_->disconnect() : Status(closed_error());
}
ConnectionState DeviceClient::state() const noexcept {
    if (!core_) return ConnectionState::closed;
    try {
        return core_->state();
    } catch (...) {
        return ConnectionState::closed;
    }
}

void DeviceClient::on_connection(ConnectionHandler handler) {
    if (core_) core_->set_connection_handler(std::move(handler));
}

ClientStats DeviceClient::stats() const noexcept {
    if (!core_) return {};
    try {
        return core_->stats();
    } catch (...) {
        return {};
    }
}

const std::string& DeviceClient::product_key() const noexcept {
    static const std::string none;
    return core_ ? core_->options().product_key : none;
}

const std::string& DeviceClient::device_key() const noexcept {
    static const std::string none;
    return core_ ? core_->options().device_key : none;
}

// ---- commands --------------------------------------------------------------------------------------

void DeviceClient::on_service(std::string service_id, ServiceHandler handler) {
    if (core_) core_->set_service_handler(std::move(service_id), {std::move(handler), nullptr});
}
void DeviceClient::on_service_async(std::string service_id, AsyncCommandHandler handler) {
    if (core_) core_->set_service_handler(std::move(service_id), {nullptr, std::move(handler)});
}
void DeviceClient::on_rrpc(RrpcHandler handler) {
    if (core_) core_->set_rrpc_handler({std::move(handler), nullptr});
}
void DeviceClient::on_rrpc_async(AsyncCommandHandler handler) {
    if (core_) core_->set_rrpc_handler({nullptr, std::move(handler)});
}
void DeviceClient::on_command(CommandKind kind, CommandHandler handler) {
    if (kind == CommandKind::service || kind == CommandKind::rrpc) return; // on_service / on_rrpc
    if (core_) core_->set_command_handler(kind, {std::move(handler), nullptr});
}
void DeviceClient::on_command_async(CommandKind kind, AsyncCommandHandler handler) {
    if (kind == CommandKind::service || kind == CommandKind::rrpc) return;
    if (core_) core_->set_command_handler(kind, {nullptr, std::move(handler)});
}

// ---- gateway ---------------------------------------------------------------------------------------

SubDevice DeviceClient::sub_device(std::string product_key, std::string device_key) const {
    return SubDevice(core_, std::move(product_key), std::move(device_key));
}

Result<SubDeviceLoginReport> DeviceClient::log_in_sub_devices(std::vector<SubDeviceSecret> devices,
                                                              std::chrono::milliseconds timeout) {
    if (!core_) return closed_error();
    return core_->log_in_sub_devices(std::move(devices), timeout);
}

Status DeviceClient::log_out_sub_device(const DeviceIdentity& device) {
    if (!core_) return closed_error();
    return core_->log_out_sub_device(device);
}

SubDeviceState DeviceClient::sub_device_state(const DeviceIdentity& device) const {
    return core_ ? core_->sub_device_state(device.product_key, device.device_key) : SubDeviceState::unknown;
}

void DeviceClient::on_sub_device_session(SubDeviceSessionHandler handler) {
    if (core_) core_->set_session_handler(std::move(handler));
}

// ---- firmware version ------------------------------------------------------------------------------

void DeviceClient::set_firmware_version(std::string version) {
    if (core_) core_->set_firmware_version(std::move(version));
}

std::string DeviceClient::firmware_version() const {
    return core_ ? core_->firmware_version() : std::string();
}

// ---- requests --------------------------------------------------------------------------------------

Result<Response> DeviceClient::send_body(RequestBody body, const SendOptions& options) {
    if (!core_) return closed_error();
    Result<detail::PreparedRequest> request = core_->prepare(std::move(body), options);
    if (!request) return request.error();
    return core_->send_blocking(std::move(*request));
}

void DeviceClient::send_body_async(RequestBody body, ResponseCallback callback, const SendOptions& options) {
    if (!core_) return fail_async(std::move(callback), closed_error());
    Result<detail::PreparedRequest> request = core_->prepare(std::move(body), options);
    if (!request) return core_->fail_async(std::move(callback), request.error());
    core_->send_async(std::move(*request), std::move(callback));
}

Status DeviceClient::send_body_nowait(RequestBody body, const SendOptions& options) {
    if (!core_) return closed_error();
    Result<detail::PreparedRequest> request = core_->prepare(std::move(body), options);
    if (!request) return request.error();
    return core_->send_nowait(std::move(*request));
}

std::int64_t DeviceClient::wall_clock_ms() const {
    return core_ ? core_->wall_clock_ms() : detail::wall_clock_ms();
}

void DeviceClient::fail_async(ResponseCallback callback, Error error) {
    if (core_)
        core_->fail_async(std::move(callback), std::move(error));
    else if (callback) // no dispatcher left: a moved-from client answers on the caller's thread
        callback(std::move(error));
}

// ---- test hooks ------------------------------------------------------------------------------------

namespace detail {

Result<DeviceClient> make_client(std::shared_ptr<ClientCore> core) {
    return DeviceClient(std::move(core));
}

Result<DeviceClient> create_client(ClientOptions options, std::unique_ptr<Transport> transport,
                                   std::shared_ptr<const Clock> clock) {
    Result<std::shared_ptr<ClientCore>> core =
        ClientCore::create(std::move(options), std::move(transport), std::move(clock));
    if (!core) return core.error();
    return make_client(std::move(*core));
}

void run_due_timers(DeviceClient& client) {
    if (client.core_) client.core_->run_due_timers();
}

} // namespace detail
} // namespace enos::device
