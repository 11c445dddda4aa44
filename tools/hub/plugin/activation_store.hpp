// Read-only view of what the cloud simulator records in hub.db that decides a CONNECT: the dynamic
// activations (table activations) and the devices gateways registered at runtime (table devices,
// origin 'registered'). A missing database or table means there are none yet.
#pragma once

#include "../registry.hpp"

#include <optional>
#include <string>

struct sqlite3_stmt;

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

    /// A device a gateway registered (thing.device.register), unless it was deleted since. Its secret
    /// is the one the registration issued. `error` as for find().
    std::optional<Device> find_registered(const std::string& product_key, const std::string& device_key,
                                          std::string& error) const;

private:
    template <class Read>
    bool lookup(const char* sql, const std::string& product_key, const std::string& device_key,
                std::string& error, Read&& read) const;

    std::string path_;
};

} // namespace enos::hub::plugin
