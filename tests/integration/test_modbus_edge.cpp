// examples/modbus_edge_gateway end to end: the Modbus device simulator, the gateway example and a
// private enos-hub, each a real process. Registers reach the hub's store as scaled measure points of
// the sub-devices, a measure-point set from the hub writes a register (read back here over Modbus),
// and the rounds polled while the broker is down arrive once it is back.
#include "cloud_device.hpp"

#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/value.hpp>

#include <modbus/modbus.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace enos::test;
using enos::device::Value;
using namespace std::chrono_literals;

namespace {

constexpr const char* gateway_pk = "pkMbGw";
constexpr const char* gateway_dk = "gw1";
constexpr const char* gateway_secret = "mbGatewaySecret1";
constexpr const char* sub_pk = "pkMbSub";
constexpr const char* meter1_secret = "mbMeter1Secret";
constexpr const char* meter2_secret = "mbMeter2Secret";

/// The gateway and its two meters; no topology: the gateway binds them itself (topo add).
std::string write_registry(const TempDir& dir) {
    const std::string path = dir.file("registry.json");
    std::ofstream(path) << R"({"devices":[)"
                        << R"({"productKey":"pkMbGw","deviceKey":"gw1","deviceSecret":")" << gateway_secret
                        << R"(","gateway":true},)"
                        << R"({"productKey":"pkMbSub","deviceKey":"meter1","deviceSecret":")" << meter1_secret
                        << R"("},)"
                        << R"({"productKey":"pkMbSub","deviceKey":"meter2","deviceSecret":")" << meter2_secret
                        << R"("}]})";
    return path;
}

/// meter1's secret comes from an environment variable, meter2's from a file beside the mapping.
std::string write_mapping(const TempDir& dir, int port) {
    std::ofstream(dir.file("meter2.secret")) << meter2_secret << "\n";
    const std::string path = dir.file("mapping.json");
    std::ofstream(path) << R"({"endpoints":[{"host":"127.0.0.1","port":)" << port
                        << R"(,"unitId":1,"pollIntervalMs":100,"timeoutMs":2000,"subDevices":[
  {"productKey":"pkMbSub","deviceKey":"meter1","secretEnv":"MB_METER1_SECRET","points":{
    "temperature":{"register":0,"kind":"input","type":"int16","scale":0.1},
    "round":{"register":1,"kind":"input","type":"uint16"},
    "power":{"register":10,"kind":"holding","type":"float32"},
    "setpoint":{"register":20,"kind":"holding","type":"uint16","scale":0.1,"writable":true}}},
  {"productKey":"pkMbSub","deviceKey":"meter2","secretFile":"meter2.secret","points":{
    "energy":{"register":30,"kind":"holding","type":"int32","wordOrder":"little"},
    "status":{"register":2,"kind":"input","type":"uint16"},
    "level":{"register":3,"kind":"input","type":"int16","scale":0.5,"offset":10}}}]}]})";
    return path;
}

/// The example's programs: $ENOS_MODBUS_GATEWAY / $ENOS_MODBUS_DEVICE_SIM, else this build's.
std::string gateway_binary() {
    const char* env = std::getenv("ENOS_MODBUS_GATEWAY");
    return env ? env : ENOS_MODBUS_GATEWAY;
}
std::string simulator_binary() {
    const char* env = std::getenv("ENOS_MODBUS_DEVICE_SIM");
    return env ? env : ENOS_MODBUS_DEVICE_SIM;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms); // polling interval, not a synchronisation
    }
    return true;
}

/// The complete JSON lines a process printed so far.
std::vector<Value> json_lines(const std::string& out) {
    std::vector<Value> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        if (in.eof()) break; // still being written
        if (auto v = enos::device::parse_value(line); v && v->is_object()) lines.push_back(std::move(*v));
    }
    return lines;
}

std::vector<Value> events(const ChildProcess& process, const std::string& kind) {
    std::vector<Value> out;
    for (Value& line : json_lines(process.out()))
        if (const Value* e = line.find("event"); e && e->as_string() == kind) out.push_back(std::move(line));
    return out;
}

/// One Modbus TCP connection of the test itself, to read back what the gateway wrote.
class ModbusReader {
public:
    explicit ModbusReader(int port) : ctx_(modbus_new_tcp("127.0.0.1", port)) {
        REQUIRE(ctx_ != nullptr);
        REQUIRE(modbus_connect(ctx_) == 0);
    }
    ~ModbusReader() {
        modbus_close(ctx_);
        modbus_free(ctx_);
    }
    ModbusReader(const ModbusReader&) = delete;
    ModbusReader& operator=(const ModbusReader&) = delete;

    std::uint16_t holding(int address) {
        std::uint16_t value = 0;
        INFO("reading holding register " << address << ": " << modbus_strerror(errno));
        REQUIRE(modbus_read_registers(ctx_, address, 1, &value) == 1);
        return value;
    }

private:
    modbus_t* ctx_;
};

struct ModbusEdge {
    TempDir dir{"enos-modbus-test"};
    HubProcess hub = HubProcess::start([this] {
        HubProcess::Options options;
        options.registry_path = write_registry(dir);
        return options;
    }());
    std::optional<ChildProcess> simulator;
    int port = 0;
    std::optional<ChildProcess> gateway;

    ModbusEdge() {
        // meter1: temperature 21.5 (raw 215), round (counts its reads), power 1.5, setpoint 30.0 (raw
        // 300); meter2: energy 65541 (low word 5 first), status 7, level -15 (-50 * 0.5 + 10).
        simulator = ChildProcess::spawn({simulator_binary(), "--set", "input:0=215", "--counter", "input:1",
                                         "--set-float", "holding:10=1.5", "--set", "holding:20=300", "--set",
                                         "holding:30=5", "--set", "holding:31=1", "--set", "input:2=7",
                                         "--set", "input:3=-50"});
        REQUIRE(eventually([&] { return !json_lines(simulator->out()).empty() || !simulator->running(); }));
        const auto lines = json_lines(simulator->out());
        INFO("simulator: " << simulator->out() << simulator->err());
        REQUIRE(lines.size() == 1);
        port = static_cast<int>(lines[0].find("port")->as_int());
        REQUIRE(port > 0);
    }

    ~ModbusEdge() {
        if (gateway) {
            gateway->terminate();
            gateway->wait_exit(15s);
        }
        if (simulator) {
            simulator->terminate();
            simulator->wait_exit(15s);
        }
    }

    void start_gateway() {
        ChildProcess::Options options;
        options.extra_env = {std::string("ENOS_DEVICE_SECRET=") + gateway_secret,
                             std::string("MB_METER1_SECRET=") + meter1_secret};
        gateway = ChildProcess::spawn({gateway_binary(), "--url", hub.url(), "--product-key", gateway_pk,
                                       "--device-key", gateway_dk, "--mapping", write_mapping(dir, port),
                                       "--store", dir.file("store"), "--local-hub"},
                                      options);
        // Polling starts after the first login, so commands can reach the sub-devices from then on.
        require_eventually([&] { return !events(*gateway, "login").empty(); }, "the first login");
    }

    /// Waits for `condition`; on failure the test's message carries what the gateway printed.
    void require_eventually(const std::function<bool()>& condition, const char* what,
                            std::chrono::milliseconds bound = 30s) {
        if (eventually(condition, bound)) return;
        FAIL(what << " did not happen in time\ngateway stdout:\n"
                  << gateway->out() << "\ngateway stderr:\n"
                  << gateway->err());
    }

    std::vector<Value> stored(const std::string& device) {
        return cloud::query(hub, "measurepoints", sub_pk, device);
    }

    /// Stops the gateway with SIGTERM (it exits 0), then checks that nobody printed a secret.
    void stop_and_check_output() {
        gateway->terminate();
        const auto exit_code = gateway->wait_exit(15s);
        REQUIRE(exit_code.has_value());
        CHECK(*exit_code == 0);
        for (const std::string& text : {gateway->out(), gateway->err(), simulator->out(), simulator->err()})
            for (const char* secret : {gateway_secret, meter1_secret, meter2_secret})
                CHECK(text.find(secret) == std::string::npos);
    }
};

std::string identifier(const Value& row) {
    const Value* id = row.find("identifier");
    return id ? id->as_string() : std::string();
}

/// The last stored value of measure point `id`, or null.
Value last_value(const std::vector<Value>& rows, const std::string& id) {
    Value last;
    for (const Value& row : rows)
        if (identifier(row) == id) last = *row.find("value");
    return last;
}

cloud::Reply set_measurepoints(const HubProcess& hub, const std::string& device, const std::string& params,
                               int expected_exit) {
    const auto r = hub.run(
        {"set-measurepoints", "--pk", sub_pk, "--dk", device, "--params", params, "--timeout-ms", "15000"});
    INFO("enos-hub set-measurepoints " << params << ": exit " << r.exit_code << "\n" << r.out << r.err);
    REQUIRE(r.exit_code == expected_exit);
    auto reply = enos::device::decode_reply(r.out);
    REQUIRE(reply.ok());
    return *reply;
}

} // namespace

TEST_CASE("modbus edge gateway: registers reach the hub scaled and a measure-point set writes the register",
          "[integration][gateway][modbus]") {
    ModbusEdge edge;
    edge.start_gateway();

    std::vector<Value> meter1, meter2;
    edge.require_eventually(
        [&] {
            meter1 = edge.stored("meter1");
            meter2 = edge.stored("meter2");
            return !last_value(meter1, "setpoint").is_null() && !last_value(meter2, "level").is_null();
        },
        "storing both meters' points");
    CHECK(last_value(meter1, "temperature").as_double() == Approx(21.5));
    CHECK(last_value(meter1, "power").as_double() == 1.5);
    CHECK(last_value(meter1, "setpoint").as_double() == Approx(30.0));
    CHECK(last_value(meter1, "round").is_int());         // unscaled integer registers stay integers
    CHECK(last_value(meter2, "energy") == Value(65541)); // low word first: 1 * 65536 + 5
    CHECK(last_value(meter2, "status") == Value(7));
    CHECK(last_value(meter2, "level").as_double() == Approx(-15.0));

    ModbusReader modbus(edge.port);
    cloud::Reply ok = set_measurepoints(edge.hub, "meter1", R"({"setpoint":42.5})", 0);
    CHECK(ok.code == 200);
    CHECK(modbus.holding(20) == 425); // scale inverted
    // ... and the next rounds read the new value back.
    edge.require_eventually(
        [&] { return last_value(edge.stored("meter1"), "setpoint").as_double() == Approx(42.5); },
        "storing the new setpoint");

    // Requests that cannot be carried out write nothing and say why.
    cloud::Reply unknown = set_measurepoints(edge.hub, "meter1", R"({"setpoint":40,"nosuch":1})", 4);
    CHECK(unknown.code == 2002);
    CHECK(unknown.message.find("nosuch") != std::string::npos);
    cloud::Reply read_only = set_measurepoints(edge.hub, "meter2", R"({"status":1})", 4);
    CHECK(read_only.code == 2003);
    CHECK(read_only.message.find("read-only") != std::string::npos);
    cloud::Reply too_big = set_measurepoints(edge.hub, "meter1", R"({"setpoint":7000})", 4);
    CHECK(too_big.code == 2004);
    CHECK(too_big.message.find("out of range") != std::string::npos);
    CHECK(modbus.holding(20) == 425);

    // Without the Modbus device the write fails, and the reply says so.
    edge.simulator->terminate();
    REQUIRE(edge.simulator->wait_exit(15s).has_value());
    cloud::Reply unreachable = set_measurepoints(edge.hub, "meter1", R"({"setpoint":41})", 4);
    CHECK(unreachable.code == 2005);
    CHECK(unreachable.message.find("setpoint") != std::string::npos);

    edge.stop_and_check_output();
}

TEST_CASE("modbus edge gateway: the rounds polled while the broker is down arrive when it is back",
          "[integration][gateway][modbus]") {
    ModbusEdge edge;
    edge.start_gateway();

    // The simulator's counter register answers 0, 1, 2, ... to the gateway's rounds, one read each.
    auto stored_rounds = [&] {
        std::map<std::int64_t, bool> rounds; // round -> stored through the resume topic
        for (const Value& row : edge.stored("meter1"))
            if (identifier(row) == "round") {
                const Value* r = row.find("resumed");
                rounds[row.find("value")->as_int()] |= r && r->as_bool();
            }
        return rounds;
    };
    edge.require_eventually([&] { return stored_rounds().size() >= 3; }, "storing three rounds");

    edge.hub.stop_broker();
    auto offline_rounds = [&] {
        std::vector<std::int64_t> rounds;
        for (const Value& line : events(*edge.gateway, "round"))
            if (!line.find("online")->as_bool()) rounds.push_back(line.find("round")->as_int());
        return rounds;
    };
    edge.require_eventually([&] { return offline_rounds().size() >= 5; }, "polling five rounds offline");
    edge.hub.start_broker();

    const std::vector<std::int64_t> polled_offline = offline_rounds();
    const std::int64_t last_offline = polled_offline.back();
    std::map<std::int64_t, bool> rounds;
    edge.require_eventually(
        [&] {
            rounds = stored_rounds();
            return rounds.count(last_offline) != 0;
        },
        "storing the last round polled offline", 60s);
    // Nothing lost: every round up to the last one polled offline is stored ...
    for (std::int64_t r = 0; r <= last_offline; ++r) {
        INFO("round " << r);
        CHECK(rounds.count(r) == 1);
    }
    // ... and those polled offline came through the resume topic (history, no live alerts).
    for (std::int64_t r : polled_offline) {
        INFO("offline round " << r);
        CHECK(rounds[r]);
    }

    // The client logged both sub-devices in again after the reconnect (before the replay), so their
    // commands arrive again.
    edge.require_eventually([&] { return events(*edge.gateway, "relogin").size() == 2; },
                            "the logins after the reconnect", 60s);
    for (const Value& line : events(*edge.gateway, "relogin"))
        CHECK(line.find("ok")->as_bool());
    cloud::Reply ok = set_measurepoints(edge.hub, "meter1", R"({"setpoint":12.5})", 0);
    CHECK(ok.code == 200);
    ModbusReader modbus(edge.port);
    CHECK(modbus.holding(20) == 125);

    edge.stop_and_check_output();
}

TEST_CASE("modbus edge gateway: a bad mapping file is refused naming the field, without its secrets",
          "[integration][gateway][modbus]") {
    TempDir dir("enos-modbus-mapping");
    auto run_with = [&](const std::string& mapping) {
        std::ofstream(dir.file("mapping.json")) << mapping;
        return run_process({"/usr/bin/env", std::string("ENOS_DEVICE_SECRET=") + gateway_secret,
                            std::string("MB_METER1_SECRET=") + meter1_secret, gateway_binary(), "--url",
                            "tcp://127.0.0.1:1", "--product-key", gateway_pk, "--device-key", gateway_dk,
                            "--mapping", dir.file("mapping.json"), "--store", dir.file("store")});
    };
    const std::string head = R"({"endpoints":[{"host":"127.0.0.1","port":1502,"subDevices":[)"
                             R"({"productKey":"pkMbSub","deviceKey":"meter1",)";

    auto bad_type = run_with(head + R"("secretEnv":"MB_METER1_SECRET","points":{)"
                                    R"("temperature":{"register":0,"kind":"input","type":"uint64"}}}]}]})");
    INFO("stderr: " << bad_type.err);
    CHECK(bad_type.exit_code == 2);
    CHECK(bad_type.err.find("endpoints[0].subDevices[0].points.temperature.type") != std::string::npos);

    auto writable_input =
        run_with(head + R"("secretEnv":"MB_METER1_SECRET","points":{)"
                        R"("t":{"register":0,"kind":"input","type":"int16","writable":true}}}]}]})");
    INFO("stderr: " << writable_input.err);
    CHECK(writable_input.exit_code == 2);
    CHECK(writable_input.err.find("points.t.writable") != std::string::npos);

    auto missing_env = run_with(head + R"("secretEnv":"MB_NOT_SET","points":{)"
                                       R"("t":{"register":0,"kind":"input","type":"int16"}}}]}]})");
    INFO("stderr: " << missing_env.err);
    CHECK(missing_env.exit_code == 2);
    CHECK(missing_env.err.find("MB_NOT_SET") != std::string::npos);

    for (const auto* result : {&bad_type, &writable_input, &missing_env})
        for (const char* secret : {gateway_secret, meter1_secret}) {
            CHECK(result->out.find(secret) == std::string::npos);
            CHECK(result->err.find(secret) == std::string::npos);
        }
}
