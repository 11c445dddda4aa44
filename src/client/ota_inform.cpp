// The firmware version a client reports with ota.device.inform (docs/protocol.md §3.12): kept in
// the core so that every connect reports the version running now, including one an OtaUpdater
// installed after the client was created.
#include "client/client_core.hpp"

#include <enos/device/core/payload/ota.hpp>

namespace enos::device::detail {

void ClientCore::set_firmware_version(std::string version) {
    std::lock_guard lock(firmware_mutex_);
    firmware_version_ = std::move(version);
}

std::string ClientCore::firmware_version() const {
    std::lock_guard lock(firmware_mutex_);
    return firmware_version_ ? *firmware_version_ : options_.ota.firmware_version;
}

void ClientCore::inform_firmware_version() {
    // The integration channel speaks for many devices and may not use ota/ topics.
    if (!options_.ota.inform_on_connect || options_.integration_channel) return;
    const std::string version = firmware_version();
    if (version.empty()) return;
    Result<PreparedRequest> request = [&]() -> Result<PreparedRequest> {
        Result<RequestBody> body = encode_body(up::OtaInform{version}, wall_clock_ms());
        if (!body) return body.error();
        return prepare(std::move(*body), SendOptions{});
    }();
    if (!request) {
        log(LogLevel::warn, "cannot report firmware version: " + request.error().message());
        return;
    }
    // Asynchronous: this runs on the dispatcher, before the application's connection handler.
    std::weak_ptr<ClientCore> weak = weak_from_this();
    send_async(std::move(*request), [weak, version](Result<Response> reply) {
        auto core = weak.lock();
        if (!core) return;
        if (reply)
            core->log(LogLevel::debug, "reported firmware version " + version);
        else
            core->log(LogLevel::warn,
                      "reporting firmware version " + version + " failed: " + reply.error().message());
    });
}

} // namespace enos::device::detail
