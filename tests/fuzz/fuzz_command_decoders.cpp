// The decoders a device runs on a command from the cloud (docs/protocol.md §4): the request envelope
// (decode_request), then the typed params decoders of measure point set/get, service invocation
// (also over RRPC), sub-device enable/disable/delete notices and the OTA upgrade. Input: the payload
// of a command.
//
// Invariants: the compact "params" text the envelope reader assembles on its own is exactly what
// parsing it into a Value and writing it out gives, and holds the numbers an independent reader
// finds in the payload; a decoded request encodes and decodes back to the same id, method and
// params; the device can always encode its reply to a decoded command; a typed decoder that
// succeeds keeps every element of the list it read.
#include "fuzz_support.hpp"

#include <enos/device/core/payload.hpp>

namespace {

using namespace enos::device;
using enos::fuzz::require;

std::size_t array_size(const Value& v) {
    return v.is_array() ? v.as_array().size() : 0;
}

/// The params text of a decoded envelope is canonical compact JSON.
Value check_params_text(const std::string& params_json) {
    if (params_json.empty()) return Value();
    Result<Value> params = parse_value(params_json);
    require(params.ok(), "decoded params text parses");
    require(to_json(*params) == params_json, "decoded params text is the compact JSON of its value");
    return std::move(*params);
}

void check_round_trip(const Request& request, const Value& params) {
    if (request.id.empty())
        return; // a valid command, but not a valid device request (ids are required there)
    std::string encoded;
    Status status = encode_request(encoded, request.id, request.method, params);
    if (!status) {
        require(status.code() == errc::payload_too_large,
                "a decoded request encodes unless it grows too large");
        return;
    }
    Result<Request> again = decode_request(encoded);
    require(again.ok(), "an encoded request decodes");
    require(again->id == request.id && again->method == request.method, "round trip keeps id and method");
    const std::string expected_params = request.params_json.empty() ? "{}" : request.params_json;
    require(again->params_json == expected_params, "round trip keeps params");
}

void check_reply_possible(const Request& request, std::size_t payload_size) {
    std::string reply;
    Status status = encode_reply(reply, request.id, 200, "");
    require(status.ok() || payload_size + 64 >= limits::max_payload_bytes,
            "the device can answer every command it decoded");
}

void check_typed_decoders(const std::string& params_json, const Value& params) {
    if (auto set = decode_measurepoint_set(params_json))
        require(params.is_object() && set->size() == params.as_object().size(),
                "measurepoint set keeps points");
    if (auto get = decode_measurepoint_get(params_json))
        require(get->size() == array_size(params), "measurepoint get keeps every identifier");
    if (auto service = decode_service_params(params_json))
        require(params_json.empty() || service->size() == params.as_object().size(), "service keeps params");
    else
        require(!params_json.empty(), "a service without params decodes");
    if (auto notice = decode_sub_device_notice(params_json))
        require(notice->size() == array_size(params), "sub-device notice keeps every device");
    if (auto firmware = decode_ota_upgrade(params_json)) {
        const Value* size = params.find("fileSize");
        require(firmware->file_size.has_value() == (size != nullptr && !size->is_null()),
                "OTA upgrade keeps the file size");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Result<Request> request = decode_request(enos::fuzz::as_text(data, size));
    if (!request) {
        require(!request.error().detail.empty(), "a refused command says why");
        return 0;
    }
    require(!request->method.empty(), "a decoded command has a method");
    const Value params = check_params_text(request->params_json);
    require(enos::fuzz::numbers_agree(enos::fuzz::as_text(data, size), "params", params),
            "params hold the numbers of the payload");
    if (enos::fuzz::is_utf8(request->id) && enos::fuzz::is_utf8(request->method)) {
        check_round_trip(*request, params);
        check_reply_possible(*request, size);
    }
    check_typed_decoders(request->params_json, params);
    return 0;
}
