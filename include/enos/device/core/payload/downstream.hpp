// Typed decoders for the params of cloud-to-device commands (docs/protocol.md §4). Sub-device notices
// (§4.6) are in gateway.hpp, the OTA upgrade (§4.8) in ota.hpp.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/value.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

/// §4.10 thing.activate.info: the secret the cloud assigned in dynamic activation (keep it out of logs).
struct ActivateInfo {
    std::string asset_id, product_key, device_key, device_secret;
};

/// §4.9 traffic control: the cloud asks the device to send less. Neither the documentation nor the
/// reference SDK names its params (the reference SDK only hands the command to the application and
/// throttles nothing), so they are kept as they came, by name; how to slow down is the
/// application's decision.
struct TrafficControl {
    std::string method; ///< as sent (empty when the command had none)
    Points params;      ///< every member of "params"; empty when it was absent or {}
};

/// §4.9: the params of a traffic-control command. Absent params give an empty list; params that
/// are not an object are errc::wrong_type.
inline Result<TrafficControl> decode_traffic_control(std::string_view method, std::string_view params_json) {
    TrafficControl out{std::string(method), {}};
    if (params_json.empty()) return out;
    Result<Points> params = detail::decode_as<Points>(params_json, "params");
    if (!params) return params.error();
    out.params = std::move(*params);
    return out;
}

/// §4.1 thing.service.measurepoint.set: identifier -> value to apply.
inline Result<Points> decode_measurepoint_set(std::string_view params_json) {
    return detail::decode_as<Points>(params_json, "params");
}

/// §4.2 thing.service.measurepoint.get: the identifiers asked for.
inline Result<std::vector<std::string>> decode_measurepoint_get(std::string_view params_json) {
    return detail::decode_as<std::vector<std::string>>(params_json, "params");
}

/// §4.3/§4.4 thing.service.{id} (also over RRPC): the service's input parameters. A service without
/// inputs may arrive without params; that gives an empty list.
inline Result<Points> decode_service_params(std::string_view params_json) {
    if (params_json.empty()) return Points{};
    return detail::decode_as<Points>(params_json, "params");
}

/// §4.10 thing.activate.info
inline Result<ActivateInfo> decode_activate_info(std::string_view params_json) {
    return detail::decode_object<ActivateInfo>(params_json, "params",
                                               [](detail::ObjectReader& r, ActivateInfo& a) {
                                                   r.required("productKey", a.product_key)
                                                       .required("deviceKey", a.device_key)
                                                       .required("deviceSecret", a.device_secret)
                                                       .optional("assetId", a.asset_id);
                                               });
}

} // namespace enos::device
