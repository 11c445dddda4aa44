// The hub's TLS listener: server verification against the CA the hub generated, and mutual TLS
// with device certificates from `enos-hub issue-cert`. The MQTT credentials are checked as always.
#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/mqtt_probe.hpp"
#include "support/temp_dir.hpp"

using namespace enos::test;

namespace {

HubProcess tls_hub(bool require_client_cert) {
    HubProcess::Options options;
    options.tls = true;
    options.require_client_cert = require_client_cert;
    options.simulator = false;
    return HubProcess::start(options);
}

int connect_tls(const HubProcess& hub, const TlsFiles& tls, const MqttCredentials& credentials) {
    MqttProbe probe(hub.tls_port(), tls);
    const int code = probe.connect(credentials);
    INFO(probe.last_error());
    return code;
}

} // namespace

TEST_CASE("hub tls: a device verifies the hub with its CA and connects", "[integration][hub]") {
    auto hub = tls_hub(false);
    REQUIRE(hub.tls_port() != 0);
    REQUIRE_FALSE(hub.ca_file().empty());

    MqttProbe device(hub.tls_port(), TlsFiles{hub.ca_file(), "", ""});
    REQUIRE(device.connect(device_credentials("pkTest", "dev1", "devSecret1")) == 0);
    REQUIRE(device.subscribe("/sys/pkTest/dev1/thing/service/+") == 1);
    MqttProbe cloud(hub.port());
    REQUIRE(cloud.connect(hub.admin()) == 0);
    REQUIRE(cloud.publish("/sys/pkTest/dev1/thing/service/ping", "over TLS"));
    const auto command = device.wait_for("/sys/pkTest/dev1/thing/service/ping");
    REQUIRE(command);
    CHECK(command->payload == "over TLS");

    // Credentials still count over TLS.
    CHECK(connect_tls(hub, {hub.ca_file(), "", ""}, device_credentials("pkTest", "dev1", "wrong")) == 5);
}

TEST_CASE("hub tls: a client that trusts another CA refuses the hub", "[integration][hub]") {
    auto hub = tls_hub(false);
    auto stranger = tls_hub(false); // its CA did not sign hub's server certificate
    CHECK(connect_tls(hub, {stranger.ca_file(), "", ""},
                      device_credentials("pkTest", "dev1", "devSecret1")) == MqttProbe::no_connack);
}

TEST_CASE("hub tls: mutual TLS needs a device certificate signed by the hub's CA", "[integration][hub]") {
    auto hub = tls_hub(true);
    TempDir certs("enos-certs");
    const auto [cert, key] = hub.issue_device_cert("pkTest", "dev2", certs.path());
    const MqttCredentials credentials = device_credentials("pkTest", "dev2", "devSecret2");

    CHECK(connect_tls(hub, {hub.ca_file(), cert, key}, credentials) == 0);
    CHECK(connect_tls(hub, {hub.ca_file(), "", ""}, credentials) == MqttProbe::no_connack);
    // A certificate from another hub's CA is refused in the handshake.
    auto other = tls_hub(false);
    TempDir other_certs("enos-certs");
    const auto [foreign_cert, foreign_key] = other.issue_device_cert("pkTest", "dev2", other_certs.path());
    CHECK(connect_tls(hub, {hub.ca_file(), foreign_cert, foreign_key}, credentials) == MqttProbe::no_connack);
    // The certificate does not replace the password.
    CHECK(connect_tls(hub, {hub.ca_file(), cert, key}, device_credentials("pkTest", "dev2", "wrong")) == 5);
    // The plain listener is unaffected.
    MqttProbe plain(hub.port());
    CHECK(plain.connect(credentials) == 0);
}
