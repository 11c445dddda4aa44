// The mapping file of modbus_edge_gateway: which Modbus TCP endpoints to poll, how often, and which
// registers become which measure points of which sub-devices (format: README.md). Also the
// conversions between register words and measure-point values, kept free of I/O so they are easy
// to check on their own.
#pragma once

#include <enos/device/core/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace modbus_edge {

enum class RegisterKind { holding, input };
enum class RegisterType { uint16, int16, uint32, int32, float32 };
/// Of the 32-bit types: which register holds the high 16 bits.
enum class WordOrder { high_first, low_first };

struct PointMap {
    std::string id; ///< measure point identifier
    RegisterKind kind = RegisterKind::holding;
    int address = 0; ///< 0-based register address (protocol address, not 4xxxx numbering)
    RegisterType type = RegisterType::uint16;
    WordOrder word_order = WordOrder::high_first;
    /// value = raw * scale + offset
    double scale = 1.0;
    double offset = 0.0;
    bool writable = false; ///< measure-point set may write it (holding registers only)

    int words() const { return type == RegisterType::uint16 || type == RegisterType::int16 ? 1 : 2; }
};

struct SubDeviceMap {
    std::string product_key, device_key;
    std::string secret; ///< read from the environment variable or file the mapping names; never printed
    std::vector<PointMap> points;

    const PointMap* find(const std::string& id) const {
        for (const PointMap& p : points)
            if (p.id == id) return &p;
        return nullptr;
    }
};

struct EndpointMap {
    std::string host;
    int port = 502;
    int unit_id = 1;
    std::chrono::milliseconds poll_interval{1000};
    std::chrono::milliseconds response_timeout{1000};
    std::vector<SubDeviceMap> sub_devices;

    std::string name() const { return host + ":" + std::to_string(port) + "#" + std::to_string(unit_id); }
};

struct Mapping {
    std::vector<EndpointMap> endpoints;
};

/// Reads and checks the mapping file. Relative secretFile paths are taken from the mapping file's
/// folder. On failure `error` names the file and the field ("endpoints[0].subDevices[1].points.temp.type:
/// ...") and never contains a secret.
std::optional<Mapping> load_mapping(const std::string& path, std::string& error);
/// The same from JSON text; `base_dir` resolves relative secretFile paths.
std::optional<Mapping> parse_mapping(const std::string& json, const std::string& base_dir,
                                     std::string& error);

/// The measure-point value of the register words read for `point` (words in register order).
/// Integer types without scale and offset stay integers; everything else is a floating value.
enos::device::Value decode_point(const PointMap& point, const std::uint16_t* words);

/// The register words that make `point` read back as `value` (scale and offset inverted, rounded
/// to the nearest integer for the integer types). nullopt and `error` when the value is not a number
/// or does not fit the register type.
std::optional<std::vector<std::uint16_t>> encode_point(const PointMap& point,
                                                       const enos::device::Value& value, std::string& error);

} // namespace modbus_edge
