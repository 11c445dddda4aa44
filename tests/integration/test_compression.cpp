// GZIP payload compression with enos-hub (docs/protocol.md §1.6, §5.6): a client with compression on
// sends and receives small and near-512 KB payloads in both directions (its posts and their
// replies, the cloud's commands and its answers); the hub inflates what a compressing device sends,
// compresses what goes to it, and drops a publish that does not inflate.
#include "client_support.hpp"
#include "plugin/authenticator.hpp"
#include "transport/gzip_codec.hpp"

#include <atomic>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;
using enos::device::detail::gzip_compress;
using enos::device::detail::gzip_decompress;

namespace {

constexpr std::size_t limit = limits::max_payload_bytes;

/// `n` bytes of text that compress, but not to nothing.
std::string filler(std::size_t n) {
    std::string out;
    out.reserve(n);
    for (std::uint32_t x = 7; out.size() < n;) {
        x = x * 1664525u + 1013904223u;
        out += "v" + std::to_string(x % 10007) + " ";
    }
    out.resize(n);
    return out;
}

ClientOptions gzip_client(const HubProcess& h, const std::string& dk, const std::string& secret) {
    ClientOptions o = options_for(h, "pkTest", dk, secret);
    o.compression = PayloadCompression::gzip;
    return o;
}

/// A probe device that announces GZIP and speaks the bytes itself.
MqttCredentials gzip_probe_credentials(const std::string& dk, const std::string& secret) {
    CredentialInput in;
    in.product_key = "pkTest";
    in.device_key = dk;
    in.secret = secret;
    in.client_id = unique_client_id(dk);
    in.extra_info = "{compress=GZIP}";
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    return {c->client_id, c->username, c->password};
}

std::string gz(const std::string& text) {
    auto c = gzip_compress(text);
    REQUIRE(c);
    return *c;
}

} // namespace

TEST_CASE("compression: posts and their replies, small and near 512 KB, through enos-hub",
          "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(gzip_client(h, "dev7", "devSecret7"));
    CHECK(h.broker_log().find("pkTest/dev7 logged in (securemode 2, client '") != std::string::npos);
    CHECK(h.broker_log().find(", GZIP payloads)") != std::string::npos);

    up::MeasurepointPost small;
    small.points = {{"temp", 21.5}};
    auto posted = client.send(small);
    INFO(posted.error().message());
    REQUIRE(posted);
    CHECK(posted->code == 200);
    auto points =
        cloud::query_until(h, "measurepoints", "pkTest", "dev7", [](const auto& r) { return !r.empty(); });
    CHECK(cloud::at(points[0], "identifier").as_string() == "temp");

    // A log whose JSON is just under the limit: compressed it is far smaller, but the limit is on
    // the JSON (§1.1). The hub stores what it inflated.
    up::LogPost big;
    big.time_ms = 1700000000000;
    big.content = filler(limit - 200);
    auto logged = client.send(big);
    INFO(logged.error().message());
    REQUIRE(logged);
    auto logs = cloud::query_until(h, "logs", "pkTest", "dev7", [](const auto& r) { return !r.empty(); });
    CHECK(cloud::at(cloud::at(logs[0], "logs"), "content").as_string() == big.content);
    big.content = filler(limit); // over the limit before compression: refused locally
    CHECK(client.send(big).error() == errc::payload_too_large);

    // Raw up: the hub answers with the same bytes, so a near-512 KB reply comes back compressed.
    up::RawPost raw;
    raw.bytes = filler(limit - 1);
    raw.bytes[0] = '\x01'; // not JSON: bytes for the product script
    auto echoed = client.send(raw);
    INFO(echoed.error().message());
    REQUIRE(echoed);
    CHECK(echoed->raw == raw.bytes);
}

TEST_CASE("compression: the cloud's commands and the device's answers, small and near 512 KB",
          "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(gzip_client(h, "dev8", "devSecret8"));
    client.on_service("echo", [](const Command& c) { return CommandReply::ok_json(c.params_json); });

    auto small = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev8", "--service", "echo", "--params",
                            R"({"Power":"on"})"});
    INFO(small.err);
    CHECK(small.exit_code == 0);
    CHECK(small.reply.data_json == R"({"Power":"on"})");

    // Too large for a command line: the test plays the cloud itself.
    MqttProbe cloud_side(h.port());
    REQUIRE(cloud_side.connect(h.admin()) == 0);
    const std::string reply_topic = "/sys/pkTest/dev8/thing/service/echo_reply";
    REQUIRE(cloud_side.subscribe(reply_topic, 1) == 1);
    const std::string text = filler(limit - 300);
    const std::string command =
        R"({"id":"big-1","version":"1.1","method":"thing.service.echo","params":{"text":")" + text + R"("}})";
    REQUIRE(command.size() < limit);
    REQUIRE(cloud_side.publish("/sys/pkTest/dev8/thing/service/echo", command, 1));
    auto answer = cloud_side.wait_for(reply_topic, 15s);
    REQUIRE(answer);
    auto reply = decode_reply(answer->payload); // the hub inflated it for the cloud side
    INFO(answer->payload.substr(0, 200));
    REQUIRE(reply);
    CHECK(reply->id == "big-1");
    CHECK(reply->code == 200);
    CHECK(reply->data_json == R"({"text":")" + text + R"("})");
}

TEST_CASE("compression: the hub compresses for a GZIP device and drops what does not inflate",
          "[integration]") {
    const HubProcess& h = hub();
    MqttProbe device(h.port());
    REQUIRE(device.connect(gzip_probe_credentials("dev9", "devSecret9")) == 0);
    const std::string topic = "/sys/pkTest/dev9/thing/measurepoint/post";
    REQUIRE(device.subscribe(topic + "_reply", 1) == 1);
    auto request = [](const std::string& id) {
        return R"({"id":")" + id +
               R"(","version":"1.1","method":"thing.measurepoint.post","params":{"measurepoints":{"temp":1},"time":1700000000000}})";
    };
    std::string corrupt = gz(request("bad-crc"));
    corrupt[corrupt.size() - 6] = static_cast<char>(corrupt[corrupt.size() - 6] ^ 0x01);
    REQUIRE(device.publish(topic, corrupt, 1));
    REQUIRE(device.publish(topic, request("plain"), 1)); // plain JSON on a GZIP connection
    REQUIRE(device.publish(topic, gz(request("good")), 1));

    // The broker handles one connection's publishes in order, so once "good" is answered the
    // others were dropped, not delayed.
    auto id_of = [](const ReceivedMessage& m) -> std::string {
        auto plain = gzip_decompress(m.payload, limit);
        if (!plain) return "(not gzip)";
        auto reply = decode_reply(*plain);
        return reply ? reply->id : "(not a reply)";
    };
    auto good = device.wait_for([&](const ReceivedMessage& m) { return id_of(m) == "good"; }, 15s);
    REQUIRE(good);
    std::vector<std::string> replied; // every reply to this device comes compressed
    for (const ReceivedMessage& m : device.received())
        replied.push_back(id_of(m));
    CHECK(replied == std::vector<std::string>{"good"});
    const std::string log = h.broker_log();
    CHECK(log.find("dropped publish of '" + topic) != std::string::npos);
    CHECK(log.find("does not inflate: corrupt GZIP stream: incorrect data check") != std::string::npos);
    CHECK(log.find("does not inflate: not a GZIP stream") != std::string::npos);
    auto stored =
        cloud::query_until(h, "measurepoints", "pkTest", "dev9", [](const auto& r) { return !r.empty(); });
    CHECK(stored.size() == 1);
}

TEST_CASE("compression: LZ4 and LZO are refused at CONNECT by enos-hub", "[integration]") {
    const HubProcess& h = hub();
    for (const char* codec : {"LZ4", "LZO"}) {
        CredentialInput in;
        in.product_key = "pkTest";
        in.device_key = "dev9";
        in.secret = "devSecret9";
        in.client_id = unique_client_id("dev9");
        in.extra_info = std::string("{compress=") + codec + "}";
        auto c = make_connect_credentials(in);
        REQUIRE(c);
        MqttProbe device(h.port());
        CHECK(device.connect({c->client_id, c->username, c->password}) == 5);
        CHECK(h.broker_log().find(std::string("payload compression ") + codec + " is not supported") !=
              std::string::npos);
    }
    // DEFAULT, as the reference SDK always announces it, means no compression.
    CredentialInput in;
    in.product_key = "pkTest";
    in.device_key = "dev9";
    in.secret = "devSecret9";
    in.client_id = unique_client_id("dev9");
    in.extra_info = "{ip=127.0.0.1,version=enos-mqtt-2.2.16,compress=DEFAULT}";
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    MqttProbe device(h.port());
    REQUIRE(device.connect({c->client_id, c->username, c->password}) == 0);
    const std::string topic = "/sys/pkTest/dev9/thing/tsltemplate/get";
    REQUIRE(device.subscribe(topic + "_reply", 1) == 1);
    REQUIRE(device.publish(topic,
                           R"({"id":"d1","version":"1.1","method":"thing.tsltemplate.get","params":{}})", 1));
    auto reply = device.wait_for(topic + "_reply", 15s);
    REQUIRE(reply);
    CHECK(reply->payload.front() == '{');
}

TEST_CASE("compression: the hub reads compress= from the extra info of the raw client id", "[integration]") {
    using enos::hub::plugin::announces_gzip;
    CHECK(announces_gzip("dev1").value() == false);
    CHECK(announces_gzip("dev1{compress=GZIP}").value() == true);
    CHECK(announces_gzip("dev1{ip=10.0.0.2,version=enos-mqtt-2.2.16,compress=GZIP}").value() == true);
    CHECK(announces_gzip("dev1{compress=DEFAULT}").value() == false);
    CHECK(announces_gzip("dev1{version=1}").value() == false);
    CHECK(announces_gzip("dev1{compress=GZIP").value() == false); // not closed: no extra info
    CHECK(announces_gzip("dev1{compress=LZ4}").error().detail.find("LZ4 is not supported") !=
          std::string::npos);
    CHECK(announces_gzip("dev1{compress=gzip}").error().detail.find("unknown payload compression 'gzip'") !=
          std::string::npos);
}
