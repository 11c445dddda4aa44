#include "login_claim.hpp"

#include <string>
#include <utility>

namespace enos::hub::plugin {

namespace dev = enos::device;

dev::Result<LoginClaim> parse_login_claim(std::string_view client_id, std::string_view username) {
    const auto refuse = [](std::string reason) {
        return dev::Error{dev::errc::invalid_argument, std::move(reason)};
    };
    auto fields = dev::parse_mqtt_client_id(client_id);
    if (!fields) return refuse("malformed client id: " + fields.error().detail);
    auto user = dev::parse_mqtt_username(username);
    if (!user) return refuse("malformed username: " + user.error().detail);

    LoginClaim claim;
    Identity& who = claim.identity;
    who.product_key = std::move(user->product_key);
    who.device_key = std::move(user->device_key);
    who.raw_client_id = fields->raw_client_id;
    who.secure_mode = fields->secure_mode;
    switch (fields->secure_mode) {
    case 2: who.role = Role::device; break;
    case 3: who.role = Role::activation; break;
    case 4: who.role = Role::integration; break;
    default: return refuse("securemode " + std::to_string(fields->secure_mode) + " is not 2, 3 or 4");
    }
    const bool channel = who.device_key == dev::integration_device_key;
    if (channel != (who.role == Role::integration))
        return refuse(channel ? "username %channel%&pk is only for securemode 4"
                              : "securemode 4 needs the username %channel%&" + who.product_key);
    claim.fields = std::move(*fields);
    return claim;
}

} // namespace enos::hub::plugin
