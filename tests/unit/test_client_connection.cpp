// Connecting over a fake transport: option checks, credentials, connection events, the SDK's own
// reconnect (back-off on a manual clock, slow retries after a refusal), resubscription, dynamic
// activation.
#include "client_fakes.hpp"

#include "support/catch.hpp"
#include "support/connection_events.hpp"
#include "support/temp_dir.hpp"

#include <enos/device.hpp>

#include <algorithm>
#include <fstream>
#include <future>
#include <sys/stat.h>

using namespace enos::device;
using namespace enos::test;

namespace {

Result<DeviceClient> make(ClientOptions options) {
    return detail::create_client(std::move(options),
                                 std::make_unique<FakeTransport>(std::make_shared<FakeBroker>()),
                                 std::make_shared<ManualClock>());
}

} // namespace

TEST_CASE("connection: create() refuses options a user can fix, saying which", "[unit][client]") {
    auto options = ClientRig::default_options();
    SECTION("keep-alive outside 60..300 s") {
        options.keep_alive = std::chrono::seconds(30);
        auto c = make(options);
        REQUIRE_FALSE(c);
        CHECK(c.error() == errc::invalid_argument);
        CHECK(c.error().detail.find("keep_alive") != std::string::npos);
    }
    SECTION("URL scheme") {
        options.server_url = "http://127.0.0.1:1883";
        CHECK(make(options).error() == errc::invalid_argument);
    }
    SECTION("no secret at all") {
        options.device_secret.clear();
        CHECK(make(options).error() == errc::missing_argument);
    }
    SECTION("dynamic activation with nowhere to keep the issued secret") {
        options.device_secret.clear();
        options.product_secret = "prodSecretXYZ";
        auto c = make(options);
        REQUIRE_FALSE(c);
        CHECK(c.error() == errc::missing_argument);
        CHECK(c.error().detail.find("device_secret_file or on_device_secret") != std::string::npos);
        CHECK(c.error().detail.find("prodSecretXYZ") == std::string::npos);
    }
    SECTION("a key that cannot be part of a topic") {
        options.device_key = "dev/1";
        CHECK(make(options).error() == errc::invalid_argument);
    }
    SECTION("TLS without a CA while verifying the server") {
        options.server_url = "ssl://127.0.0.1:18883";
        auto c = make(options);
        CHECK(c.error() == errc::invalid_argument);
        CHECK(c.error().detail.find("ca_file") != std::string::npos);
    }
    SECTION("TLS files that do not exist") {
        options.server_url = "ssl://127.0.0.1:18883";
        options.tls.ca_file = "/nonexistent/ca.pem";
        CHECK(make(options).error() == errc::tls_error);
    }
    SECTION("secrets never appear in the error text") {
        options.device_secret = "TopSecret123";
        options.client_id = std::string(70, 'c');
        auto c = make(options);
        REQUIRE_FALSE(c);
        CHECK(c.error().message().find("TopSecret123") == std::string::npos);
    }
}

TEST_CASE("connection: connect() signs in with securemode 2 and MQTT credentials from the core",
          "[unit][client]") {
    ConnectionEvents log; // outlives the client, which reports to it until destroyed
    ClientRig rig;
    rig.client.on_connection(log.handler());
    REQUIRE(rig.client.connect());
    CHECK(rig.client.state() == ConnectionState::connected);
    auto connects = rig.broker->connects();
    REQUIRE(connects.size() == 1);
    auto fields = parse_mqtt_client_id(connects[0].client_id);
    REQUIRE(fields);
    CHECK(fields->raw_client_id == "dk");
    CHECK(fields->secure_mode == 2);
    CHECK(connects[0].username == "dk&pk");
    CHECK(connects[0].password == sign({"dk", "dk", "pk", fields->timestamp}, "secret"));
    CHECK(connects[0].keep_alive == std::chrono::seconds(60));
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::connected); }));
    CHECK_FALSE(log.last().reconnect);
    CHECK(rig.client.connect()); // already connected: nothing new
    CHECK(rig.broker->connects().size() == 1);
}

TEST_CASE("connection: a refused connect reports the reason and is not retried", "[unit][client]") {
    ConnectionEvents log; // outlives the client, which reports to it until destroyed
    ClientRig rig;
    rig.client.on_connection(log.handler());
    rig.broker->connect_result = Error{errc::bad_credentials, "CONNACK 4"};
    Status s = rig.client.connect();
    CHECK(s.error() == errc::bad_credentials);
    CHECK(rig.client.state() == ConnectionState::disconnected);
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::refused); }));
    rig.advance(std::chrono::minutes(10));
    CHECK(rig.broker->connects().size() == 1);
}

TEST_CASE("connection: a lost link is re-established with back-off, ids keep counting and reply topics are "
          "resubscribed",
          "[unit][client]") {
    ConnectionEvents log; // outlives the client, which reports to it until destroyed
    ClientRig rig;
    rig.client.on_connection(log.handler());
    REQUIRE(rig.client.connect());

    // Make the reply topic known, then lose the link.
    auto first = std::async(std::launch::async, [&] { return rig.client.send(up::AttributeQuery{}); });
    auto q1 = rig.broker->wait_for_topic("/sys/pk/dk/thing/attribute/query");
    REQUIRE(q1);
    CHECK(request_id(*q1) == "1");
    rig.broker->deliver("/sys/pk/dk/thing/attribute/query_reply", reply_json("1"));
    REQUIRE(first.get());

    rig.broker->lose_link("broker went away");
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::retrying); }));
    const ConnectionEvent retrying = log.nth(ConnectionEventKind::retrying, 1);
    CHECK(retrying.attempt == 1);
    CHECK(retrying.reason.detail.find("broker went away") != std::string::npos);
    CHECK(retrying.retry_in >= 1s); // at least min_spacing after the previous CONNECT
    CHECK(rig.client.state() == ConnectionState::waiting_retry);
    CHECK(rig.client.send(up::AttributeQuery{}).error() == errc::not_connected);

    rig.advance(retrying.retry_in - 1ms);
    CHECK(rig.broker->connects().size() == 1);
    rig.advance(1ms);
    REQUIRE(rig.broker->wait_connects(2));
    REQUIRE(eventually([&] { return rig.client.connected(); }));
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::connected, 2); }));
    CHECK(log.nth(ConnectionEventKind::connected, 2).reconnect);

    auto subs = rig.broker->subscriptions();
    CHECK(std::count(subs.back().begin(), subs.back().end(), "/sys/pk/dk/thing/attribute/query_reply") == 1);
    CHECK(rig.broker->times_subscribed("/sys/pk/dk/thing/attribute/query_reply") == 2); // once per connection

    auto second = std::async(std::launch::async, [&] { return rig.client.send(up::AttributeQuery{}); });
    auto q2 = rig.broker->wait_for_topic("/sys/pk/dk/thing/attribute/query", 1);
    REQUIRE(q2);
    // The refused send above took "2": an id is never handed out twice, so a late reply to an
    // earlier request can never complete this one.
    CHECK(request_id(*q2) == "3");
    rig.broker->deliver("/sys/pk/dk/thing/attribute/query_reply", reply_json(request_id(*q2)));
    REQUIRE(second.get());
    CHECK(rig.client.stats().connection_losses == 1);
    CHECK(rig.client.stats().connects == 2);
}

TEST_CASE("connection: failed retries back off and keep within 4 attempts per 2 minutes", "[unit][client]") {
    ConnectionEvents log; // outlives the client, which reports to it until destroyed
    ClientRig rig;
    rig.client.on_connection(log.handler());
    std::vector<ManualClock::time_point> attempts{rig.clock->now()};
    REQUIRE(rig.client.connect());
    rig.broker->connect_result = Error{errc::host_unreachable, "connection refused"};
    rig.broker->lose_link();

    for (std::size_t n = 1; n <= 6; ++n) {
        REQUIRE(eventually([&] { return log.has(ConnectionEventKind::retrying, n); }));
        rig.advance(log.nth(ConnectionEventKind::retrying, n).retry_in);
        REQUIRE(rig.broker->wait_connects(n + 1));
        attempts.push_back(rig.clock->now());
    }
    // Counting the first connect too, no 2-minute window holds more than 4 attempts.
    CHECK(attempts[1] - attempts[0] >= 1s);
    for (std::size_t i = 4; i < attempts.size(); ++i)
        CHECK(attempts[i] - attempts[i - 4] > std::chrono::minutes(2));
    CHECK(rig.client.state() == ConnectionState::waiting_retry);

    // A refusal during the retries slows them down to retry_after_refusal (5 minutes by default).
    rig.broker->connect_result = Error{errc::not_authorized, "CONNACK 5"};
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::retrying, 7); }));
    rig.advance(log.nth(ConnectionEventKind::retrying, 7).retry_in);
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::retrying, 8); }));
    const ConnectionEvent refused = log.nth(ConnectionEventKind::refused, 1);
    CHECK(refused.state == ConnectionState::waiting_retry);
    CHECK(refused.reason == errc::not_authorized);
    const auto slow = log.nth(ConnectionEventKind::retrying, 8).retry_in;
    CHECK(slow >= std::chrono::minutes(5));
    const std::size_t tried = rig.broker->connects().size();
    rig.advance(slow - 1ms);
    CHECK(rig.broker->connects().size() == tried);
    CHECK(rig.client.state() == ConnectionState::waiting_retry);

    // Once the cause is fixed on the platform, the device comes back by itself.
    rig.broker->connect_result = Status{};
    rig.advance(1ms);
    REQUIRE(rig.broker->wait_connects(tried + 1));
    REQUIRE(eventually([&] { return rig.client.connected(); }));
}

TEST_CASE("connection: with retry_after_refusal 0 a refused reconnect stops the retries", "[unit][client]") {
    ConnectionEvents log; // outlives the client, which reports to it until destroyed
    auto options = ClientRig::default_options();
    options.retry_after_refusal = std::chrono::milliseconds(0);
    ClientRig rig(options);
    rig.client.on_connection(log.handler());
    REQUIRE(rig.client.connect());
    rig.broker->connect_result = Error{errc::bad_credentials, "CONNACK 4"};
    rig.broker->lose_link();
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::retrying); }));
    rig.advance(log.nth(ConnectionEventKind::retrying, 1).retry_in);
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::refused); }));
    CHECK(log.nth(ConnectionEventKind::refused, 1).state == ConnectionState::disconnected);
    const std::size_t tried = rig.broker->connects().size();
    rig.advance(std::chrono::minutes(30));
    CHECK(rig.broker->connects().size() == tried);
    CHECK(rig.client.state() == ConnectionState::disconnected);
}

TEST_CASE("connection: disconnect() closes without a lost event and stops retrying", "[unit][client]") {
    ConnectionEvents log; // outlives the client, which reports to it until destroyed
    ClientRig rig;
    rig.client.on_connection(log.handler());
    REQUIRE(rig.client.connect());
    REQUIRE(rig.client.disconnect());
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::closed); }));
    rig.broker->lose_link(); // a late report of the closed link
    rig.advance(std::chrono::minutes(5));
    CHECK_FALSE(log.has(ConnectionEventKind::lost));
    CHECK(rig.broker->connects().size() == 1);
    CHECK(rig.client.state() == ConnectionState::disconnected);
    REQUIRE(rig.client.connect()); // and connect() works again
}

TEST_CASE("connection: the closed event comes once, from disconnect() or else from the destructor",
          "[unit][client]") {
    ConnectionEvents disconnected_first; // outlive the clients; queued events still run when a client dies
    ConnectionEvents destroyed_connected;
    {
        ClientRig rig;
        rig.client.on_connection(disconnected_first.handler());
        REQUIRE(rig.client.connect());
        REQUIRE(rig.client.disconnect());
    }
    {
        ClientRig rig;
        rig.client.on_connection(destroyed_connected.handler());
        REQUIRE(rig.client.connect());
    }
    for (ConnectionEvents* log : {&disconnected_first, &destroyed_connected}) {
        CHECK(log->has(ConnectionEventKind::closed));
        CHECK_FALSE(log->has(ConnectionEventKind::closed, 2));
    }
}

TEST_CASE("connection: a connect attempt without an answer ends at connect_timeout", "[unit][client]") {
    ClientRig rig;
    rig.broker->answer_connects = false;
    auto result = std::async(std::launch::async, [&] { return rig.client.connect(); });
    REQUIRE(rig.broker->wait_connects(1));
    rig.advance(ClientRig::default_options().connect_timeout);
    Status s = result.get();
    CHECK(s.error() == errc::timeout);
    CHECK(rig.broker->finish_connect({})); // a late CONNACK is ignored
    CHECK_FALSE(rig.client.connected());
}

TEST_CASE("connection: destroying the client inside its connection handler is safe", "[unit][client]") {
    auto broker = std::make_shared<FakeBroker>();
    auto client = std::make_unique<DeviceClient>(
        detail::create_client(ClientRig::default_options(), std::make_unique<FakeTransport>(broker),
                              std::make_shared<ManualClock>())
            .value());
    // Shared, so the handler may still be inside set_value() when the test ends.
    auto done = std::make_shared<std::promise<void>>();
    client->on_connection([&client, done](const ConnectionEvent& e) {
        if (e.kind != ConnectionEventKind::lost) return;
        client.reset();
        done->set_value();
    });
    REQUIRE(client->connect());
    // From here on no thread but the dispatcher's uses the client (destroying an object while
    // another thread is inside one of its methods is never allowed).
    broker->lose_link();
    REQUIRE(done->get_future().wait_for(5s) == std::future_status::ready);
    CHECK(broker->disconnects() >= 1);
}

TEST_CASE(
    "connection: dynamic activation stores the secret, acknowledges it and reconnects with securemode 2",
    "[unit][client]") {
    TempDir dir;
    const std::string secret_file = dir.path() + "/device.secret";
    auto options = ClientRig::default_options();
    options.device_secret.clear();
    options.product_secret = "prodSecretXYZ";
    options.device_secret_file = secret_file;
    std::string handed_over;
    options.on_device_secret = [&](std::string_view s) {
        handed_over = std::string(s);
        return Status{};
    };
    ConnectionEvents log;
    ClientRig rig(options);
    rig.client.on_connection(log.handler());

    auto connected = std::async(std::launch::async, [&] { return rig.client.connect(); });
    REQUIRE(rig.broker->wait_connects(1));
    auto first = rig.broker->connects()[0];
    CHECK(parse_mqtt_client_id(first.client_id)->secure_mode == 3);
    REQUIRE(eventually([&] { return rig.broker->subscriptions().size() == 1; }));
    CHECK(rig.broker->subscriptions()[0] ==
          std::vector<std::string>{"/ext/session/pk/dk/thing/activate/info"});

    rig.broker->deliver(
        "/ext/session/pk/dk/thing/activate/info",
        R"({"id":"1","version":"1.0","method":"thing.activate.info","params":)"
        R"({"assetId":"a1","productKey":"pk","deviceKey":"dk","deviceSecret":"newSecret42"}})");
    auto ack = rig.broker->wait_for_topic("/ext/session/pk/dk/thing/activate/info_reply");
    REQUIRE(ack);
    CHECK(ack->qos == 0);
    CHECK(decode_reply(ack->payload)->code == 200);
    CHECK(handed_over == "newSecret42");
    std::ifstream stored(secret_file);
    std::string line;
    std::getline(stored, line);
    CHECK(line == "newSecret42");
    struct stat st {};
    REQUIRE(::stat(secret_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // The platform takes one CONNECT per second: the second one waits for the clock.
    REQUIRE(eventually([&] {
        rig.advance(100ms);
        return rig.broker->connects().size() == 2;
    }));
    REQUIRE(connected.get());
    auto second = rig.broker->connects()[1];
    auto fields = parse_mqtt_client_id(second.client_id);
    CHECK(fields->secure_mode == 2);
    CHECK(second.password == sign({"dk", "dk", "pk", fields->timestamp}, "newSecret42"));
    CHECK(second.client_id.find("newSecret42") == std::string::npos);
    REQUIRE(eventually([&] { return log.has(ConnectionEventKind::activated); }));

    // A later client finds the stored secret and skips activation.
    ClientRig again(options);
    REQUIRE(again.client.connect());
    CHECK(parse_mqtt_client_id(again.broker->connects()[0].client_id)->secure_mode == 2);
}

TEST_CASE("connection: activation is not acknowledged when the secret cannot be kept", "[unit][client]") {
    auto options = ClientRig::default_options();
    options.device_secret.clear();
    options.product_secret = "prodSecretXYZ";
    options.on_device_secret = [](std::string_view) {
        return Status{Error{errc::store_error, "flash full"}};
    };
    ClientRig rig(options);
    auto connected = std::async(std::launch::async, [&] { return rig.client.connect(); });
    REQUIRE(eventually([&] { return rig.broker->subscriptions().size() == 1; }));
    rig.broker->deliver("/ext/session/pk/dk/thing/activate/info",
                        R"({"id":"1","method":"thing.activate.info","params":)"
                        R"({"productKey":"pk","deviceKey":"dk","deviceSecret":"s"}})");
    Status s = connected.get();
    CHECK(s.error() == errc::store_error);
    CHECK(s.error().detail.find("flash full") != std::string::npos);
    CHECK(FakeBroker::count_on(rig.broker->published(), "/ext/session/pk/dk/thing/activate/info_reply") == 0);
    CHECK(rig.client.state() == ConnectionState::disconnected);
}

TEST_CASE("connection: activation gives up when no secret arrives", "[unit][client]") {
    auto options = ClientRig::default_options();
    options.device_secret.clear();
    options.product_secret = "prodSecretXYZ";
    options.on_device_secret = [](std::string_view) { return Status{}; };
    options.activation_timeout = 15s;
    ClientRig rig(options);
    auto connected = std::async(std::launch::async, [&] { return rig.client.connect(); });
    REQUIRE(eventually([&] { return rig.broker->subscriptions().size() == 1; }));
    // The deadline is armed once the activation link is up; keep moving the clock until it fires.
    REQUIRE(eventually([&] {
        rig.advance(1s);
        return connected.wait_for(0s) == std::future_status::ready;
    }));
    Status s = connected.get();
    CHECK(s.error() == errc::timeout);
    CHECK(rig.broker->disconnects() >= 1);
}
