// ClientOptions checked once at create(), so that a mistake is reported before any connect.
#pragma once

#include <enos/device/client/options.hpp>
#include <enos/device/core/result.hpp>

namespace enos::device::detail {

/// Which option is wrong and why; never the value of a secret.
Status validate(const ClientOptions& options);

/// server_url starts with ssl://.
bool uses_tls(const ClientOptions& options);

} // namespace enos::device::detail
