// Checks of the TLS files before connecting, with mbedTLS, so that a wrong clock, an expired
// certificate or a key of another certificate is reported in words a user can act on instead of an
// opaque handshake failure. The TLS session itself is Paho's (OpenSSL); nothing here touches it.
#pragma once

#include <enos/device/client/options.hpp>
#include <enos/device/core/result.hpp>

#include <ctime>

namespace enos::device::detail {

/// Readable CA file; client certificate and key both given or both absent, readable, the key
/// belonging to the certificate, and the certificate valid at `now` (seconds since the epoch, UTC).
Status check_tls_files(const TlsOptions& tls, std::time_t now);

} // namespace enos::device::detail
