// The per-device connection rate limit of the enos-hub plugin (docs/protocol.md §1.7), with the numbers
// lowered or raised through `enos-hub start` options so that each rule bites on a known attempt
// without waiting for the platform's minutes.
#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/mqtt_probe.hpp"

using namespace enos::test;

namespace {

HubProcess limited_hub(const std::string& limits) {
    HubProcess::Options options;
    options.connect_limit = true;
    options.simulator = false;
    options.extra_start_args = limits;
    return HubProcess::start(options);
}

int connect_once(const HubProcess& hub, const MqttCredentials& credentials) {
    MqttProbe probe(hub.port());
    return probe.connect(credentials);
}

int connect_once(const HubProcess& hub, const std::string& dk, const std::string& secret) {
    return connect_once(hub, device_credentials("pkTest", dk, secret));
}

} // namespace

TEST_CASE("hub rate: more connects than the window allows block the device", "[integration][hub]") {
    // Window and block far longer than the test: the only rule in play is the count.
    auto hub = limited_hub("--connect-min-interval-ms 0 --connect-window-ms 3600000 --connect-window-max 3 "
                           "--connect-block-ms 3600000");
    for (int i = 1; i <= 3; ++i) {
        INFO("connect " << i);
        CHECK(connect_once(hub, "dev1", "devSecret1") == MqttProbe::accepted);
    }
    CHECK(connect_once(hub, "dev1", "devSecret1") == MqttProbe::not_authorized); // the 4th: blocked
    CHECK(connect_once(hub, "dev1", "devSecret1") == MqttProbe::not_authorized); // and stays blocked
    CHECK(connect_once(hub, "dev2", "devSecret2") == MqttProbe::accepted);       // per device
    CHECK(hub.broker_log().find("more than 3 connects within 3600000 ms") != std::string::npos);
}

TEST_CASE("hub rate: a connect right after the previous one is refused", "[integration][hub]") {
    auto hub = limited_hub("--connect-min-interval-ms 3600000 --connect-window-max 100");
    CHECK(connect_once(hub, "dev1", "devSecret1") == MqttProbe::accepted);
    CHECK(connect_once(hub, "dev1", "devSecret1") == MqttProbe::not_authorized);
    CHECK(connect_once(hub, "dev2", "devSecret2") == MqttProbe::accepted);
    CHECK(hub.broker_log().find("less than 3600000 ms since the previous connect") != std::string::npos);
}

TEST_CASE("hub rate: failed logins count, unknown devices do not", "[integration][hub]") {
    auto hub = limited_hub("--connect-min-interval-ms 0 --connect-window-ms 3600000 --connect-window-max 2 "
                           "--connect-block-ms 3600000");
    CHECK(connect_once(hub, "dev1", "wrongSecret") == MqttProbe::not_authorized);
    CHECK(connect_once(hub, "dev1", "wrongSecret") == MqttProbe::not_authorized);
    CHECK(connect_once(hub, "dev1", "devSecret1") ==
          MqttProbe::not_authorized); // the 3rd attempt, although signed right
    for (int i = 0; i < 3; ++i)
        CHECK(connect_once(hub, "noSuchDevice", "x") == MqttProbe::not_authorized);
    CHECK(hub.broker_log().find("unknown device pkTest/noSuchDevice") != std::string::npos);
    CHECK(hub.broker_log().find("connection rate limit") != std::string::npos);
}

TEST_CASE("hub rate: a blocked device is let in again after the block time", "[integration][hub]") {
    auto hub = limited_hub("--connect-min-interval-ms 0 --connect-window-ms 3600000 --connect-window-max 1 "
                           "--connect-block-ms 200");
    REQUIRE(connect_once(hub, "dev1", "devSecret1") == MqttProbe::accepted);
    REQUIRE(connect_once(hub, "dev1", "devSecret1") == MqttProbe::not_authorized);
    // Attempts during the block are refused without extending it, so polling ends.
    int code = MqttProbe::not_authorized;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (code != MqttProbe::accepted && std::chrono::steady_clock::now() < deadline)
        code = connect_once(hub, "dev1", "devSecret1");
    CHECK(code == MqttProbe::accepted);
}

TEST_CASE("hub rate: the platform's numbers apply by default", "[integration][hub]") {
    // At most 4 connects within 2 minutes: whatever the timing, the 5th of 5 quick attempts is refused.
    auto hub = limited_hub("");
    const MqttCredentials credentials = device_credentials("pkTest", "dev3", "devSecret3");
    CHECK(connect_once(hub, credentials) == MqttProbe::accepted);
    for (int i = 2; i <= 4; ++i)
        connect_once(hub, credentials);
    CHECK(connect_once(hub, credentials) == MqttProbe::not_authorized);
    CHECK(connect_once(hub, device_credentials("pkTest", "dev4", "devSecret4")) == MqttProbe::accepted);
}

TEST_CASE("hub rate: the integration channel and the admin identity", "[integration][hub]") {
    auto hub = limited_hub("--connect-min-interval-ms 3600000");
    const auto channel = [] {
        return device_credentials("pkInt001", "", "prodSecretXYZ", enos::device::SecureMode::integration);
    };
    CHECK(connect_once(hub, channel()) == MqttProbe::accepted);
    CHECK(connect_once(hub, channel()) == MqttProbe::not_authorized); // limited like a device, per product
    for (int i = 0; i < 3; ++i)
        CHECK(connect_once(hub, hub.admin()) == MqttProbe::accepted); // never limited
}
