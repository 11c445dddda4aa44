// Dynamic activation end to end (docs/protocol.md §1.8) on a private hub: a securemode-3 login receives
// its generated secret on /ext/session/{pk}/{dk}/thing/activate/info; after the device's 200 reply it
// counts as activated, securemode 3 is refused from then on and securemode 2 with the new secret is
// accepted.
#include "cloud_device.hpp"

using namespace enos::test;
using namespace enos::test::cloud;
using enos::device::SecureMode;

namespace {

/// Connects `dk` in securemode 3 and returns the activate/info request it receives.
enos::device::Request receive_activation(MqttProbe& device, const std::string& dk) {
    REQUIRE(device.connect(device_credentials("pkDyn001", dk, "prodSecretXYZ",
                                              SecureMode::dynamic_activation)) == MqttProbe::accepted);
    // The request is retained, so subscribing after the CONNACK does not miss it.
    REQUIRE(device.subscribe(activation_info_topic(dk), 1) == 1);
    auto message = device.wait_for(activation_info_topic(dk));
    REQUIRE(message.has_value());
    auto request = enos::device::decode_request(message->payload);
    REQUIRE(request.ok());
    CHECK(request->method == "thing.activate.info");
    return *request;
}

std::string secret_of(const enos::device::Request& request, const std::string& dk) {
    auto params = enos::device::parse_value(request.params_json);
    REQUIRE(params.ok());
    CHECK(at(*params, "productKey").as_string() == "pkDyn001");
    CHECK(at(*params, "deviceKey").as_string() == dk);
    CHECK_FALSE(at(*params, "assetId").as_string().empty());
    const std::string secret = at(*params, "deviceSecret").as_string();
    CHECK(secret.size() >= 16);
    return secret;
}

void answer(MqttProbe& device, const std::string& dk, const std::string& id, int code) {
    REQUIRE(device.publish(
        activation_info_topic(dk) + "_reply",
        R"({"id":")" + id + R"(","code":)" + std::to_string(code) + R"(,"message":"stored"})", 0));
}

int connack(const HubProcess& hub, const MqttCredentials& credentials) {
    MqttProbe probe(hub.port());
    return probe.connect(credentials);
}

} // namespace

TEST_CASE("hub activation: securemode 3 gets a secret, then only securemode 2 with it is accepted",
          "[integration][hub][cloud]") {
    const HubProcess hub = HubProcess::start();
    std::string secret;
    {
        MqttProbe device(hub.port());
        const auto request = receive_activation(device, "dyn1");
        secret = secret_of(request, "dyn1");
        answer(device, "dyn1", request.id, 200);
        query_until(hub, "activations", "pkDyn001", "dyn1",
                    [](const auto& rows) { return rows.size() == 1 && at(rows[0], "activated").as_bool(); });
    }
    CHECK(connack(hub, device_credentials("pkDyn001", "dyn1", "prodSecretXYZ",
                                          SecureMode::dynamic_activation)) == MqttProbe::not_authorized);
    CHECK(connack(hub, device_credentials("pkDyn001", "dyn1", "notTheSecret")) == MqttProbe::not_authorized);
    CHECK(connack(hub, device_credentials("pkDyn001", "dyn1", secret)) == MqttProbe::accepted);

    // The activated device is a normal device now: its requests are answered.
    Device dev(hub, "pkDyn001", "dyn1", secret);
    CHECK(dev.request(dev.sys("thing/measurepoint/post"), "thing.measurepoint.post",
                      R"({"measurepoints":{"t":1}})")
              .code == 200);

    // The retained activation message was cleared: a later subscriber gets nothing retained there,
    // which the admin sees by publishing a marker after subscribing.
    MqttProbe admin(hub.port());
    REQUIRE(admin.connect(hub.admin()) == MqttProbe::accepted);
    REQUIRE(admin.subscribe(activation_info_topic("dyn1"), 1) == 1);
    REQUIRE(admin.publish(activation_info_topic("dyn1"), "marker", 1));
    auto first = admin.wait_for(activation_info_topic("dyn1"));
    REQUIRE(first.has_value());
    CHECK(first->payload == "marker");
    const auto connections = query_until(hub, "connections", "pkDyn001", "dyn1",
                                         [](const auto& rows) { return rows.size() >= 4; });
    CHECK(at(connections[0], "secureMode").as_int() == 3);
}

TEST_CASE("hub activation: a device that does not confirm stays unactivated and gets the same secret again",
          "[integration][hub][cloud]") {
    const HubProcess hub = HubProcess::start();
    std::string first_id, first_secret;
    {
        MqttProbe device(hub.port());
        const auto request = receive_activation(device, "dyn2");
        first_id = request.id;
        first_secret = secret_of(request, "dyn2");
        answer(device, "dyn2", request.id, 500); // could not store the secret
    }
    MqttProbe again(hub.port());
    const auto request = receive_activation(again, "dyn2");
    CHECK(request.id == first_id);
    CHECK(secret_of(request, "dyn2") == first_secret);
    // The 500 answer was processed before this connection's event (the broker delivers in order):
    // the device is still not activated, so securemode 2 is refused.
    CHECK(connack(hub, device_credentials("pkDyn001", "dyn2", first_secret)) == MqttProbe::not_authorized);
    query_until(hub, "activations", "pkDyn001", "dyn2",
                [](const auto& rows) { return rows.size() == 1 && !at(rows[0], "activated").as_bool(); });

    answer(again, "dyn2", request.id, 200);
    query_until(hub, "activations", "pkDyn001", "dyn2",
                [](const auto& rows) { return rows.size() == 1 && at(rows[0], "activated").as_bool(); });
    CHECK(connack(hub, device_credentials("pkDyn001", "dyn2", first_secret)) == MqttProbe::accepted);
}

TEST_CASE("hub activation: the activation survives a restart of the hub", "[integration][hub][cloud]") {
    std::string secret;
    {
        const HubProcess hub = HubProcess::start();
        MqttProbe device(hub.port());
        const auto request = receive_activation(device, "dyn3");
        secret = secret_of(request, "dyn3");
        answer(device, "dyn3", request.id, 200);
        query_until(hub, "activations", "pkDyn001", "dyn3",
                    [](const auto& rows) { return rows.size() == 1 && at(rows[0], "activated").as_bool(); });
        // Restart broker and simulator in the same run directory (the store is kept).
        const auto stopped = hub.run({"stop"});
        REQUIRE(stopped.exit_code == 0);
        const auto started = hub.run({"start", "--registry", test_registry_path(), "--port", "0",
                                      "--no-connect-limit", "--dir", hub.dir()});
        INFO(started.err);
        REQUIRE(started.exit_code == 0);
        const HubProcess restarted = HubProcess::attach(hub.dir());
        CHECK(connack(restarted, device_credentials("pkDyn001", "dyn3", "prodSecretXYZ",
                                                    SecureMode::dynamic_activation)) ==
              MqttProbe::not_authorized);
        CHECK(connack(restarted, device_credentials("pkDyn001", "dyn3", secret)) == MqttProbe::accepted);
    }
}
