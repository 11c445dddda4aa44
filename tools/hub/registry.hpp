// The hub's registry: the products, devices, gateway topology, firmware and seed attributes/tags that
// the platform would hold. Read once from a JSON file (format in tools/hub/README.md) by the broker
// plugin (authentication, topic rules) and by the cloud simulator (replies, store seed).
#pragma once

#include <enos/device/core/result.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace enos::hub {

using enos::device::Result;

struct Product {
    std::string product_key;
    std::string product_secret;      ///< empty: no securemode 3/4 logins for this product
    bool dynamic_activation = false; ///< securemode 3 allowed for not yet activated devices
};

struct Device {
    std::string product_key, device_key;
    std::string device_secret; ///< empty: the device can only log in after dynamic activation
    bool enabled = true;
    bool gateway = false;
};

struct DeviceRef {
    std::string product_key, device_key;
};

struct TopologyEntry {
    DeviceRef gateway;
    std::vector<DeviceRef> sub_devices;
};

struct Firmware {
    std::string product_key;
    std::string device_key; ///< empty: offered to every device of the product
    std::string version, sign_method, sign, file_url;
    std::int64_t file_size = 0;
};

struct Registry {
    std::vector<Product> products;
    std::vector<Device> devices;
    std::vector<TopologyEntry> topology;
    std::vector<Firmware> firmware;
    std::map<std::string, std::string> attributes; ///< "pk/dk" -> JSON object text
    std::map<std::string, std::string> tags;       ///< "pk/dk" -> JSON object text

    const Product* find_product(std::string_view product_key) const;
    const Device* find_device(std::string_view product_key, std::string_view device_key) const;
};

/// "pk/dk": the key of the attributes and tags maps.
std::string device_id(std::string_view product_key, std::string_view device_key);

/// Parses registry JSON text. Errors name the entry and field at fault ("devices[3].deviceKey: ...").
Result<Registry> parse_registry(std::string_view json);

/// Reads and parses a registry file; errors start with the path.
Result<Registry> load_registry(const std::string& path);

} // namespace enos::hub
