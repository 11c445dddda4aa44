// Every timestamp the client writes comes from ClientOptions::wall_clock (docs/client.md, "Time"):
// a fixed clock must show up in every "time", "reportTime", sub-device "timestamp" and in the
// CONNECT credentials, and nothing else may stamp them.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <rapidjson/document.h>

#include <atomic>

using namespace enos::device;
using namespace enos::test;

namespace {

// Far from the present, so a stamp taken from the system clock cannot match it by chance.
constexpr std::int64_t fixed_ms = 1234567890123;
const std::string fixed_text = std::to_string(fixed_ms);

/// Every member of `v` (at any depth) whose key is a timestamp, as text.
void collect_stamps(const rapidjson::Value& v, std::vector<std::pair<std::string, std::string>>& out) {
    if (v.IsArray()) {
        for (const auto& item : v.GetArray())
            collect_stamps(item, out);
        return;
    }
    if (!v.IsObject()) return;
    for (const auto& m : v.GetObject()) {
        const std::string key = m.name.GetString();
        if (key == "time" || key == "reportTime" || key == "timestamp") {
            out.emplace_back(key, m.value.IsString()  ? m.value.GetString()
                                  : m.value.IsInt64() ? std::to_string(m.value.GetInt64())
                                                      : std::string("(not a number)"));
        }
        collect_stamps(m.value, out);
    }
}

SubDeviceCredentials sub_device() {
    SubDeviceCredentials c;
    c.product_key = "subPk";
    c.device_key = "subDk";
    c.secret = "subSecret";
    return c;
}

} // namespace

TEST_CASE("clock: every timestamp the client writes comes from the wall clock", "[unit][client]") {
    ClientOptions options = ClientRig::default_options();
    std::atomic<int> calls{0};
    options.wall_clock = [&] {
        ++calls;
        return fixed_ms;
    };
    ClientRig rig(options);
    REQUIRE(rig.client.connect());

    // The CONNECT: client id timestamp, and the password signed over it.
    const auto connects = rig.broker->connects();
    REQUIRE(connects.size() == 1);
    CHECK(connects[0].client_id == "dk|securemode=2,signmethod=sha256,timestamp=" + fixed_text + "|");
    CHECK(connects[0].password == sign({"dk", "dk", "pk", fixed_text}, "secret", SignMethod::sha256));

    up::MeasurepointPost post;
    post.points = {{"temp", 21.5}};
    REQUIRE(rig.client.send_nowait(post));
    REQUIRE(rig.client.send_nowait(up::MeasurepointResume{post.points}));
    REQUIRE(rig.client.send_nowait(up::EventPost{"overTemp", {{"temp", 99.0}}}));
    REQUIRE(rig.client.send_nowait(up::LogPost{"", "info", "", "up", {}}));
    REQUIRE(rig.client.send_nowait(up::NetworkStatusReport{}));
    up::ConnectionStatePost state;
    state.nodes = {{"n1", NodeState::connected, "", "", ""}};
    REQUIRE(rig.client.send_nowait(state));
    REQUIRE(rig.client.send_nowait(up::SubDeviceLogin{sub_device()}));
    REQUIRE(rig.client.send_nowait(up::TopoAdd{{sub_device()}}));
    up::SubDeviceLoginBatch batch;
    batch.devices = {{"subPk", "subDk", "subSecret"}};
    REQUIRE(rig.client.send_nowait(batch));
    constexpr std::size_t sent = 9;

    auto published = rig.broker->wait_published([](const auto& p) { return p.size() >= sent; });
    REQUIRE(published.size() == sent);
    std::size_t stamps = 0;
    for (const Published& p : published) {
        INFO(p.topic << ": " << p.payload);
        rapidjson::Document doc;
        REQUIRE_FALSE(doc.Parse(p.payload.c_str(), p.payload.size()).HasParseError());
        std::vector<std::pair<std::string, std::string>> found;
        collect_stamps(doc, found);
        CHECK_FALSE(found.empty()); // every one of these requests carries a timestamp
        for (const auto& [key, value] : found) {
            INFO(key);
            CHECK(value == fixed_text);
        }
        stamps += found.size();
    }
    CHECK(stamps >= sent);
    // The default sub-device client id "{pk}.{dk}.{timestamp}" uses the same stamp.
    auto login = rig.broker->wait_for_topic("/ext/session/pk/dk/combine/login");
    REQUIRE(login);
    CHECK(login->payload.find("\"clientId\":\"subPk.subDk." + fixed_text + "\"") != std::string::npos);
    CHECK(calls.load() >= static_cast<int>(sent) + 1);
}

TEST_CASE("clock: a reconnect signs with the wall clock's new time", "[unit][client]") {
    ClientOptions options = ClientRig::default_options();
    std::atomic<std::int64_t> now{fixed_ms};
    options.wall_clock = [&] { return now.load(); };
    ClientRig rig(options);
    REQUIRE(rig.client.connect());
    REQUIRE(rig.client.disconnect());
    now = fixed_ms + 60'000; // the clock was stepped, e.g. by NTP
    REQUIRE(rig.client.connect());
    const auto connects = rig.broker->connects();
    REQUIRE(connects.size() == 2);
    CHECK(connects[1].client_id.find("timestamp=" + std::to_string(fixed_ms + 60'000) + "|") !=
          std::string::npos);
}

TEST_CASE("clock: an explicit time in a request wins over the clock", "[unit][client]") {
    ClientOptions options = ClientRig::default_options();
    options.wall_clock = [] { return fixed_ms; };
    ClientRig rig(options);
    REQUIRE(rig.client.connect());
    up::MeasurepointPost post;
    post.points = {{"temp", 1}};
    post.time_ms = 42;
    REQUIRE(rig.client.send_nowait(post));
    auto message = rig.broker->wait_for_topic("/sys/pk/dk/thing/measurepoint/post");
    REQUIRE(message);
    CHECK(message->payload.find("\"time\":42") != std::string::npos);
}
