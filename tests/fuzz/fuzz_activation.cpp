// The activation message of dynamic activation (docs/protocol.md §1.8, §4.10), decoded the way the
// client does: decode_request() on the payload, then decode_activate_info() on its params. Input:
// the payload of a message on /ext/session/{pk}/{dk}/thing/activate/info.
//
// Invariants: a decoded activation encodes and decodes back to the same four fields; the device
// can always encode its acknowledgement; and an error never depends on the value of the device
// secret (so it cannot leak into the error text that the client logs and returns).
#include "fuzz_support.hpp"

#include <enos/device/core/payload.hpp>

namespace {

using namespace enos::device;
using enos::fuzz::require;

void check_round_trip(const ActivateInfo& info) {
    Value::Object params{{"productKey", info.product_key},
                         {"deviceKey", info.device_key},
                         {"deviceSecret", info.device_secret}};
    if (!info.asset_id.empty()) params.emplace_back("assetId", info.asset_id);
    std::string encoded;
    Status status = encode_request(encoded, "1", "thing.activate.info", Value(std::move(params)));
    require(status.ok(), "a decoded activation encodes");
    Result<Request> request = decode_request(encoded);
    require(request.ok(), "an encoded activation decodes as a request");
    Result<ActivateInfo> again = decode_activate_info(request->params_json);
    require(again.ok(), "an encoded activation decodes");
    require(again->product_key == info.product_key && again->device_key == info.device_key &&
                again->device_secret == info.device_secret && again->asset_id == info.asset_id,
            "round trip keeps the activation's fields");
}

/// The same params with another device secret (a different value and length) give the same error.
void check_error_hides_secret(const std::string& params_json, const Error& error) {
    Result<Value> params = parse_value(params_json);
    if (!params || !params->is_object()) return;
    Value::Object changed = params->as_object();
    bool has_secret = false;
    for (auto& [key, value] : changed) {
        if (key != "deviceSecret" || !value.is_string()) continue;
        value = Value(value.as_string() + "-other");
        has_secret = true;
    }
    if (!has_secret) return;
    Result<ActivateInfo> other = decode_activate_info(to_json(Value(std::move(changed))));
    require(!other.ok() && other.error().detail == error.detail,
            "activation errors do not depend on the secret");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Result<Request> request = decode_request(enos::fuzz::as_text(data, size));
    if (!request) return 0;
    Result<ActivateInfo> info = decode_activate_info(request->params_json);
    if (!info) {
        check_error_hides_secret(request->params_json, info.error());
        return 0;
    }
    check_round_trip(*info);
    std::string acknowledgement;
    require(encode_reply(acknowledgement, request->id, 200, "persistent the device secret success").ok() ||
                !enos::fuzz::is_utf8(request->id) || size + 64 >= limits::max_payload_bytes,
            "the device can acknowledge every activation it decoded");
    return 0;
}
