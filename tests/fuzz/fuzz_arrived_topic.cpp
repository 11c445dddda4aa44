// The topic parsers of the core (topics.hpp): the device's parse_arrived_topic() on whatever topic the
// broker delivers, and the cloud side's parse_upstream_topic() and parse_command_reply_topic(), which
// the hub simulator runs on topics devices publish. Input: the topic bytes.
//
// Invariants: whatever parses is rebuilt byte for byte by the matching builder (so builders and
// parsers agree, and a parsed key never holds a '/', wildcard or NUL), and the topic a device would
// answer a parsed command on parses back to that command.
#include "fuzz_support.hpp"

#include <enos/device/core/topics.hpp>

namespace {

using namespace enos::device;
using enos::fuzz::require;

/// The topic the arrived command or reply came on, rebuilt from what the parser kept.
std::string rebuild(const ArrivedTopic& t) {
    if (t.kind == DownKind::reply) return reply_topic(t.reply_to, t.product_key, t.device_key, t.event_id);
    const std::string& variable = t.kind == DownKind::rrpc_request ? t.message_id : t.service_id;
    return command_topic(t.kind, t.product_key, t.device_key, variable);
}

void check_arrived(std::string_view topic) {
    Result<ArrivedTopic> arrived = parse_arrived_topic(topic);
    if (!arrived) {
        require(arrived.code() == errc::topic_no_match, "an unparsable arrived topic is topic_no_match");
        return;
    }
    require(is_valid_topic_level(arrived->product_key), "arrived: product key is one clean level");
    require(arrived->device_key.empty() || is_valid_topic_level(arrived->device_key),
            "arrived: clean device key");
    require(rebuild(*arrived) == topic, "arrived: the builder gives back the parsed topic");
    if (arrived->kind == DownKind::reply) return;

    // The device's answer to the command is recognised by the cloud side as answering that command.
    Result<ArrivedTopic> answered = parse_command_reply_topic(command_reply_topic(*arrived));
    require(answered.ok(), "the reply topic of a parsed command parses");
    require(answered->kind == arrived->kind && answered->product_key == arrived->product_key &&
                answered->device_key == arrived->device_key && answered->service_id == arrived->service_id &&
                answered->message_id == arrived->message_id,
            "the reply topic of a command names that command");
}

void check_upstream(std::string_view topic) {
    Result<UpstreamTopic> up = parse_upstream_topic(topic);
    if (!up) return;
    require(is_valid_topic_level(up->product_key), "upstream: product key is one clean level");
    require(request_topic(up->method, up->product_key, up->device_key, up->event_id) == topic,
            "upstream: the builder gives back the parsed topic");
    // Its reply topic is a reply to that method for the device.
    Result<ArrivedTopic> reply =
        parse_arrived_topic(reply_topic(up->method, up->product_key, up->device_key, up->event_id));
    require(reply.ok() && reply->kind == DownKind::reply && reply->reply_to == up->method &&
                reply->product_key == up->product_key && reply->device_key == up->device_key &&
                reply->event_id == up->event_id,
            "upstream: the reply topic of a request parses as its reply");
}

void check_command_reply(std::string_view topic) {
    Result<ArrivedTopic> answered = parse_command_reply_topic(topic);
    if (!answered) return;
    require(command_reply_topic(*answered) == topic,
            "command reply: the builder gives back the parsed topic");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view topic = enos::fuzz::as_text(data, size);
    check_arrived(topic);
    check_upstream(topic);
    check_command_reply(topic);
    return 0;
}
