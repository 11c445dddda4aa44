// Topic segregation by the enos-hub broker plugin. Under MQTT 3.1.1 a publish the broker denies is
// dropped silently (and still acknowledged), so every "not delivered" below is checked at a
// subscriber with a marker: the denied message is published first, then a marker the subscriber
// may receive from the same publisher. Messages from one publisher arrive in order, so once the
// marker is in, the denied message would have been there too.
#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/mqtt_probe.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/sign.hpp>

#include <rapidjson/document.h>

using namespace enos::test;
using enos::device::SecureMode;

namespace {

std::string marker(const char* what) {
    return unique_client_id(what);
}

bool received_on(const MqttProbe& probe, const std::string& topic) {
    for (const auto& m : probe.received())
        if (m.topic == topic) return true;
    return false;
}

std::string measurepoint_post(const std::string& point, const std::string& value) {
    return R"({"id":"1","version":"1.1","method":"thing.measurepoint.post","params":{"measurepoints":{")" +
           point + R"(":")" + value + R"("}}})";
}

// The simulator stores asynchronously: poll its store (bounded) until the value shows up.
bool eventually_stored(const HubProcess& hub, const std::string& dk, const std::string& value) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline)
        if (hub.run({"query", "measurepoints", "--pk", "pkTest", "--dk", dk}).out.find(value) !=
            std::string::npos)
            return true;
    return false;
}

HubProcess::Options broker_only() {
    HubProcess::Options options;
    options.simulator = false;
    return options;
}

void connect_or_fail(MqttProbe& probe, const MqttCredentials& credentials) {
    const int code = probe.connect(credentials);
    INFO(credentials.username << ": " << probe.last_error());
    REQUIRE(code == 0);
}

} // namespace

TEST_CASE("hub acl: a device may subscribe to its own topics only", "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe dev(hub.port());
    connect_or_fail(dev, device_credentials("pkTest", "dev5", "devSecret5"));
    CHECK(dev.subscribe("/sys/pkTest/dev5/#") == 1);
    CHECK(dev.subscribe("/ext/session/pkTest/dev5/#", 0) == 0);
    CHECK(dev.subscribe("/sys/pkTest/dev5/thing/service/+") == 1);
    for (const char* foreign :
         {"/sys/pkTest/dev6/#", "#", "/#", "/sys/+/dev5/#", "/sys/pkTest/+/thing/service/+",
          "/ext/session/pkTest/dev6/combine/+", "/sys/pkTest/integration/#", "$hub/#", "$SYS/#",
          "/sys/pkTest/dev5", "sys/pkTest/dev5/#"}) {
        INFO("filter " << foreign);
        CHECK(dev.subscribe(foreign) == MqttProbe::subscription_refused);
    }
    CHECK(hub.broker_log().find("denied subscribe of '/sys/pkTest/dev6/#' for pkTest/dev5") !=
          std::string::npos);
}

TEST_CASE("hub acl: device A does not receive device B's commands", "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe a(hub.port()), b(hub.port()), cloud(hub.port());
    connect_or_fail(a, device_credentials("pkTest", "dev5", "devSecret5"));
    connect_or_fail(b, device_credentials("pkTest", "dev6", "devSecret6"));
    connect_or_fail(cloud, hub.admin());
    REQUIRE(a.subscribe("/sys/pkTest/dev5/#") == 1);
    REQUIRE(a.subscribe("/sys/pkTest/dev6/thing/service/+") == MqttProbe::subscription_refused);
    REQUIRE(b.subscribe("/sys/pkTest/dev6/thing/service/+") == 1);

    const std::string command = "/sys/pkTest/dev6/thing/service/setPower";
    const std::string secret_payload = marker("for-dev6-only");
    const std::string own = marker("for-dev5");
    REQUIRE(cloud.publish(command, secret_payload));
    REQUIRE(cloud.publish("/sys/pkTest/dev5/thing/service/setPower", own));

    CHECK(b.wait_for(command)); // the command itself was deliverable
    REQUIRE(a.wait_for([&own](const ReceivedMessage& m) { return m.payload == own; }));
    CHECK_FALSE(received_on(a, command));
}

TEST_CASE("hub acl: device A cannot publish into device B's data", "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe a(hub.port()), cloud(hub.port());
    connect_or_fail(cloud, hub.admin());
    connect_or_fail(a, device_credentials("pkTest", "dev7", "devSecret7"));
    REQUIRE(cloud.subscribe("/sys/pkTest/dev8/#") == 1);
    REQUIRE(cloud.subscribe("/sys/pkTest/dev7/#") == 1);

    const std::string foreign_topic = "/sys/pkTest/dev8/thing/measurepoint/post";
    const std::string value = marker("forged");
    // The broker acknowledges the denied publish (MQTT 3.1.1) but delivers it to nobody.
    CHECK(a.publish(foreign_topic, measurepoint_post("forged", value)));
    const std::string own = marker("own");
    REQUIRE(a.publish("/sys/pkTest/dev7/thing/event/marker/post", own, 1));
    REQUIRE(cloud.wait_for([&own](const ReceivedMessage& m) { return m.payload == own; }));
    CHECK_FALSE(received_on(cloud, foreign_topic));
    CHECK(hub.broker_log().find("denied publish of '" + foreign_topic + "' for pkTest/dev7") !=
          std::string::npos);

    // Nor did it reach the simulator's store: once A's own later post is stored, the forged one
    // would be stored too (the simulator keeps arrival order).
    const std::string own_value = marker("own-value");
    REQUIRE(a.publish("/sys/pkTest/dev7/thing/measurepoint/post", measurepoint_post("forged", own_value)));
    REQUIRE(eventually_stored(hub, "dev7", own_value));
    const auto forged_rows = hub.run({"query", "measurepoints", "--pk", "pkTest", "--dk", "dev8"});
    CHECK(forged_rows.exit_code == 0);
    CHECK(forged_rows.out.find(value) == std::string::npos);
}

TEST_CASE("hub acl: an integration channel is confined to /sys/{pk}/integration/", "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe channel(hub.port()), cloud(hub.port());
    connect_or_fail(cloud, hub.admin());
    connect_or_fail(channel, device_credentials("pkInt001", "", "prodSecretXYZ", SecureMode::integration));
    CHECK(channel.subscribe("/sys/pkInt001/integration/measurepoint/post_reply") == 1);
    CHECK(channel.subscribe("/sys/pkInt001/dev1/#") == MqttProbe::subscription_refused);
    CHECK(channel.subscribe("/sys/pkTest/integration/#") == MqttProbe::subscription_refused);

    REQUIRE(cloud.subscribe("/sys/pkInt001/#") == 1);
    const std::string denied_topic = "/sys/pkInt001/dev1/thing/measurepoint/post";
    CHECK(channel.publish(denied_topic, marker("denied")));
    const std::string own = marker("integration");
    REQUIRE(channel.publish("/sys/pkInt001/integration/model/up_raw", own));
    REQUIRE(cloud.wait_for([&own](const ReceivedMessage& m) { return m.payload == own; }));
    CHECK_FALSE(received_on(cloud, denied_topic));
}

TEST_CASE("hub acl: the admin identity may use every topic", "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttProbe cloud(hub.port());
    connect_or_fail(cloud, hub.admin());
    CHECK(cloud.subscribe("#") == 1);
    CHECK(cloud.subscribe("$hub/#") == 1);
    const std::string payload = marker("admin");
    REQUIRE(cloud.publish("/sys/pkTest/dev9/thing/service/anything", payload));
    CHECK(cloud.wait_for([&payload](const ReceivedMessage& m) { return m.payload == payload; }));
}

TEST_CASE("hub acl: the hub announces device connects and disconnects on $hub/events", "[integration][hub]") {
    auto hub = HubProcess::start(broker_only());
    MqttProbe cloud(hub.port());
    connect_or_fail(cloud, hub.admin());
    REQUIRE(cloud.subscribe("$hub/events/#") == 1);

    const MqttCredentials credentials = device_credentials("pkGw", "gw3", "gwSecret3");
    {
        MqttProbe device(hub.port());
        connect_or_fail(device, credentials);
        CHECK(device.subscribe("$hub/events/#") == MqttProbe::subscription_refused);
        const auto connected = cloud.wait_for("$hub/events/connect");
        REQUIRE(connected);
        rapidjson::Document event;
        event.Parse(connected->payload.c_str());
        REQUIRE(event.IsObject());
        CHECK(std::string(event["productKey"].GetString()) == "pkGw");
        CHECK(std::string(event["deviceKey"].GetString()) == "gw3");
        CHECK(event["secureMode"].GetInt() == 2);
        CHECK(event["gateway"].GetBool());
        CHECK(credentials.client_id.rfind(event["clientId"].GetString(), 0) == 0);
    }
    const auto gone = cloud.wait_for("$hub/events/disconnect");
    REQUIRE(gone);
    CHECK(gone->payload.find("\"deviceKey\":\"gw3\"") != std::string::npos);
}

TEST_CASE("hub acl: a gateway uses a sub-device's topics only while it is logged in", "[integration][hub]") {
    // The plugin follows the cloud's login/logout replies; here the test plays the cloud (admin)
    // so every case is under its control. test_hub_replies covers the simulator's own replies.
    auto hub = HubProcess::start(broker_only());
    MqttProbe gw(hub.port()), other_gw(hub.port()), plain(hub.port()), cloud(hub.port());
    connect_or_fail(cloud, hub.admin());
    connect_or_fail(gw, device_credentials("pkGw", "gw1", "gwSecret1"));
    connect_or_fail(other_gw, device_credentials("pkGw", "gw2", "gwSecret2"));
    connect_or_fail(plain, device_credentials("pkTest", "dev1", "devSecret1"));
    REQUIRE(gw.subscribe("/ext/session/pkGw/gw1/combine/#") == 1);
    REQUIRE(plain.subscribe("/ext/session/pkTest/dev1/combine/#") == 1);
    REQUIRE(cloud.subscribe("/sys/pkSub/#") == 1);
    REQUIRE(cloud.subscribe("$hub/events/disconnect") == 1);

    const std::string sub01 = "/sys/pkSub/subDev01/thing/service/+";
    CHECK(gw.subscribe(sub01) == MqttProbe::subscription_refused);

    // The cloud's reply passes through the broker to the gateway: once the gateway has it, the
    // plugin has seen it too.
    const auto reply = [&cloud](MqttProbe& to, const std::string& topic, const std::string& payload) {
        REQUIRE(cloud.publish(topic, payload));
        REQUIRE(to.wait_for(topic));
    };
    reply(
        gw, "/ext/session/pkGw/gw1/combine/login_reply",
        R"({"id":"1","code":200,"message":"","data":{"assetId":"a1","productKey":"pkSub","deviceKey":"subDev01"}})");
    reply(
        gw, "/ext/session/pkGw/gw1/combine/login_reply",
        R"({"id":"2","code":705,"message":"not found","data":{"productKey":"pkSub","deviceKey":"subDev02"}})");
    reply(
        gw, "/ext/session/pkGw/gw1/combine/login/batch_reply",
        R"({"id":"3","code":723,"data":{"loginedSubDevices":[{"productKey":"pkSub","deviceKey":"subDev03"},)"
        R"({"productKey":"pkSub","deviceKey":"subDev04"}],"failedSubDevices":[{"productKey":"pkSub","deviceKey":"subDev05"}]}})");
    reply(plain, "/ext/session/pkTest/dev1/combine/login_reply",
          R"({"id":"4","code":200,"data":{"productKey":"pkSub","deviceKey":"subDev06"}})");

    CHECK(gw.subscribe(sub01) == 1);
    CHECK(gw.subscribe("/sys/pkSub/subDev01/thing/measurepoint/post_reply") == 1);
    CHECK(gw.subscribe("/sys/pkSub/subDev02/#") == MqttProbe::subscription_refused); // login failed
    CHECK(gw.subscribe("/sys/pkSub/subDev03/#") == 1);
    CHECK(gw.subscribe("/sys/pkSub/subDev04/#") == 1);
    CHECK(gw.subscribe("/sys/pkSub/subDev05/#") == MqttProbe::subscription_refused); // failed in the batch
    CHECK(gw.subscribe("/ext/session/pkSub/subDev01/#") ==
          MqttProbe::subscription_refused); // session topics stay the gateway's
    CHECK(other_gw.subscribe("/sys/pkSub/subDev01/#") ==
          MqttProbe::subscription_refused); // logged in through gw1, not gw2
    CHECK(plain.subscribe("/sys/pkSub/subDev06/#") == MqttProbe::subscription_refused); // not a gateway

    // Data for a logged-in sub-device goes through; for another it is dropped.
    const std::string data = marker("sub01-data"), forged = marker("sub02-data");
    REQUIRE(gw.publish("/sys/pkSub/subDev02/thing/measurepoint/post", forged));
    REQUIRE(gw.publish("/sys/pkSub/subDev01/thing/measurepoint/post", data));
    REQUIRE(cloud.wait_for([&data](const ReceivedMessage& m) { return m.payload == data; }));
    CHECK_FALSE(received_on(cloud, "/sys/pkSub/subDev02/thing/measurepoint/post"));

    // Logout, and the cloud disabling a sub-device, end the access, including deliveries on
    // subscriptions made while it was logged in.
    reply(gw, "/ext/session/pkGw/gw1/combine/logout_reply",
          R"({"id":"5","code":200,"data":{"productKey":"pkSub","deviceKey":"subDev01"}})");
    reply(
        gw, "/ext/session/pkGw/gw1/combine/disable",
        R"({"id":"6","version":"1.0","method":"combine.disable","params":[{"productKey":"pkSub","deviceKey":"subDev03"}]})");
    CHECK(gw.subscribe("/sys/pkSub/subDev01/#") == MqttProbe::subscription_refused);
    CHECK(gw.subscribe("/sys/pkSub/subDev03/#") == MqttProbe::subscription_refused);
    CHECK(gw.subscribe("/sys/pkSub/subDev04/#") == 1);
    REQUIRE(cloud.publish("/sys/pkSub/subDev01/thing/service/reset", marker("after-logout")));
    const std::string still_open = marker("sub04-command");
    REQUIRE(cloud.publish("/sys/pkSub/subDev04/thing/service/reset", still_open));
    REQUIRE(gw.wait_for([&still_open](const ReceivedMessage& m) { return m.payload == still_open; }));
    CHECK_FALSE(received_on(gw, "/sys/pkSub/subDev01/thing/service/reset"));
    CHECK(
        hub.broker_log().find("denied delivery of '/sys/pkSub/subDev01/thing/service/reset' for pkGw/gw1") !=
        std::string::npos);

    // A disconnect logs every sub-device out. Wait until the broker has seen it: a new connection
    // is read from another socket and could overtake the old one's DISCONNECT.
    gw.disconnect();
    REQUIRE(cloud.wait_for([](const ReceivedMessage& m) {
        return m.payload.find("\"deviceKey\":\"gw1\"") != std::string::npos;
    }));
    MqttProbe again(hub.port());
    connect_or_fail(again, device_credentials("pkGw", "gw1", "gwSecret1"));
    CHECK(again.subscribe("/sys/pkSub/subDev04/#") == MqttProbe::subscription_refused);
}

TEST_CASE("hub acl: the simulator's login and logout replies open and close sub-device topics",
          "[integration][hub]") {
    auto hub = HubProcess::start();
    MqttProbe gw(hub.port());
    connect_or_fail(gw, device_credentials("pkGw", "gw1", "gwSecret1"));
    REQUIRE(gw.subscribe("/ext/session/pkGw/gw1/combine/+") == 1);
    const std::string post_reply = "/sys/pkSub/subDev01/thing/measurepoint/post_reply";
    CHECK(gw.subscribe(post_reply) == MqttProbe::subscription_refused);

    // combine.login signed for the sub-device (docs/protocol.md §3.11).
    const std::string ts = enos::device::now_ms_string(), client_id = "pkSub.subDev01." + ts;
    const std::string sign = enos::device::sign({client_id, "subDev01", "pkSub", ts}, "subSecret01");
    REQUIRE(gw.publish("/ext/session/pkGw/gw1/combine/login",
                       R"({"id":"7","version":"1.1","method":"combine.login","params":{"productKey":"pkSub",)"
                       R"("deviceKey":"subDev01","clientId":")" +
                           client_id + R"(","timestamp":")" + ts +
                           R"(","secureMode":"2","signMethod":"sha256","sign":")" + sign + R"("}})"));
    const auto login = gw.wait_for("/ext/session/pkGw/gw1/combine/login_reply");
    REQUIRE(login);
    INFO(login->payload);
    REQUIRE(login->payload.find("\"code\":200") != std::string::npos);

    REQUIRE(gw.subscribe(post_reply) == 1);
    REQUIRE(gw.publish("/sys/pkSub/subDev01/thing/measurepoint/post", measurepoint_post("temp", "21")));
    const auto stored = gw.wait_for(post_reply);
    REQUIRE(stored);
    CHECK(stored->payload.find("\"code\":200") != std::string::npos);

    REQUIRE(gw.publish(
        "/ext/session/pkGw/gw1/combine/logout",
        R"({"id":"8","version":"1.1","method":"combine.logout","params":{"productKey":"pkSub","deviceKey":"subDev01"}})"));
    const auto logout = gw.wait_for("/ext/session/pkGw/gw1/combine/logout_reply");
    REQUIRE(logout);
    INFO(logout->payload);
    REQUIRE(logout->payload.find("\"code\":200") != std::string::npos);
    CHECK(gw.subscribe("/sys/pkSub/subDev01/#") == MqttProbe::subscription_refused);
}

TEST_CASE("hub acl: malformed cloud replies open nothing and break nothing", "[integration][hub]") {
    auto hub = HubProcess::start(broker_only());
    MqttProbe gw(hub.port()), cloud(hub.port());
    connect_or_fail(cloud, hub.admin());
    connect_or_fail(gw, device_credentials("pkGw", "gw1", "gwSecret1"));
    REQUIRE(gw.subscribe("/ext/session/pkGw/gw1/combine/#") == 1);

    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const std::vector<std::string> payloads = {
        "",
        "{",
        "null",
        "[]",
        deep,
        std::string(600 * 1024, 'x'),
        "\xff\xfe\x00\x01",
        R"({"code":"200","data":{"productKey":"pkSub","deviceKey":"subDev01"}})",
        R"({"code":200,"data":{"productKey":5,"deviceKey":"subDev01"}})",
        R"({"code":200,"data":"pkSub/subDev01"})",
        R"({"code":200,"data":{"loginedSubDevices":{"productKey":"pkSub","deviceKey":"subDev01"}}})"};
    for (const char* topic :
         {"/ext/session/pkGw/gw1/combine/login_reply", "/ext/session/pkGw/gw1/combine/login/batch_reply",
          "/ext/session/pkGw/gw1/combine/logout_reply", "/ext/session/pkGw/gw1/combine/disable"})
        for (const auto& payload : payloads)
            REQUIRE(cloud.publish(topic, payload));
    const std::string last = marker("last");
    REQUIRE(cloud.publish("/ext/session/pkGw/gw1/combine/login_reply", last));
    REQUIRE(gw.wait_for([&last](const ReceivedMessage& m) { return m.payload == last; }));

    CHECK(gw.subscribe("/sys/pkSub/subDev01/#") == MqttProbe::subscription_refused);
    MqttProbe fresh(hub.port());
    CHECK(fresh.connect(device_credentials("pkTest", "dev1", "devSecret1")) == 0);
}
