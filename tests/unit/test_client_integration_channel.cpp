// DeviceClient as a message-integration channel (securemode 4) over a fake transport: the CONNECT it
// signs, what it subscribes to and reports after connecting, and which requests it sends.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <future>

using namespace enos::device;
using namespace enos::test;

namespace {

ClientOptions channel_options() {
    ClientOptions o = ClientRig::default_options();
    o.device_key.clear();
    o.device_secret.clear();
    o.product_secret = "productSecret";
    o.integration_channel = true;
    o.ota.firmware_version = "1.0.0"; // a device would report it after connecting
    return o;
}

} // namespace

TEST_CASE("integration channel: signs %channel%&pk with the product secret and subscribes to nothing",
          "[unit][client]") {
    ClientRig rig(channel_options());
    std::promise<void> connected;
    rig.client.on_connection([&](const ConnectionEvent& e) {
        if (e.kind == ConnectionEventKind::connected) connected.set_value();
    });
    REQUIRE(rig.client.connect());
    const auto connects = rig.broker->connects();
    REQUIRE(connects.size() == 1);
    CHECK(connects[0].username == "%channel%&pk");
    auto fields = parse_mqtt_client_id(connects[0].client_id);
    REQUIRE(fields);
    CHECK(fields->raw_client_id == "pk");
    CHECK(fields->secure_mode == 4);
    CHECK(connects[0].password == sign({"pk", "%channel%", "pk", fields->timestamp}, "productSecret"));
    CHECK(rig.broker->subscriptions().empty());

    // The firmware version would have been reported before the connection handler ran.
    connected.get_future().wait();
    for (const Published& p : rig.broker->published())
        CHECK(p.topic.find("/ota/") == std::string::npos);

    auto reply = std::async(std::launch::async, [&] {
        return rig.client.send(up::IntegrationMeasurepointPost{{{"meter1", {{"temp", 1}}, 5}}});
    });
    const std::string topic = "/sys/pk/integration/measurepoint/post";
    auto sent = rig.broker->wait_for_topic(topic);
    REQUIRE(sent);
    CHECK(rig.broker->times_subscribed(topic + "_reply") == 1);
    auto request = decode_request(sent->payload);
    REQUIRE(request);
    CHECK(request->method == "integration.measurepoint.post");
    CHECK(request->params_json == R"([{"deviceKey":"meter1","time":5,"measurepoints":{"temp":1}}])");
    rig.broker->deliver(topic + "_reply", reply_json(request->id));
    CHECK(reply.get());
}

TEST_CASE("integration channel: device requests are refused locally, and integration ones on a device",
          "[unit][client]") {
    ClientRig channel(channel_options());
    REQUIRE(channel.client.connect());
    const Result<Response> r = channel.client.send(up::MeasurepointPost{{{"temp", 1}}});
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(channel.broker->published().empty());

    ClientRig device;
    REQUIRE(device.client.connect());
    const Status s = device.client.send_nowait(up::IntegrationAttributePost{{{"meter1", {{"a", 1}}, {}}}});
    REQUIRE_FALSE(s);
    CHECK(s.error() == errc::invalid_argument);
}

TEST_CASE("integration channel: options name what is wrong", "[unit][client]") {
    const auto refused = [](ClientOptions o) {
        auto client = detail::create_client(std::move(o), std::make_unique<FakeTransport>(std::make_shared<FakeBroker>()),
                                            std::make_shared<ManualClock>());
        REQUIRE_FALSE(client);
        return client.error();
    };
    ClientOptions o = channel_options();
    o.device_key = "dk";
    CHECK(refused(o).detail.find("device_key must be empty") != std::string::npos);
    o = channel_options();
    o.product_secret.clear();
    CHECK(refused(o) == errc::missing_argument);
    o = channel_options();
    o.device_secret_file = "/tmp/x";
    CHECK(refused(o) == errc::invalid_argument);
    CHECK(is_reserved_device_key("%channel%"));
    CHECK(is_reserved_device_key("integration"));
    CHECK_FALSE(is_reserved_device_key("integration1"));
}
