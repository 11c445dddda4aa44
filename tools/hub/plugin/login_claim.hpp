// Who a CONNECT claims to be, read from its client id and username alone (docs/protocol.md §1.2–1.3):
// a pure function, so the hub's parsing of untrusted credentials can be tested and fuzzed without a
// registry, a database or a broker. Whether the claim holds (known device, right signature) is the
// Authenticator's business.
#pragma once

#include "identity.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/result.hpp>

#include <string_view>

namespace enos::hub::plugin {

struct LoginClaim {
    Identity identity;                   ///< role, keys, raw client id and secure mode; never admin
    enos::device::ClientIdFields fields; ///< what the password must be signed over
};

/// Reads the claim of a device, activation or integration login. errc::invalid_argument, with the
/// reason for the broker log (never a secret), when the client id or username is malformed or the
/// two disagree (the username %channel%&pk belongs to securemode 4 and to nothing else).
enos::device::Result<LoginClaim> parse_login_claim(std::string_view client_id, std::string_view username);

} // namespace enos::hub::plugin
