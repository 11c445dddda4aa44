// The broker plugin's decisions without a broker: the connect rate limiter on a manual clock, the
// topic rules, and authentication against a registry and an activation store written here. The
// end-to-end behaviour through mosquitto is in test_hub_auth/acl/rate.
#include "support/catch.hpp"
#include "support/mqtt_probe.hpp"
#include "support/temp_dir.hpp"

#include "plugin/authenticator.hpp"
#include "plugin/connect_limiter.hpp"
#include "plugin/topic_rules.hpp"

#include <enos/device/core/credentials.hpp>

#include <sqlite3.h>

using namespace enos::hub;
using namespace enos::hub::plugin;
using namespace std::chrono_literals;
using enos::device::SecureMode;

namespace {

ConnectLimiter::Clock::time_point at(std::chrono::milliseconds t) {
    return ConnectLimiter::Clock::time_point(t);
}

Identity device(const std::string& pk, const std::string& dk, bool gateway = false) {
    Identity who;
    who.role = Role::device;
    who.product_key = pk;
    who.device_key = dk;
    who.gateway = gateway;
    return who;
}

bool allowed(const Identity& who, Access access, const std::string& topic,
             const SubDeviceSet* subs = nullptr) {
    return check_topic(who, access, topic, subs).empty();
}

} // namespace

TEST_CASE("hub rules: the connect limiter counts attempts in a sliding window", "[integration][hub][rules]") {
    ConnectLimiter limiter({true, 1000ms, 120000ms, 4, 300000ms});
    CHECK(limiter.admit("pk/a", at(0ms)).empty());
    CHECK_FALSE(limiter.admit("pk/a", at(999ms)).empty()); // too soon, and counted
    CHECK(limiter.admit("pk/a", at(2000ms)).empty());
    CHECK(limiter.admit("pk/a", at(3000ms)).empty());
    CHECK(limiter.admit("pk/b", at(3000ms)).empty()); // other devices are independent
    // The 5th attempt within 120 s blocks for 300 s...
    CHECK(limiter.admit("pk/a", at(4000ms)).find("blocked for 300000 ms") != std::string::npos);
    CHECK_FALSE(limiter.admit("pk/a", at(303999ms)).empty());
    // ...and then the history starts afresh.
    CHECK(limiter.admit("pk/a", at(304000ms)).empty());

    // Attempts leave the window after 120 s.
    ConnectLimiter sliding({true, 0ms, 120000ms, 2, 300000ms});
    CHECK(sliding.admit("pk/a", at(0ms)).empty());
    CHECK(sliding.admit("pk/a", at(60000ms)).empty());
    CHECK(sliding.admit("pk/a", at(120000ms)).empty()); // the first one has left the window
    CHECK_FALSE(sliding.admit("pk/a", at(120001ms)).empty());

    ConnectLimiter off({false, 1000ms, 120000ms, 1, 300000ms});
    for (int i = 0; i < 10; ++i)
        CHECK(off.admit("pk/a", at(0ms)).empty());
}

TEST_CASE("hub rules: only the admin identity may publish retained messages", "[integration][hub][rules]") {
    Identity activation = device("pk", "dk"), integration = device("pk", "%channel%"), admin;
    activation.role = Role::activation;
    integration.role = Role::integration;
    admin.role = Role::admin;
    for (const Identity& who : {device("pk", "dk"), device("gwPk", "gw", true), activation, integration}) {
        CHECK(check_retain(who, false).empty());
        CHECK(check_retain(who, true) == "retained publishes are refused (devices never set retain)");
    }
    CHECK(check_retain(admin, true).empty());
}

TEST_CASE("hub rules: device, gateway, integration and activation topics", "[integration][hub][rules]") {
    const Identity dev = device("pk", "dk");
    CHECK(allowed(dev, Access::subscribe, "/sys/pk/dk/#"));
    CHECK(allowed(dev, Access::publish, "/sys/pk/dk/thing/measurepoint/post"));
    CHECK(allowed(dev, Access::deliver, "/ext/session/pk/dk/combine/login_reply"));
    CHECK(allowed(dev, Access::publish, "/sys/pk/dk/"));
    for (const char* topic :
         {"/sys/pk/dk", "/sys/pk/other/#", "/sys/pk/+/#", "/sys/+/dk/#", "#", "/sys/#", "sys/pk/dk/x",
          "/ext/session/pk/+/x", "/sys/pk/integration/x", "$hub/events/connect", ""})
        CHECK_FALSE(allowed(dev, Access::subscribe, topic));

    SubDeviceSet subs{"subPk/sub1"};
    const Identity gw = device("gwPk", "gw", true);
    CHECK(allowed(gw, Access::publish, "/sys/subPk/sub1/thing/measurepoint/post", &subs));
    CHECK(allowed(gw, Access::subscribe, "/sys/subPk/sub1/#", &subs));
    CHECK_FALSE(allowed(gw, Access::subscribe, "/sys/subPk/+/#", &subs));
    CHECK_FALSE(allowed(gw, Access::publish, "/sys/subPk/sub2/thing/measurepoint/post", &subs));
    CHECK_FALSE(allowed(gw, Access::publish, "/ext/session/subPk/sub1/combine/login", &subs));
    CHECK_FALSE(allowed(gw, Access::publish, "/sys/subPk/sub1", &subs));
    CHECK_FALSE(allowed(device("gwPk", "gw", false), Access::publish, "/sys/subPk/sub1/x", &subs));
    CHECK(check_topic(gw, Access::publish, "/sys/subPk/sub2/x", &subs).find("'subPk/sub2'") !=
          std::string::npos);

    Identity channel = device("pk", "%channel%");
    channel.role = Role::integration;
    CHECK(allowed(channel, Access::publish, "/sys/pk/integration/measurepoint/post"));
    CHECK(allowed(channel, Access::subscribe, "/sys/pk/integration/#"));
    CHECK_FALSE(allowed(channel, Access::publish, "/sys/pk/%channel%/thing/measurepoint/post"));
    CHECK_FALSE(allowed(channel, Access::subscribe, "/sys/pk/+/#"));

    Identity activating = device("pk", "dk");
    activating.role = Role::activation;
    CHECK(allowed(activating, Access::subscribe, "/ext/session/pk/dk/thing/activate/info"));
    CHECK(allowed(activating, Access::deliver, "/ext/session/pk/dk/thing/activate/info"));
    CHECK(allowed(activating, Access::publish, "/ext/session/pk/dk/thing/activate/info_reply"));
    CHECK_FALSE(allowed(activating, Access::publish, "/ext/session/pk/dk/thing/activate/info"));
    CHECK_FALSE(allowed(activating, Access::subscribe, "/ext/session/pk/dk/thing/activate/+"));
    CHECK_FALSE(allowed(activating, Access::publish, "/sys/pk/dk/thing/measurepoint/post"));

    Identity admin;
    admin.role = Role::admin;
    CHECK(allowed(admin, Access::subscribe, "#"));
    CHECK(allowed(admin, Access::publish, "$hub/anything"));
}

TEST_CASE("hub rules: a device publishes answers to commands but never commands or the cloud's replies",
          "[integration][hub][rules]") {
    const Identity gw = device("gwPk", "gw", true);
    const SubDeviceSet subs{"subPk/sub1"};
    for (const char* topic :
         {"/ext/session/gwPk/gw/combine/disable_reply", "/ext/session/gwPk/gw/combine/delete_reply",
          "/sys/gwPk/gw/thing/service/setPower_reply", "/sys/gwPk/gw/rrpc/response/42",
          "/sys/gwPk/gw/thing/model/down_raw_reply", "/ext/session/gwPk/gw/thing/activate/info_reply",
          "/sys/gwPk/gw/thing/measurepoint/post", "/ext/session/gwPk/gw/combine/login",
          "/sys/subPk/sub1/thing/service/reset_reply"}) {
        INFO(topic);
        CHECK(allowed(gw, Access::publish, topic, &subs));
    }
    for (const char* topic :
         {"/ext/session/gwPk/gw/combine/disable", "/ext/session/gwPk/gw/combine/enable",
          "/ext/session/gwPk/gw/combine/delete", "/ext/session/gwPk/gw/combine/login_reply",
          "/ext/session/gwPk/gw/combine/login/batch_reply", "/sys/gwPk/gw/thing/measurepoint/post_reply",
          "/sys/gwPk/gw/thing/service/setPower", "/sys/gwPk/gw/thing/model/up_raw_reply",
          "/sys/gwPk/gw/rrpc/request/42", "/sys/subPk/sub1/thing/measurepoint/post_reply"}) {
        INFO(topic);
        CHECK_FALSE(allowed(gw, Access::publish, topic, &subs));
        CHECK(allowed(gw, Access::subscribe, topic, &subs)); // receiving them is what they are for
    }
    Identity channel = device("pk", "%channel%");
    channel.role = Role::integration;
    CHECK_FALSE(allowed(channel, Access::publish, "/sys/pk/integration/measurepoint/post_reply"));
    Identity admin;
    admin.role = Role::admin;
    CHECK(allowed(admin, Access::publish, "/ext/session/gwPk/gw/combine/disable"));
}

namespace {

Registry rules_registry() {
    auto registry = parse_registry(R"({
      "products": [{"productKey": "pkDyn", "productSecret": "prodSecret", "dynamicActivation": true},
                   {"productKey": "pkStatic", "productSecret": "staticProductSecret"}],
      "devices": [{"productKey": "pkDyn", "deviceKey": "d1"}, {"productKey": "pkDyn", "deviceKey": "d2"},
                  {"productKey": "pkStatic", "deviceKey": "s1", "deviceSecret": "s1Secret"},
                  {"productKey": "pkStatic", "deviceKey": "gw", "deviceSecret": "gwSecret", "gateway": true}]})");
    REQUIRE(registry.ok());
    return std::move(*registry);
}

void record_activation(const std::string& db_path, const char* dk, const char* secret, int activated) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    const std::string sql =
        "CREATE TABLE IF NOT EXISTS activations(product_key TEXT, device_key TEXT, device_secret TEXT,"
        " activated INTEGER, PRIMARY KEY(product_key, device_key));"
        "INSERT OR REPLACE INTO activations VALUES('pkDyn', '" +
        std::string(dk) + "', '" + secret + "', " + std::to_string(activated) + ");";
    CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

struct Login {
    AuthResult result;
    std::string store_error;
};

Login login(Authenticator& auth, const enos::test::MqttCredentials& c) {
    Login out;
    out.result = auth.authenticate({c.client_id, c.username, c.password}, ConnectLimiter::Clock::now(),
                                   out.store_error);
    return out;
}

enos::test::MqttCredentials credentials(const std::string& pk, const std::string& dk,
                                        const std::string& secret,
                                        SecureMode mode = SecureMode::static_secret) {
    enos::device::CredentialInput in;
    in.product_key = pk;
    in.device_key = dk;
    in.secret = secret;
    in.mode = mode;
    auto c = enos::device::make_connect_credentials(in);
    REQUIRE(c.ok());
    return {c->client_id, c->username, c->password};
}

} // namespace

TEST_CASE("hub rules: authentication follows the simulator's activations", "[integration][hub][rules]") {
    enos::test::TempDir dir;
    const Registry registry = rules_registry();
    const ActivationStore store(dir.file("hub.db"));
    ConnectLimiter limiter({false, 0ms, 0ms, 1, 0ms});
    Authenticator auth(registry, store, limiter, "admin", "token");

    // No database yet: nothing is activated.
    CHECK(login(auth, credentials("pkDyn", "d1", "prodSecret", SecureMode::dynamic_activation))
              .result.identity);
    CHECK_FALSE(login(auth, credentials("pkDyn", "d1", "anything")).result.identity);
    CHECK(login(auth, credentials("pkStatic", "s1", "s1Secret")).result.identity);
    CHECK_FALSE(
        login(auth, credentials("pkStatic", "s1", "staticProductSecret", SecureMode::dynamic_activation))
            .result.identity);

    // A secret handed out but not confirmed: securemode 3 still works, the secret not yet.
    record_activation(dir.file("hub.db"), "d1", "newSecret", 0);
    CHECK(login(auth, credentials("pkDyn", "d1", "prodSecret", SecureMode::dynamic_activation))
              .result.identity);
    CHECK_FALSE(login(auth, credentials("pkDyn", "d1", "newSecret")).result.identity);

    // Confirmed: only securemode 2 with the new secret.
    record_activation(dir.file("hub.db"), "d1", "newSecret", 1);
    const Login activated = login(auth, credentials("pkDyn", "d1", "newSecret"));
    REQUIRE(activated.result.identity);
    CHECK(activated.result.identity->role == Role::device);
    const Login again = login(auth, credentials("pkDyn", "d1", "prodSecret", SecureMode::dynamic_activation));
    CHECK_FALSE(again.result.identity);
    CHECK(again.result.reason.find("already activated") != std::string::npos);
    CHECK(login(auth, credentials("pkDyn", "d2", "prodSecret", SecureMode::dynamic_activation))
              .result.identity);

    const Login gw = login(auth, credentials("pkStatic", "gw", "gwSecret"));
    REQUIRE(gw.result.identity);
    CHECK(gw.result.identity->gateway);
    const Login admin = login(auth, {"any-client-id", "admin", "token"});
    REQUIRE(admin.result.identity);
    CHECK(admin.result.identity->role == Role::admin);
    CHECK(admin.store_error.empty());
}

TEST_CASE("hub rules: registry errors name the entry", "[integration][hub][rules]") {
    const auto error_of = [](const char* json) { return parse_registry(json).error().detail; };
    CHECK(
        error_of(R"({"devices":[{"productKey":"p","deviceKey":"d"}]})").find("devices[0]: no deviceSecret") ==
        0);
    CHECK(error_of(R"({"devices":[{"productKey":"p","deviceKey":"a/b","deviceSecret":"s"}]})")
              .find("devices[0].deviceKey: deviceKey contains '/'") == 0);
    CHECK(error_of(R"({"products":[{"productKey":"p"},{"productKey":"p"}]})") ==
          "products[1]: product 'p' is listed twice");
    CHECK(error_of(R"({"products":[{"productKey":"p","dynamicActivation":true}]})") ==
          "products[0]: dynamicActivation needs a productSecret");
    CHECK(error_of(R"({"devices":[{"productKey":"p","deviceKey":"g","deviceSecret":"s"}],
                       "topology":[{"gateway":{"productKey":"p","deviceKey":"g"},"subDevices":[]}]})") ==
          "topology[0].gateway: 'p/g' is not marked \"gateway\": true");
    CHECK(error_of(R"({"tags":{"p/d":{"site":1}}})") == "tags[\"p/d\"].site: tag values must be strings");
    CHECK(error_of(R"({"firmware":[{"productKey":"p","version":"1","fileSize":-1}]})") ==
          "firmware[0].fileSize: must be a non-negative integer");
    CHECK(error_of("[1]") == "registry: the top level must be a JSON object");
    CHECK(error_of(std::string(100000, '[').c_str()).find("invalid JSON") == 0);

    const auto ok = parse_registry(R"({"_note":"x","products":[],"devices":[{"productKey":"p","deviceKey":"d",
        "deviceSecret":"s","enabled":false}],"attributes":{"p/d":{"n":{"nested":[1,2]}}}})");
    REQUIRE(ok.ok());
    CHECK_FALSE(ok->find_device("p", "d")->enabled);
    CHECK(ok->attributes.at("p/d") == R"({"n":{"nested":[1,2]}})");
}
