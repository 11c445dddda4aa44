// Dynamic activation (docs/protocol.md §1.8) apart from the link: where the device secret comes
// from and where it is kept, the cloud's offer and the acknowledgement. The client core owns the
// activation connection and calls these in order: read the offer, keep the secret, acknowledge.
#pragma once

#include <enos/device/client/options.hpp>
#include <enos/device/core/result.hpp>

#include <string>

namespace enos::device::detail {

/// The secret to connect with: the configured one, else the one kept in device_secret_file. Empty
/// when there is none yet and dynamic activation has to fetch it.
Result<std::string> load_device_secret(const ClientOptions& options);

/// The cloud's thing.activate.info message, checked to name this device.
struct ActivationOffer {
    std::string request_id;
    std::string device_secret;
};
Result<ActivationOffer> read_activation_offer(const std::string& payload, const ClientOptions& options);

/// Keeps the secret in device_secret_file (durably) and hands it to on_device_secret. The cloud
/// issues it once, so an error means it must not be acknowledged.
Status keep_device_secret(const std::string& secret, const ClientOptions& options);

/// The acknowledgement of a kept secret: after it the cloud forgets the offer.
struct ActivationAck {
    std::string topic;
    std::string payload;
};
Result<ActivationAck> activation_ack(const ActivationOffer& offer, const ClientOptions& options);

} // namespace enos::device::detail
