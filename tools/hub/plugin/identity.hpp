// Who an authenticated MQTT connection is, as far as the topic rules care.
#pragma once

#include <string>

namespace enos::hub::plugin {

enum class Role {
    device,      ///< securemode 2: a device or gateway with its deviceSecret
    activation,  ///< securemode 3: a device fetching its deviceSecret (activate/info topics only)
    integration, ///< securemode 4: the message-integration channel of a product
    admin,       ///< the hub's own identity (simulator, injection and query commands)
};

struct Identity {
    Role role = Role::device;
    std::string product_key, device_key; ///< device_key is "%channel%" for integration; both empty for admin
    std::string raw_client_id;           ///< the part of the MQTT client id before the first '|'
    int secure_mode = 0;
    bool gateway = false;
    /// The client id announced {compress=GZIP} (docs/protocol.md §1.6): every payload of this
    /// connection is gzip in both directions.
    bool gzip = false;

    /// "pk/dk": the key of the per-device state (rate limit, connection count, sub-device sessions).
    std::string key() const { return product_key + "/" + device_key; }
};

} // namespace enos::hub::plugin
