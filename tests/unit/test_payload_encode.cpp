// Encoders against the JSON shapes of docs/protocol.md §3. Payloads are compared as parsed JSON (member
// order is free on the wire) with numbers compared by kind too: 1 and 1.0 are different values.
#include <enos/device/core/payload.hpp>
#include <enos/device/core/topics.hpp>

#include <rapidjson/document.h>

#include <cmath>
#include <limits>
#include <string>

#include "support/catch.hpp"

using namespace enos::device;

namespace {

bool same_json(const rapidjson::Value& a, const rapidjson::Value& b, std::string& where) {
    if (a.GetType() != b.GetType()) {
        where += " (type differs)";
        return false;
    }
    if (a.IsNumber()) {
        if (a.IsDouble() != b.IsDouble()) {
            where += " (integer vs floating point)";
            return false;
        }
        const bool equal = a.IsDouble() ? a.GetDouble() == b.GetDouble()
                           : a.IsInt64() && b.IsInt64()
                               ? a.GetInt64() == b.GetInt64()
                               : a.IsUint64() && b.IsUint64() && a.GetUint64() == b.GetUint64();
        if (!equal) where += " (number differs)";
        return equal;
    }
    if (a.IsString()) {
        const bool equal = std::string(a.GetString(), a.GetStringLength()) ==
                           std::string(b.GetString(), b.GetStringLength());
        if (!equal) where += " (string differs)";
        return equal;
    }
    if (a.IsArray()) {
        if (a.Size() != b.Size()) {
            where += " (array length differs)";
            return false;
        }
        for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
            std::string inner = where + "[" + std::to_string(i) + "]";
            if (!same_json(a[i], b[i], inner)) {
                where = inner;
                return false;
            }
        }
        return true;
    }
    if (a.IsObject()) {
        if (a.MemberCount() != b.MemberCount()) {
            where += " (member count differs)";
            return false;
        }
        for (auto m = a.MemberBegin(); m != a.MemberEnd(); ++m) {
            std::string inner = where + "." + m->name.GetString();
            auto other = b.FindMember(m->name);
            if (other == b.MemberEnd()) {
                where = inner + " (missing)";
                return false;
            }
            if (!same_json(m->value, other->value, inner)) {
                where = inner;
                return false;
            }
        }
        return true;
    }
    return a == b; // null, true, false
}

// Parses with RapidJSON itself, independently of the SDK's own reader.
void require_same_json(const std::string& actual, const std::string& expected) {
    INFO("actual:   " << actual);
    INFO("expected: " << expected);
    rapidjson::Document a, e;
    REQUIRE_FALSE(a.Parse(actual.c_str(), actual.size()).HasParseError());
    REQUIRE_FALSE(e.Parse(expected.c_str(), expected.size()).HasParseError());
    std::string where = "$";
    const bool same = same_json(e, a, where);
    INFO("first difference at " << where);
    CHECK(same);
}

Points sample_points() {
    return {{"Power", Value::with_quality(1.0, 9)},
            {"temp", 21.5},
            {"branchCurr", Value::array({1.02, 2.02, 7.93})},
            {"status", "running"}};
}

SubDeviceCredentials credentials(std::string pk, std::string dk, std::string secret) {
    SubDeviceCredentials c;
    c.product_key = std::move(pk);
    c.device_key = std::move(dk);
    c.secret = std::move(secret);
    return c;
}

SubDeviceSecret batch_member(std::string pk, std::string dk, std::string secret) {
    SubDeviceSecret s;
    s.product_key = std::move(pk);
    s.device_key = std::move(dk);
    s.secret = std::move(secret);
    return s;
}

SubDeviceRegistration registration(std::string pk) {
    SubDeviceRegistration r;
    r.product_key = std::move(pk);
    return r;
}

bool mentions(const Status& s, const std::string& text) {
    return s.error().detail.find(text) != std::string::npos;
}

} // namespace

TEST_CASE("measure point post and resume match §3.1 and §3.3", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "7", up::MeasurepointPost{sample_points(), 1700000000123}));
    require_same_json(out, R"({"id":"7","version":"1.1","method":"thing.measurepoint.post",
        "params":{"measurepoints":{"Power":{"value":1.0,"quality":9},"temp":21.5,"branchCurr":[1.02,2.02,7.93],"status":"running"},
                  "time":1700000000123}})");

    REQUIRE(encode(out, "9", up::MeasurepointResume{{{"temp", 19.8}}, 1699990000000}));
    require_same_json(out, R"({"id":"9","version":"1.1","method":"thing.measurepoint.resume",
        "params":{"measurepoints":{"temp":19.8},"time":1699990000000}})");

    // Without a time of its own the post is stamped with the encoding time.
    REQUIRE(encode(out, "10", up::MeasurepointPost{{{"n", 3}}}, 1700000000999));
    require_same_json(
        out,
        R"({"id":"10","version":"1.1","method":"thing.measurepoint.post","params":{"measurepoints":{"n":3},"time":1700000000999}})");
}

TEST_CASE("integers stay integers and floating-point numbers keep their fraction", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "1",
                   up::MeasurepointPost{{{"i", 1}, {"f", 1.0}, {"big", 1e22}, {"neg", -0.5}, {"u", 7u}}}));
    CHECK(out.find("\"i\":1,") != std::string::npos);
    CHECK(out.find("\"f\":1.0,") != std::string::npos);
    rapidjson::Document doc;
    doc.Parse(out.c_str());
    const auto& mp = doc["params"]["measurepoints"];
    CHECK(mp["i"].IsInt());
    CHECK(mp["f"].IsDouble());
    CHECK(mp["big"].IsDouble());
    CHECK(mp["big"].GetDouble() == 1e22);
    CHECK(mp["neg"].GetDouble() == -0.5);
    CHECK(mp["u"].IsInt());
}

TEST_CASE("batch post and resume batch carry the flags beside params (§3.2)", "[unit]") {
    std::vector<MeasurePointSample> samples{
        {"subPK01", "subDev01", {{"temp", 21.5}}, 1700000000000},
        {"subPK01", "subDev01", {{"temp", 21.7}}, 1700000060000},
        {"", "", {{"Power", Value::with_quality(3.2, 9)}}, 1700000000000},
    };
    std::string out;
    REQUIRE(encode(out, "8", up::MeasurepointPostBatch{samples, BatchFlags{false, true}}));
    require_same_json(out, R"({"id":"8","version":"1.1","method":"thing.measurepoint.post.batch",
        "allowOfflineSubDevice":false,"skipInvalidMeasurepoints":true,
        "params":[
          {"productKey":"subPK01","deviceKey":"subDev01","measurepoints":{"temp":21.5},"time":1700000000000},
          {"productKey":"subPK01","deviceKey":"subDev01","measurepoints":{"temp":21.7},"time":1700000060000},
          {"measurepoints":{"Power":{"value":3.2,"quality":9}},"time":1700000000000}]})");

    REQUIRE(encode(out, "9", up::MeasurepointResumeBatch{{samples[2]}, BatchFlags{true, false}}));
    require_same_json(out, R"({"id":"9","version":"1.1","method":"thing.measurepoint.resume.batch",
        "allowOfflineSubDevice":true,"skipInvalidMeasurepoints":false,
        "params":[{"measurepoints":{"Power":{"value":3.2,"quality":9}},"time":1700000000000}]})");

    samples[1].device_key.clear();
    const Status half = encode(out, "8", up::MeasurepointPostBatch{samples});
    CHECK(half.code() == errc::invalid_argument);
    CHECK(mentions(half, "params[1]"));
}

TEST_CASE("event post names the event in the method (§3.4)", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "10",
                   up::EventPost{"overTemp",
                                 {{"temp", 95.5}, {"level", 2}, {"desc", "temperature too high"}},
                                 1700000000456}));
    require_same_json(out, R"({"id":"10","version":"1.1","method":"thing.event.overTemp.post",
        "params":{"events":{"temp":95.5,"level":2,"desc":"temperature too high"},"time":1700000000456}})");

    CHECK(encode(out, "10", up::EventPost{}).code() == errc::missing_argument);
    CHECK(encode(out, "10", up::EventPost{"a/b"}).code() == errc::invalid_argument);
    CHECK(encode(out, "10", up::EventPost{"a+"}).code() == errc::invalid_argument);
}

TEST_CASE("attribute query, update and delete match §3.5", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "11", up::AttributeQuery{{"name", "location"}}));
    require_same_json(
        out,
        R"({"id":"11","version":"1.1","method":"thing.attribute.query","params":{"attributes":["name","location"]}})");
    REQUIRE(encode(out, "11", up::AttributeQuery{}));
    require_same_json(
        out, R"({"id":"11","version":"1.1","method":"thing.attribute.query","params":{"attributes":[]}})");
    REQUIRE(encode(out, "12", up::AttributeUpdate{{{"name", "pump-01"}, {"ratedPower", 36.8}}}));
    require_same_json(
        out,
        R"({"id":"12","version":"1.1","method":"thing.attribute.update","params":{"attributes":{"name":"pump-01","ratedPower":36.8}}})");
    REQUIRE(encode(out, "13", up::AttributeDelete{{"location"}}));
    require_same_json(
        out,
        R"({"id":"13","version":"1.1","method":"thing.attribute.delete","params":{"attributes":["location"]}})");
}

TEST_CASE("tag query, update and delete match §3.6", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "14", up::TagQuery{{"site", "vendor"}}));
    require_same_json(
        out, R"({"id":"14","version":"1.1","method":"thing.tag.query","params":{"tags":["site","vendor"]}})");
    REQUIRE(encode(out, "15", up::TagUpdate{{{"site", "SH-01"}}}));
    require_same_json(
        out,
        R"({"id":"15","version":"1.1","method":"thing.tag.update","params":[{"tagKey":"site","tagValue":"SH-01"}]})");
    REQUIRE(encode(out, "16", up::TagDelete{{"site"}}));
    require_same_json(
        out, R"({"id":"16","version":"1.1","method":"thing.tag.delete","params":{"tags":["site"]}})");

    const Status no_key = encode(out, "15", up::TagUpdate{{{"site", "SH-01"}, {"", "x"}}});
    CHECK(no_key.code() == errc::missing_argument);
    CHECK(mentions(no_key, "params[1].tagKey"));
    const Status no_value = encode(out, "15", up::TagUpdate{{{"site", ""}}});
    CHECK(no_value.code() == errc::missing_argument);
    CHECK(mentions(no_value, "params[0].tagValue"));
    CHECK(encode(out, "14", up::TagQuery{{"site", ""}}).code() == errc::missing_argument);
}

TEST_CASE("TSL template get, topo get and OTA getversion send empty params (§3.8, §3.10, §3.12)", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "17", up::TslTemplateGet{}));
    require_same_json(out, R"({"id":"17","version":"1.1","method":"thing.tsltemplate.get","params":{}})");
    REQUIRE(encode(out, "20a", up::TopoGet{}));
    require_same_json(out, R"({"id":"20a","version":"1.1","method":"thing.topo.get","params":{}})");
    REQUIRE(encode(out, "25", up::OtaGetVersion{}));
    require_same_json(out, R"({"id":"25","version":"1.1","method":"ota.device.getversion","params":{}})");
}

TEST_CASE("sub-device registration matches §3.9", "[unit]") {
    SubDeviceRegistration d;
    d.product_key = "subPK01";
    d.device_key = "subDev02";
    d.name = "meter 02";
    d.localized_names = {{"en_US", "meter 02"}, {"zh_CN", "电表02"}};
    d.description = "basement meter";
    d.timezone = "+08:00";
    d.attributes = {{"location", "Shanghai"}};
    std::string out;
    REQUIRE(encode(out, "18", up::DeviceRegister{{d}}));
    require_same_json(out, R"({"id":"18","version":"1.1","method":"thing.device.register","params":[
        {"productKey":"subPK01","deviceKey":"subDev02",
         "deviceName":{"defaultValue":"meter 02","i18nValue":{"en_US":"meter 02","zh_CN":"电表02"}},
         "deviceDesc":"basement meter","timezone":"+08:00","deviceAttributes":{"location":"Shanghai"}}]})");

    SubDeviceRegistration minimal;
    minimal.product_key = "subPK01";
    REQUIRE(encode(out, "19", up::DeviceRegister{{minimal}}));
    require_same_json(
        out,
        R"({"id":"19","version":"1.1","method":"thing.device.register","params":[{"productKey":"subPK01"}]})");

    CHECK(encode(out, "19", up::DeviceRegister{}).code() == errc::missing_argument);
    minimal.product_key.clear();
    const Status no_pk = encode(out, "19", up::DeviceRegister{{d, minimal}});
    CHECK(no_pk.code() == errc::missing_argument);
    CHECK(mentions(no_pk, "params[1].productKey"));
}

TEST_CASE("topology add signs each sub-device as in §3.10–3.11", "[unit]") {
    SubDeviceCredentials sub;
    sub.product_key = "subPK01";
    sub.device_key = "subDev01";
    sub.secret = "subSecret0123456789";
    sub.timestamp = "1700000000000";
    std::string out;
    // The default client id is "{pk}.{dk}.{timestamp}", which is the one of the worked example.
    REQUIRE(encode(out, "19", up::TopoAdd{{sub}}));
    require_same_json(out, R"({"id":"19","version":"1.1","method":"thing.topo.add","params":[
        {"productKey":"subPK01","deviceKey":"subDev01","clientId":"subPK01.subDev01.1700000000000",
         "timestamp":"1700000000000","signMethod":"sha256",
         "sign":"430621b7aec27fb726930f1d8dae905cf5fc7db564165df1ee1271c43653e653"}]})");

    sub.hex_case = HexCase::upper;
    REQUIRE(encode(out, "19", up::TopoAdd{{sub}}));
    CHECK(out.find("430621B7AEC27FB726930F1D8DAE905CF5FC7DB564165DF1EE1271C43653E653") != std::string::npos);

    REQUIRE(encode(out, "20", up::TopoDelete{{{"subPK01", "subDev01"}}}));
    require_same_json(
        out,
        R"({"id":"20","version":"1.1","method":"thing.topo.delete","params":[{"productKey":"subPK01","deviceKey":"subDev01"}]})");

    sub.secret.clear();
    CHECK(encode(out, "19", up::TopoAdd{{sub}}).code() == errc::missing_argument);
    CHECK(encode(out, "19", up::TopoAdd{}).code() == errc::missing_argument);
    CHECK(encode(out, "20", up::TopoDelete{{{"subPK01", "sub/Dev01"}}}).code() == errc::invalid_argument);
}

TEST_CASE("sub-device login, batch login and logout match §3.11", "[unit]") {
    SubDeviceCredentials sub;
    sub.product_key = "subPK01";
    sub.device_key = "subDev01";
    sub.secret = "subSecret0123456789";
    sub.timestamp = "1700000000000";
    sub.client_id = "subPK01.subDev01.1700000000000";
    std::string out;
    REQUIRE(encode(out, "21", up::SubDeviceLogin{sub}));
    require_same_json(out, R"({"id":"21","version":"1.1","method":"combine.login","params":{
        "productKey":"subPK01","deviceKey":"subDev01","clientId":"subPK01.subDev01.1700000000000",
        "timestamp":"1700000000000","secureMode":"2","signMethod":"sha256",
        "sign":"430621b7aec27fb726930f1d8dae905cf5fc7db564165df1ee1271c43653e653"}})");

    REQUIRE(encode(out, "21", up::SubDeviceLogin{sub, true}));
    rapidjson::Document doc;
    doc.Parse(out.c_str());
    CHECK(std::string(doc["params"]["cleanSession"].GetString()) == "true");

    sub.mode = SecureMode::integration;
    CHECK(encode(out, "21", up::SubDeviceLogin{sub}).code() == errc::invalid_argument);

    up::SubDeviceLoginBatch batch;
    batch.timestamp = "1700000000000";
    batch.devices = {batch_member("subPK01", "subDev01", "subSecret0123456789")};
    REQUIRE(encode(out, "22", batch));
    require_same_json(out, R"({"id":"22","version":"1.1","method":"combine.login.batch","params":{
        "clientId":"login.batch","timestamp":"1700000000000","signMethod":"sha256",
        "subDevices":[{"productKey":"subPK01","deviceKey":"subDev01","secureMode":"2",
                       "sign":"b62608b4cb184fce774556f5dcb51348e37163d0664a2246b063f0e425f42cdb"}]}})");
    CHECK(encode(out, "22", up::SubDeviceLoginBatch{}).code() == errc::missing_argument);

    REQUIRE(encode(out, "23", up::SubDeviceLogout{"subPK01", "subDev01"}));
    require_same_json(
        out,
        R"({"id":"23","version":"1.1","method":"combine.logout","params":{"productKey":"subPK01","deviceKey":"subDev01"}})");
    CHECK(encode(out, "23", up::SubDeviceLogout{"", "subDev01"}).code() == errc::missing_argument);
}

TEST_CASE("a sub-device login without a timestamp signs the current time", "[unit]") {
    const SubDeviceCredentials sub = credentials("subPK01", "subDev01", "subSecret0123456789");
    std::string out;
    REQUIRE(encode(out, "21", up::SubDeviceLogin{sub}));
    rapidjson::Document doc;
    doc.Parse(out.c_str());
    const auto& params = doc["params"];
    const std::string ts = params["timestamp"].GetString();
    CHECK(detail::is_decimal_digits(ts));
    CHECK(std::string(params["clientId"].GetString()) == "subPK01.subDev01." + ts);
    CHECK(std::string(params["sign"].GetString()) ==
          sign({params["clientId"].GetString(), "subDev01", "subPK01", ts}, "subSecret0123456789"));
}

TEST_CASE("OTA inform and progress match §3.12", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "24", up::OtaInform{"1.0.3"}));
    require_same_json(
        out, R"({"id":"24","version":"1.1","method":"ota.device.inform","params":{"version":"1.0.3"}})");
    REQUIRE(encode(out, "26", up::OtaProgress{40, "downloading"}));
    require_same_json(
        out,
        R"({"id":"26","version":"1.1","method":"ota.device.progress","params":{"step":"40","desc":"downloading"}})");
    REQUIRE(encode(out, "27", up::OtaProgress::failed(OtaFailure::verification_failed, "bad digest")));
    require_same_json(
        out,
        R"({"id":"27","version":"1.1","method":"ota.device.progress","params":{"step":"-3","desc":"bad digest"}})");
    CHECK(encode(out, "26", up::OtaProgress{101}).code() == errc::invalid_argument);
    CHECK(encode(out, "24", up::OtaInform{}).code() == errc::missing_argument);
}

TEST_CASE("log post, network status and connection state match §3.13–3.15", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "27",
                   up::LogPost{"abc-123", "info", "modbus", "poll cycle ok", {{"line", 42}}, 1700000000789}));
    require_same_json(out, R"({"id":"27","version":"1.1","method":"thing.log.post",
        "params":{"logs":{"traceId":"abc-123","level":"info","module":"modbus","content":"poll cycle ok","line":42},"time":1700000000789}})");
    REQUIRE(encode(out, "27", up::LogPost{"", "", "", "", {{"only", "extra"}}}, 1700000000790));
    require_same_json(
        out,
        R"({"id":"27","version":"1.1","method":"thing.log.post","params":{"logs":{"only":"extra"},"time":1700000000790}})");

    up::NetworkStatusReport status;
    status.report_time_ms = 1700000000000;
    status.collect_time_ms = 1699999990000;
    status.rssi = -71.5;
    status.snr = 12.25;
    status.packet_loss_rate = 0.02;
    status.network_type = "4G";
    REQUIRE(encode(out, "28", status));
    require_same_json(out, R"({"id":"28","version":"1.1","method":"network.status.report",
        "params":{"reportTime":1700000000000,"collectTime":1699999990000,"rssi":-71.5,"snr":12.25,
                  "packetLossRate":0.02,"networkType":"4G"}})");
    status.rssi = std::numeric_limits<double>::infinity();
    const Status inf = encode(out, "28", status);
    CHECK(inf.code() == errc::non_finite_number);
    CHECK(mentions(inf, "params.rssi"));

    up::ConnectionStatePost report;
    report.is_full = true;
    report.nodes = {{"#001", NodeState::connected, "", "plc-1", "reconnected"},
                    {"#002", NodeState::disconnected, "aB3dE5fG", "", "no heartbeat"}};
    report.relations = {{"#001", {"#002"}}};
    report.report_time_ms = 1700000000000;
    REQUIRE(encode(out, "29", report));
    require_same_json(out, R"({"id":"29","version":"1.1","method":"connection.state.post",
        "params":{"isFull":true,
          "nodes":[{"nodeId":"#001","state":1,"name":"plc-1","info":"reconnected"},
                   {"nodeId":"#002","state":2,"assetId":"aB3dE5fG","info":"no heartbeat"}],
          "relations":{"#001":["#002"]},"reportTime":1700000000000}})");
    report.is_full = false;
    CHECK(encode(out, "29", report).code() == errc::invalid_argument);
    report.relations.clear();
    REQUIRE(encode(out, "29", report));
    CHECK(out.find("\"relations\":{}") != std::string::npos);
}

TEST_CASE("integration channel posts match §3.16", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "30",
                   up::IntegrationMeasurepointPost{
                       {{"device1", {{"temp", 23.4}}, 1699990000000},
                        {"device2", {{"Power", Value::with_quality(2, 9)}}, 1699990000000}}}));
    require_same_json(out, R"({"id":"30","version":"1.1","method":"integration.measurepoint.post","params":[
        {"deviceKey":"device1","time":1699990000000,"measurepoints":{"temp":23.4}},
        {"deviceKey":"device2","time":1699990000000,"measurepoints":{"Power":{"value":2,"quality":9}}}]})");
    REQUIRE(encode(
        out, "31",
        up::IntegrationEventPost{{{"device1",
                                   {{"highTemp", Value::object({{"temp", 120.0}, {"desc", "too hot"}})}},
                                   1699990000000}}}));
    require_same_json(
        out,
        R"({"id":"31","version":"1.1","method":"integration.event.post","params":[{"deviceKey":"device1","time":1699990000000,"events":{"highTemp":{"temp":120.0,"desc":"too hot"}}}]})");
    REQUIRE(encode(
        out, "32",
        up::IntegrationAttributePost{{{"device1", {{"name", "Will-dev"}, {"location", "Shanghai"}}, {}}}}));
    require_same_json(
        out,
        R"({"id":"32","version":"1.1","method":"integration.attribute.post","params":[{"deviceKey":"device1","attributes":{"name":"Will-dev","location":"Shanghai"}}]})");

    const Status no_dk = encode(out, "30", up::IntegrationMeasurepointPost{{{"", {{"temp", 1}}, {}}}});
    CHECK(no_dk.code() == errc::missing_argument);
    CHECK(mentions(no_dk, "params[0].deviceKey"));
}

TEST_CASE("each request type writes the method that belongs to its topic", "[unit]") {
    std::string out;
    rapidjson::Document doc;
    auto method_of = [&](const auto& request) {
        REQUIRE(encode(out, "1", request));
        doc.Parse(out.c_str());
        CHECK(std::string(doc["method"].GetString()) == request_method_name(request));
        CHECK(request_topic(request, "pk", "dk") ==
              request_topic(request.method, "pk", "dk", event_id_of(request)));
        return std::string(doc["method"].GetString());
    };
    const SubDeviceCredentials sub = credentials("pk", "dk", "secret");
    up::SubDeviceLoginBatch batch;
    batch.devices = {batch_member("pk", "dk", "secret")};
    CHECK(method_of(up::MeasurepointPost{}) == "thing.measurepoint.post");
    CHECK(method_of(up::MeasurepointResume{}) == "thing.measurepoint.resume");
    CHECK(method_of(up::MeasurepointPostBatch{}) == "thing.measurepoint.post.batch");
    CHECK(method_of(up::MeasurepointResumeBatch{}) == "thing.measurepoint.resume.batch");
    CHECK(method_of(up::EventPost{"alarm"}) == "thing.event.alarm.post");
    CHECK(method_of(up::AttributeQuery{}) == "thing.attribute.query");
    CHECK(method_of(up::AttributeUpdate{}) == "thing.attribute.update");
    CHECK(method_of(up::AttributeDelete{}) == "thing.attribute.delete");
    CHECK(method_of(up::TagQuery{}) == "thing.tag.query");
    CHECK(method_of(up::TagUpdate{}) == "thing.tag.update");
    CHECK(method_of(up::TagDelete{}) == "thing.tag.delete");
    CHECK(method_of(up::TslTemplateGet{}) == "thing.tsltemplate.get");
    CHECK(method_of(up::DeviceRegister{{registration("pk")}}) == "thing.device.register");
    CHECK(method_of(up::TopoAdd{{sub}}) == "thing.topo.add");
    CHECK(method_of(up::TopoGet{}) == "thing.topo.get");
    CHECK(method_of(up::TopoDelete{{{"pk", "dk"}}}) == "thing.topo.delete");
    CHECK(method_of(up::SubDeviceLogin{sub}) == "combine.login");
    CHECK(method_of(batch) == "combine.login.batch");
    CHECK(method_of(up::SubDeviceLogout{"pk", "dk"}) == "combine.logout");
    CHECK(method_of(up::OtaInform{"1.0"}) == "ota.device.inform");
    CHECK(method_of(up::OtaGetVersion{}) == "ota.device.getversion");
    CHECK(method_of(up::OtaProgress{5}) == "ota.device.progress");
    CHECK(method_of(up::LogPost{}) == "thing.log.post");
    CHECK(method_of(up::NetworkStatusReport{}) == "network.status.report");
    CHECK(method_of(up::ConnectionStatePost{}) == "connection.state.post");
    CHECK(method_of(up::IntegrationMeasurepointPost{}) == "integration.measurepoint.post");
    CHECK(method_of(up::IntegrationEventPost{}) == "integration.event.post");
    CHECK(method_of(up::IntegrationAttributePost{}) == "integration.attribute.post");
    CHECK(method_of(up::JsonRequest{UpMethod::event_post, "", "trip"}) == "thing.event.trip.post");
}

TEST_CASE("a request body is the envelope without its id, for queueing and replay", "[unit]") {
    const up::MeasurepointPost post{{{"temp", 21.5}}, 1700000000000};
    auto body = encode_body(post, 0);
    REQUIRE(body);
    CHECK(body->method == UpMethod::measurepoint_post);
    CHECK(body->text == R"(,"params":{"measurepoints":{"temp":21.5},"time":1700000000000})");
    std::string direct, enveloped;
    REQUIRE(encode(direct, "41", post));
    REQUIRE(encode_envelope(enveloped, "41", body->method, body->event_id, body->text));
    CHECK(enveloped == direct);
    // Replayed as history: the same body under the resume method.
    REQUIRE(encode_envelope(enveloped, "42", UpMethod::measurepoint_resume, "", body->text));
    require_same_json(enveloped, R"({"id":"42","version":"1.1","method":"thing.measurepoint.resume",
        "params":{"measurepoints":{"temp":21.5},"time":1700000000000}})");

    auto event = encode_body(up::EventPost{"trip", {{"code", 7}}, 5}, 0);
    REQUIRE(event);
    CHECK(event->event_id == "trip");
    REQUIRE(encode_envelope(enveloped, "43", event->method, event->event_id, event->text));
    CHECK(enveloped.find(R"("method":"thing.event.trip.post")") != std::string::npos);
}

TEST_CASE("raw uploads are sent as they are, within the size limit", "[unit]") {
    std::string out = "previous";
    REQUIRE(encode(out, "ignored", up::RawPost{std::string("\x01\x02\x00\xff", 4)}));
    CHECK(out == std::string("\x01\x02\x00\xff", 4));
    CHECK(request_topic(up::RawPost{}, "pk", "dk") == "/sys/pk/dk/thing/model/up_raw");
    auto body = encode_body(up::IntegrationRawPost{"abc"}, 0);
    REQUIRE(body);
    CHECK(body->text == "abc");
    const Status big = encode(out, "1", up::RawPost{std::string(limits::max_payload_bytes, 'x')});
    CHECK(big.code() == errc::payload_too_large);
    CHECK(encode(out, "1", up::JsonRequest{UpMethod::raw_up, "bytes"}));
    CHECK(out == "bytes");
}

TEST_CASE("generic request and reply encoders", "[unit]") {
    std::string out;
    REQUIRE(encode_request(out, "5003", "thing.service.setPower",
                           Value::object({{"Power", "on"}, {"WindState", 2}})));
    require_same_json(
        out,
        R"({"id":"5003","version":"1.1","method":"thing.service.setPower","params":{"Power":"on","WindState":2}})");
    REQUIRE(encode_request(out, "5002", "thing.service.measurepoint.get", Value::array({"power", "temp"})));
    require_same_json(
        out,
        R"({"id":"5002","version":"1.1","method":"thing.service.measurepoint.get","params":["power","temp"]})");
    REQUIRE(encode_request(out, "1", "thing.enable", Value()));
    require_same_json(out, R"({"id":"1","version":"1.1","method":"thing.enable","params":{}})");
    REQUIRE(encode(out, "1",
                   up::JsonRequest{UpMethod::attribute_update, R"( {"attributes": {"a": [1, 2.5]}} )"}));
    require_same_json(
        out,
        R"({"id":"1","version":"1.1","method":"thing.attribute.update","params":{"attributes":{"a":[1,2.5]}}})");
    REQUIRE(encode(out, "1", up::JsonRequest{UpMethod::topo_get}));
    require_same_json(out, R"({"id":"1","version":"1.1","method":"thing.topo.get","params":{}})");
    CHECK(encode(out, "1", up::JsonRequest{UpMethod::topo_get, R"({"a":)"}).code() == errc::malformed_json);
    CHECK(encode(out, "1", up::JsonRequest{UpMethod::topo_get, R"({} {})"}).code() == errc::malformed_json);
    CHECK(encode_request(out, "1", "", Value()).code() == errc::missing_argument);

    REQUIRE(encode_reply(out, "5003", 200, "", Value::object({{"result", 1}, {"elapsedMs", 13}})));
    require_same_json(out, R"({"id":"5003","code":200,"message":"","data":{"result":1,"elapsedMs":13}})");
    REQUIRE(encode_reply(out, "1", 200, "persistent the device secret success"));
    require_same_json(out, R"({"id":"1","code":200,"message":"persistent the device secret success"})");
    REQUIRE(encode_reply(out, "5005", 200, "", ""));
    require_same_json(out, R"({"id":"5005","code":200,"message":"","data":""})");
    REQUIRE(encode_reply_raw_data(out, "22", 723, "partial", R"({"failedSubDevices":[]})"));
    require_same_json(out, R"({"id":"22","code":723,"message":"partial","data":{"failedSubDevices":[]}})");
    REQUIRE(encode_reply_raw_data(out, "5", 1101, "downstream command handler not registered", ""));
    require_same_json(out, R"({"id":"5","code":1101,"message":"downstream command handler not registered"})");
    CHECK(encode_reply_raw_data(out, "5", 200, "", "[1,").code() == errc::malformed_json);
    const std::string deep = std::string(200, '[') + std::string(200, ']');
    CHECK(encode_reply_raw_data(out, "5", 200, "", deep).code() == errc::payload_too_large);
}

TEST_CASE("strings are escaped and must be UTF-8", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "1", up::AttributeUpdate{{{"k\"ey", std::string("a\\b\n\t\x01\"é", 9)}}}));
    rapidjson::Document doc;
    REQUIRE_FALSE(doc.Parse(out.c_str()).HasParseError());
    CHECK(std::string(doc["params"]["attributes"]["k\"ey"].GetString()) == std::string("a\\b\n\t\x01\"é", 9));

    const Status bad = encode(out, "1", up::AttributeUpdate{{{"name", std::string("ab\xC3", 3)}}});
    CHECK(bad.code() == errc::invalid_argument);
    CHECK(mentions(bad, "params.attributes.name"));
    CHECK(out.empty());
    CHECK(encode(out, "1", up::AttributeUpdate{{{"name", "\xED\xA0\x80"}}}).code() ==
          errc::invalid_argument); // surrogate
    CHECK(encode(out, "1", up::AttributeUpdate{{{"name", "\xC0\xAF"}}}).code() ==
          errc::invalid_argument);                                                // overlong
    CHECK(encode(out, "1", up::AttributeUpdate{{{"name", "\xF0\x9F\x98\x80"}}})); // U+1F600
}

TEST_CASE("NaN and infinity are refused with the path of the value", "[unit]") {
    std::string out = "previous content";
    const double nan = std::nan("");
    Status s = encode(out, "1", up::MeasurepointPost{{{"temp", nan}}});
    CHECK(s.code() == errc::non_finite_number);
    CHECK(mentions(s, "params.measurepoints.temp"));
    CHECK(out.empty());

    s = encode(
        out, "1",
        up::MeasurepointPost{{{"Power", Value::with_quality(-std::numeric_limits<double>::infinity(), 9)}}});
    CHECK(s.code() == errc::non_finite_number);
    CHECK(mentions(s, "params.measurepoints.Power.value"));

    s = encode(out, "1",
               up::MeasurepointPostBatch{
                   {{"", "", {{"ok", 1.0}}, {}}, {"", "", {{"arr", Value::array({1.0, nan})}}, {}}}});
    CHECK(s.code() == errc::non_finite_number);
    CHECK(mentions(s, "params[1].measurepoints.arr[1]"));

    s = encode(out, "1",
               up::EventPost{"ev", {{"s", Value::object({{"inner", Value::object({{"x", nan}})}})}}});
    CHECK(mentions(s, "params.events.s.inner.x"));
    CHECK(encode_reply(out, "1", 200, "", nan).code() == errc::non_finite_number);
}

TEST_CASE("local limits: item counts, payload size, ids, identifiers, times", "[unit]") {
    std::string out;
    std::vector<std::string> names(limits::max_attributes, "a");
    REQUIRE(encode(out, "1", up::AttributeQuery{names}));
    names.push_back("b");
    CHECK(encode(out, "1", up::AttributeQuery{names}).code() == errc::too_many_items);
    CHECK(encode(out, "1", up::AttributeDelete{names}).code() == errc::too_many_items);
    CHECK(encode(out, "1", up::TagQuery{names}).code() == errc::too_many_items);
    CHECK(encode(out, "1", up::TagDelete{names}).code() == errc::too_many_items);

    Points attributes;
    for (std::size_t i = 0; i <= limits::max_attributes; ++i)
        attributes.emplace_back("a" + std::to_string(i), 1);
    const Status too_many = encode(out, "1", up::AttributeUpdate{attributes});
    CHECK(too_many.code() == errc::too_many_items);
    CHECK(mentions(too_many, "201"));
    CHECK(encode(out, "1", up::IntegrationAttributePost{{{"dev", attributes, {}}}}).code() ==
          errc::too_many_items);
    attributes.pop_back();
    CHECK(encode(out, "1", up::AttributeUpdate{attributes}));

    std::vector<std::pair<std::string, std::string>> tags(limits::max_tags + 1, {"k", "v"});
    CHECK(encode(out, "1", up::TagUpdate{tags}).code() == errc::too_many_items);

    std::vector<SubDeviceRegistration> registrations(limits::max_registrations, registration("pk"));
    REQUIRE(encode(out, "1", up::DeviceRegister{registrations}));
    registrations.push_back(registration("pk"));
    CHECK(encode(out, "1", up::DeviceRegister{registrations}).code() == errc::too_many_items);

    // A payload must stay below 512 KB: find the string length where it reaches exactly the limit.
    REQUIRE(encode(out, "1", up::MeasurepointPost{{{"blob", ""}}, 1700000000000}));
    const std::size_t overhead = out.size();
    const std::size_t fits = limits::max_payload_bytes - 1 - overhead;
    REQUIRE(encode(out, "1", up::MeasurepointPost{{{"blob", std::string(fits, 'x')}}, 1700000000000}));
    CHECK(out.size() == limits::max_payload_bytes - 1);
    const Status big =
        encode(out, "1", up::MeasurepointPost{{{"blob", std::string(fits + 1, 'x')}}, 1700000000000});
    CHECK(big.code() == errc::payload_too_large);
    CHECK(out.empty());

    CHECK(encode(out, "", up::MeasurepointPost{}).code() == errc::missing_argument);
    // A reply may have to answer a request whose id was unreadable; a request always has one.
    REQUIRE(encode_reply(out, "", 1220, "payload format error"));
    require_same_json(out, R"({"id":"","code":1220,"message":"payload format error"})");
    const Status empty_key = encode(out, "1", up::MeasurepointPost{{{"", 1}}});
    CHECK(empty_key.code() == errc::invalid_argument);
    CHECK(mentions(empty_key, "params.measurepoints"));
    CHECK(encode(out, "1", up::MeasurepointPost{{}, -1}).code() == errc::invalid_argument);
}

TEST_CASE("QoS 2 is refused", "[unit]") {
    CHECK(check_qos(0));
    CHECK(check_qos(1));
    CHECK(check_qos(2).code() == errc::qos_not_allowed);
    CHECK(check_qos(3).code() == errc::invalid_argument);
    CHECK(check_qos(-1).code() == errc::invalid_argument);
}

TEST_CASE("a reused buffer is replaced, not appended to", "[unit]") {
    std::string out;
    REQUIRE(encode(out, "1", up::MeasurepointPost{sample_points(), 1}));
    const std::string first = out;
    REQUIRE(encode(out, "2", up::OtaInform{"1.0"}));
    REQUIRE(encode(out, "1", up::MeasurepointPost{sample_points(), 1}));
    CHECK(out == first);
}
