// Read-only view of the dynamic activations the cloud simulator records in hub.db (table
// activations(product_key, device_key, device_secret, activated)). A missing database or table means
// nothing has been activated yet.
#pragma once

#include <optional>
#include <string>

namespace enos::hub::plugin {

struct Activation {
    std::string device_secret;
    bool activated = false; ///< the device confirmed it stored the secret
};

class ActivationStore {
public:
    explicit ActivationStore(std::string db_path) : path_(std::move(db_path)) {}

    /// The activation row of a device, if any. `error` receives a description when the database exists
    /// but cannot be read (the caller logs it; the lookup then counts as "no row").
    std::optional<Activation> find(const std::string& product_key, const std::string& device_key,
                                   std::string& error) const;

private:
    std::string path_;
};

} // namespace enos::hub::plugin
