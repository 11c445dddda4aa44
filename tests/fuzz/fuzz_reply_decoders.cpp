// The decoders a device runs on the cloud's replies to its requests (docs/protocol.md §2.2, §3): the
// reply envelope (decode_reply), then the typed "data" decoders of attribute and tag queries, device
// registration, topology, sub-device login and batch login and the OTA version query. The hub
// simulator runs decode_reply() on the devices' answers to commands too. Input: a reply payload.
//
// Invariants: the compact "data" text is exactly what parsing it and writing it out gives, and holds
// the numbers an independent reader finds in the payload; a decoded reply encodes (as the device
// answers, encode_reply_raw_data) and decodes back to the same id, code, message and data; a typed
// decoder that succeeds keeps every element it read.
#include "fuzz_support.hpp"

#include <enos/device/core/payload.hpp>

namespace {

using namespace enos::device;
using enos::fuzz::require;

std::size_t array_size(const Value* v) {
    return v != nullptr && v->is_array() ? v->as_array().size() : 0;
}

Value check_data_text(const std::string& data_json) {
    if (data_json.empty()) return Value();
    Result<Value> data = parse_value(data_json);
    require(data.ok(), "decoded data text parses");
    require(to_json(*data) == data_json, "decoded data text is the compact JSON of its value");
    return std::move(*data);
}

void check_round_trip(const Reply& reply, std::size_t payload_size) {
    std::string encoded;
    Status status = encode_reply_raw_data(encoded, reply.id, reply.code, reply.message, reply.data_json);
    if (!status) {
        require(payload_size + 64 >= limits::max_payload_bytes, "a decoded reply encodes");
        return;
    }
    Result<Reply> again = decode_reply(encoded);
    require(again.ok(), "an encoded reply decodes");
    require(again->id == reply.id && again->code == reply.code && again->message == reply.message &&
                again->data_json == reply.data_json,
            "round trip keeps id, code, message and data");
}

void check_typed_decoders(const std::string& data_json, const Value& data) {
    if (auto attributes = decode_attribute_query_reply(data_json))
        require(attributes->size() == data.as_object().size(), "attribute query keeps every attribute");
    if (auto tags = decode_tag_query_reply(data_json))
        require(tags->size() == data.as_object().size(), "tag query keeps every tag");
    if (auto registered = decode_device_register_reply(data_json))
        require(registered->size() == array_size(&data), "register reply keeps every device");
    if (auto topology = decode_topo_get_reply(data_json))
        require(topology->size() == array_size(&data), "topo get reply keeps every device");
    if (auto login = decode_sub_login_reply(data_json))
        require(login->product_key == data.find("productKey")->as_string() &&
                    login->device_key == data.find("deviceKey")->as_string(),
                "login reply reads the keys as sent");
    if (auto batch = decode_sub_login_batch_reply(data_json)) {
        require(batch->logged_in.size() == array_size(data.find("loginedSubDevices")) &&
                    batch->failed.size() == array_size(data.find("failedSubDevices")),
                "batch login reply keeps both lists");
    }
    if (auto versions = decode_ota_getversion_reply(data_json))
        require(versions->size() == array_size(&data), "OTA version reply keeps every firmware");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Result<Reply> reply = decode_reply(enos::fuzz::as_text(data, size));
    if (!reply) {
        require(!reply.error().detail.empty(), "a refused reply says why");
        return 0;
    }
    const Value data_value = check_data_text(reply->data_json);
    require(enos::fuzz::numbers_agree(enos::fuzz::as_text(data, size), "data", data_value),
            "data holds the numbers of the payload");
    if (enos::fuzz::is_utf8(reply->id) && enos::fuzz::is_utf8(reply->message)) check_round_trip(*reply, size);
    check_typed_decoders(reply->data_json, data_value);
    return 0;
}
