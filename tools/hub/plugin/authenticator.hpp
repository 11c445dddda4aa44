// CONNECT authentication per docs/protocol.md §1.2–1.4 and §1.8: parse the client id and username, find
// the device or product in the registry (and the simulator's activations), apply the connection rate
// limit, and verify the signature. Knows nothing about mosquitto, so the decisions stay readable.
#pragma once

#include "activation_store.hpp"
#include "connect_limiter.hpp"
#include "identity.hpp"
#include "login_claim.hpp"

#include "../registry.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace enos::hub::plugin {

/// Whether the raw client id announces {…,compress=GZIP,…} (docs/protocol.md §1.6). DEFAULT or no
/// announcement is false; LZ4, LZO and unknown values are refused with the reason.
Result<bool> announces_gzip(std::string_view raw_client_id);

struct AuthRequest {
    std::string_view client_id, username, password;
};

struct AuthResult {
    std::optional<Identity> identity; ///< set when accepted
    std::string reason;               ///< why not (never contains a secret)
};

class Authenticator {
public:
    Authenticator(const Registry& registry, const ActivationStore& activations, ConnectLimiter& limiter,
                  std::string admin_username, std::string admin_token)
        : registry_(registry), activations_(activations), limiter_(limiter),
          admin_username_(std::move(admin_username)), admin_token_(std::move(admin_token)) {}

    /// `store_error` receives a description when hub.db could not be read (the caller logs it).
    AuthResult authenticate(const AuthRequest& request, ConnectLimiter::Clock::time_point now,
                            std::string& store_error);

private:
    /// The secret the CONNECT must be signed with, or why the identity may not log in at all.
    struct Secret {
        std::string value;
        std::string refusal;
    };
    /// `device` is the registry's or the registered device (null for the integration channel).
    Secret secret_for(const Identity& who, const Device* device, std::string& store_error) const;

    const Registry& registry_;
    const ActivationStore& activations_;
    ConnectLimiter& limiter_;
    std::string admin_username_, admin_token_;
};

} // namespace enos::hub::plugin
