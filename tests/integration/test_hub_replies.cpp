// The cloud simulator's answer to every upstream request of docs/protocol.md §3, seen by a device on the
// real broker: reply topic, echoed id, code, data, and what ends up in the store (`enos-hub query`).
// Device-level requests run on the shared hub (each test with its own names or ids); gateway,
// topology, session and integration tests start a private hub with a registry of their own.
#include "cloud_device.hpp"

#include <enos/device/core/limits.hpp>
#include <enos/device/core/sign.hpp>

#include <fstream>

using namespace enos::test;
using namespace enos::test::cloud;
using enos::device::SecureMode;

namespace {

/// A private hub for the gateway and integration tests, with a registry written for them.
struct GatewayHub {
    TempDir dir{"enos-cloud-test"};
    HubProcess hub;

    GatewayHub() : hub(start(dir)) {}

    static HubProcess start(const TempDir& dir) {
        std::ofstream(dir.file("registry.json")) << R"({
          "products": [
            {"productKey": "pkGw", "productSecret": "gwProdSecret"},
            {"productKey": "pkSub", "productSecret": "subProdSecret"},
            {"productKey": "pkSubDyn", "productSecret": "subDynSecret", "dynamicActivation": true},
            {"productKey": "pkInt", "productSecret": "intSecret"}
          ],
          "devices": [
            {"productKey": "pkGw", "deviceKey": "gw1", "deviceSecret": "gwSecret1", "gateway": true},
            {"productKey": "pkGw", "deviceKey": "gw2", "deviceSecret": "gwSecret2", "gateway": true},
            {"productKey": "pkSub", "deviceKey": "sub1", "deviceSecret": "subSecret1"},
            {"productKey": "pkSub", "deviceKey": "sub2", "deviceSecret": "subSecret2"},
            {"productKey": "pkSub", "deviceKey": "sub3", "deviceSecret": "subSecret3"},
            {"productKey": "pkSub", "deviceKey": "sub4", "deviceSecret": "subSecret4"},
            {"productKey": "pkSub", "deviceKey": "other1", "deviceSecret": "otherSecret1"},
            {"productKey": "pkSub", "deviceKey": "off1", "deviceSecret": "offSecret1", "enabled": false},
            {"productKey": "pkSubDyn", "deviceKey": "dsub1"},
            {"productKey": "pkInt", "deviceKey": "meter1", "deviceSecret": "m1"},
            {"productKey": "pkInt", "deviceKey": "meter2", "deviceSecret": "m2"}
          ],
          "topology": [
            {"gateway": {"productKey": "pkGw", "deviceKey": "gw1"},
             "subDevices": [{"productKey": "pkSub", "deviceKey": "sub1"}, {"productKey": "pkSub", "deviceKey": "sub2"},
                            {"productKey": "pkSub", "deviceKey": "sub3"}, {"productKey": "pkSub", "deviceKey": "off1"},
                            {"productKey": "pkSubDyn", "deviceKey": "dsub1"}]},
            {"gateway": {"productKey": "pkGw", "deviceKey": "gw2"},
             "subDevices": [{"productKey": "pkSub", "deviceKey": "other1"}]}
          ]
        })";
        HubProcess::Options options;
        options.registry_path = dir.file("registry.json");
        return HubProcess::start(options);
    }
};

/// combine.login params for one sub-device, signed with `secret`.
std::string login_params(const std::string& pk, const std::string& dk, const std::string& secret,
                         const std::string& secure_mode = "2") {
    const std::string client_id = pk + "." + dk + ".1700000000000", ts = "1700000000000";
    const std::string sign = enos::device::sign({client_id, dk, pk, ts}, secret);
    return R"({"productKey":")" + pk + R"(","deviceKey":")" + dk + R"(","clientId":")" + client_id +
           R"(","timestamp":")" + ts + R"(","secureMode":")" + secure_mode +
           R"(","signMethod":"sha256","sign":")" + sign + R"("})";
}

/// One thing.topo.add entry.
std::string topo_entry(const std::string& pk, const std::string& dk, const std::string& secret) {
    const std::string client_id = pk + "." + dk, ts = "1700000000000";
    return R"({"productKey":")" + pk + R"(","deviceKey":")" + dk + R"(","clientId":")" + client_id +
           R"(","timestamp":")" + ts + R"(","signMethod":"sha256","sign":")" +
           enos::device::sign({client_id, dk, pk, ts}, secret) + R"("})";
}

std::string names_json(const std::string& prefix, int count) {
    std::string out = "[";
    for (int i = 0; i < count; ++i)
        out += (i ? ",\"" : "\"") + prefix + std::to_string(i) + "\"";
    return out + "]";
}

std::vector<std::string> keys_of(const Value& array, std::string_view key) {
    std::vector<std::string> out;
    for (const Value& item : array.as_array())
        out.push_back(at(item, key).as_string());
    return out;
}

} // namespace

TEST_CASE("hub replies: measure point post is answered 200 and stored as live data",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev4", "devSecret4");
    const std::string point = unique_client_id("temp");
    const Reply r = dev.request(dev.sys("thing/measurepoint/post"), "thing.measurepoint.post",
                                R"({"measurepoints":{")" + point + R"(":21.5,")" + point +
                                    R"(q":{"value":1.0,"quality":9}},"time":1700000000123})");
    CHECK(r.code == 200);
    CHECK(r.data_json == "{}");

    const auto rows = query_until(hub, "measurepoints", "pkTest", "dev4", [&](const auto& rows) {
        return with(rows, "identifier", point + "q").size() == 1;
    });
    const auto plain = with(rows, "identifier", point);
    REQUIRE(plain.size() == 1);
    CHECK(at(plain[0], "value").as_double() == 21.5);
    CHECK(at(plain[0], "time").as_int() == 1700000000123);
    CHECK_FALSE(at(plain[0], "resumed").as_bool());
    CHECK(at(plain[0], "requestId").as_string() == r.id);
    const Value quality = at(with(rows, "identifier", point + "q")[0], "value");
    CHECK(at(quality, "quality").as_int() == 9);
}

TEST_CASE("hub replies: resumed measure points are stored with the resumed flag",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev4", "devSecret4");
    const std::string point = unique_client_id("resumed");
    CHECK(dev.request(dev.sys("thing/measurepoint/resume"), "thing.measurepoint.resume",
                      R"({"measurepoints":{")" + point + R"(":19.8},"time":1699990000000})")
              .code == 200);
    CHECK(dev.request(dev.sys("thing/measurepoint/resume/batch"), "thing.measurepoint.resume.batch",
                      R"([{"measurepoints":{")" + point + R"(b":1},"time":1699990000001},)" +
                          R"({"measurepoints":{")" + point + R"(b":2},"time":1699990000002}])")
              .code == 200);
    const auto rows = query_until(hub, "measurepoints", "pkTest", "dev4", [&](const auto& rows) {
        return with(rows, "identifier", point).size() == 1 &&
               with(rows, "identifier", point + "b").size() == 2;
    });
    for (const Value& row : with(rows, "identifier", point + "b"))
        CHECK(at(row, "resumed").as_bool());
    CHECK(at(with(rows, "identifier", point)[0], "resumed").as_bool());
}

TEST_CASE("hub replies: a direct device's batch post stores every sample with its own time",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev5", "devSecret5");
    const std::string point = unique_client_id("batch");
    const Reply r = dev.request(dev.sys("thing/measurepoint/post/batch"), "thing.measurepoint.post.batch",
                                R"([{"measurepoints":{")" + point + R"(":1},"time":1700000000000},)" +
                                    R"({"productKey":"pkTest","deviceKey":"dev5","measurepoints":{")" +
                                    point + R"(":2},"time":1700000060000}])",
                                R"("allowOfflineSubDevice":false,"skipInvalidMeasurepoints":false,)");
    CHECK(r.code == 200);
    const auto rows = query_until(hub, "measurepoints", "pkTest", "dev5", [&](const auto& rows) {
        return with(rows, "identifier", point).size() == 2;
    });
    const auto samples = with(rows, "identifier", point);
    CHECK(at(samples[0], "time").as_int() == 1700000000000);
    CHECK(at(samples[1], "time").as_int() == 1700000060000);
}

TEST_CASE("hub replies: invalid measure points fail the post unless skipInvalidMeasurepoints",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev5", "devSecret5");
    const std::string point = unique_client_id("skip");
    const std::string params = R"([{"measurepoints":{")" + point + R"(":3,")" + point + R"(bad":null}}])";
    const Reply refused =
        dev.request(dev.sys("thing/measurepoint/post/batch"), "thing.measurepoint.post.batch", params);
    CHECK(refused.code == 1204);
    CHECK(refused.message.find(point + "bad") != std::string::npos);
    CHECK(dev.request(dev.sys("thing/measurepoint/post"), "thing.measurepoint.post",
                      R"({"measurepoints":{")" + point + R"(bad":{"quality":9}}})")
              .code == 1204);
    CHECK(dev.request(dev.sys("thing/measurepoint/post/batch"), "thing.measurepoint.post.batch", params,
                      R"("skipInvalidMeasurepoints":true,)")
              .code == 200);
    const auto rows = query_until(hub, "measurepoints", "pkTest", "dev5", [&](const auto& rows) {
        return with(rows, "identifier", point).size() == 1;
    });
    CHECK(with(rows, "identifier", point + "bad").empty());
}

TEST_CASE("hub replies: an event post is answered on the event's reply topic and stored",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev6", "devSecret6");
    const std::string event = unique_client_id("overTemp");
    const Reply r = dev.request(dev.sys("thing/event/" + event + "/post"), "thing.event." + event + ".post",
                                R"({"events":{"temp":95.5,"level":2},"time":1700000000456})");
    CHECK(r.code == 200);
    const auto rows = query_until(hub, "events", "pkTest", "dev6",
                                  [&](const auto& rows) { return with(rows, "eventId", event).size() == 1; });
    const Value row = with(rows, "eventId", event)[0];
    CHECK(at(at(row, "events"), "temp").as_double() == 95.5);
    CHECK(at(row, "time").as_int() == 1700000000456);
}

TEST_CASE("hub replies: attributes are updated, queried and deleted", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev7", "devSecret7");
    const std::string name = unique_client_id("loc");
    const std::string q = dev.sys("thing/attribute/query"), u = dev.sys("thing/attribute/update"),
                      d = dev.sys("thing/attribute/delete");

    CHECK(dev.request(u, "thing.attribute.update",
                      R"({"attributes":{")" + name + R"(":{"lat":31.2,"lng":121.5},")" + name + R"(n":7}})")
              .code == 200);
    Reply r = dev.request(q, "thing.attribute.query", R"({"attributes":[")" + name + R"(","missing"]})");
    REQUIRE(r.code == 200);
    Value data = data_of(r);
    CHECK(at(at(data, name), "lat").as_double() == 31.2);
    CHECK(data.find(name + "n") == nullptr);
    CHECK(data.find("missing") == nullptr);

    r = dev.request(q, "thing.attribute.query", R"({"attributes":[]})"); // empty list: all attributes
    REQUIRE(r.code == 200);
    data = data_of(r);
    CHECK(at(data, name + "n").as_int() == 7);
    CHECK(data.find(name) != nullptr);

    CHECK(dev.request(d, "thing.attribute.delete", R"({"attributes":[")" + name + R"("]})").code == 200);
    data = data_of(dev.request(q, "thing.attribute.query", R"({"attributes":[]})"));
    CHECK(data.find(name) == nullptr);
    CHECK(data.find(name + "n") != nullptr);
    query_until(hub, "attributes", "pkTest", "dev7", [&](const auto& rows) {
        return with(rows, "name", name).empty() && with(rows, "name", name + "n").size() == 1;
    });
}

TEST_CASE("hub replies: the registry's attributes and tags are there from the start",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev1", "devSecret1");
    const Value attributes = data_of(
        dev.request(dev.sys("thing/attribute/query"), "thing.attribute.query", R"({"attributes":["name"]})"));
    CHECK(at(attributes, "name").as_string() == "pump-01");
    const Value tags =
        data_of(dev.request(dev.sys("thing/tag/query"), "thing.tag.query", R"({"tags":["site"]})"));
    CHECK(at(tags, "site").as_string() == "SH-01");
}

TEST_CASE("hub replies: attribute and tag format errors and limits", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev7", "devSecret7");
    CHECK(dev.request(dev.sys("thing/attribute/query"), "thing.attribute.query", R"({"attributes":"name"})")
              .code == 1208);
    CHECK(dev.request(dev.sys("thing/attribute/delete"), "thing.attribute.delete", R"({"attributes":{}})")
              .code == 1209);
    CHECK(dev.request(dev.sys("thing/attribute/update"), "thing.attribute.update", R"({"attributes":[1]})")
              .code == 1204);
    // More than 200 attributes or tags in one request: 460 (request parameter error).
    const Reply too_many = dev.request(dev.sys("thing/attribute/query"), "thing.attribute.query",
                                       R"({"attributes":)" + names_json("a", 201) + "}");
    CHECK(too_many.code == 460);
    CHECK(too_many.message.find("200") != std::string::npos);
    CHECK(dev.request(dev.sys("thing/attribute/query"), "thing.attribute.query",
                      R"({"attributes":)" + names_json("a", 200) + "}")
              .code == 200);
    std::string updates = "{";
    for (int i = 0; i < 201; ++i)
        updates += (i ? ",\"u" : "\"u") + std::to_string(i) + "\":1";
    CHECK(dev.request(dev.sys("thing/attribute/update"), "thing.attribute.update",
                      R"({"attributes":)" + updates + "}}")
              .code == 460);
    std::string tags = "[";
    for (int i = 0; i < 201; ++i)
        tags += (i ? "," : "") + std::string(R"({"tagKey":"k)") + std::to_string(i) + R"(","tagValue":"v"})";
    CHECK(dev.request(dev.sys("thing/tag/update"), "thing.tag.update", tags + "]").code == 460);
    CHECK(dev.request(dev.sys("thing/tag/update"), "thing.tag.update", R"([{"tagKey":"","tagValue":"v"}])")
              .code == 460);
}

TEST_CASE("hub replies: tags are updated, queried and deleted", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev8", "devSecret8");
    const std::string key = unique_client_id("vendor");
    CHECK(dev.request(dev.sys("thing/tag/update"), "thing.tag.update",
                      R"([{"tagKey":")" + key + R"(","tagValue":"ACME"},{"tagKey":")" + key +
                          R"(2","tagValue":"x"}])")
              .code == 200);
    Value data =
        data_of(dev.request(dev.sys("thing/tag/query"), "thing.tag.query", R"({"tags":[")" + key + R"("]})"));
    CHECK(at(data, key).as_string() == "ACME");
    CHECK(data.find(key + "2") == nullptr);
    data = data_of(dev.request(dev.sys("thing/tag/query"), "thing.tag.query", R"({"tags":[]})"));
    CHECK(at(data, key + "2").as_string() == "x");
    CHECK(
        dev.request(dev.sys("thing/tag/delete"), "thing.tag.delete", R"({"tags":[")" + key + R"("]})").code ==
        200);
    data = data_of(dev.request(dev.sys("thing/tag/query"), "thing.tag.query", R"({"tags":[]})"));
    CHECK(data.find(key) == nullptr);
    const auto rows = query_until(hub, "tags", "pkTest", "dev8", [&](const auto& rows) {
        return with(rows, "tagKey", key).empty() && with(rows, "tagKey", key + "2").size() == 1;
    });
    CHECK(at(with(rows, "tagKey", key + "2")[0], "tagValue").as_string() == "x");
}

TEST_CASE("hub replies: a raw upload is answered with the same bytes and stored",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev9", "devSecret9");
    const std::string topic = dev.sys("thing/model/up_raw");
    const std::string marker = unique_client_id("m");
    const std::string bytes = std::string("\x01\x00\x00\x00\x14\x01\xff", 7) + marker;
    dev.subscribe_once(topic + "_reply");
    REQUIRE(dev.probe().publish(topic, bytes, 1));
    auto reply = dev.probe().wait_for(
        [&](const ReceivedMessage& m) { return m.topic == topic + "_reply" && m.payload == bytes; });
    CHECK(reply.has_value());
    std::string hex;
    for (unsigned char c : bytes) {
        static const char digits[] = "0123456789abcdef";
        hex += digits[c >> 4];
        hex += digits[c & 15];
    }
    query_until(hub, "raw", "pkTest", "dev9",
                [&](const auto& rows) { return with(rows, "hex", hex).size() == 1; });
}

TEST_CASE("hub replies: TSL template, OTA, logs, network status and connection state",
          "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev9", "devSecret9");

    const Value tsl = data_of(dev.request(dev.sys("thing/tsltemplate/get"), "thing.tsltemplate.get", "{}"));
    for (const char* map : {"tslAttributeMap", "tslMeasurepointMap", "tslEventMap", "tslServiceMap"})
        CHECK(at(tsl, map).is_object());

    const std::string version = unique_client_id("1.0.");
    CHECK(
        dev.request(dev.sys("ota/device/inform"), "ota.device.inform", R"({"version":")" + version + R"("})")
            .code == 200);
    const Value offers =
        data_of(dev.request(dev.sys("ota/device/getversion"), "ota.device.getversion", "{}"));
    REQUIRE(offers.as_array().size() == 1);
    CHECK(at(offers.as_array()[0], "version").as_string() == "1.1.0");
    CHECK(at(offers.as_array()[0], "signMethod").as_string() == "md5");
    CHECK(at(offers.as_array()[0], "sign").as_string() == "9e107d9d372bb6826bd81d3542a419d6");
    CHECK(at(offers.as_array()[0], "fileUrl").as_string() == "/fw/pkTest/1.1.0");
    CHECK(at(offers.as_array()[0], "fileSize").as_int() == 1024);
    const Reply progress = dev.request(dev.sys("ota/device/progress"), "ota.device.progress",
                                       R"({"step":"40","desc":"downloading"})");
    CHECK(progress.code == 200);
    CHECK(dev.request(dev.sys("ota/device/progress"), "ota.device.progress", R"({"step":"fast"})").code ==
          460);
    const auto ota = query_until(hub, "ota", "pkTest", "dev9", [&](const auto& rows) {
        return with(rows, "version", version).size() == 1 && with(rows, "requestId", progress.id).size() == 1;
    });
    CHECK(at(with(ota, "requestId", progress.id)[0], "step").as_string() == "40");
    CHECK(at(with(ota, "requestId", progress.id)[0], "desc").as_string() == "downloading");

    const std::string trace = unique_client_id("trace");
    CHECK(dev.request(dev.sys("thing/log/post"), "thing.log.post",
                      R"({"logs":{"traceId":")" + trace +
                          R"(","level":"info","content":"poll ok"},"time":1700000000789})")
              .code == 200);
    query_until(hub, "logs", "pkTest", "dev9", [&](const auto& rows) {
        for (const Value& row : rows)
            if (at(at(row, "logs"), "traceId").as_string() == trace) return true;
        return false;
    });

    const Reply network = dev.request(dev.sys("network/status/report"), "network.status.report",
                                      R"({"reportTime":1700000000000,"rssi":-71.5,"networkType":"4G"})");
    CHECK(network.code == 200);
    CHECK(dev.request(dev.sys("network/status/report"), "network.status.report", R"({"rssi":-71.5})").code ==
          460);
    query_until(hub, "network-status", "pkTest", "dev9",
                [&](const auto& rows) { return with(rows, "requestId", network.id).size() == 1; });

    const std::string state_topic = dev.sys("connection/state/post");
    const Reply state =
        dev.request(state_topic, "connection.state.post",
                    R"({"isFull":true,"nodes":[{"nodeId":"#001","state":1},{"nodeId":"#002","state":2}],)"
                    R"("relations":{"#001":["#002"]},"reportTime":1700000000000})");
    CHECK(state.code == 200);
    CHECK(
        dev.request(state_topic, "connection.state.post",
                    R"({"isFull":false,"nodes":[{"nodeId":"#001","state":1}],"relations":{"#001":["#002"]}})")
            .code == 460);
    CHECK(dev.request(state_topic, "connection.state.post",
                      R"({"isFull":true,"nodes":[{"nodeId":"#001","state":7}]})")
              .code == 460);
    query_until(hub, "connection-states", "pkTest", "dev9",
                [&](const auto& rows) { return with(rows, "requestId", state.id).size() == 1; });
}

TEST_CASE("hub replies: envelope errors 1260, 1220, 1251 and 1008", "[integration][hub][cloud]") {
    const auto& hub = shared_hub();
    Device dev(hub, "pkTest", "dev6", "devSecret6");
    const std::string topic = dev.sys("thing/measurepoint/post");

    const Reply mismatch = dev.request(topic, "thing.measurepoint.resume", R"({"measurepoints":{"t":1}})");
    CHECK(mismatch.code == 1260);
    CHECK(mismatch.message.find("thing.measurepoint.post") != std::string::npos);

    // Not JSON: the id is still recovered from the start of the payload so the device can correlate.
    const std::string id = next_id();
    const Reply broken =
        dev.exchange(topic, R"({"id":")" + id + R"(","method":"thing.measurepoint.post","params":{)", id);
    CHECK(broken.code == 1220);
    CHECK(dev.exchange(topic, "[1,2,3]", "").code == 1220);

    // Empty payload: the reply carries no id (there is none to echo).
    CHECK(dev.exchange(dev.sys("thing/attribute/update"), "", "").code == 1251);

    const std::string large_id = next_id();
    const std::string large =
        R"({"id":")" + large_id + R"(","version":"1.1","method":"thing.measurepoint.post",)" +
        R"("params":{"measurepoints":{"blob":")" + std::string(512 * 1024, 'x') + R"("}}})";
    CHECK(dev.exchange(topic, large, large_id).code == 1008);
}

TEST_CASE("hub replies: gateway registers sub-devices and gets generated secrets",
          "[integration][hub][cloud]") {
    GatewayHub gw_hub;
    Device gw(gw_hub.hub, "pkGw", "gw2", "gwSecret2");
    const Reply r =
        gw.request(gw.sys("thing/device/register"), "thing.device.register",
                   R"([{"productKey":"pkSub","deviceKey":"new1","deviceName":{"defaultValue":"meter 1"},)"
                   R"("timezone":"+08:00","deviceAttributes":{"location":"Shanghai"}},)"
                   R"({"productKey":"pkSub"}])");
    REQUIRE(r.code == 200);
    const Value created = data_of(r);
    REQUIRE(created.as_array().size() == 2);
    CHECK(at(created.as_array()[0], "deviceKey").as_string() == "new1");
    const std::string generated_dk = at(created.as_array()[1], "deviceKey").as_string();
    CHECK_FALSE(generated_dk.empty());
    for (const Value& d : created.as_array()) {
        CHECK(at(d, "productKey").as_string() == "pkSub");
        CHECK(at(d, "deviceSecret").as_string().size() >= 16);
        CHECK_FALSE(at(d, "assetId").as_string().empty());
    }
    const std::string secret = at(created.as_array()[0], "deviceSecret").as_string();

    // Registering the same device again fails; an unknown product fails.
    CHECK(gw.request(gw.sys("thing/device/register"), "thing.device.register",
                     R"([{"productKey":"pkSub","deviceKey":"new1"}])")
              .code == 460);
    CHECK(gw.request(gw.sys("thing/device/register"), "thing.device.register",
                     R"([{"productKey":"noSuchProduct"}])")
              .code == 460);
    // More than 1000 registrations in one request: 460.
    std::string many = "[";
    for (int i = 0; i < 1001; ++i)
        many += (i ? "," : "") + std::string(R"({"productKey":"pkSub"})");
    CHECK(gw.request(gw.sys("thing/device/register"), "thing.device.register", many + "]").code == 460);

    // The registered device is known: its signature (with the generated secret) binds it to the
    // gateway, and it can log in.
    CHECK(gw.request(gw.sys("thing/topo/add"), "thing.topo.add",
                     "[" + topo_entry("pkSub", "new1", secret) + "]")
              .code == 200);
    const Reply login =
        gw.request(gw.session("combine/login"), "combine.login", login_params("pkSub", "new1", secret));
    CHECK(login.code == 200);
    const auto attributes = query_until(gw_hub.hub, "attributes", "pkSub", "new1",
                                        [](const auto& rows) { return !rows.empty(); });
    CHECK(at(attributes[0], "value").as_string() == "Shanghai");
}

TEST_CASE("hub replies: topology get, add and delete", "[integration][hub][cloud]") {
    GatewayHub gw_hub;
    Device gw(gw_hub.hub, "pkGw", "gw1", "gwSecret1");
    const std::string get = gw.sys("thing/topo/get"), add = gw.sys("thing/topo/add"),
                      del = gw.sys("thing/topo/delete");

    Value topology = data_of(gw.request(get, "thing.topo.get", "{}"));
    CHECK(keys_of(topology, "deviceKey") ==
          std::vector<std::string>{"sub1", "sub2", "sub3", "off1", "dsub1"});

    CHECK(gw.request(add, "thing.topo.add", "[" + topo_entry("pkSub", "sub4", "wrongSecret") + "]").code ==
          401);
    CHECK(gw.request(add, "thing.topo.add", "[" + topo_entry("pkSub", "ghost", "x") + "]").code == 705);
    CHECK(gw.request(add, "thing.topo.add", "[" + topo_entry("pkSub", "other1", "otherSecret1") + "]").code ==
          460);
    CHECK(gw.request(add, "thing.topo.add", "[" + topo_entry("pkSub", "sub4", "subSecret4") + "]").code ==
          200);
    topology = data_of(gw.request(get, "thing.topo.get", "{}"));
    CHECK(keys_of(topology, "deviceKey").back() == "sub4");

    // Delete failures: 1256 (not a sub-device of this gateway; still online).
    const Reply foreign =
        gw.request(del, "thing.topo.delete", R"([{"productKey":"pkSub","deviceKey":"other1"}])");
    CHECK(foreign.code == 1256);
    CHECK(foreign.message.rfind("Remove topo failure", 0) == 0);
    REQUIRE(
        gw.request(gw.session("combine/login"), "combine.login", login_params("pkSub", "sub4", "subSecret4"))
            .code == 200);
    CHECK(gw.request(del, "thing.topo.delete", R"([{"productKey":"pkSub","deviceKey":"sub4"}])").code ==
          1256);
    CHECK(gw.request(gw.session("combine/logout"), "combine.logout",
                     R"({"productKey":"pkSub","deviceKey":"sub4"})")
              .code == 200);
    CHECK(gw.request(del, "thing.topo.delete", R"([{"productKey":"pkSub","deviceKey":"sub4"}])").code == 200);
    topology = data_of(gw.request(get, "thing.topo.get", "{}"));
    CHECK(keys_of(topology, "deviceKey") ==
          std::vector<std::string>{"sub1", "sub2", "sub3", "off1", "dsub1"});
    query_until(gw_hub.hub, "topology", "pkGw", "gw1", [](const auto& rows) { return rows.size() == 5; });
}

TEST_CASE("hub replies: sub-device login, refusals and logout", "[integration][hub][cloud]") {
    GatewayHub gw_hub;
    Device gw(gw_hub.hub, "pkGw", "gw1", "gwSecret1");
    const std::string login = gw.session("combine/login");

    const Reply ok = gw.request(login, "combine.login", login_params("pkSub", "sub1", "subSecret1"));
    REQUIRE(ok.code == 200);
    const Value data = data_of(ok);
    CHECK_FALSE(at(data, "assetId").as_string().empty());
    CHECK(at(data, "productKey").as_string() == "pkSub"); // the broker plugin reads these two
    CHECK(at(data, "deviceKey").as_string() == "sub1");
    const auto sessions = query_until(gw_hub.hub, "sessions", "pkGw", "gw1", [](const auto& rows) {
        return with(rows, "deviceKey", "sub1").size() == 1;
    });
    CHECK(at(sessions[0], "assetId").as_string() == at(data, "assetId").as_string());

    CHECK(gw.request(login, "combine.login", login_params("pkSub", "ghost", "x")).code == 705);
    CHECK(gw.request(login, "combine.login", login_params("pkSub", "off1", "offSecret1")).code == 723);
    CHECK(gw.request(login, "combine.login", login_params("pkSub", "other1", "otherSecret1")).code == 771);
    CHECK(gw.request(login, "combine.login", login_params("pkSub", "sub4", "subSecret4")).code ==
          771); // no topology
    CHECK(gw.request(login, "combine.login", login_params("pkSub", "sub2", "wrongSecret")).code == 401);
    CHECK(gw.request(login, "combine.login", login_params("pkSub", "sub2", "subProdSecret", "3")).code ==
          770);

    // Dynamic activation of a sub-device: signed with the product secret, the reply carries its secret.
    const Reply activated =
        gw.request(login, "combine.login", login_params("pkSubDyn", "dsub1", "subDynSecret", "3"));
    REQUIRE(activated.code == 200);
    const std::string secret = at(data_of(activated), "deviceSecret").as_string();
    CHECK(gw.request(login, "combine.login", login_params("pkSubDyn", "dsub1", "subDynSecret", "3")).code ==
          770);
    CHECK(gw.request(login, "combine.login", login_params("pkSubDyn", "dsub1", secret)).code == 200);

    const Reply out = gw.request(gw.session("combine/logout"), "combine.logout",
                                 R"({"productKey":"pkSub","deviceKey":"sub1"})");
    CHECK(out.code == 200);
    CHECK(at(data_of(out), "productKey").as_string() == "pkSub");
    CHECK(at(data_of(out), "deviceKey").as_string() == "sub1");
    query_until(gw_hub.hub, "sessions", "pkGw", "gw1",
                [](const auto& rows) { return with(rows, "deviceKey", "sub1").empty(); });
}

TEST_CASE("hub replies: batch login reports which sub-devices failed with 723", "[integration][hub][cloud]") {
    GatewayHub gw_hub;
    Device gw(gw_hub.hub, "pkGw", "gw1", "gwSecret1");
    const std::string client_id = "login.batch", ts = "1700000000000";
    const auto entry = [&](const std::string& dk, const std::string& secret) {
        return R"({"productKey":"pkSub","deviceKey":")" + dk + R"(","secureMode":"2","sign":")" +
               enos::device::sign({client_id, dk, "pkSub", ts}, secret) + R"("})";
    };
    const std::string head =
        R"({"clientId":"login.batch","timestamp":"1700000000000","signMethod":"sha256","subDevices":[)";
    const std::string topic = gw.session("combine/login/batch");

    const Reply partial =
        gw.request(topic, "combine.login.batch",
                   head + entry("sub1", "subSecret1") + "," + entry("other1", "otherSecret1") + "," +
                       entry("ghost", "x") + "," + entry("sub2", "subSecret2") + "]}");
    CHECK(partial.code == 723);
    const Value data = data_of(partial);
    CHECK(keys_of(at(data, "loginedSubDevices"), "deviceKey") == std::vector<std::string>{"sub1", "sub2"});
    CHECK(keys_of(at(data, "failedSubDevices"), "deviceKey") == std::vector<std::string>{"other1", "ghost"});
    for (const Value& d : at(data, "loginedSubDevices").as_array())
        CHECK_FALSE(at(d, "assetId").as_string().empty());

    const Reply all = gw.request(topic, "combine.login.batch", head + entry("sub3", "subSecret3") + "]}");
    CHECK(all.code == 200);
    CHECK(at(data_of(all), "failedSubDevices").as_array().empty());
    CHECK(gw.request(topic, "combine.login.batch", R"({"clientId":"x","timestamp":"1","subDevices":[]})")
              .code == 460);
    // More than limits::max_batch_login sub-devices: refused as a whole, nobody logged in.
    std::string too_many = head;
    for (std::size_t i = 0; i <= enos::device::limits::max_batch_login; ++i)
        too_many += (i == 0 ? "" : ",") + entry("sub" + std::to_string(4 + i), "x");
    const Reply refused = gw.request(topic, "combine.login.batch", too_many + "]}");
    CHECK(refused.code == 460);
    CHECK(refused.message.find("(at most 100)") != std::string::npos);
    query_until(gw_hub.hub, "sessions", "pkGw", "gw1", [](const auto& rows) { return rows.size() == 3; });
}

TEST_CASE("hub replies: a gateway posts for logged-in sub-devices only, unless allowOfflineSubDevice",
          "[integration][hub][cloud]") {
    GatewayHub gw_hub;
    Device gw(gw_hub.hub, "pkGw", "gw1", "gwSecret1");
    REQUIRE(
        gw.request(gw.session("combine/login"), "combine.login", login_params("pkSub", "sub1", "subSecret1"))
            .code == 200);
    const std::string batch = gw.sys("thing/measurepoint/post/batch");
    const auto sample = [](const std::string& dk, int v) {
        return R"({"productKey":"pkSub","deviceKey":")" + dk + R"(","measurepoints":{"temp":)" +
               std::to_string(v) + R"(},"time":1700000000000})";
    };
    CHECK(gw.request(batch, "thing.measurepoint.post.batch",
                     "[" + sample("sub1", 1) + R"(,{"measurepoints":{"gwTemp":5}}])")
              .code == 200);
    const Reply offline = gw.request(batch, "thing.measurepoint.post.batch",
                                     "[" + sample("sub1", 2) + "," + sample("sub2", 3) + "]");
    CHECK(offline.code == 1009);
    CHECK(gw.request(batch, "thing.measurepoint.post.batch", "[" + sample("sub2", 4) + "]",
                     R"("allowOfflineSubDevice":true,)")
              .code == 200);
    CHECK(gw.request(batch, "thing.measurepoint.post.batch", "[" + sample("ghost", 5) + "]").code == 705);
    CHECK(gw.request(batch, "thing.measurepoint.post.batch", "[" + sample("other1", 6) + "]",
                     R"("allowOfflineSubDevice":true,)")
              .code == 1009);

    // The refused request stored nothing: sub1 has exactly the first sample.
    query_until(gw_hub.hub, "measurepoints", "pkSub", "sub2",
                [](const auto& rows) { return rows.size() == 1; });
    const auto sub1 = query(gw_hub.hub, "measurepoints", "pkSub", "sub1");
    REQUIRE(sub1.size() == 1);
    CHECK(at(sub1[0], "value").as_int() == 1);
    CHECK(query(gw_hub.hub, "measurepoints", "pkGw", "gw1").size() == 1);

    // Once logged in the gateway may also use the sub-device's own topics (the plugin follows the
    // login reply).
    CHECK(gw.request("/sys/pkSub/sub1/thing/measurepoint/post", "thing.measurepoint.post",
                     R"({"measurepoints":{"direct":7}})")
              .code == 200);
}

TEST_CASE("hub replies: the integration channel posts for devices of its product",
          "[integration][hub][cloud]") {
    GatewayHub gw_hub;
    MqttProbe channel(gw_hub.hub.port());
    REQUIRE(channel.connect(device_credentials("pkInt", "", "intSecret", SecureMode::integration)) == 0);
    const auto post = [&](const std::string& what, const std::string& params) {
        const std::string topic = "/sys/pkInt/integration/" + what, id = next_id();
        REQUIRE(channel.subscribe(topic + "_reply", 1) == 1);
        REQUIRE(channel.publish(topic,
                                R"({"id":")" + id + R"(","version":"1.1","method":"integration.)" +
                                    (what == "measurepoint/post" ? "measurepoint.post"
                                     : what == "event/post"      ? "event.post"
                                                                 : "attribute.post") +
                                    R"(","params":)" + params + "}",
                                1));
        auto reply = channel.wait_for([&](const ReceivedMessage& m) {
            auto r = enos::device::decode_reply(m.payload);
            return m.topic == topic + "_reply" && r && r->id == id;
        });
        REQUIRE(reply.has_value());
        return *enos::device::decode_reply(reply->payload);
    };
    CHECK(post("measurepoint/post",
               R"([{"deviceKey":"meter1","time":1699990000000,"measurepoints":{"temp":23.4}},)"
               R"({"deviceKey":"meter2","measurepoints":{"Power":{"value":2,"quality":9}}}])")
              .code == 200);
    CHECK(
        post(
            "measurepoint/post",
            R"([{"deviceKey":"meter1","measurepoints":{"temp":1}},{"deviceKey":"nope","measurepoints":{"temp":2}}])")
            .code == 1257);
    CHECK(post("event/post",
               R"([{"deviceKey":"meter1","time":1699990000000,"events":{"highTemp":{"temp":120.0}}}])")
              .code == 200);
    CHECK(post("attribute/post", R"([{"deviceKey":"meter2","attributes":{"name":"Will-dev"}}])").code == 200);

    const auto points = query_until(gw_hub.hub, "measurepoints", "pkInt", "meter1",
                                    [](const auto& rows) { return !rows.empty(); });
    CHECK(points.size() == 1); // the refused request stored nothing
    CHECK(at(points[0], "time").as_int() == 1699990000000);
    query_until(gw_hub.hub, "events", "pkInt", "meter1",
                [](const auto& rows) { return with(rows, "eventId", "highTemp").size() == 1; });
    query_until(gw_hub.hub, "attributes", "pkInt", "meter2",
                [](const auto& rows) { return with(rows, "name", "name").size() == 1; });
}

TEST_CASE("hub replies: the simulator answers again after the broker restarts", "[integration][hub][cloud]") {
    HubProcess hub = HubProcess::start();
    hub.stop_broker();
    hub.start_broker();
    // The simulator reconnects and subscribes again on its own; until it has, a request finds no
    // subscriber and is lost, so ask until one is answered.
    Device dev(hub, "pkTest", "dev1", "devSecret1");
    const std::string topic = dev.sys("thing/measurepoint/post");
    dev.subscribe_once(topic + "_reply");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool answered = false;
    while (!answered && std::chrono::steady_clock::now() < deadline) {
        const std::string id = next_id();
        REQUIRE(dev.probe().publish(
            topic,
            R"({"id":")" + id + R"(","method":"thing.measurepoint.post","params":{"measurepoints":{"t":1}}})",
            1));
        answered = dev.probe()
                       .wait_for(
                           [&](const ReceivedMessage& m) {
                               auto r = enos::device::decode_reply(m.payload);
                               return m.topic == topic + "_reply" && r && r->id == id && r->code == 200;
                           },
                           std::chrono::milliseconds(500))
                       .has_value();
    }
    CHECK(answered);
}
