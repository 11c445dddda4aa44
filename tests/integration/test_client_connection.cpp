// DeviceClient connecting to enos-hub: refusals in words a user can act on, TLS and mutual TLS,
// certificate checks before connecting, dynamic activation end to end, and a broker outage with
// requests in flight (they fail clearly, the client reconnects and resubscribes, the next works).
#include "client_support.hpp"

#include "support/connection_events.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <fstream>
#include <future>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;

namespace {

void run_ok(const std::vector<std::string>& argv) {
    ProcessResult r = run_process(argv);
    INFO(argv[0] << " " << argv[1] << ": " << r.err);
    REQUIRE(r.exit_code == 0);
}

/// A certificate for pkTest/dev1 signed by the hub's CA with the given validity (openssl ca).
std::pair<std::string, std::string> dated_cert(const HubProcess& h, const TempDir& dir,
                                               const std::string& name, const std::string& start,
                                               const std::string& end) {
    const std::string d = dir.path() + "/" + name;
    run_ok({"mkdir", "-p", d + "/new"});
    std::ofstream(d + "/index.txt").close();
    std::ofstream(d + "/serial") << "1000\n";
    std::ofstream(d + "/ca.cnf")
        << "[ca]\ndefault_ca = local\n[local]\ndir = " << d
        << "\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\nserial = $dir/serial\n"
           "default_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n";
    run_ok({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d + "/dev.key"});
    run_ok({"openssl", "req", "-new", "-key", d + "/dev.key", "-subj", "/O=pkTest/CN=dev1", "-out",
            d + "/dev.csr"});
    run_ok({"openssl", "ca", "-config", d + "/ca.cnf", "-batch", "-cert", h.ca_file(), "-keyfile",
            h.dir() + "/certs/ca.key", "-startdate", start, "-enddate", end, "-in", d + "/dev.csr", "-out",
            d + "/dev.crt"});
    return {d + "/dev.crt", d + "/dev.key"};
}

} // namespace

TEST_CASE("client: refused connects say why and are not retried", "[integration][client]") {
    const HubProcess& h = hub();
    SECTION("wrong secret") {
        ConnectionEvents events;
        auto client = DeviceClient::create(options_for(h, "pkTest", "dev1", "wrongSecret"));
        REQUIRE(client);
        client->on_connection(events.handler());
        Status s = client->connect();
        // enos-hub answers every refusal with CONNACK 5 (mosquitto plugins cannot send 4).
        CHECK((s.error() == errc::not_authorized || s.error() == errc::bad_credentials));
        CHECK(s.error().message().find("wrongSecret") == std::string::npos);
        CHECK(s.error().message().find("secret") != std::string::npos); // tells what to check
        REQUIRE(eventually([&] { return events.has(ConnectionEventKind::refused); }));
        CHECK(client->state() == ConnectionState::disconnected);
    }
    SECTION("disabled device") {
        auto client = DeviceClient::create(options_for(h, "pkTest", "disabled1", "disabledSecret1"));
        REQUIRE(client);
        CHECK(client->connect().error() == errc::not_authorized);
    }
    SECTION("nobody listening") {
        auto options = options_for(h, "pkTest", "dev1", "devSecret1");
        options.server_url = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
        auto client = DeviceClient::create(options);
        REQUIRE(client);
        Status s = client->connect();
        CHECK(s.error() == errc::host_unreachable);
        CHECK(s.error().detail.find(options.server_url) != std::string::npos);
    }
}

TEST_CASE("client: TLS with server verification, and its failures", "[integration][client]") {
    const HubProcess& h = hub();
    auto options = options_for(h, "pkTest", "dev7", "devSecret7");
    options.server_url = h.tls_url();
    options.tls.ca_file = h.ca_file();
    SECTION("verified connection works") {
        DeviceClient client = connected_client(options);
        CHECK(client.send(up::MeasurepointPost{{{"overTls", 1}}}));
        Injected r = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev7", "--service", "x"});
        CHECK(r.reply.code == 1101);
    }
    SECTION("a CA that did not sign the broker's certificate") {
        TempDir dir;
        run_ok({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", dir.path() + "/other.key", "-subj", "/CN=other", "-days", "2", "-out",
                dir.path() + "/other.crt"});
        options.tls.ca_file = dir.path() + "/other.crt";
        auto client = DeviceClient::create(options);
        REQUIRE(client);
        Status s = client->connect();
        CHECK(s.error() == errc::tls_error);
        CHECK_FALSE(s.error().detail.empty());
    }
    SECTION("host name checked against the certificate") {
        options.server_url =
            "ssl://localhost:" + std::to_string(h.tls_port()); // the certificate names localhost too
        DeviceClient client = connected_client(options);
        CHECK(client.connected());
    }
}

TEST_CASE("client: mutual TLS, and certificate problems found before connecting", "[integration][client]") {
    HubProcess::Options hub_options;
    hub_options.tls = true;
    hub_options.require_client_cert = true;
    HubProcess h = HubProcess::start(hub_options);
    TempDir dir;
    auto [cert, key] = h.issue_device_cert("pkTest", "dev1", dir.path());
    auto options = options_for(h, "pkTest", "dev1", "devSecret1");
    options.server_url = h.tls_url();
    options.tls.ca_file = h.ca_file();

    SECTION("with the device certificate") {
        options.tls.cert_file = cert;
        options.tls.key_file = key;
        DeviceClient client = connected_client(options);
        CHECK(client.send(up::TagUpdate{{{"auth", "mtls"}}}));
    }
    SECTION("without a certificate the broker refuses the handshake") {
        auto client = DeviceClient::create(options);
        REQUIRE(client);
        Status s = client->connect();
        REQUIRE_FALSE(s);
        CHECK((s.error() == errc::tls_error || s.error() == errc::host_unreachable));
    }
    SECTION("a key of another certificate") {
        TempDir other;
        auto [other_cert, other_key] = h.issue_device_cert("pkTest", "dev2", other.path());
        options.tls.cert_file = cert;
        options.tls.key_file = other_key;
        auto client = DeviceClient::create(options);
        REQUIRE_FALSE(client);
        CHECK(client.error() == errc::key_mismatch);
        CHECK(client.error().detail.find(other_key) != std::string::npos);
    }
    SECTION("an expired certificate") {
        auto [old_cert, old_key] = dated_cert(h, dir, "old", "20200101000000Z", "20210101000000Z");
        options.tls.cert_file = old_cert;
        options.tls.key_file = old_key;
        auto client = DeviceClient::create(options);
        REQUIRE_FALSE(client);
        CHECK(client.error() == errc::certificate_expired);
        CHECK(client.error().detail.find("check the device clock") != std::string::npos);
    }
    SECTION("a certificate not valid yet") {
        auto [new_cert, new_key] = dated_cert(h, dir, "future", "20990101000000Z", "20991231000000Z");
        options.tls.cert_file = new_cert;
        options.tls.key_file = new_key;
        auto client = DeviceClient::create(options);
        REQUIRE_FALSE(client);
        CHECK(client.error() == errc::certificate_not_yet_valid);
        CHECK(client.error().detail.find("check the device clock") != std::string::npos);
    }
}

TEST_CASE("client: dynamic activation end to end", "[integration][client]") {
    HubProcess h = HubProcess::start();
    TempDir dir;
    const std::string secret_file = dir.path() + "/dyn1.secret";
    auto options = options_for(h, "pkDyn001", "dyn1", "");
    options.product_secret = "prodSecretXYZ";
    options.device_secret_file = secret_file;
    std::mutex mutex;
    std::string handed_over;
    options.on_device_secret = [&](std::string_view secret) {
        std::lock_guard lock(mutex);
        handed_over = std::string(secret);
        return Status{};
    };
    LogLines log;
    options.log_sink = log.sink();
    options.log_level = LogLevel::trace;
    ConnectionEvents events;
    {
        auto client = DeviceClient::create(options);
        REQUIRE(client);
        client->on_connection(events.handler());
        Status s = client->connect();
        INFO(s.error().message());
        REQUIRE(s);
        CHECK(client->send(up::MeasurepointPost{{{"activated", true}}}));
        REQUIRE(eventually([&] { return events.has(ConnectionEventKind::activated); }));
    }
    std::string stored;
    std::getline(std::ifstream(secret_file), stored);
    CHECK_FALSE(stored.empty());
    {
        std::lock_guard lock(mutex);
        CHECK(handed_over == stored);
    }
    CHECK_FALSE(log.contains(stored)); // the secret is never logged
    CHECK_FALSE(log.contains("prodSecretXYZ"));
    auto rows = cloud::query_until(h, "activations", "pkDyn001", "dyn1", [](const auto& rows) {
        return !rows.empty() && cloud::at(rows[0], "activated").as_bool();
    });
    CHECK(rows.size() == 1);

    // The next start finds the secret in the file and connects with securemode 2 at once.
    auto again = DeviceClient::create(options);
    REQUIRE(again);
    REQUIRE(again->connect());
    auto connections = cloud::query(h, "connections", "pkDyn001", "dyn1");
    REQUIRE_FALSE(connections.empty());
    CHECK(cloud::at(connections.back(), "secureMode").as_int() == 2);

    // Without the stored secret, a second activation of the same device is refused.
    options.device_secret_file.clear();
    auto stranger = DeviceClient::create(options);
    REQUIRE(stranger);
    Status refused = stranger->connect();
    CHECK(refused.error() == errc::not_authorized);
    CHECK(refused.error().detail.find("dynamic activation") != std::string::npos);
}

TEST_CASE("client: dynamic activation keeps to the platform's one connect per second",
          "[integration][client]") {
    // The securemode-2 CONNECT follows the activation's own CONNECT; the hub counts both when it
    // authenticates them, which is later than the client starts each attempt.
    HubProcess::Options limited;
    limited.connect_limit = true; // the platform's numbers: 1 s apart, 4 in 2 minutes
    HubProcess h = HubProcess::start(limited);
    auto options = options_for(h, "pkDyn001", "dyn2", "");
    options.product_secret = "prodSecretXYZ";
    options.on_device_secret = [](std::string_view) { return Status{}; };
    auto client = DeviceClient::create(options);
    REQUIRE(client);
    Status s = client->connect();
    INFO(s.error().message());
    CHECK(s);
    CHECK(h.broker_log().find("since the previous connect") == std::string::npos);
}

TEST_CASE("client: a broker outage fails pending requests, then the client reconnects and resubscribes",
          "[integration][client]") {
    // No simulator: the test answers requests itself, so it decides which are still pending.
    HubProcess::Options hub_options;
    hub_options.simulator = false;
    HubProcess h = HubProcess::start(hub_options);
    const std::string topic = "/sys/pkTest/dev1/thing/attribute/query";
    auto cloud_side = std::make_unique<MqttProbe>(h.port());
    REQUIRE(cloud_side->connect(h.admin()) == 0);
    REQUIRE(cloud_side->subscribe(topic, 1) == 1);
    auto answer_next = [&](MqttProbe& probe) {
        auto request = probe.wait_for(topic);
        REQUIRE(request);
        auto decoded = decode_request(request->payload);
        REQUIRE(decoded);
        REQUIRE(probe.publish(topic + "_reply",
                              R"({"id":")" + decoded->id + R"(","code":200,"data":{"n":1}})", 1));
    };

    ConnectionEvents events;
    auto created = DeviceClient::create(options_for(h, "pkTest", "dev1", "devSecret1"));
    REQUIRE(created);
    DeviceClient client = std::move(*created);
    client.on_connection(events.handler());
    REQUIRE(client.connect());

    auto first = std::async(std::launch::async, [&] { return client.send(up::AttributeQuery{}); });
    answer_next(*cloud_side);
    REQUIRE(first.get());

    auto pending = std::make_shared<std::promise<Result<Response>>>();
    auto pending_result = pending->get_future();
    client.send_async(up::AttributeQuery{{}},
                      [pending](Result<Response> r) { pending->set_value(std::move(r)); });
    REQUIRE(cloud_side->wait_for(topic)); // it reached the cloud, which does not answer
    cloud_side.reset();

    h.stop_broker();
    REQUIRE(pending_result.wait_for(30s) == std::future_status::ready);
    Result<Response> failed = pending_result.get();
    CHECK(failed.error() == errc::disconnected);
    REQUIRE(eventually([&] { return events.has(ConnectionEventKind::retrying); }));
    CHECK(events.nth(ConnectionEventKind::lost).reason.code == make_error_code(errc::disconnected));
    CHECK(client.send(up::AttributeQuery{}).error() == errc::not_connected);

    h.start_broker();
    REQUIRE(eventually([&] { return client.connected(); }, 60s));
    REQUIRE(eventually([&] { return events.has(ConnectionEventKind::connected, 2); }));
    CHECK_FALSE(events.nth(ConnectionEventKind::connected).reconnect);
    CHECK(events.last(ConnectionEventKind::connected).reconnect);

    MqttProbe cloud_again(h.port());
    REQUIRE(cloud_again.connect(h.admin()) == 0);
    REQUIRE(cloud_again.subscribe(topic, 1) == 1);
    auto next = std::async(std::launch::async, [&] { return client.send(up::AttributeQuery{}); });
    answer_next(cloud_again); // the reply arrives only because the client subscribed its reply topic again
    Result<Response> after = next.get();
    INFO(after.error().message());
    REQUIRE(after);
    CHECK(after->data_json == R"({"n":1})");
    CHECK(client.stats().connection_losses == 1);

    // Commands work on the new link too.
    client.on_service("ping", [](const ServiceCall&) { return CommandReply::ok(); });
    Injected r = inject(h, {"invoke", "--pk", "pkTest", "--dk", "dev1", "--service", "ping"});
    CHECK(r.exit_code == 0);
}

TEST_CASE("client: disconnect() with requests in flight completes them and returns",
          "[integration][client]") {
    HubProcess::Options hub_options;
    hub_options.simulator = false; // nothing answers: the requests stay pending
    HubProcess h = HubProcess::start(hub_options);
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev1", "devSecret1"));
    std::vector<std::future<Result<Response>>> pending;
    for (int i = 0; i < 5; ++i)
        pending.push_back(std::async(std::launch::async, [&] { return client.send(up::TagQuery{}); }));
    REQUIRE(eventually([&] { return client.stats().pending_requests == 5; }));
    REQUIRE(client.disconnect());
    for (auto& f : pending) {
        REQUIRE(f.wait_for(15s) == std::future_status::ready);
        CHECK(f.get().error() == errc::shutting_down);
    }
    CHECK(client.state() == ConnectionState::disconnected);
    REQUIRE(client.connect()); // and back
}
