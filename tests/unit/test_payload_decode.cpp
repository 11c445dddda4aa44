// Decoders of replies (docs/protocol.md §2.2, §3) and downstream commands (§4): accepted shapes, and a
// clear error code with the field named for everything else.
#include <enos/device/core/payload.hpp>

#include <string>
#include <utility>
#include <vector>

#include "support/catch.hpp"

using namespace enos::device;

namespace {

template <class T> bool detail_mentions(const Result<T>& r, const std::string& text) {
    INFO("detail: " << r.error().detail);
    return r.error().detail.find(text) != std::string::npos;
}

} // namespace

TEST_CASE("decode_reply reads id, code, message and data", "[unit]") {
    auto r = decode_reply(
        R"({"id":"21","code":200,"message":"success","data":{"assetId":"t5CM9W2b","productKey":"subPK01"}})");
    REQUIRE(r);
    CHECK(r->id == "21");
    CHECK(r->code == 200);
    CHECK(r->message == "success");
    CHECK(r->data_json == R"({"assetId":"t5CM9W2b","productKey":"subPK01"})");

    r = decode_reply(R"({"id":"27","code":200})");
    REQUIRE(r);
    CHECK(r->message.empty());
    CHECK(r->data_json.empty());

    r = decode_reply(R"({"id":"5005","code":200,"data":""})");
    REQUIRE(r);
    CHECK(r->data_json == "\"\"");
    r = decode_reply(R"({"id":"5005","code":200,"data":null})");
    REQUIRE(r);
    CHECK(r->data_json.empty());
    r = decode_reply(R"({"id":"1","code":200,"data":[1, 2.0, {"x": "y"}]})");
    REQUIRE(r);
    CHECK(r->data_json == R"([1,2.0,{"x":"y"}])");
}

TEST_CASE("data and params come out as the compact form of what was sent", "[unit]") {
    // The decoders write nested members out while they read them; the text must be what parsing
    // the member and writing it again gives.
    for (const char* data :
         {R"({})", R"([])", R"([[],{},[[{}]]])", R"({"a":{"b":{"c":[1,-2,3.25e10,null]}}})",
          R"({"esc":"quote \" slash \\ tab \t nl \n u \u0001 \u00e9 \ud83d\ude00"})",
          R"({"big":18446744073709551615,"neg":-9223372036854775808,"f":1e-7,"t":true})",
          R"({"dup":1,"dup":2,"k":[{"dup":3},"s",false]})", R"([1, 2.0 , {"x" : "y"} ])"}) {
        INFO(data);
        const std::string reply = std::string(R"({"id":"1","code":200,"data":)") + data + "}";
        auto r = decode_reply(reply);
        REQUIRE(r);
        CHECK(r->data_json == to_json(*parse_value(data)));
        const std::string request = std::string(R"({"id":"1","method":"m","params":)") + data + "}";
        auto q = decode_request(request);
        REQUIRE(q);
        CHECK(q->params_json == r->data_json);
    }
    auto r = decode_reply(R"({"id":"1","code":200,"data":{"id":"inner","code":5},"code":404})");
    REQUIRE(r);
    CHECK(r->code == 200); // members of "data" are not the envelope's; the first "code" counts
    CHECK(r->data_json == R"({"id":"inner","code":5})");
}

TEST_CASE("decode_reply accepts a numeric id, msg for message, a quoted code", "[unit]") {
    auto r = decode_reply(R"({"id":23,"code":1256,"msg":"Remove topo failure"})");
    REQUIRE(r);
    CHECK(r->id == "23");
    CHECK(r->code == 1256);
    CHECK(r->message == "Remove topo failure");
    CHECK(make_cloud_error(r->code).value() == 1256);

    r = decode_reply(R"({"id":"1","code":500,"message":"main","msg":"fallback"})");
    REQUIRE(r);
    CHECK(r->message == "main");
    r = decode_reply(R"({"id":"1","code":"723","message":null,"msg":"partial"})");
    REQUIRE(r);
    CHECK(r->code == 723);
    CHECK(r->message == "partial");
    r = decode_reply(R"({"id":-7,"code":-1})");
    REQUIRE(r);
    CHECK(r->id == "-7");
    CHECK(r->code == -1);
}

TEST_CASE("decode_reply refuses what is not a reply", "[unit]") {
    auto r = decode_reply(R"({"code":200})");
    CHECK(r.code() == errc::missing_field);
    CHECK(detail_mentions(r, "'id'"));
    r = decode_reply(R"({"id":"1"})");
    CHECK(r.code() == errc::missing_field);
    CHECK(detail_mentions(r, "'code'"));
    r = decode_reply(R"({"id":1.5,"code":200})");
    CHECK(r.code() == errc::wrong_type);
    CHECK(detail_mentions(r, "'id'"));
    CHECK(decode_reply(R"({"id":["1"],"code":200})").code() == errc::wrong_type);
    r = decode_reply(R"({"id":"1","code":true})");
    CHECK(r.code() == errc::wrong_type);
    CHECK(detail_mentions(r, "'code'"));
    CHECK(decode_reply(R"({"id":"1","code":"20x"})").code() == errc::wrong_type);
    CHECK(decode_reply(R"({"id":"1","code":"-"})").code() == errc::wrong_type);
    CHECK(decode_reply(R"({"id":"1","code":""})").code() == errc::wrong_type);
    CHECK(decode_reply(R"({"id":"1","code":200.0})").code() == errc::wrong_type);
    CHECK(decode_reply(R"({"id":"1","code":4294967496})").code() == errc::wrong_type);
    r = decode_reply(R"({"id":"1","code":200,"message":5})");
    CHECK(r.code() == errc::wrong_type);
    CHECK(detail_mentions(r, "'message'"));
    r = decode_reply(R"({"id":"1","code":200,"message":null,"msg":{}})");
    CHECK(r.code() == errc::wrong_type);
    CHECK(detail_mentions(r, "'msg'"));
    CHECK(decode_reply(R"([{"id":"1","code":200}])").code() == errc::wrong_type);
    CHECK(decode_reply(R"("reply")").code() == errc::wrong_type);
    CHECK(decode_reply(R"({"id":"1","code":200)").code() == errc::malformed_json);
    CHECK(decode_reply(R"({"id":"1","code":200}{"id":"2"})").code() == errc::malformed_json);
    CHECK(decode_reply("").code() == errc::malformed_json);
    CHECK(decode_reply("\x11\x00\x00\x04").code() == errc::malformed_json); // raw bytes

    std::string big =
        R"({"id":"1","code":200,"data":")" + std::string(limits::max_payload_bytes, 'x') + "\"}";
    CHECK(decode_reply(big).code() == errc::input_too_large);
}

TEST_CASE("decode_request reads commands and device requests", "[unit]") {
    auto r = decode_request(
        R"({"id":"5001","version":"1.0","method":"thing.service.measurepoint.set","params":{"temperature":30.5,"mode":"eco"}})");
    REQUIRE(r);
    CHECK(r->id == "5001");
    CHECK(r->version == "1.0");
    CHECK(r->method == "thing.service.measurepoint.set");
    CHECK(r->params_json == R"({"temperature":30.5,"mode":"eco"})");
    CHECK_FALSE(r->allow_offline_sub_device);
    CHECK_FALSE(r->skip_invalid_measurepoints);

    r = decode_request(R"({"id":8,"method":"thing.measurepoint.post.batch","allowOfflineSubDevice":false,
                           "skipInvalidMeasurepoints":true,"params":[{"measurepoints":{"temp":21}}]})");
    REQUIRE(r);
    CHECK(r->id == "8");
    CHECK(r->version.empty());
    REQUIRE(r->allow_offline_sub_device);
    CHECK_FALSE(*r->allow_offline_sub_device);
    REQUIRE(r->skip_invalid_measurepoints);
    CHECK(*r->skip_invalid_measurepoints);
    CHECK(r->params_json == R"([{"measurepoints":{"temp":21}}])");

    r = decode_request(R"({"id":"9","method":"thing.enable"})");
    REQUIRE(r);
    CHECK(r->params_json.empty());
}

TEST_CASE("decode_request refuses malformed envelopes", "[unit]") {
    auto r = decode_request(R"({"id":"1","params":{}})");
    CHECK(r.code() == errc::missing_field);
    CHECK(detail_mentions(r, "'method'"));
    CHECK(decode_request(R"({"id":"1","method":""})").code() == errc::missing_field);
    r = decode_request(R"({"id":"1","method":7})");
    CHECK(r.code() == errc::wrong_type);
    CHECK(detail_mentions(r, "'method'"));
    CHECK(decode_request(R"({"method":"m"})").code() == errc::missing_field);
    CHECK(decode_request(R"({"id":true,"method":"m"})").code() == errc::wrong_type);
    CHECK(decode_request(R"({"id":"1","method":"m","version":1.1})").code() == errc::wrong_type);
    r = decode_request(R"({"id":"1","method":"m","allowOfflineSubDevice":"true"})");
    CHECK(r.code() == errc::wrong_type);
    CHECK(detail_mentions(r, "allowOfflineSubDevice"));
    CHECK(decode_request(R"({"id":"1","method":"m","skipInvalidMeasurepoints":1})").code() ==
          errc::wrong_type);
    CHECK(decode_request("[]").code() == errc::wrong_type);
    CHECK(decode_request("{\"id\":\"1\",").code() == errc::malformed_json);
}

TEST_CASE("decode_request refuses hostile commands: too deep, invalid UTF-8, too large", "[unit]") {
    const std::string head = R"({"id":"h1","method":"thing.service.x","params":)";
    const std::string deep = head + std::string(200, '[') + std::string(200, ']') + "}";
    auto r = decode_request(deep);
    CHECK(r.code() == errc::input_too_large);
    CHECK(detail_mentions(r, "nested deeper than"));
    r = decode_request(head + "{\"a\":\"\xff\xfe\"}}");
    CHECK(r.code() == errc::malformed_json);
    CHECK(detail_mentions(r, "encoding"));
    r = decode_request(head + "\"" + std::string(limits::max_payload_bytes, 'a') + "\"}");
    CHECK(r.code() == errc::input_too_large);
    CHECK(detail_mentions(r, "bytes"));
}

TEST_CASE("find_request_id reads the id of commands decode_request refuses", "[unit]") {
    const std::string deep = std::string(5000, '[') + std::string(5000, ']');
    const std::string big(limits::max_payload_bytes + 1000, 'a');
    // What cannot be decoded, each with the id that can still be echoed.
    const std::vector<std::pair<std::string, std::string>> readable = {
        {R"({"id":"7","params":{}})", "7"},                             // no method
        {R"({"id":42,"method":5})", "42"},                              // numeric id, bad method
        {R"({"id":"d1","method":"m","params":)" + deep + "}", "d1"},    // too deep after the id
        {R"({"params":)" + deep + R"(,"id":"d2"})", "d2"},              // too deep before the id
        {"{\"params\":\"\xff\",\"id\":\"u1\",\"method\":\"m\"}", "u1"}, // invalid UTF-8 before the id
        {R"({"id":"big","params":")" + big + R"("})", "big"},           // too large
        {R"({"x":{"id":"inner"},"id":"outer")", "outer"},               // truncated; nested ids don't count
        {R"({"id":"first","id":"second"})", "first"},                   // the first, as decode_request
    };
    for (const auto& [payload, id] : readable) {
        INFO(payload.substr(0, 80));
        CHECK(find_request_id(payload) == id);
    }
    // Nothing to echo.
    const std::vector<std::string> unreadable = {"",
                                                 "[]",
                                                 R"(["id","x"])",
                                                 R"({"id":{}})",
                                                 R"({"id":["1"]})",
                                                 R"({"id":1.5})",
                                                 R"({"id":null})",
                                                 R"({"id":true})",
                                                 "{\"id\":\"\xff\"}",
                                                 R"({"method":"m","params":{"id":"nested"}})",
                                                 R"({"params":")" + big +
                                                     R"(","id":"late"})", // id beyond the limit
                                                 deep};
    for (const std::string& payload : unreadable) {
        INFO(payload.substr(0, 80));
        CHECK(find_request_id(payload).empty());
    }
}

TEST_CASE("request and reply envelopes round trip", "[unit]") {
    std::string out;
    const Value params = Value::object({{"Power", "on"}, {"WindState", 2}, {"ratio", 0.5}});
    REQUIRE(encode_request(out, "5003", "thing.service.setPower", params));
    auto request = decode_request(out);
    REQUIRE(request);
    CHECK(request->id == "5003");
    CHECK(request->version == protocol_version);
    CHECK(request->method == "thing.service.setPower");
    CHECK(*parse_value(request->params_json) == params);

    std::vector<MeasurePointSample> samples{{"pk", "dk", {{"temp", 1}}, 5}};
    REQUIRE(encode(out, "8", up::MeasurepointPostBatch{samples, BatchFlags{true, false}}));
    request = decode_request(out);
    REQUIRE(request);
    CHECK(request->allow_offline_sub_device == true);
    CHECK(request->skip_invalid_measurepoints == false);

    const Value data = Value::object({{"result", Value::array({1, 2.0, "three"})}});
    REQUIRE(encode_reply(out, "42", 2001, "custom failure", data));
    auto reply = decode_reply(out);
    REQUIRE(reply);
    CHECK(reply->id == "42");
    CHECK(reply->code == 2001);
    CHECK(reply->message == "custom failure");
    CHECK(*parse_value(reply->data_json) == data);
    REQUIRE(encode_reply_raw_data(out, "43", 200, "", reply->data_json));
    CHECK(decode_reply(out)->data_json == reply->data_json);
}

TEST_CASE("measure point set and get params (§4.1, §4.2)", "[unit]") {
    auto set = decode_measurepoint_set(R"({"temperature":30.5,"mode":"eco","level":3})");
    REQUIRE(set);
    REQUIRE(set->size() == 3);
    CHECK((*set)[0].first == "temperature");
    CHECK((*set)[0].second.is_double());
    CHECK((*set)[2].second.is_int());
    CHECK(decode_measurepoint_set("[1]").code() == errc::wrong_type);
    CHECK(decode_measurepoint_set("").code() == errc::missing_field);

    auto get = decode_measurepoint_get(R"(["power","temp"])");
    REQUIRE(get);
    CHECK(*get == std::vector<std::string>{"power", "temp"});
    auto bad = decode_measurepoint_get(R"(["power",7])");
    CHECK(bad.code() == errc::wrong_type);
    CHECK(detail_mentions(bad, "params[1]"));
    CHECK(decode_measurepoint_get(R"({"power":1})").code() == errc::wrong_type);
}

TEST_CASE("service params (§4.3/§4.4)", "[unit]") {
    auto p = decode_service_params(R"({"Power":"on","WindState":2})");
    REQUIRE(p);
    CHECK(p->size() == 2);
    CHECK(p->at(1).second.as_int() == 2);
    auto none = decode_service_params("");
    REQUIRE(none);
    CHECK(none->empty());
    CHECK(decode_service_params("\"c2VydmljZQ==\"").code() == errc::wrong_type);
    CHECK(decode_service_params("{").code() == errc::malformed_json);
}

TEST_CASE("sub-device notices and topology lists (§4.6, §3.10)", "[unit]") {
    auto notice = decode_sub_device_notice(R"([{"productKey":"subPK01","deviceKey":"subDev01"}])");
    REQUIRE(notice);
    REQUIRE(notice->size() == 1);
    CHECK(notice->front() == DeviceIdentity{"subPK01", "subDev01"});
    auto missing = decode_sub_device_notice(R"([{"productKey":"a","deviceKey":"b"},{"productKey":"c"}])");
    CHECK(missing.code() == errc::missing_field);
    CHECK(detail_mentions(missing, "params[1].deviceKey"));
    CHECK(decode_sub_device_notice(R"({"productKey":"a","deviceKey":"b"})").code() == errc::wrong_type);
    CHECK(decode_sub_device_notice(R"([["a","b"]])").code() == errc::wrong_type);

    auto topo = decode_topo_get_reply(
        R"([{"productKey":"subPK01","deviceKey":"subDev01"},{"productKey":"p2","deviceKey":"d2"}])");
    REQUIRE(topo);
    CHECK(topo->size() == 2);
    CHECK(topo->at(1).device_key == "d2");
    auto wrong = decode_topo_get_reply(R"([{"productKey":"subPK01","deviceKey":5}])");
    CHECK(wrong.code() == errc::wrong_type);
    CHECK(detail_mentions(wrong, "data[0].deviceKey"));
    CHECK(decode_topo_get_reply("").code() == errc::missing_field);
}

TEST_CASE("login, batch login and register replies (§3.9, §3.11)", "[unit]") {
    auto login =
        decode_sub_login_reply(R"({"assetId":"t5CM9W2b","productKey":"subPK01","deviceKey":"subDev01"})");
    REQUIRE(login);
    CHECK(login->asset_id == "t5CM9W2b");
    CHECK(login->product_key == "subPK01");
    CHECK(login->device_key == "subDev01");
    CHECK(login->device_secret.empty());
    login = decode_sub_login_reply(R"({"productKey":"p","deviceKey":"d","deviceSecret":"s3cr3t"})");
    REQUIRE(login);
    CHECK(login->device_secret == "s3cr3t");
    CHECK(decode_sub_login_reply(R"({"productKey":"p"})").code() == errc::missing_field);
    CHECK(decode_sub_login_reply("[]").code() == errc::wrong_type);

    auto batch = decode_sub_login_batch_reply(R"({
        "loginedSubDevices":[{"productKey":"subPK01","deviceKey":"subDev01","assetId":"AkHJvoqN"}],
        "failedSubDevices":[{"productKey":"subPK01","deviceKey":"subDev09"}]})");
    REQUIRE(batch);
    REQUIRE(batch->logged_in.size() == 1);
    CHECK(batch->logged_in[0].asset_id == "AkHJvoqN");
    REQUIRE(batch->failed.size() == 1);
    CHECK(batch->failed[0].device_key == "subDev09");
    auto empty = decode_sub_login_batch_reply("{}");
    REQUIRE(empty);
    CHECK(empty->logged_in.empty());
    CHECK(empty->failed.empty());
    auto bad = decode_sub_login_batch_reply(
        R"({"failedSubDevices":[{"productKey":"a","deviceKey":"b"},{"deviceKey":"c"}]})");
    CHECK(bad.code() == errc::missing_field);
    CHECK(detail_mentions(bad, "data.failedSubDevices[1].productKey"));
    CHECK(decode_sub_login_batch_reply(R"({"loginedSubDevices":{}})").code() == errc::wrong_type);

    auto registered = decode_device_register_reply(
        R"([{"productKey":"subPK01","deviceKey":"subDev02","deviceSecret":"9fQ2x","assetId":"LOMCp6V2"}])");
    REQUIRE(registered);
    REQUIRE(registered->size() == 1);
    CHECK(registered->at(0).device_secret == "9fQ2x");
    CHECK(registered->at(0).asset_id == "LOMCp6V2");
    CHECK(decode_device_register_reply(R"([{"deviceKey":"x"}])").code() == errc::missing_field);
}

TEST_CASE("OTA upgrade and version replies (§3.12, §4.8)", "[unit]") {
    auto fw =
        decode_ota_upgrade(R"({"version":"1.1.0","sign":"9e107d9d372bb6826bd81d3542a419d6","signMethod":"md5",
                                     "fileUrl":"/1b30e0ea83002000/ota/fw-110","fileSize":1024})");
    REQUIRE(fw);
    CHECK(fw->version == "1.1.0");
    CHECK(fw->sign == "9e107d9d372bb6826bd81d3542a419d6");
    CHECK(fw->sign_method == "md5");
    CHECK(fw->file_url == "/1b30e0ea83002000/ota/fw-110");
    REQUIRE(fw->file_size);
    CHECK(*fw->file_size == 1024);

    auto minimal = decode_ota_upgrade(R"({"version":"2","fileUrl":"/f"})");
    REQUIRE(minimal);
    CHECK_FALSE(minimal->file_size);
    CHECK(decode_ota_upgrade(R"({"version":"2"})").code() == errc::missing_field);
    auto size = decode_ota_upgrade(R"({"version":"2","fileUrl":"/f","fileSize":"1024"})");
    CHECK(size.code() == errc::wrong_type);
    CHECK(detail_mentions(size, "params.fileSize"));

    auto versions = decode_ota_getversion_reply(
        R"([{"version":"1.1.0","signMethod":"md5","sign":"9e10","fileUrl":"/fw-110","fileSize":1024}])");
    REQUIRE(versions);
    REQUIRE(versions->size() == 1);
    CHECK(versions->at(0).file_url == "/fw-110");
    CHECK(decode_ota_getversion_reply("[]")->empty());
    CHECK(decode_ota_getversion_reply(R"({"version":"1"})").code() == errc::wrong_type);
}

TEST_CASE("activate info (§4.10) and query replies (§3.5, §3.6)", "[unit]") {
    auto info = decode_activate_info(
        R"({"assetId":"12344","productKey":"pkDyn001","deviceKey":"dev001","deviceSecret":"R4nd0mDeviceSecret01"})");
    REQUIRE(info);
    CHECK(info->asset_id == "12344");
    CHECK(info->device_secret == "R4nd0mDeviceSecret01");
    auto no_secret = decode_activate_info(R"({"productKey":"pkDyn001","deviceKey":"dev001"})");
    CHECK(no_secret.code() == errc::missing_field);
    CHECK(detail_mentions(no_secret, "params.deviceSecret"));
    // A wrong secret type is reported without echoing the value.
    auto wrong = decode_activate_info(R"({"productKey":"p","deviceKey":"d","deviceSecret":123456789})");
    CHECK(wrong.code() == errc::wrong_type);
    CHECK_FALSE(detail_mentions(wrong, "123456789"));

    auto attributes =
        decode_attribute_query_reply(R"({"name":"pump-01","location":{"lat":31.2,"lng":121.5}})");
    REQUIRE(attributes);
    REQUIRE(attributes->size() == 2);
    CHECK(attributes->at(1).second.find("lat")->as_double() == 31.2);
    auto tags = decode_tag_query_reply(R"({"site":"SH-01","vendor":"ACME"})");
    REQUIRE(tags);
    CHECK(tags->at(0).second.as_string() == "SH-01");
    CHECK(decode_tag_query_reply(R"(["site"])").code() == errc::wrong_type);
}

TEST_CASE("every prefix of a valid payload is refused cleanly", "[unit]") {
    const std::string reply =
        R"({"id":"22","code":723,"message":"…","data":{"loginedSubDevices":[{"productKey":"subPK01","deviceKey":"subDev01","assetId":"AkHJvoqN"}],"failedSubDevices":[{"productKey":"subPK01","deviceKey":"subDev09"}]}})";
    const std::string request =
        R"({"id":"5005","version":"1.0","method":"ota.device.upgrade","params":{"version":"1.1.0","sign":"9e10","signMethod":"md5","fileUrl":"/f","fileSize":1024}})";
    REQUIRE(decode_reply(reply));
    REQUIRE(decode_request(request));
    for (std::size_t n = 0; n < reply.size(); ++n) {
        INFO("prefix length " << n);
        CHECK(decode_reply(std::string_view(reply).substr(0, n)).code() == errc::malformed_json);
    }
    for (std::size_t n = 0; n < request.size(); ++n) {
        INFO("prefix length " << n);
        CHECK(decode_request(std::string_view(request).substr(0, n)).code() == errc::malformed_json);
    }
}
