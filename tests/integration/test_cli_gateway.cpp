// enos-device's gateway and integration commands against a private enos-hub: what they publish
// (byte for byte the wire JSON of docs/protocol.md §3.2, §3.10, §3.11, overheard by the hub's admin
// identity), what lands in the hub's store, and that no secret is ever printed.
#include "cli_binary.hpp"
#include "cloud_device.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

using namespace enos::test;
using namespace enos::test::cloud;

namespace {

// The protocol document's worked example: sub-device subPK01/subDev01 with this secret.
constexpr const char* example_secret = "subSecret0123456789";

struct GatewayCliHub {
    TempDir dir{"enos-cli-gateway-test"};
    HubProcess hub = HubProcess::start([this] {
        std::ofstream(dir.file("registry.json")) << R"({
          "products": [{"productKey": "pkGw", "productSecret": "gwProductSecret"},
                       {"productKey": "subPK01", "productSecret": "subProductSecret"},
                       {"productKey": "pkInt", "productSecret": "intProductSecret"}],
          "devices": [
            {"productKey": "pkGw", "deviceKey": "gw1", "deviceSecret": "gwSecret1", "gateway": true},
            {"productKey": "subPK01", "deviceKey": "subDev01", "deviceSecret": "subSecret0123456789"},
            {"productKey": "pkInt", "deviceKey": "meter1", "deviceSecret": "m1"},
            {"productKey": "pkInt", "deviceKey": "meter2", "deviceSecret": "m2"}
          ]})";
        HubProcess::Options options;
        options.registry_path = dir.file("registry.json");
        return options;
    }());
};

ProcessResult run_cli(const HubProcess& hub, std::vector<std::string> args) {
    const std::vector<std::string> identity = {"--url",       hub.url(),      "--product-key", "pkGw",
                                               "--device-key", "gw1",         "--device-secret", "gwSecret1"};
    args.insert(args.begin(), identity.begin(), identity.end());
    args.insert(args.begin(), cli_binary());
    auto result = run_process(args, std::chrono::seconds(60));
    INFO("enos-device exit " << result.exit_code << "\nstdout: " << result.out << "\nstderr: " << result.err);
    return result;
}

std::vector<Value> lines_of(const ProcessResult& r) {
    std::vector<Value> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        auto v = enos::device::parse_value(line);
        INFO(line);
        REQUIRE(v.ok());
        out.push_back(std::move(*v));
    }
    return out;
}

std::int64_t number_of(const Value& line, std::string_view key) {
    const Value* v = line.find(key);
    return v && v->is_int() ? v->as_int() : -1;
}

/// The hub's admin identity overhearing everything the gateway publishes.
struct Overhear {
    MqttProbe probe;
    explicit Overhear(const HubProcess& hub) : probe(hub.port()) {
        REQUIRE(probe.connect(hub.admin()) == 0);
        REQUIRE(probe.subscribe("/sys/pkGw/gw1/#") == 1);
        REQUIRE(probe.subscribe("/ext/session/pkGw/gw1/#") == 1);
    }
    /// The last payload published on `topic` (the CLI has exited, so it arrived before its reply).
    std::string request_on(const std::string& topic) {
        const auto m = probe.wait_for(topic);
        REQUIRE(m.has_value());
        return m->payload;
    }
};

/// `expected` with its "id" replaced by the one `actual` carries (ids count per connection).
std::string with_id_of(const std::string& actual, std::string expected) {
    auto request = enos::device::decode_request(actual);
    REQUIRE(request.ok());
    const std::size_t start = expected.find("\"id\":\"") + 6;
    expected.replace(start, expected.find('"', start) - start, request->id);
    return expected;
}

} // namespace

TEST_CASE("cli gateway: topo add, sub-login and post-batch publish the protocol's wire JSON",
          "[integration][cli]") {
    GatewayCliHub h;
    Overhear cloud(h.hub);
    const std::vector<std::string> sign = {"--sub-secret", example_secret, "--timestamp", "1700000000000"};

    // §3.10
    auto add = sign;
    add.insert(add.begin(), {"topo", "add", "subPK01/subDev01"});
    const auto added = run_cli(h.hub, add);
    REQUIRE(added.exit_code == 0);
    const std::string topo_add = cloud.request_on("/sys/pkGw/gw1/thing/topo/add");
    CHECK(topo_add ==
          with_id_of(topo_add,
                     R"({"id":"19","version":"1.1","method":"thing.topo.add","params":[)"
                     R"({"productKey":"subPK01","deviceKey":"subDev01","clientId":"subPK01.subDev01.1700000000000",)"
                     R"("timestamp":"1700000000000","signMethod":"sha256",)"
                     R"("sign":"430621b7aec27fb726930f1d8dae905cf5fc7db564165df1ee1271c43653e653"}]})"));

    // §3.11
    auto login = sign;
    login.insert(login.begin(), {"sub-login", "subPK01/subDev01"});
    const auto logged = run_cli(h.hub, login);
    REQUIRE(logged.exit_code == 0);
    CHECK(enos::device::to_json(at(lines_of(logged).at(0), "data")).find("\"deviceKey\":\"subDev01\"") !=
          std::string::npos);
    const std::string combine_login = cloud.request_on("/ext/session/pkGw/gw1/combine/login");
    CHECK(combine_login ==
          with_id_of(combine_login,
                     R"({"id":"21","version":"1.1","method":"combine.login","params":{)"
                     R"("productKey":"subPK01","deviceKey":"subDev01","clientId":"subPK01.subDev01.1700000000000",)"
                     R"("timestamp":"1700000000000","secureMode":"2","signMethod":"sha256",)"
                     R"("sign":"430621b7aec27fb726930f1d8dae905cf5fc7db564165df1ee1271c43653e653"}})"));

    // §3.2: the sub-device is logged in on the same connection first (--login).
    const std::string params =
        R"([{"productKey":"subPK01","deviceKey":"subDev01","measurepoints":{"temp":21.5},"time":1700000000000},)"
        R"({"productKey":"subPK01","deviceKey":"subDev01","measurepoints":{"temp":21.7},"time":1700000060000},)"
        R"({"measurepoints":{"Power":{"value":3.2,"quality":9}},"time":1700000000000}])";
    auto post = sign;
    post.insert(post.begin(), {"post-batch", params, "--skip-invalid-measurepoints", "--login"});
    const auto posted = run_cli(h.hub, post);
    REQUIRE(posted.exit_code == 0);
    const std::string batch = cloud.request_on("/sys/pkGw/gw1/thing/measurepoint/post/batch");
    CHECK(batch == with_id_of(batch, R"({"id":"8","version":"1.1","method":"thing.measurepoint.post.batch",)"
                                     R"("allowOfflineSubDevice":false,"skipInvalidMeasurepoints":true,"params":)" +
                                         params + "}"));
    query_until(h.hub, "measurepoints", "subPK01", "subDev01", [](const auto& rows) { return rows.size() == 2; });
    query_until(h.hub, "measurepoints", "pkGw", "gw1", [](const auto& rows) { return rows.size() == 1; });

    // Without --login nor --allow-offline-sub-device the sub-device is offline: the cloud refuses.
    const auto offline = run_cli(h.hub, {"post-batch", params});
    CHECK(offline.exit_code == 4);
    CHECK(number_of(lines_of(offline).at(0), "code") == 1009);
    CHECK(run_cli(h.hub, {"post-batch", params, "--allow-offline-sub-device"}).exit_code == 0);

    for (const auto* r : {&added, &logged, &posted, &offline})
        CHECK((r->out + r->err).find(example_secret) == std::string::npos);
}

TEST_CASE("cli gateway: register keeps the issued secrets in a file, then topo and sessions use it",
          "[integration][cli]") {
    GatewayCliHub h;
    const std::string secrets = h.dir.file("issued.jsonl");
    const auto registered =
        run_cli(h.hub, {"register",
                        R"([{"productKey":"subPK01","deviceKey":"new1","deviceName":{"defaultValue":"meter 1",)"
                        R"("i18nValue":{"en_US":"meter 1"}},"timezone":"+08:00","deviceAttributes":{"floor":3}},)"
                        R"({"productKey":"subPK01"}])",
                        "--secrets-out", secrets});
    REQUIRE(registered.exit_code == 0);
    const Value line = lines_of(registered).at(0);
    const Value& data = at(line, "data");
    REQUIRE(data.as_array().size() == 2);
    CHECK(data.as_array()[0].find("deviceSecret") == nullptr);
    const std::string new1 = at(data.as_array()[0], "deviceKey").as_string();
    const std::string generated = at(data.as_array()[1], "deviceKey").as_string();
    CHECK(new1 == "new1");

    struct stat st {};
    REQUIRE(::stat(secrets.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::ifstream in(secrets);
    std::vector<std::string> issued;
    for (std::string l; std::getline(in, l);) {
        auto v = enos::device::parse_value(l);
        REQUIRE(v.ok());
        issued.push_back(at(*v, "deviceSecret").as_string());
        CHECK(registered.out.find(issued.back()) == std::string::npos);
        CHECK(registered.err.find(issued.back()) == std::string::npos);
    }
    REQUIRE(issued.size() == 2);

    const std::string a = "subPK01/" + new1, b = "subPK01/" + generated;
    REQUIRE(run_cli(h.hub, {"topo", "add", a, b, "--sub-secrets", secrets}).exit_code == 0);
    const auto topo = run_cli(h.hub, {"topo", "get"});
    REQUIRE(topo.exit_code == 0);
    CHECK(enos::device::to_json(at(lines_of(topo).at(0), "data")) ==
          R"([{"productKey":"subPK01","deviceKey":"new1"},{"productKey":"subPK01","deviceKey":")" + generated +
              R"("}])");
    // Several sub-devices: combine.login.batch.
    const auto batch = run_cli(h.hub, {"sub-login", a, b, "--sub-secrets", secrets});
    REQUIRE(batch.exit_code == 0);
    CHECK(at(at(lines_of(batch).at(0), "data"), "loginedSubDevices").as_array().size() == 2);
    // One wrong secret: the batch fails partly (723), the other still logs in.
    const auto partial = run_cli(h.hub, {"sub-login", a, "subPK01/subDev01", "--sub-secrets", secrets,
                                         "--sub-secret", "wrong"});
    CHECK(partial.exit_code == 4);
    CHECK(number_of(lines_of(partial).at(0), "code") == 723);

    const auto out = run_cli(h.hub, {"sub-logout", a, b});
    CHECK(out.exit_code == 0);
    CHECK(lines_of(out).size() == 2);
    REQUIRE(run_cli(h.hub, {"topo", "delete", b}).exit_code == 0);
    CHECK(enos::device::to_json(at(lines_of(run_cli(h.hub, {"topo", "get"})).at(0), "data")) ==
          R"([{"productKey":"subPK01","deviceKey":"new1"}])");

    // The registered device is a device of its own: it connects directly with its secret.
    const auto direct = run_process({cli_binary(), "--url", h.hub.url(), "--product-key", "subPK01",
                                     "--device-key", "new1", "--device-secret", issued[0], "post-measurepoints",
                                     R"({"temp":1.5})"},
                                    std::chrono::seconds(60));
    CHECK(direct.exit_code == 0);
}

TEST_CASE("cli gateway: usage errors of the gateway commands exit 2 without connecting", "[integration][cli]") {
    GatewayCliHub h;
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"register", R"([{"productKey":"subPK01"}])"},         // no --secrets-out
             {"topo", "add", "subPK01/subDev01"},                    // no secret
             {"topo", "move"},
             {"topo", "get", "extra"},
             {"sub-login", "subPK01"},                               // not PK/DK
             {"sub-login", "subPK01/subDev01", "--secrets-out", "f"}, // register's option
             {"post-batch", R"([{"measurepoints":{"a":1}}])", "--login", "--sub-secret", "s"}, // no sub-device
             {"post-batch", "[1]"},
             {"integration", "post-measurepoints", "[]"},
         }) {
        const auto r = run_cli(h.hub, args);
        INFO(args[0] << " " << args[1] << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
    }
    CHECK(h.hub.broker_log().find("pkGw/gw1 logged in") == std::string::npos);
}

TEST_CASE("cli gateway: integration posts measure points, events and attributes for devices of a product",
          "[integration][cli]") {
    GatewayCliHub h;
    const auto channel = [&](std::vector<std::string> args) {
        const std::vector<std::string> identity = {cli_binary(),      "--url", h.hub.url(), "--product-key",
                                                   "pkInt",           "--product-secret", "intProductSecret"};
        args.insert(args.begin(), identity.begin(), identity.end());
        auto r = run_process(args, std::chrono::seconds(60));
        INFO("stdout: " << r.out << "\nstderr: " << r.err);
        CHECK(r.err.find("intProductSecret") == std::string::npos);
        CHECK(r.out.find("intProductSecret") == std::string::npos);
        return r;
    };
    CHECK(channel({"integration", "post-measurepoints",
                   R"([{"deviceKey":"meter1","time":1699990000000,"measurepoints":{"temp":23.4}},)"
                   R"({"deviceKey":"meter2","measurepoints":{"Power":{"value":2,"quality":9}}}])"})
              .exit_code == 0);
    CHECK(channel({"integration", "post-events",
                   R"([{"deviceKey":"meter1","time":1699990000000,"events":{"highTemp":{"temp":120.0}}}])"})
              .exit_code == 0);
    CHECK(channel({"integration", "post-attributes", R"([{"deviceKey":"meter2","attributes":{"name":"Will-dev"}}])"})
              .exit_code == 0);
    const auto unknown =
        channel({"integration", "post-measurepoints", R"([{"deviceKey":"nope","measurepoints":{"temp":1}}])"});
    CHECK(unknown.exit_code == 4);
    CHECK(number_of(lines_of(unknown).at(0), "code") == 1257);

    const auto points = query_until(h.hub, "measurepoints", "pkInt", "meter1",
                                    [](const auto& rows) { return !rows.empty(); });
    CHECK(at(points[0], "time").as_int() == 1699990000000);
    query_until(h.hub, "measurepoints", "pkInt", "meter2", [](const auto& rows) { return rows.size() == 1; });
    query_until(h.hub, "events", "pkInt", "meter1",
                [](const auto& rows) { return with(rows, "eventId", "highTemp").size() == 1; });
    query_until(h.hub, "attributes", "pkInt", "meter2",
                [](const auto& rows) { return with(rows, "name", "name").size() == 1; });
}
