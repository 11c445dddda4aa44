// Secrets never leave the SDK: a whole session with failures, at the most verbose log level, and
// the enos-device command line with --verbose, searched for the device and product secrets, every
// CONNECT password, the key password and the private key. And TLS verification is never off
// without a warning at every connect.
#include "client_support.hpp"

#include "cli_binary.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <enos/device/core/credentials.hpp>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;

namespace {

void run_ok(const std::vector<std::string>& argv) {
    ProcessResult r = run_process(argv);
    INFO(argv[0] << " " << argv[1] << ": " << r.err);
    REQUIRE(r.exit_code == 0);
}

/// The base64 lines of a PEM file (its key material), without the BEGIN/END lines.
std::vector<std::string> pem_body_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line))
        if (line.find("-----") == std::string::npos && line.find(':') == std::string::npos &&
            line.size() >= 16)
            lines.push_back(line);
    REQUIRE(lines.size() >= 2);
    return lines;
}

/// Everything the SDK said: log lines, error texts, the command line's output.
struct Said {
    LogLines log;
    std::vector<std::string> texts;
    void error(const Error& e) {
        texts.push_back(e.message());
        texts.push_back(e.detail);
    }
    void cli(const ProcessResult& r) {
        texts.push_back(r.out);
        texts.push_back(r.err);
    }
    std::string all() {
        std::string joined = log.all();
        for (const std::string& t : texts)
            joined += t + "\n";
        return joined;
    }
};

struct Identity {
    std::string product_key, device_key, secret;
};

/// The CONNECT password of every MQTT client id in `text` (the broker logs each CONNECT's), as
/// each identity would have signed it.
std::vector<std::string> passwords_of_connects(const std::string& text,
                                               const std::vector<Identity>& identities,
                                               std::size_t& connects) {
    static const std::regex client_id(R"([A-Za-z0-9_.\-]+\|securemode=\d,signmethod=\w+,timestamp=\d+\|)");
    std::vector<std::string> passwords;
    connects = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), client_id); it != std::sregex_iterator();
         ++it) {
        auto fields = parse_mqtt_client_id(it->str());
        if (!fields) continue;
        ++connects;
        for (const Identity& id : identities)
            for (HexCase hex : {HexCase::platform, HexCase::lower, HexCase::upper}) {
                CredentialInput in;
                in.product_key = id.product_key;
                in.device_key = id.device_key;
                in.secret = id.secret;
                in.mode = static_cast<SecureMode>(fields->secure_mode);
                in.method = fields->method;
                in.hex_case = hex;
                in.client_id = fields->raw_client_id;
                in.timestamp = fields->timestamp;
                if (auto c = make_connect_credentials(in)) passwords.push_back(c->password);
            }
    }
    return passwords;
}

} // namespace

TEST_CASE("secrets: a whole session at trace level never shows a secret, a password or the private key",
          "[integration][secrets]") {
    HubProcess::Options hub_options;
    hub_options.tls = true;
    hub_options.require_client_cert = true;
    HubProcess h = HubProcess::start(hub_options);
    TempDir dir;
    const std::string key_password = "keyPass-5g7Q";
    auto [cert, key] = h.issue_device_cert("pkTest", "dev1", dir.path());
    const std::string encrypted_key = dir.file("dev1.enc.key");
    run_ok({"openssl", "pkey", "-in", key, "-aes-256-cbc", "-passout", "pass:" + key_password, "-traditional",
            "-out", encrypted_key});
    Said said;
    auto options_of = [&](const std::string& pk, const std::string& dk, const std::string& secret) {
        ClientOptions o = options_for(h, pk, dk, secret);
        o.log_sink = said.log.sink();
        o.log_level = LogLevel::trace;
        o.request_timeout = 1500ms;
        return o;
    };

    SECTION("the library") {
        { // a wrong secret is refused
            auto client = DeviceClient::create(options_of("pkTest", "dev1", "wrongSecret-X4"));
            REQUIRE(client);
            Status refused = client->connect();
            REQUIRE_FALSE(refused);
            said.error(refused.error());
        }
        { // a good connect, a reply, a cloud error and a request that times out
            DeviceClient client = connected_client(options_of("pkTest", "dev1", "devSecret1"));
            CHECK(client.send(up::MeasurepointPost{{{"temp", 1}}}));
            Result<Response> refused =
                client.send(up::MeasurepointPost{{{"Power", Value::object({{"quality", 9}})}}});
            REQUIRE_FALSE(refused);
            said.error(refused.error());
            PausedSimulator paused(h);
            Result<Response> late = client.send(up::MeasurepointPost{{{"temp", 2}}});
            REQUIRE_FALSE(late);
            CHECK(late.error() == errc::timeout);
            said.error(late.error());
        }
        std::string activated;
        { // dynamic activation with the product secret
            auto options = options_of("pkDyn001", "dyn1", "");
            options.product_secret = "prodSecretXYZ";
            options.device_secret_file = dir.file("dyn1.secret");
            DeviceClient client = connected_client(options);
            CHECK(client.send(up::MeasurepointPost{{{"activated", 1}}}));
            std::getline(std::ifstream(options.device_secret_file), activated);
            REQUIRE_FALSE(activated.empty());
        }
        { // mutual TLS with an encrypted key: the right password connects, a wrong one is refused
            auto options = options_of("pkTest", "dev1", "devSecret1");
            options.server_url = h.tls_url();
            options.tls.ca_file = h.ca_file();
            options.tls.cert_file = cert;
            options.tls.key_file = encrypted_key;
            options.tls.key_password = key_password;
            DeviceClient client = connected_client(options);
            CHECK(client.send(up::MeasurepointPost{{{"overTls", 1}}}));
            options.tls.key_password = "wrongKeyPass-8h";
            auto refused = DeviceClient::create(options);
            REQUIRE_FALSE(refused);
            said.error(refused.error());
        }
        const std::vector<Identity> identities = {{"pkTest", "dev1", "devSecret1"},
                                                  {"pkTest", "dev1", "wrongSecret-X4"},
                                                  {"pkDyn001", "dyn1", "prodSecretXYZ"},
                                                  {"pkDyn001", "dyn1", activated}};
        std::size_t connects = 0;
        std::vector<std::string> forbidden = passwords_of_connects(h.broker_log(), identities, connects);
        CHECK(connects >= 5); // refused, good, activation, after activation, TLS
        for (const Identity& id : identities)
            forbidden.push_back(id.secret);
        forbidden.push_back(key_password);
        forbidden.push_back("wrongKeyPass-8h");
        for (const std::string& line : pem_body_lines(key))
            forbidden.push_back(line);
        for (const std::string& line : pem_body_lines(encrypted_key))
            forbidden.push_back(line);

        const std::string everything = said.all();
        CHECK(said.log.contains("debug: ")); // the most verbose level was on
        CHECK(everything.find("timed out") != std::string::npos); // the errors were collected
        for (const std::string& secret : forbidden) {
            INFO("leaked: " << secret);
            CHECK(everything.find(secret) == std::string::npos);
        }
    }

    SECTION("the command line with --verbose") {
        const std::string cli = cli_binary();
        auto run_cli = [&](std::vector<std::string> args) {
            args.insert(args.begin(), {cli, "--verbose"});
            ProcessResult r = run_process(args, std::chrono::seconds(60));
            INFO("enos-device: " << r.out << r.err);
            said.cli(r);
            return r;
        };
        const std::vector<std::string> dev2 = {"--url",  h.url(),        "--product-key",
                                               "pkTest", "--device-key", "dev2"};
        auto with = [](std::vector<std::string> a, std::initializer_list<std::string> more) {
            a.insert(a.end(), more);
            return a;
        };
        CHECK(run_cli(with(dev2, {"--device-secret", "wrongSecret-Y5", "post-measurepoints", R"({"t":1})"}))
                  .exit_code == 3);
        CHECK(run_cli(with(dev2, {"--device-secret", "devSecret2", "post-measurepoints", R"({"t":1})"}))
                  .exit_code == 0);
        CHECK(run_cli(with(dev2, {"--device-secret", "devSecret2", "post-measurepoints",
                                  R"({"Power":{"quality":9}})"}))
                  .exit_code == 4);
        {
            PausedSimulator paused(h);
            CHECK(run_cli(with(dev2, {"--device-secret", "devSecret2", "--timeout-ms", "1500",
                                      "post-measurepoints", R"({"t":2})"}))
                      .exit_code == 5);
        }
        const std::string secret_file = dir.file("dyn2.secret");
        CHECK(run_cli({"--url", h.url(), "--product-key", "pkDyn001", "--device-key", "dyn2",
                       "--product-secret", "prodSecretXYZ", "--secret-file", secret_file,
                       "post-measurepoints", R"({"t":3})"})
                  .exit_code == 0);
        std::string activated;
        std::getline(std::ifstream(secret_file), activated);
        REQUIRE_FALSE(activated.empty());
        CHECK(run_cli({"--url", h.tls_url(), "--product-key", "pkTest", "--device-key", "dev1",
                       "--device-secret", "devSecret1", "--ca", h.ca_file(), "--cert", cert, "--key", key,
                       "post-measurepoints", R"({"t":4})"})
                  .exit_code == 0);

        const std::vector<Identity> identities = {{"pkTest", "dev2", "devSecret2"},
                                                  {"pkTest", "dev2", "wrongSecret-Y5"},
                                                  {"pkDyn001", "dyn2", "prodSecretXYZ"},
                                                  {"pkDyn001", "dyn2", activated},
                                                  {"pkTest", "dev1", "devSecret1"}};
        std::size_t connects = 0;
        std::vector<std::string> forbidden = passwords_of_connects(h.broker_log(), identities, connects);
        CHECK(connects >= 6);
        for (const Identity& id : identities)
            forbidden.push_back(id.secret);
        for (const std::string& line : pem_body_lines(key))
            forbidden.push_back(line);
        const std::string everything = said.all();
        CHECK(everything.find("debug") != std::string::npos); // --verbose showed the SDK's log
        for (const std::string& secret : forbidden) {
            INFO("leaked: " << secret);
            CHECK(everything.find(secret) == std::string::npos);
        }
    }
}

TEST_CASE(
    "secrets: TLS verification is only ever off by an insecure_ option, with a warning at every connect",
    "[integration][secrets]") {
    const HubProcess& h = hub();
    LogLines log;
    auto options = options_for(h, "pkTest", "dev9", "devSecret9");
    options.server_url = h.tls_url();
    options.log_sink = log.sink();
    options.log_level = LogLevel::trace;
    auto warnings = [&](const std::string& option) {
        std::lock_guard lock(log.mutex);
        return std::count_if(log.lines.begin(), log.lines.end(), [&](const std::string& line) {
            return line.rfind("warn: INSECURE", 0) == 0 && line.find(option) != std::string::npos;
        });
    };

    SECTION("without a CA there is no connecting, unless verification is skipped by name") {
        auto refused = DeviceClient::create(options);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::invalid_argument);
        CHECK(refused.error().detail.find("tls.ca_file is required") != std::string::npos);

        options.tls.insecure_skip_server_verification = true;
        DeviceClient client = connected_client(options);
        CHECK(warnings("tls.insecure_skip_server_verification") == 1);
        REQUIRE(client.disconnect());
        REQUIRE(client.connect());
        CHECK(warnings("tls.insecure_skip_server_verification") == 2);
        CHECK(client.send(up::MeasurepointPost{{{"unverified", 1}}}));
    }
    SECTION("the host name check is skipped by name, and said so") {
        options.tls.ca_file = h.ca_file();
        options.tls.insecure_skip_hostname_check = true;
        DeviceClient client = connected_client(options);
        CHECK(warnings("tls.insecure_skip_hostname_check") == 1);
        CHECK(warnings("tls.insecure_skip_server_verification") == 0);
    }
    SECTION("verified connections say nothing of the kind") {
        options.tls.ca_file = h.ca_file();
        DeviceClient client = connected_client(options);
        CHECK(client.connected());
        CHECK(warnings("") == 0);
    }
}
