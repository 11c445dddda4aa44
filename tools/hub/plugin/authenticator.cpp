#include "authenticator.hpp"

#include <enos/device/core/sign.hpp>

namespace enos::hub::plugin {

namespace dev = enos::device;
using dev::errc;
using dev::Error;

namespace {

AuthResult refuse(std::string reason) {
    return AuthResult{std::nullopt, std::move(reason)};
}

// Exact comparison whose duration does not depend on where the inputs differ.
bool token_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
    return diff == 0;
}

} // namespace

Result<bool> announces_gzip(std::string_view raw_client_id) {
    // "{k=v,k=v}" at the end of the raw client id; only the key compress matters here.
    const std::size_t open = raw_client_id.find('{');
    if (open == std::string_view::npos || raw_client_id.back() != '}') return false;
    std::string_view items = raw_client_id.substr(open + 1, raw_client_id.size() - open - 2);
    bool gzip = false;
    while (!items.empty()) {
        const std::size_t comma = items.find(',');
        const std::string_view item = items.substr(0, comma);
        items = comma == std::string_view::npos ? std::string_view() : items.substr(comma + 1);
        if (item.substr(0, 9) != "compress=") continue;
        const std::string_view value = item.substr(9);
        if (value == "GZIP") {
            gzip = true;
        } else if (value == "LZ4" || value == "LZO") {
            return Error{errc::invalid_argument, "payload compression " + std::string(value) +
                                                     " is not supported by enos-hub (GZIP or DEFAULT only)"};
        } else if (value != "DEFAULT") {
            return Error{errc::invalid_argument, "unknown payload compression '" +
                                                     std::string(value.substr(0, 16)) + "' in the client id"};
        }
    }
    return gzip;
}

AuthResult Authenticator::authenticate(const AuthRequest& request, ConnectLimiter::Clock::time_point now,
                                       std::string& store_error) {
    if (request.username.empty()) return refuse("no username");
    if (request.username == admin_username_) {
        if (admin_token_.empty() || !token_equals(request.password, admin_token_))
            return refuse("wrong password for the admin identity");
        Identity admin;
        admin.role = Role::admin;
        admin.raw_client_id = std::string(request.client_id);
        return AuthResult{std::move(admin), {}};
    }

    auto claim = parse_login_claim(request.client_id, request.username);
    if (!claim) return refuse(claim.error().detail);
    Identity who = std::move(claim->identity);
    const dev::ClientIdFields& fields = claim->fields;

    // Only identities the registry (or a gateway's registration) knows are counted, so junk logins
    // cannot grow the limiter's table.
    std::optional<Device> registered;
    const Device* device = nullptr;
    if (who.role != Role::integration) {
        device = registry_.find_device(who.product_key, who.device_key);
        if (device == nullptr && who.role == Role::device) {
            registered = activations_.find_registered(who.product_key, who.device_key, store_error);
            if (registered) device = &*registered;
        }
    }
    if (who.role == Role::integration ? registry_.find_product(who.product_key) == nullptr : device == nullptr)
        return refuse(who.role == Role::integration ? "unknown product " + who.product_key
                                                    : "unknown device " + who.key());
    if (auto limited = limiter_.admit(who.key(), now); !limited.empty()) return refuse(limited);

    Secret secret = secret_for(who, device, store_error);
    if (!secret.refusal.empty()) return refuse(secret.refusal);

    const std::string expected =
        dev::sign({fields.raw_client_id, who.device_key, who.product_key, fields.timestamp}, secret.value,
                  fields.method);
    if (!dev::signature_equals(request.password, expected))
        return refuse("signature mismatch for " + who.key() + " (" + fields.method_name +
                      "): wrong secret, or the password was signed over another clientId/timestamp");

    auto gzip = announces_gzip(fields.raw_client_id);
    if (!gzip) return refuse(gzip.error().detail);
    who.gzip = *gzip;
    if (device != nullptr) who.gateway = device->gateway;
    return AuthResult{std::move(who), {}};
}

Authenticator::Secret Authenticator::secret_for(const Identity& who, const Device* device,
                                                std::string& store_error) const {
    const Product* product = registry_.find_product(who.product_key);
    if (who.role == Role::integration) {
        if (product->product_secret.empty())
            return {{}, "product " + who.product_key + " has no productSecret"};
        return {product->product_secret, {}};
    }

    if (!device->enabled) return {{}, "device " + who.key() + " is disabled"};
    const bool dynamic = product && product->dynamic_activation;
    const auto activation =
        dynamic ? activations_.find(who.product_key, who.device_key, store_error) : std::nullopt;
    const bool activated = activation && activation->activated;

    if (who.role == Role::activation) {
        if (!dynamic) return {{}, "dynamic activation is not enabled for product " + who.product_key};
        if (activated) return {{}, "device " + who.key() + " is already activated; log in with securemode 2"};
        return {product->product_secret, {}};
    }
    if (activated && !activation->device_secret.empty()) return {activation->device_secret, {}};
    if (device->device_secret.empty())
        return {{}, "device " + who.key() + " has no deviceSecret yet: activate it with securemode 3 first"};
    return {device->device_secret, {}};
}

} // namespace enos::hub::plugin
