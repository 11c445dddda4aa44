// Authentication by the enos-hub broker plugin (docs/protocol.md §1.2–1.4, §1.8), seen from a client:
// the CONNACK code mosquitto sends. mosquitto 2.0 maps every refusal of an authentication plugin
// to CONNACK 5 ("not authorised") and offers no way to send 4, so a wrong signature and a disabled
// device both read 5 here; the broker log says which it was.
#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/mqtt_probe.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/sign.hpp>

#include <random>

using namespace enos::test;
using enos::device::HexCase;
using enos::device::SecureMode;
using enos::device::SignMethod;

namespace {

int connack(std::uint16_t port, const MqttCredentials& credentials) {
    MqttProbe probe(port);
    const int code = probe.connect(credentials);
    INFO("client id " << credentials.client_id << ", username " << credentials.username << ": "
                      << probe.last_error());
    return code;
}

// CONNECT fields written by hand, for sign method spellings make_connect_credentials normalises
// and for fields that deliberately disagree with the signature.
MqttCredentials handmade(const std::string& raw_id, const std::string& method_name, const std::string& ts,
                         const std::string& username, const std::string& password) {
    return {raw_id + "|securemode=2,signmethod=" + method_name + ",timestamp=" + ts + "|", username,
            password};
}

std::string signature(const std::string& raw_id, const std::string& dk, const std::string& pk,
                      const std::string& ts, const std::string& secret,
                      SignMethod method = SignMethod::sha256) {
    return enos::device::sign({raw_id, dk, pk, ts}, secret, method);
}

} // namespace

TEST_CASE("hub auth: a correct signature is accepted in lower and upper case hex", "[integration][hub]") {
    const auto& hub = shared_hub();
    CHECK(connack(hub.port(), device_credentials("pkTest", "dev1", "devSecret1", SecureMode::static_secret,
                                                 SignMethod::sha256, HexCase::lower)) == MqttProbe::accepted);
    CHECK(connack(hub.port(), device_credentials("pkTest", "dev1", "devSecret1", SecureMode::static_secret,
                                                 SignMethod::sha256, HexCase::upper)) == MqttProbe::accepted);
}

TEST_CASE("hub auth: every sign method and its hmac alias is accepted", "[integration][hub]") {
    const auto& hub = shared_hub();
    for (SignMethod method : {SignMethod::sha256, SignMethod::sha1, SignMethod::md5}) {
        INFO("method " << enos::device::to_string(method));
        CHECK(connack(hub.port(), device_credentials("pkTest", "dev2", "devSecret2",
                                                     SecureMode::static_secret, method)) ==
              MqttProbe::accepted);
    }
    const std::string ts = enos::device::now_ms_string();
    for (auto [name, method] :
         {std::pair{"hmacsha256", SignMethod::sha256}, std::pair{"hmacsha1", SignMethod::sha1},
          std::pair{"hmacmd5", SignMethod::md5}, std::pair{"SHA256", SignMethod::sha256}}) {
        INFO("signmethod=" << name);
        const std::string id = unique_client_id("dev2");
        CHECK(connack(hub.port(), handmade(id, name, ts, "dev2&pkTest",
                                           signature(id, "dev2", "pkTest", ts, "devSecret2", method))) ==
              MqttProbe::accepted);
    }
}

TEST_CASE("hub auth: a wrong secret is refused", "[integration][hub]") {
    const auto& hub = shared_hub();
    CHECK(connack(hub.port(), device_credentials("pkTest", "dev3", "notTheSecret")) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), device_credentials("pkTest", "dev3", "devSecret3")) == MqttProbe::accepted);
    CHECK(hub.broker_log().find("signature mismatch for pkTest/dev3") != std::string::npos);
}

TEST_CASE("hub auth: the signed clientId and timestamp must be the ones in the CONNECT",
          "[integration][hub]") {
    const auto& hub = shared_hub();
    const std::string id = unique_client_id("dev3");
    const std::string ts = "1700000000000";
    const std::string good = signature(id, "dev3", "pkTest", ts, "devSecret3");
    CHECK(connack(hub.port(), handmade(id, "sha256", ts, "dev3&pkTest", good)) == MqttProbe::accepted);
    CHECK(connack(hub.port(), handmade(id, "sha256", "1700000000001", "dev3&pkTest", good)) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), handmade(id + "x", "sha256", ts, "dev3&pkTest", good)) ==
          MqttProbe::not_authorized);
    // The signature of another method over the same input is not accepted either.
    CHECK(connack(hub.port(), handmade(id, "sha1", ts, "dev3&pkTest", good)) == MqttProbe::not_authorized);
}

TEST_CASE("hub auth: unknown and disabled devices are refused", "[integration][hub]") {
    const auto& hub = shared_hub();
    CHECK(connack(hub.port(), device_credentials("pkTest", "noSuchDevice", "whatever")) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), device_credentials("pkNoSuchProduct", "dev1", "devSecret1")) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), device_credentials("pkTest", "disabled1", "disabledSecret1")) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), device_credentials("pkOff", "off1", "offSecret1")) ==
          MqttProbe::not_authorized);
    const std::string log = hub.broker_log();
    CHECK(log.find("unknown device pkTest/noSuchDevice") != std::string::npos);
    CHECK(log.find("device pkTest/disabled1 is disabled") != std::string::npos);
}

TEST_CASE("hub auth: malformed CONNECT fields are refused and the broker keeps serving",
          "[integration][hub]") {
    const auto& hub = shared_hub();
    const std::string ts = enos::device::now_ms_string();
    const std::string id = unique_client_id("dev4");
    const std::string good = signature(id, "dev4", "pkTest", ts, "devSecret4");
    CHECK(connack(hub.port(), {id, "dev4&pkTest", good}) ==
          MqttProbe::not_authorized); // no |securemode...| section
    CHECK(connack(hub.port(), handmade(id, "sha256", ts, "dev4pkTest", good)) == MqttProbe::not_authorized);
    CHECK(connack(hub.port(), handmade(id, "sha384", ts, "dev4&pkTest", good)) == MqttProbe::not_authorized);
    CHECK(connack(hub.port(), {id + "|securemode=9,signmethod=sha256,timestamp=" + ts + "|", "dev4&pkTest",
                               good}) == MqttProbe::not_authorized);
    CHECK(connack(hub.port(), handmade(id, "sha256", ts, "dev4&pkTest", "")) == MqttProbe::not_authorized);
    CHECK(raw_connect(hub.port(), id + "|securemode=2,signmethod=sha256,timestamp=" + ts + "|", std::nullopt,
                      std::nullopt) == MqttProbe::not_authorized);
    CHECK(raw_connect(hub.port(), id + "|securemode=2,signmethod=sha256,timestamp=" + ts + "|", "dev4&pkTest",
                      std::nullopt) == MqttProbe::not_authorized);
    // Bytes a client library would never send: mosquitto itself drops invalid UTF-8 (no CONNACK).
    raw_connect(hub.port(), "\xff\xfe|securemode=2|", "\xc3\x28&pkTest", "x");
    raw_connect(hub.port(), std::string(4000, '|'), std::string(5000, '&'), std::string(6000, 'A'));
    raw_connect(hub.port(), "dev4|securemode=2,signmethod=sha256,timestamp=1.2.3|", "&", "");
    // Random fields around the right shape (a fixed seed keeps the run reproducible).
    std::mt19937 random(4);
    const auto noise = [&random](std::size_t max_length) {
        std::string s(random() % max_length, '\0');
        for (char& c : s)
            c = "ab|&,=%09 \x7f\xc3"[random() % 13];
        return s;
    };
    for (int i = 0; i < 100; ++i)
        raw_connect(hub.port(),
                    noise(80) + "|securemode=" + noise(3) + ",signmethod=" + noise(8) +
                        ",timestamp=" + noise(6) + "|",
                    noise(20), noise(70));

    CHECK(connack(hub.port(), handmade(id, "sha256", ts, "dev4&pkTest", good)) == MqttProbe::accepted);
}

TEST_CASE("hub auth: securemode 3 only for a dynamic-activation product, before activation",
          "[integration][hub]") {
    // A private hub: an activation changes the state of the device for every later test.
    auto hub = HubProcess::start();
    // pkTest has no dynamic activation, even with the right product secret.
    CHECK(connack(hub.port(),
                  device_credentials("pkTest", "dev1", "prodSecretTest", SecureMode::dynamic_activation)) ==
          MqttProbe::not_authorized);
    // pkDyn001/dyn1 is not activated yet: the product secret logs it in, but it has no deviceSecret.
    CHECK(connack(hub.port(), device_credentials("pkDyn001", "dyn1", "wrongProductSecret",
                                                 SecureMode::dynamic_activation)) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), device_credentials("pkDyn001", "dyn1", "aGuess", SecureMode::static_secret)) ==
          MqttProbe::not_authorized);

    MqttProbe device(hub.port());
    REQUIRE(device.connect(device_credentials("pkDyn001", "dyn1", "prodSecretXYZ",
                                              SecureMode::dynamic_activation)) == MqttProbe::accepted);
    // Only the activation topics are open to it.
    CHECK(device.subscribe("/ext/session/pkDyn001/dyn1/thing/activate/info") == 1);
    CHECK(device.subscribe("/sys/pkDyn001/dyn1/thing/service/+") == MqttProbe::subscription_refused);
    CHECK(device.subscribe("/ext/session/pkDyn001/dyn1/#") == MqttProbe::subscription_refused);
    CHECK(hub.broker_log().find("securemode-3 (activation) connection may only") != std::string::npos);
}

TEST_CASE("hub auth: securemode 4 (integration channel) uses the product secret and %channel%",
          "[integration][hub]") {
    const auto& hub = shared_hub();
    CHECK(connack(hub.port(), device_credentials("pkInt001", "", "prodSecretXYZ", SecureMode::integration)) ==
          MqttProbe::accepted);
    CHECK(connack(hub.port(), device_credentials("pkInt001", "", "wrongSecret", SecureMode::integration)) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), device_credentials("pkNoSuchProduct", "", "prodSecretXYZ",
                                                 SecureMode::integration)) == MqttProbe::not_authorized);

    // securemode 4 with a device username, and a %channel% username with securemode 2.
    const std::string ts = enos::device::now_ms_string();
    const std::string id = unique_client_id("pkInt001");
    CHECK(connack(hub.port(), {id + "|securemode=4,signmethod=sha256,timestamp=" + ts + "|", "dev1&pkInt001",
                               signature(id, "dev1", "pkInt001", ts, "prodSecretXYZ")}) ==
          MqttProbe::not_authorized);
    CHECK(connack(hub.port(), handmade(id, "sha256", ts, "%channel%&pkInt001",
                                       signature(id, "%channel%", "pkInt001", ts, "prodSecretXYZ"))) ==
          MqttProbe::not_authorized);
}

TEST_CASE("hub auth: the admin identity needs the run directory's token", "[integration][hub]") {
    const auto& hub = shared_hub();
    MqttCredentials admin = hub.admin();
    CHECK(connack(hub.port(), admin) == MqttProbe::accepted);
    admin.password += "0";
    CHECK(connack(hub.port(), admin) == MqttProbe::not_authorized);
    admin.password.clear();
    CHECK(connack(hub.port(), admin) == MqttProbe::not_authorized);
}
