// DeviceClient as a product's message-integration channel (securemode 4, docs/protocol.md §3.16)
// against a private enos-hub: data for several devices of one product lands in the hub's store, the
// cloud's errors come back as the call's result, and what the channel may not do is refused locally.
#include "client_support.hpp"

#include "support/temp_dir.hpp"

#include <fstream>

using namespace enos::test;
using namespace enos::test::cloud;
using namespace enos::device;
using namespace std::chrono_literals;

namespace {

constexpr const char* product_secret = "intProductSecret";

struct IntegrationHub {
    TempDir dir{"enos-integration-test"};
    HubProcess hub = HubProcess::start([this] {
        std::ofstream(dir.file("registry.json")) << R"({
          "products": [{"productKey": "pkInt", "productSecret": "intProductSecret"},
                       {"productKey": "pkOther", "productSecret": "otherSecret"}],
          "devices": [
            {"productKey": "pkInt", "deviceKey": "meter1", "deviceSecret": "m1"},
            {"productKey": "pkInt", "deviceKey": "meter2", "deviceSecret": "m2"},
            {"productKey": "pkInt", "deviceKey": "meter3", "deviceSecret": "m3"},
            {"productKey": "pkOther", "deviceKey": "foreign1", "deviceSecret": "f1"}
          ]})";
        HubProcess::Options options;
        options.registry_path = dir.file("registry.json");
        return options;
    }());
};

ClientOptions channel_options(const HubProcess& hub, client::LogLines& log) {
    ClientOptions o;
    o.server_url = hub.url();
    o.product_key = "pkInt";
    o.product_secret = product_secret;
    o.integration_channel = true;
    o.request_timeout = 15s;
    o.connect_timeout = 15s;
    o.log_sink = log.sink();
    o.log_level = LogLevel::debug;
    return o;
}

IntegrationRecord record(const std::string& dk, Points values, std::optional<std::int64_t> time = {}) {
    return IntegrationRecord{dk, std::move(values), time};
}

} // namespace

TEST_CASE("client integration: the channel posts measure points, events and attributes of several devices",
          "[integration][client]") {
    IntegrationHub h;
    client::LogLines log;
    DeviceClient channel = client::connected_client(channel_options(h.hub, log));

    const Result<Response> points = channel.send(up::IntegrationMeasurepointPost{
        {record("meter1", {{"temp", 21.5}}, 1699990000000), record("meter2", {{"temp", 22}}, 1699990000000),
         record("meter3", {{"status", "running"}})}});
    INFO((points ? std::string() : points.error().message()));
    REQUIRE(points);
    CHECK(points->code == 200);
    CHECK(channel.send(up::IntegrationEventPost{
                           {record("meter1", {{"overTemp", Value::object({{"temp", 120.5}})}}, 1699990001000)}})
              .ok());
    CHECK(channel.send(up::IntegrationAttributePost{{record("meter2", {{"location", "Shanghai"}}),
                                                     record("meter3", {{"location", "Beijing"}})}})
              .ok());
    // Fire-and-forget goes through the offline queue like every report.
    REQUIRE(channel.send_nowait(up::IntegrationMeasurepointPost{{record("meter2", {{"temp", 23}}, 1699990002000)}}));

    const auto meter1 = query_until(h.hub, "measurepoints", "pkInt", "meter1",
                                    [](const auto& rows) { return rows.size() == 1; });
    CHECK(at(meter1[0], "time").as_int() == 1699990000000);
    CHECK(at(meter1[0], "value").as_double() == 21.5);
    query_until(h.hub, "measurepoints", "pkInt", "meter2", [](const auto& rows) { return rows.size() == 2; });
    query_until(h.hub, "measurepoints", "pkInt", "meter3",
                [](const auto& rows) { return with(rows, "identifier", "status").size() == 1; });
    query_until(h.hub, "events", "pkInt", "meter1",
                [](const auto& rows) { return with(rows, "eventId", "overTemp").size() == 1; });
    for (const char* dk : {"meter2", "meter3"})
        query_until(h.hub, "attributes", "pkInt", dk,
                    [](const auto& rows) { return with(rows, "name", "location").size() == 1; });

    // The channel subscribed to no command topic (its ACL would refuse them) and reported no version.
    CHECK(h.hub.broker_log().find("denied") == std::string::npos);
    CHECK_FALSE(log.contains(product_secret));
}

TEST_CASE("client integration: raw bytes go up on the channel's up_raw topic", "[integration][client]") {
    IntegrationHub h;
    client::LogLines log;
    DeviceClient channel = client::connected_client(channel_options(h.hub, log));
    const std::string bytes("\x01\x02\x00\xff", 4);
    const Result<Response> r = channel.send(up::IntegrationRawPost{bytes});
    INFO((r ? std::string() : r.error().message()));
    REQUIRE(r);
    CHECK(r->raw == bytes); // the hub's product script is the identity
}

TEST_CASE("client integration: a device unknown to the product fails the whole request with 1257",
          "[integration][client]") {
    IntegrationHub h;
    client::LogLines log;
    DeviceClient channel = client::connected_client(channel_options(h.hub, log));
    for (const char* unknown : {"ghost", "foreign1"}) { // foreign1 belongs to another product
        const Result<Response> r = channel.send(up::IntegrationMeasurepointPost{
            {record("meter1", {{"temp", 1}}, 1699990000000), record(unknown, {{"temp", 2}}, 1699990000000)}});
        REQUIRE_FALSE(r);
        CHECK(r.error() == make_cloud_error(1257));
        CHECK(r.error().detail.find("Device not found") != std::string::npos);
    }
    // Partial failure stored nothing: a later good post is meter1's only row.
    REQUIRE(channel.send(up::IntegrationMeasurepointPost{{record("meter1", {{"temp", 3}}, 1699990005000)}}));
    const auto rows = query_until(h.hub, "measurepoints", "pkInt", "meter1",
                                  [](const auto& rows) { return !rows.empty(); });
    REQUIRE(rows.size() == 1);
    CHECK(at(rows[0], "value").as_int() == 3);
}

TEST_CASE("client integration: device requests are refused on the channel and integration ones off it",
          "[integration][client]") {
    IntegrationHub h;
    client::LogLines log;
    DeviceClient channel = client::connected_client(channel_options(h.hub, log));
    const Result<Response> direct = channel.send(up::MeasurepointPost{{{"temp", 1}}});
    for (const Status& s : {direct ? Status() : Status(direct.error()),
                            channel.send_nowait(up::AttributeUpdate{{{"a", 1}}})}) {
        REQUIRE_FALSE(s);
        CHECK(s.error() == errc::invalid_argument);
        CHECK(s.error().detail.find("integration") != std::string::npos);
    }

    ClientOptions device = client::options_for(h.hub, "pkInt", "meter1", "m1");
    DeviceClient meter = client::connected_client(device);
    const auto r = meter.send(up::IntegrationMeasurepointPost{{record("meter1", {{"temp", 1}})}});
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
}

TEST_CASE("client integration: options of the channel are checked before connecting", "[integration][client]") {
    IntegrationHub h;
    client::LogLines log;
    ClientOptions good = channel_options(h.hub, log);
    SECTION("a device key") {
        good.device_key = "meter1";
        auto c = DeviceClient::create(good);
        REQUIRE_FALSE(c);
        CHECK(c.error().detail.find("device_key must be empty") != std::string::npos);
    }
    SECTION("no product secret") {
        good.product_secret.clear();
        auto c = DeviceClient::create(good);
        REQUIRE_FALSE(c);
        CHECK(c.error() == errc::missing_argument);
    }
    SECTION("a device secret as well") {
        good.device_secret = "m1";
        auto c = DeviceClient::create(good);
        REQUIRE_FALSE(c);
        CHECK(c.error() == errc::invalid_argument);
        CHECK(c.error().detail.find("m1") == std::string::npos);
    }
    SECTION("a wrong product secret is refused by the broker") {
        good.product_secret = "notTheProductSecret42";
        auto c = DeviceClient::create(good);
        REQUIRE(c);
        const Status s = c->connect();
        REQUIRE_FALSE(s);
        CHECK(s.error() == errc::not_authorized);
        CHECK(h.hub.broker_log().find("notTheProductSecret42") == std::string::npos);
    }
}
