// The enos-device command line, run as a program against a private enos-hub: its output lines, the
// data it leaves in the hub's store, its exit codes, and `serve` answering the hub's commands.
#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/ports.hpp"
#include "cli_binary.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/value.hpp>

#include <cctype>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace enos::test;
using enos::device::Value;

namespace {

constexpr const char* product = "pkCli";

/// A registry of our own: every test gets a private hub, so no other test's device is replaced or
/// sees our commands, and stopping the simulator stays local.
std::string write_registry(const TempDir& dir) {
    std::string devices;
    for (int i = 1; i <= 9; ++i)
        devices += R"({"productKey":"pkCli","deviceKey":"cli)" + std::to_string(i) +
                   R"(","deviceSecret":"cliSecret)" + std::to_string(i) + "\"},";
    const std::string path = dir.file("registry.json");
    std::ofstream(path)
        << R"({"products":[{"productKey":"pkCli","productSecret":"cliProductSecret"},)"
        << R"({"productKey":"pkCliDyn","productSecret":"cliDynSecret","dynamicActivation":true}],)"
        << R"("devices":[)" << devices
        << R"({"productKey":"pkCli","deviceKey":"cliOff","deviceSecret":"offSecret","enabled":false},)"
        << R"({"productKey":"pkCliDyn","deviceKey":"dyn1"}]})";
    return path;
}

struct CliHub {
    TempDir dir{"enos-cli-test"};
    HubProcess hub = HubProcess::start([this] {
        HubProcess::Options options;
        options.registry_path = write_registry(dir);
        return options;
    }());
};

/// Identity options for device cliN of the private hub (or of no hub at all).
std::vector<std::string> device_args(const std::string& url, const std::string& device,
                                     const std::string& secret) {
    return {"--url", url, "--product-key", product, "--device-key", device, "--device-secret", secret};
}

ProcessResult run_cli(std::vector<std::string> args) {
    args.insert(args.begin(), cli_binary());
    auto result = run_process(args, std::chrono::seconds(60));
    INFO("enos-device exit " << result.exit_code << "\nstdout: " << result.out << "\nstderr: " << result.err);
    return result;
}

std::vector<Value> json_lines(const std::string& out) {
    std::vector<Value> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto value = enos::device::parse_value(line);
        INFO("output line: " << line);
        REQUIRE(value.ok());
        REQUIRE(value->is_object());
        lines.push_back(std::move(*value));
    }
    return lines;
}

/// The single JSON object a one-shot command prints.
Value only_line(const ProcessResult& result) {
    INFO("stdout: " << result.out << "\nstderr: " << result.err);
    auto lines = json_lines(result.out);
    REQUIRE(lines.size() == 1);
    return lines.front();
}

std::string text(const Value& object, const char* key) {
    const Value* v = object.find(key);
    return v && v->is_string() ? v->as_string() : std::string("<missing ") + key + ">";
}

std::int64_t number(const Value& object, const char* key) {
    const Value* v = object.find(key);
    return v && v->is_int() ? v->as_int() : -1;
}

std::string data_json(const Value& object) {
    const Value* data = object.find("data");
    return data ? enos::device::to_json(*data) : "<no data>";
}

/// Polls `condition` until it holds or the deadline passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

} // namespace

TEST_CASE("cli: sign prints the core's CONNECT credentials without connecting", "[integration][cli]") {
    // No hub: the URL points at a port nobody listens on, and sign must not care.
    const std::string url = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    enos::device::CredentialInput input;
    input.product_key = "pkCli";
    input.device_key = "cli1";
    input.timestamp = "1700000000000";

    SECTION("static secret, default sha256") {
        input.secret = "cliSecret1";
        auto expected = enos::device::make_connect_credentials(input);
        REQUIRE(expected.ok());
        auto result = run_cli({"--url", url, "--product-key", "pkCli", "--device-key", "cli1",
                               "--device-secret", "cliSecret1", "sign", "--timestamp", "1700000000000"});
        REQUIRE(result.exit_code == 0);
        const Value line = only_line(result);
        CHECK(text(line, "client_id") == expected->client_id);
        CHECK(text(line, "username") == expected->username);
        CHECK(text(line, "password") == expected->password);
    }
    SECTION("product secret signs securemode 3, with a client id and sha1") {
        input.secret = "cliProductSecret";
        input.mode = enos::device::SecureMode::dynamic_activation;
        input.method = enos::device::SignMethod::sha1;
        input.client_id = "serial-42";
        auto expected = enos::device::make_connect_credentials(input);
        REQUIRE(expected.ok());
        auto result = run_cli({"--product-key", "pkCli", "--device-key", "cli1", "--product-secret",
                               "cliProductSecret", "--sign-method", "SHA1", "sign", "--client-id",
                               "serial-42", "--timestamp", "1700000000000"});
        REQUIRE(result.exit_code == 0);
        const Value line = only_line(result);
        CHECK(text(line, "client_id") == expected->client_id);
        CHECK(text(line, "client_id").find("securemode=3,signmethod=sha1") != std::string::npos);
        CHECK(text(line, "password") == expected->password);
    }
    SECTION("secrets from the environment, and no timestamp means now") {
        auto result = run_process({"/usr/bin/env", "ENOS_PRODUCT_KEY=pkCli", "ENOS_DEVICE_KEY=cli1",
                                   "ENOS_DEVICE_SECRET=cliSecret1", cli_binary(), "sign"});
        INFO("stderr: " << result.err);
        REQUIRE(result.exit_code == 0);
        const Value line = only_line(result);
        auto fields = enos::device::parse_mqtt_client_id(text(line, "client_id"));
        REQUIRE(fields.ok());
        CHECK(fields->raw_client_id == "cli1");
        CHECK(text(line, "password") ==
              enos::device::sign({"cli1", "cli1", "pkCli", fields->timestamp}, "cliSecret1"));
    }
}

TEST_CASE("cli: usage errors exit 2 before any connection attempt", "[integration][cli]") {
    // Nothing listens on this port: a command that tried to connect would exit 3, not 2.
    const std::string url = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    auto args = [&](std::vector<std::string> tail) {
        auto all = device_args(url, "cli1", "cliSecret1");
        all.insert(all.end(), tail.begin(), tail.end());
        return all;
    };
    const std::vector<std::vector<std::string>> bad = {
        {},                                                            // no command at all
        args({"fly-away"}),                                            // unknown command
        args({"--frobnicate", "post-measurepoints", "{}"}),            // unknown option
        args({"post-measurepoints"}),                                  // missing operand
        args({"post-measurepoints", "{not json"}),                     // malformed JSON
        args({"post-measurepoints", "[1,2]"}),                         // not an object
        args({"post-measurepoints", "{\"a\":1}", "--qos", "2"}),       // QoS 2
        args({"post-measurepoints", "{\"a\":1}", "--timestamp", "1"}), // sign-only option
        args({"raw-up", "0xZZ"}),                                      // bad hex
        args({"attributes", "rename", "a"}),                           // unknown verb
        args({"tags", "update", "{\"site\": 7}"}),                     // tag values are strings
        {"--url", url, "--product-key", product, "--device-key", "cli1", "post-measurepoints",
         "{}"},                                  // no secret
        args({"--product-secret", "p", "sign"}), // two secrets
        {"--url", url, "--product-key", product, "--device-key", "cli1", "--product-secret", "cliSecret1",
         "post-measurepoints", "{}"}, // activation with nowhere to keep the issued secret
    };
    for (const auto& argv : bad) {
        std::string joined;
        for (const auto& a : argv)
            joined += a + " ";
        INFO("enos-device " << joined);
        auto result = run_cli(argv);
        CHECK(result.exit_code == 2);
        CHECK(result.out.find("cliSecret1") == std::string::npos);
        CHECK(result.err.find("cliSecret1") == std::string::npos);
    }
    auto help = run_cli({"--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("post-measurepoints") != std::string::npos);
    CHECK(help.out.find("Exit codes") != std::string::npos);
}

TEST_CASE("cli: post-measurepoints reaches the hub's store", "[integration][cli]") {
    CliHub h;
    auto result = run_cli({"--url", h.hub.url(), "--product-key", product, "--device-key", "cli1",
                           "--device-secret", "cliSecret1", "post-measurepoints",
                           R"({"temp": 21.5, "status": "running"})", "--time", "1700000000123"});
    REQUIRE(result.exit_code == 0);
    const Value reply = only_line(result);
    CHECK(reply.find("ok")->as_bool());
    CHECK(number(reply, "code") == 200);
    CHECK(text(reply, "command") == "post-measurepoints");
    CHECK(result.out.find("cliSecret1") == std::string::npos);

    auto resumed = run_cli({"--url", h.hub.url(), "--product-key", product, "--device-key", "cli2",
                            "--device-secret", "cliSecret2", "post-measurepoints", R"({"temp": 19.75})",
                            "--time", "1699990000000", "--resume"});
    REQUIRE(resumed.exit_code == 0);

    // The simulator writes its store asynchronously: wait until the rows are there.
    HubProcess::CommandResult stored;
    REQUIRE(eventually([&] {
        stored = h.hub.run({"query", "measurepoints", "--pk", product, "--dk", "cli1"});
        return stored.exit_code == 0 && stored.out.find("21.5") != std::string::npos;
    }));
    CHECK(stored.out.find("temp") != std::string::npos);
    CHECK(stored.out.find("running") != std::string::npos);
    CHECK(stored.out.find("1700000000123") != std::string::npos);
    REQUIRE(eventually([&] {
        stored = h.hub.run({"query", "measurepoints", "--pk", product, "--dk", "cli2"});
        return stored.exit_code == 0 && stored.out.find("19.75") != std::string::npos;
    }));
    INFO("stored: " << stored.out);
    CHECK(stored.out.find("1699990000000") != std::string::npos);
}

TEST_CASE("cli: attributes, tags, events and raw up", "[integration][cli]") {
    CliHub h;
    const auto id = device_args(h.hub.url(), "cli3", "cliSecret3");
    auto run = [&](std::vector<std::string> tail) {
        auto argv = id;
        argv.insert(argv.end(), tail.begin(), tail.end());
        auto result = run_cli(argv);
        REQUIRE(result.exit_code == 0);
        const Value line = only_line(result);
        REQUIRE(line.find("ok"));
        CHECK(line.find("ok")->as_bool());
        return line;
    };

    run({"attributes", "update", R"({"name": "pump-7", "ratedPower": 7.5})"});
    Value queried = run({"attributes", "query", "name,ratedPower"});
    CHECK(data_json(queried) == R"({"name":"pump-7","ratedPower":7.5})");
    run({"attributes", "delete", R"(["name"])"});
    queried = run({"attributes", "query"});
    CHECK(data_json(queried) == R"({"ratedPower":7.5})");

    run({"tags", "update", R"({"site": "SH-01", "line": "A"})"});
    queried = run({"tags", "query", "site"});
    CHECK(data_json(queried) == R"({"site":"SH-01"})");
    run({"tags", "delete", "site"});
    queried = run({"tags", "query"});
    CHECK(data_json(queried) == R"({"line":"A"})");

    const Value event = run({"post-event", "overTemp", R"({"temp": 95.5, "level": 2})"});
    CHECK(number(event, "code") == 200);
    HubProcess::CommandResult events;
    CHECK(eventually([&] {
        events = h.hub.run({"query", "events", "--pk", product, "--dk", "cli3"});
        return events.exit_code == 0 && events.out.find("overTemp") != std::string::npos;
    }));

    // The hub's stand-in for the product's parsing script answers raw bytes with the same bytes.
    const Value raw = run({"raw-up", "0a0b0cff"});
    CHECK(text(raw, "reply_hex") == "0a0b0cff");
}

TEST_CASE("cli: exit codes 3, 4 and 5 for refused connects, cloud errors and timeouts",
          "[integration][cli]") {
    CliHub h;
    SECTION("wrong secret: 3, and the secret is not printed") {
        auto result = run_cli({"--url", h.hub.url(), "--product-key", product, "--device-key", "cli4",
                               "--device-secret", "notTheSecret", "post-measurepoints", R"({"temp": 1.5})"});
        CHECK(result.exit_code == 3);
        const Value line = only_line(result);
        CHECK(text(line, "error") == "connect");
        CHECK(result.out.find("notTheSecret") == std::string::npos);
        CHECK(result.err.find("notTheSecret") == std::string::npos);
    }
    SECTION("disabled device: 3") {
        auto result = run_cli({"--url", h.hub.url(), "--product-key", product, "--device-key", "cliOff",
                               "--device-secret", "offSecret", "attributes", "query"});
        CHECK(result.exit_code == 3);
    }
    SECTION("nobody listening: 3") {
        auto result = run_cli({"--url", "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--product-key",
                               product, "--device-key", "cli4", "--device-secret", "cliSecret4",
                               "--timeout-ms", "3000", "attributes", "query"});
        CHECK(result.exit_code == 3);
    }
    SECTION("the cloud refuses a measure point without a value: 4 with its code and message") {
        auto result =
            run_cli({"--url", h.hub.url(), "--product-key", product, "--device-key", "cli5",
                     "--device-secret", "cliSecret5", "post-measurepoints", R"({"Power": {"quality": 9}})"});
        CHECK(result.exit_code == 4);
        const Value line = only_line(result);
        CHECK(text(line, "error") == "cloud");
        CHECK(number(line, "code") == 1204);
        CHECK(text(line, "message").find("Power") != std::string::npos);
    }
    SECTION("no reply while the simulator is paused: 5") {
        PausedSimulator paused(h.hub);
        auto result = run_cli({"--url", h.hub.url(), "--product-key", product, "--device-key", "cli6",
                               "--device-secret", "cliSecret6", "--timeout-ms", "1500", "post-measurepoints",
                               R"({"temp": 2.5})"});
        CHECK(result.exit_code == 5);
        const Value line = only_line(result);
        CHECK(text(line, "error") == "timeout");
    }
}

TEST_CASE("cli: serve answers the hub's commands and stops cleanly on SIGTERM and SIGINT",
          "[integration][cli]") {
    CliHub h;
    auto serve = ChildProcess::spawn({cli_binary(), "--url", h.hub.url(), "--product-key", product,
                                      "--device-key", "cli7", "--device-secret", "cliSecret7", "serve"});
    REQUIRE(eventually([&] { return serve.out().find(R"("event":"connected")") != std::string::npos; }));

    auto injected = [&](std::vector<std::string> args) {
        auto result = h.hub.run(args);
        INFO("enos-hub " << args.front() << ": exit " << result.exit_code << "\n"
                         << result.out << result.err << "\nserve: " << serve.out() << serve.err());
        REQUIRE(result.exit_code == 0);
        return result.out;
    };

    std::string reply = injected({"invoke", "--pk", product, "--dk", "cli7", "--service", "setPower",
                                  "--params", R"({"power":"on"})", "--timeout-ms", "10000"});
    CHECK(reply.find(R"("power":"on")") != std::string::npos);
    reply = injected({"rrpc", "--pk", product, "--dk", "cli7", "--service", "getStatus", "--params",
                      R"({"verbose":true})", "--timeout-ms", "10000"});
    CHECK(reply.find(R"("verbose":true)") != std::string::npos);
    reply = injected({"set-measurepoints", "--pk", product, "--dk", "cli7", "--params", R"({"temp":30.5})",
                      "--timeout-ms", "10000"});
    CHECK(reply.find(R"("temp":30.5)") != std::string::npos);
    reply = injected({"get-measurepoints", "--pk", product, "--dk", "cli7", "--names", "temp,mode",
                      "--timeout-ms", "10000"});
    CHECK(reply.find("200") != std::string::npos);

    // One line per command, each naming what arrived.
    REQUIRE(eventually([&] { return json_lines(serve.out()).size() >= 5; }));
    std::vector<Value> commands;
    for (auto& line : json_lines(serve.out()))
        if (line.find("command")) commands.push_back(std::move(line));
    REQUIRE(commands.size() == 4);
    CHECK(text(commands[0], "command") == "service");
    CHECK(text(commands[0], "service_id") == "setPower");
    CHECK(enos::device::to_json(*commands[0].find("params")) == R"({"power":"on"})");
    CHECK(text(commands[1], "command") == "rrpc");
    CHECK(text(commands[1], "service_id") == "getStatus");
    CHECK(text(commands[1], "topic") == "/sys/pkCli/cli7/rrpc/request/" + text(commands[1], "message_id"));
    CHECK(text(commands[2], "command") == "measurepoint_set");
    CHECK(text(commands[3], "command") == "measurepoint_get");
    CHECK(enos::device::to_json(*commands[3].find("params")) == R"(["temp","mode"])");
    CHECK(serve.out().find("cliSecret7") == std::string::npos);

    serve.terminate();
    auto code = serve.wait_exit(std::chrono::seconds(15));
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    const auto final_lines = json_lines(serve.out());
    REQUIRE(!final_lines.empty());
    CHECK(text(final_lines.back(), "event") == "stopped");
    CHECK(text(final_lines.back(), "signal") == "SIGTERM");

    // SIGINT (Ctrl-C) ends it the same way.
    auto second = ChildProcess::spawn({cli_binary(), "--url", h.hub.url(), "--product-key", product,
                                       "--device-key", "cli8", "--device-secret", "cliSecret8", "serve"});
    REQUIRE(eventually([&] { return second.out().find(R"("event":"connected")") != std::string::npos; }));
    REQUIRE(::kill(second.pid(), SIGINT) == 0);
    code = second.wait_exit(std::chrono::seconds(15));
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(second.out().find(R"("signal":"SIGINT")") != std::string::npos);
}

TEST_CASE("cli: dynamic activation keeps the issued secret in --secret-file", "[integration][cli]") {
    CliHub h;
    const std::string secret_file = h.dir.file("dyn1.secret");
    const std::vector<std::string> identity = {
        "--url",        h.hub.url(), "--product-key",    "pkCliDyn",
        "--device-key", "dyn1",      "--product-secret", "cliDynSecret"};
    auto with = [&](std::vector<std::string> tail) {
        auto argv = identity;
        argv.insert(argv.end(), tail.begin(), tail.end());
        return run_cli(argv);
    };

    auto first = with({"--secret-file", secret_file, "post-measurepoints", R"({"temp": 20.5})"});
    REQUIRE(first.exit_code == 0);
    CHECK(only_line(first).find("ok")->as_bool());
    struct stat info {};
    REQUIRE(::stat(secret_file.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    std::ifstream in(secret_file);
    std::string issued((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!issued.empty() && std::isspace(static_cast<unsigned char>(issued.back())))
        issued.pop_back();
    REQUIRE(issued.size() >= 8);
    CHECK(first.out.find(issued) == std::string::npos); // the issued secret is not printed either
    CHECK(first.err.find(issued) == std::string::npos);

    // The stored secret logs in (securemode 2); without it the device cannot activate twice.
    CHECK(with({"--secret-file", secret_file, "attributes", "query"}).exit_code == 0);
    CHECK(with({"--secret-file", h.dir.file("elsewhere.secret"), "attributes", "query"}).exit_code == 3);
}

TEST_CASE("cli: mutual TLS with --ca, --cert and --key", "[integration][cli]") {
    TempDir dir{"enos-cli-tls"};
    HubProcess::Options options;
    options.registry_path = write_registry(dir);
    options.tls = true;
    options.require_client_cert = true;
    HubProcess hub = HubProcess::start(options);
    const auto [cert, key] = hub.issue_device_cert(product, "cli9", dir.path());
    const std::vector<std::string> identity = {"--url",        hub.tls_url(), "--product-key",   product,
                                               "--device-key", "cli9",        "--device-secret", "cliSecret9",
                                               "--ca",         hub.ca_file()};

    auto argv = identity;
    argv.insert(argv.end(), {"--cert", cert, "--key", key, "post-measurepoints", R"({"temp": 22.5})"});
    auto posted = run_cli(argv);
    REQUIRE(posted.exit_code == 0);
    CHECK(number(only_line(posted), "code") == 200);

    // Without a client certificate the broker ends the handshake: a connect failure.
    argv = identity;
    argv.insert(argv.end(), {"post-measurepoints", R"({"temp": 22.5})"});
    auto refused = run_cli(argv);
    CHECK(refused.exit_code == 3);
    CHECK(text(only_line(refused), "error") == "connect");

    // A certificate without its key is a usage error, found before connecting.
    argv = identity;
    argv.insert(argv.end(), {"--cert", cert, "post-measurepoints", R"({"temp": 22.5})"});
    CHECK(run_cli(argv).exit_code == 2);
}
