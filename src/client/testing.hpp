// Hooks for the SDK's own unit tests: a client over a substitute transport and clock. Not part of
// the stable API.
#pragma once

#include "client/clock.hpp"
#include "transport/transport.hpp"
#include <enos/device/client/device_client.hpp>

#include <chrono>
#include <memory>

namespace enos::device::detail {

/// Like DeviceClient::create(), with the given transport and clock.
Result<DeviceClient> create_client(ClientOptions options, std::unique_ptr<Transport> transport,
                                   std::shared_ptr<const Clock> clock);

/// Like DeviceClient::create() (the Paho transport, the steady clock), except that every connect
/// asks the broker for `keep_alive` instead of options.keep_alive, which is still validated as
/// usual. Lets tests watch keep-alive behaviour (half-open links) in seconds instead of minutes.
Result<DeviceClient> create_client_with_keep_alive(ClientOptions options, std::chrono::seconds keep_alive);

/// Runs the timers that are due by the client's clock, on the calling thread (for a manual clock;
/// with the steady clock the SDK's timer thread does it by itself).
void run_due_timers(DeviceClient& client);

} // namespace enos::device::detail
