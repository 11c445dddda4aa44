// GZIP payload compression (docs/protocol.md §1.6, §5.6): the codec, and the client with
// compression on over a fake broker: what it announces, publishes and accepts.
#include "client_fakes.hpp"
#include "transport/gzip_codec.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <atomic>
#include <future>
#include <mutex>

using namespace enos::device;
using namespace enos::test;
using enos::device::detail::gzip_compress;
using enos::device::detail::gzip_decompress;

namespace {

constexpr std::size_t limit = limits::max_payload_bytes;

// {"id":"7","code":200,"data":{}} as one gzip member laid out the way Java's GZIPOutputStream
// writes it: 10-byte header without name or mtime (OS 0), raw deflate, CRC-32, size.
const std::string java_style_member(
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00\xab\x56\xca\x4c\x51\xb2\x52\x32\x57\xd2\x51\x4a\xce\x4f\x49"
    "\x55\xb2\x32\x32\x30\xd0\x51\x4a\x49\x2c\x49\x54\xb2\xaa\xae\xad\x05\x00\x71\xb6\xba\x4f\x1f\x00\x00"
    "\x00",
    51);

std::string compressed(const std::string& text) {
    auto c = gzip_compress(text);
    REQUIRE(c);
    return *c;
}

std::string inflated(const std::string& bytes) {
    auto plain = gzip_decompress(bytes, limit);
    INFO(plain.error().detail);
    REQUIRE(plain);
    return *plain;
}

/// Text of `n` bytes that is JSON-like but not trivially repetitive.
std::string sample_text(std::size_t n) {
    std::string out;
    out.reserve(n);
    std::uint32_t x = 12345;
    while (out.size() < n) {
        x = x * 1103515245u + 12345u;
        out += "\"p" + std::to_string(x % 1000) + "\":" + std::to_string(x % 77) + ",";
    }
    out.resize(n);
    return out;
}

struct Logged {
    std::mutex mutex;
    std::vector<std::string> lines;
    LogSink sink() {
        return [this](LogLevel level, std::string_view text) {
            if (level < LogLevel::error) return;
            std::lock_guard lock(mutex);
            lines.emplace_back(text);
        };
    }
    std::vector<std::string> all() {
        std::lock_guard lock(mutex);
        return lines;
    }
};

ClientOptions gzip_options() {
    ClientOptions o = ClientRig::default_options();
    o.compression = PayloadCompression::gzip;
    return o;
}

} // namespace

TEST_CASE("gzip: round trips from empty to just under 512 KB", "[unit]") {
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(1000), limit - 1}) {
        const std::string text = sample_text(n);
        const std::string bytes = compressed(text);
        CHECK(detail::looks_like_gzip(bytes));
        CHECK(static_cast<unsigned char>(bytes[2]) == 8); // deflate
        CHECK(inflated(bytes) == text);
    }
}

TEST_CASE("gzip: reads a member laid out as Java writes it, and members in a row", "[unit]") {
    CHECK(inflated(java_style_member) == R"({"id":"7","code":200,"data":{}})");
    CHECK(inflated(java_style_member + compressed("tail")) == R"({"id":"7","code":200,"data":{}}tail)");
}

TEST_CASE("gzip: corrupt, truncated and foreign input is refused with a reason", "[unit]") {
    const std::string good = compressed(sample_text(5000));
    auto refused = [](const std::string& bytes) {
        auto r = gzip_decompress(bytes, limit);
        INFO(r.error().detail);
        REQUIRE_FALSE(r);
        CHECK_FALSE(r.error().detail.empty());
        return r.error();
    };
    CHECK(refused("{\"id\":\"1\"}") == errc::invalid_argument); // plain JSON
    CHECK(refused("") == errc::invalid_argument);
    CHECK(refused(good.substr(0, good.size() / 2)) == errc::invalid_argument); // truncated
    CHECK(refused(good.substr(0, good.size() - 4)) == errc::invalid_argument); // no size trailer
    std::string flipped = good;
    flipped[good.size() - 6] = static_cast<char>(flipped[good.size() - 6] ^ 0x5a); // CRC-32 wrong
    CHECK(refused(flipped).detail.find("check") != std::string::npos);
    std::string body = good;
    body[20] = static_cast<char>(body[20] ^ 0xff); // deflate data damaged
    refused(body);
    CHECK(refused(good + "junk").detail.find("after the end") != std::string::npos);
}

TEST_CASE("gzip: inflation stops at the bound", "[unit]") {
    const std::string bomb = compressed(std::string(4 * limit, 'a')); // a few KB
    CHECK(bomb.size() < 10000);
    auto r = gzip_decompress(bomb, limit);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::input_too_large);
    CHECK(gzip_decompress(bomb, 4 * limit));
}

TEST_CASE("compression: off by default, the client id announces nothing", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    CHECK(rig.broker->connects().at(0).client_id.rfind("dk|securemode=2,", 0) == 0);
    REQUIRE(rig.client.send_nowait(up::TslTemplateGet{}));
    auto message = rig.broker->wait_for_topic("/sys/pk/dk/thing/tsltemplate/get");
    REQUIRE(message);
    CHECK(message->payload.front() == '{');
}

TEST_CASE("compression: GZIP is announced in the signed client id (§1.6)", "[unit][client]") {
    ClientOptions options = gzip_options();
    options.wall_clock = [] { return std::int64_t(1700000000000); };
    ClientRig rig(options);
    REQUIRE(rig.client.connect());
    const auto connect = rig.broker->connects().at(0);
    CHECK(connect.client_id == "dk{compress=GZIP}|securemode=2,signmethod=sha256,timestamp=1700000000000|");
    CHECK(connect.password ==
          sign({"dk{compress=GZIP}", "dk", "pk", "1700000000000"}, "secret", SignMethod::sha256));
}

TEST_CASE("compression: requests and replies travel compressed, the caller sees plain JSON",
          "[unit][client]") {
    ClientRig rig(gzip_options());
    REQUIRE(rig.client.connect());
    std::promise<Result<Response>> done;
    rig.client.send_async(up::TslTemplateGet{}, [&](Result<Response> r) { done.set_value(std::move(r)); });
    auto message = rig.broker->wait_for_topic("/sys/pk/dk/thing/tsltemplate/get");
    REQUIRE(message);
    REQUIRE(detail::looks_like_gzip(message->payload));
    auto request = decode_request(inflated(message->payload));
    REQUIRE(request);
    CHECK(request->method == "thing.tsltemplate.get");
    rig.broker->deliver("/sys/pk/dk/thing/tsltemplate/get_reply",
                        compressed(reply_json(request->id, 200, R"({"tslMeasurepointMap":{"t":{}}})")));
    auto response = done.get_future().get();
    REQUIRE(response);
    CHECK(response->data_json == R"({"tslMeasurepointMap":{"t":{}}})");
}

TEST_CASE("compression: commands are inflated, their replies compressed", "[unit][client]") {
    ClientRig rig(gzip_options());
    rig.client.on_service("setPower", [](const Command& c) { return CommandReply::ok_json(c.params_json); });
    REQUIRE(rig.client.connect());
    rig.broker->deliver(
        "/sys/pk/dk/thing/service/setPower",
        compressed(R"({"id":"9","version":"1.1","method":"thing.service.setPower","params":{"on":true}})"));
    auto message = rig.broker->wait_for_topic("/sys/pk/dk/thing/service/setPower_reply");
    REQUIRE(message);
    auto reply = decode_reply(inflated(message->payload));
    REQUIRE(reply);
    CHECK(reply->id == "9");
    CHECK(reply->code == 200);
    CHECK(reply->data_json == R"({"on":true})");
}

TEST_CASE("compression: a payload that does not inflate is logged and never dispatched", "[unit][client]") {
    Logged logged;
    ClientOptions options = gzip_options();
    options.log_sink = logged.sink();
    ClientRig rig(options);
    std::atomic<int> handled{0};
    rig.client.on_service("setPower", [&](const Command& c) {
        ++handled;
        return CommandReply::ok_json(R"({"id":")" + c.id + "\"}");
    });
    REQUIRE(rig.client.connect());
    const std::string topic = "/sys/pk/dk/thing/service/setPower";
    std::string corrupt =
        compressed(R"({"id":"1","version":"1.1","method":"thing.service.setPower","params":{}})");
    corrupt[corrupt.size() - 6] = static_cast<char>(corrupt[corrupt.size() - 6] ^ 0x01);
    rig.broker->deliver(topic, corrupt);
    rig.broker->deliver(topic, R"({"id":"2","version":"1.1","method":"thing.service.setPower","params":{}})");
    // A good command after the bad ones is answered, so the bad ones were handled by then.
    rig.broker->deliver(
        topic, compressed(R"({"id":"3","version":"1.1","method":"thing.service.setPower","params":{}})"));
    auto message = rig.broker->wait_for_topic(topic + "_reply");
    REQUIRE(message);
    CHECK(decode_reply(inflated(message->payload))->id == "3");
    CHECK(handled.load() == 1);
    CHECK(rig.broker->wait_for_topic(topic + "_reply", 1, std::chrono::milliseconds(0)) == std::nullopt);
    const auto lines = logged.all();
    REQUIRE(lines.size() == 2);
    for (const std::string& line : lines) {
        CHECK(line.find("dropped a message on " + topic) != std::string::npos);
        CHECK(line.find("does not inflate") != std::string::npos);
    }
}

TEST_CASE("compression: the device's own echoed replies are not mistaken for bad payloads",
          "[unit][client]") {
    Logged logged;
    ClientOptions options = gzip_options();
    options.log_sink = logged.sink();
    ClientRig rig(options);
    REQUIRE(rig.client.connect());
    rig.broker->deliver("/sys/pk/dk/thing/service/setPower_reply", R"({"id":"1","code":200})");
    rig.broker->deliver("/sys/pk/dk/thing/service/setPower_reply", compressed(R"({"id":"2","code":200})"));
    REQUIRE(rig.client.send_nowait(up::TslTemplateGet{})); // a round trip through the client
    REQUIRE(rig.broker->wait_for_topic("/sys/pk/dk/thing/tsltemplate/get"));
    CHECK(logged.all().empty());
    CHECK(rig.client.stats().commands_received == 0);
}

TEST_CASE("compression: the 512 KB limit applies before compression (§1.1)", "[unit][client]") {
    ClientRig rig(gzip_options());
    REQUIRE(rig.client.connect());
    const std::string overhead =
        R"({"id":"100000","version":"1.1","method":"thing.log.post","params":{"logs":{"content":""},"time":1700000000000}})";
    // Compresses to a few KB, but is 512 KB as JSON: refused before it is compressed.
    up::LogPost big;
    big.content = std::string(limit, 'x');
    big.time_ms = 1700000000000;
    const Status refused = rig.client.send_nowait(big);
    CHECK(refused.code() == errc::payload_too_large);
    // Just under the limit: sent, compressed.
    big.content = std::string(limit - overhead.size() - 1, 'x');
    REQUIRE(rig.client.send_nowait(big));
    auto message = rig.broker->wait_for_topic("/sys/pk/dk/thing/log/post");
    REQUIRE(message);
    CHECK(message->payload.size() < 10000);
    const std::string plain = inflated(message->payload);
    CHECK(plain.size() < limit);
    CHECK(plain.size() >= limit - 8);
}
