#include "client/options_check.hpp"

#include "crypto/tls_check.hpp"

#include <enos/device/core/credentials.hpp>

#include <ctime>
#include <string_view>

namespace enos::device::detail {
namespace {

bool has_scheme(const std::string& url, std::string_view scheme) {
    return url.compare(0, scheme.size(), scheme) == 0;
}

Status check_secrets(const ClientOptions& o) {
    if (o.integration_channel) {
        // One secret per mode: a device secret here would be a sign of a mixed-up configuration.
        if (!o.device_secret.empty() || !o.device_secret_file.empty())
            return Error{errc::invalid_argument,
                         "the integration channel signs with product_secret: leave device_secret and "
                         "device_secret_file empty"};
        if (o.product_secret.empty())
            return Error{errc::missing_argument, "no secret: the integration channel needs product_secret"};
        return {};
    }
    if (!o.device_secret.empty()) return {};
    if (o.product_secret.empty() && o.device_secret_file.empty())
        return Error{errc::missing_argument,
                     "no secret: set device_secret, or product_secret for dynamic activation"};
    if (!o.product_secret.empty() && o.device_secret_file.empty() && !o.on_device_secret)
        return Error{errc::missing_argument,
                     "dynamic activation needs device_secret_file or on_device_secret: the cloud issues "
                     "the device secret only once"};
    return {};
}

} // namespace

bool uses_tls(const ClientOptions& options) {
    return has_scheme(options.server_url, "ssl://");
}

Status validate(const ClientOptions& o) {
    if (Status s = check_key("product_key", o.product_key); !s) return s;
    if (o.integration_channel) {
        if (!o.device_key.empty())
            return Error{errc::invalid_argument,
                         "device_key must be empty on the integration channel (it connects as %channel%; "
                         "each record names its device)"};
    } else if (Status s = check_key("device_key", o.device_key); !s) {
        return s;
    }
    if (!has_scheme(o.server_url, "tcp://") && !uses_tls(o))
        return Error{errc::invalid_argument,
                     "server_url must start with tcp:// or ssl:// (got '" + o.server_url + "')"};
    if (o.keep_alive < std::chrono::seconds(60) || o.keep_alive > std::chrono::seconds(300))
        return Error{errc::invalid_argument,
                     "keep_alive must be 60..300 s (EnOS accepts no other heartbeat)"};
    if (o.connect_timeout <= std::chrono::milliseconds(0) ||
        o.request_timeout <= std::chrono::milliseconds(0) ||
        o.activation_timeout <= std::chrono::milliseconds(0) ||
        o.shutdown_timeout < std::chrono::milliseconds(0) ||
        o.retry_after_refusal < std::chrono::milliseconds(0))
        return Error{errc::invalid_argument, "timeouts must be positive"};
    if (o.max_inflight < 1) return Error{errc::invalid_argument, "max_inflight must be at least 1"};
    if (o.compression != PayloadCompression::none && o.compression != PayloadCompression::gzip)
        return Error{errc::invalid_argument, "compression must be none or gzip"};
    if (Status s = check_secrets(o); !s) return s;
    // The credentials are rebuilt at every connect; check once now that they can be built at all.
    CredentialInput in;
    in.product_key = o.product_key;
    in.device_key = o.device_key;
    in.secret = "x";
    if (o.integration_channel) in.mode = SecureMode::integration;
    in.method = o.sign_method;
    in.hex_case = o.hex_case;
    in.client_id = o.client_id;
    if (auto c = make_connect_credentials(in); !c) return c.error();
    if (uses_tls(o)) return check_tls_files(o.tls, std::time(nullptr));
    if (!o.tls.cert_file.empty() || !o.tls.key_file.empty())
        return Error{errc::invalid_argument, "a client certificate needs an ssl:// server_url"};
    return {};
}

} // namespace enos::device::detail
