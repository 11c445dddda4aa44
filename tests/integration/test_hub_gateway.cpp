// enos-hub as the cloud of gateways: what a gateway's registrations, logins and lifecycle commands
// change for other connections, and what a device may not do on its own topics to change it. Each
// test starts a private hub, since all of them change device state.
#include "cloud_device.hpp"

#include "../../tools/hub/registry.hpp"

#include <enos/device/core/sign.hpp>

#include <future>

using namespace enos::test;
using namespace enos::test::cloud;

namespace {

std::string login_params(const std::string& pk, const std::string& dk, const std::string& secret) {
    const std::string ts = "1700000000000", client_id = pk + "." + dk + "." + ts;
    return R"({"productKey":")" + pk + R"(","deviceKey":")" + dk + R"(","clientId":")" + client_id +
           R"(","timestamp":")" + ts + R"(","secureMode":"2","signMethod":"sha256","sign":")" +
           enos::device::sign({client_id, dk, pk, ts}, secret) + R"("})";
}

int connect_code(const HubProcess& hub, const std::string& pk, const std::string& dk, const std::string& secret) {
    MqttProbe probe(hub.port());
    return probe.connect(device_credentials(pk, dk, secret));
}

/// Runs `enos-hub subdevice OP` for gw1's sub-device while `gw` answers the command it receives.
void lifecycle(const HubProcess& hub, Device& gw, const std::string& op, const std::string& sub_dk) {
    const std::string topic = gw.session("combine/" + op);
    gw.subscribe_once(topic);
    auto run = std::async(std::launch::async, [&] {
        return hub.run({"subdevice", op, "--pk", gw.pk(), "--dk", gw.dk(), "--sub-pk", "pkSub", "--sub-dk", sub_dk});
    });
    const auto command = gw.probe().wait_for(topic);
    REQUIRE(command.has_value());
    auto request = enos::device::decode_request(command->payload);
    REQUIRE(request.ok());
    REQUIRE(gw.probe().publish(topic + "_reply", R"({"id":")" + request->id + R"(","code":200,"data":{}})", 0));
    CHECK(run.get().exit_code == 0);
}

} // namespace

TEST_CASE("hub gateway: a device a gateway registered connects directly with its issued secret",
          "[integration][hub][cloud]") {
    const HubProcess hub = HubProcess::start();
    Device gw(hub, "pkGw", "gw3", "gwSecret3");
    CHECK(connect_code(hub, "pkSub", "runtime1", "anything") != 0); // unknown before the registration

    const Reply r = gw.request(gw.sys("thing/device/register"), "thing.device.register",
                               R"([{"productKey":"pkSub","deviceKey":"runtime1"},{"productKey":"pkSub"}])");
    REQUIRE(r.code == 200);
    const Value created = data_of(r);
    REQUIRE(created.as_array().size() == 2);
    // The reply goes out once the registrations are committed, so both connect right away.
    for (const Value& d : created.as_array()) {
        const std::string dk = at(d, "deviceKey").as_string(), secret = at(d, "deviceSecret").as_string();
        INFO(dk);
        CHECK(connect_code(hub, "pkSub", dk, secret) == 0);
        CHECK(connect_code(hub, "pkSub", dk, secret + "x") != 0);
    }
    Device direct(hub, "pkSub", "runtime1", at(created.as_array()[0], "deviceSecret").as_string());
    CHECK(direct.request(direct.sys("thing/measurepoint/post"), "thing.measurepoint.post",
                         R"({"measurepoints":{"temp":20.5}})")
              .code == 200);
    CHECK(hub.broker_log().find(at(created.as_array()[0], "deviceSecret").as_string()) == std::string::npos);
}

TEST_CASE("hub gateway: integration and %channel% are reserved device keys", "[integration][hub][cloud]") {
    const HubProcess hub = HubProcess::start();
    Device gw(hub, "pkGw", "gw3", "gwSecret3");
    for (const std::string dk : {"integration", "%channel%"}) {
        INFO(dk);
        const Reply r = gw.request(gw.sys("thing/device/register"), "thing.device.register",
                                   R"([{"productKey":"pkSub","deviceKey":")" + dk + R"("}])");
        CHECK(r.code == 460);
        CHECK(r.message.find("reserved") != std::string::npos);

        const auto registry = enos::hub::parse_registry(
            R"({"products":[{"productKey":"pkA","productSecret":"s"}],"devices":[{"productKey":"pkA","deviceKey":")" +
            dk + R"(","deviceSecret":"x"}]})");
        REQUIRE_FALSE(registry.ok());
        CHECK(registry.error().detail.find("reserved") != std::string::npos);
    }
}

TEST_CASE("hub gateway: enos-hub subdevice disable and delete close the gateway's topics of that sub-device",
          "[integration][hub][cloud]") {
    const HubProcess hub = HubProcess::start();
    Device gw(hub, "pkGw", "gw1", "gwSecret1");
    for (const char* dk : {"subDev01", "subDev02", "subDev03"}) {
        const std::string n = std::string(dk).substr(6);
        REQUIRE(gw.request(gw.session("combine/login"), "combine.login",
                           login_params("pkSub", dk, "subSecret" + n))
                    .code == 200);
        REQUIRE(gw.probe().subscribe("/sys/pkSub/" + std::string(dk) + "/thing/service/+") == 1);
    }
    lifecycle(hub, gw, "disable", "subDev01");
    lifecycle(hub, gw, "delete", "subDev02");
    CHECK(gw.probe().subscribe("/sys/pkSub/subDev01/thing/service/+") == MqttProbe::subscription_refused);
    CHECK(gw.probe().subscribe("/sys/pkSub/subDev02/thing/service/+") == MqttProbe::subscription_refused);
    CHECK(gw.probe().subscribe("/sys/pkSub/subDev03/thing/service/+") == 1); // still logged in
    CHECK(hub.broker_log().find("denied subscribe of '/sys/pkSub/subDev01/thing/service/+'") != std::string::npos);
}

TEST_CASE("hub gateway: a device cannot forge the cloud's commands or replies on its own topics",
          "[integration][hub][cloud]") {
    const HubProcess hub = HubProcess::start();
    Device gw(hub, "pkGw", "gw1", "gwSecret1");
    MqttProbe cloud(hub.port());
    REQUIRE(cloud.connect(hub.admin()) == 0);
    REQUIRE(cloud.subscribe("/ext/session/pkGw/gw1/#") == 1);
    REQUIRE(cloud.subscribe("/sys/pkGw/gw1/#") == 1);

    // combine.disable and .delete of sub-devices (its own and another gateway's), a login reply for
    // a sub-device never logged in, and a reply to one of its own requests.
    const std::string disable = gw.session("combine/disable"), del = gw.session("combine/delete");
    const std::string forged_login = gw.session("combine/login_reply");
    const std::string forged_reply = gw.sys("thing/measurepoint/post_reply");
    REQUIRE(gw.probe().publish(disable, R"({"id":"1","version":"1.0","method":"combine.disable","params":)"
                                        R"([{"productKey":"pkSub","deviceKey":"subDev01"},)"
                                        R"({"productKey":"pkSub","deviceKey":"subDev11"}]})"));
    REQUIRE(gw.probe().publish(del, R"({"id":"2","version":"1.0","method":"combine.delete","params":)"
                                    R"([{"productKey":"pkSub","deviceKey":"subDev02"}]})"));
    REQUIRE(gw.probe().publish(forged_login, R"({"id":"3","code":200,"data":{"productKey":"pkSub","deviceKey":"subDev03"}})"));
    REQUIRE(gw.probe().publish(forged_reply, R"({"id":"4","code":200,"data":{}})"));
    // Its answer to a command is still its own to publish.
    const std::string answer = gw.session("combine/enable_reply");
    REQUIRE(gw.probe().publish(answer, R"({"id":"5","code":200,"data":{}})"));
    REQUIRE(cloud.wait_for(answer)); // messages of one publisher arrive in order: the rest would be in

    for (const std::string& topic : {disable, del, forged_login, forged_reply}) {
        INFO(topic);
        for (const auto& m : cloud.received())
            CHECK(m.topic != topic);
        CHECK(hub.broker_log().find("denied publish of '" + topic + "' for pkGw/gw1") != std::string::npos);
    }
    // Nothing changed: the sub-devices still log in, and the forged login opened no topics.
    CHECK(gw.probe().subscribe("/sys/pkSub/subDev03/#") == MqttProbe::subscription_refused);
    CHECK(gw.request(gw.session("combine/login"), "combine.login", login_params("pkSub", "subDev01", "subSecret01"))
              .code == 200);
    CHECK(gw.request(gw.session("combine/login"), "combine.login", login_params("pkSub", "subDev02", "subSecret02"))
              .code == 200);
    Device gw2(hub, "pkGw", "gw2", "gwSecret2");
    CHECK(gw2.request(gw2.session("combine/login"), "combine.login", login_params("pkSub", "subDev11", "subSecret11"))
              .code == 200);
}
