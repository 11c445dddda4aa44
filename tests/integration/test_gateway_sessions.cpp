// The gateway face against enos-hub: topology and batch logins (each sub-device signature checked
// by the hub's cloud simulator, failures reported per sub-device), sub-device commands routed to the
// right handler through the hub's ACL, sessions restored after a broker restart with the data queued
// during the outage stored, and the cloud's disable/enable/delete notices.
#include "client_support.hpp"

#include <atomic>
#include <mutex>
#include <set>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;

namespace {

ClientOptions gateway_options(const HubProcess& h, const std::string& dk = "gw1",
                              const std::string& secret = "gwSecret1") {
    ClientOptions o = options_for(h, "pkGw", dk, secret);
    o.reconnect_backoff.initial = 50ms;
    o.reconnect_backoff.max = 300ms;
    o.reconnect_backoff.min_spacing = 10ms;
    o.reconnect_backoff.window_attempts = 100000;
    return o;
}

SubDeviceSecret sub(const std::string& n) {
    return {"pkSub", "subDev" + n, "subSecret" + n};
}

/// Rows of `enos-hub query KIND` for a device, one JSON text each.
std::vector<std::string> query(const HubProcess& h, const std::string& kind, const std::string& pk,
                               const std::string& dk) {
    const auto r = h.run({"query", kind, "--pk", pk, "--dk", dk});
    INFO("enos-hub query: " << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> rows;
    std::size_t begin = 0;
    while (begin < r.out.size()) {
        std::size_t end = r.out.find('\n', begin);
        if (end == std::string::npos) end = r.out.size();
        if (end > begin) rows.push_back(r.out.substr(begin, end - begin));
        begin = end + 1;
    }
    return rows;
}

/// The values of measure point `identifier` the hub stored for a sub-device.
std::set<std::int64_t> stored(const HubProcess& h, const std::string& dk, const std::string& identifier) {
    std::set<std::int64_t> values;
    for (const std::string& row : query(h, "measurepoints", "pkSub", dk)) {
        auto v = parse_value(row);
        if (!v || !v->find("identifier") || v->find("identifier")->as_string() != identifier) continue;
        values.insert(v->find("value")->as_int());
    }
    return values;
}

struct Events {
    std::mutex mutex;
    std::vector<SubDeviceSessionEvent> seen;
    SubDeviceSessionHandler handler() {
        return [this](const SubDeviceSessionEvent& e) {
            std::lock_guard lock(mutex);
            seen.push_back(e);
        };
    }
    std::size_t count(SubDeviceSessionEventKind kind, const std::string& dk) {
        std::lock_guard lock(mutex);
        std::size_t n = 0;
        for (const auto& e : seen)
            n += e.kind == kind && e.device.device_key == dk;
        return n;
    }
};

} // namespace

TEST_CASE("gateway: topology and batch login through enos-hub, failures reported per sub-device",
          "[integration][client][gateway]") {
    const HubProcess& h = hub();
    DeviceClient gw = connected_client(gateway_options(h));

    // Topology: bind subDev16 with its signature, then read the gateway's sub-devices back.
    up::TopoAdd add;
    SubDeviceCredentials binding;
    binding.product_key = "pkSub";
    binding.device_key = "subDev16";
    binding.secret = "subSecret16";
    add.devices.push_back(binding);
    auto added = gw.send(add);
    INFO(added.error().message());
    REQUIRE(added);
    auto topology = gw.send(up::TopoGet{});
    REQUIRE(topology);
    auto bound = decode_topo_get_reply(topology->data_json);
    REQUIRE(bound);
    CHECK(std::count(bound->begin(), bound->end(), DeviceIdentity{"pkSub", "subDev16"}) == 1);
    CHECK(std::count(bound->begin(), bound->end(), DeviceIdentity{"pkSub", "subDev02"}) == 1);

    SubDeviceSecret wrong_secret = sub("03");
    wrong_secret.secret = "notTheSecret";
    auto report =
        gw.log_in_sub_devices({sub("02"), sub("16"), wrong_secret, sub("11"), {"pkSub", "nosuch", "x"}});
    REQUIRE(report);
    REQUIRE(report->logged_in.size() == 2);
    CHECK(report->logged_in[0].device_key == "subDev02");
    CHECK_FALSE(report->logged_in[0].asset_id.empty());
    CHECK(report->logged_in[1].device_key == "subDev16");
    REQUIRE(report->failed.size() == 3);
    CHECK(report->failed[0].device.device_key == "subDev03"); // signature refused by the hub
    CHECK(report->failed[1].device.device_key == "subDev11"); // another gateway's sub-device
    CHECK(report->failed[2].device.device_key == "nosuch");
    for (const auto& f : report->failed) {
        CHECK(f.error.code == make_cloud_error(723)); // the batch's partial-failure code
        CHECK(f.error.detail.find("notTheSecret") == std::string::npos);
    }
    CHECK(gw.sub_device_state({"pkSub", "subDev02"}) == SubDeviceState::logged_in);
    CHECK(gw.sub_device_state({"pkSub", "subDev03"}) == SubDeviceState::unknown);

    // The hub's store commits a moment after its reply.
    CHECK(eventually([&] { return query(h, "sessions", "pkSub", "subDev02").size() == 1; }));
    // The logged-in sub-device's data goes through the hub's ACL into the store.
    SubDevice s02 = gw.sub_device("pkSub", "subDev02");
    auto posted = s02.send(up::MeasurepointPost{{{"gwTest", 7}}});
    INFO(posted.error().message());
    REQUIRE(posted);
    CHECK(eventually([&] { return stored(h, "subDev02", "gwTest") == std::set<std::int64_t>{7}; }));

    // Logout ends the session at the hub.
    REQUIRE(gw.log_out_sub_device({"pkSub", "subDev16"}));
    CHECK(gw.sub_device_state({"pkSub", "subDev16"}) == SubDeviceState::unknown);
    CHECK(eventually([&] { return query(h, "sessions", "pkSub", "subDev16").empty(); }));
}

TEST_CASE("gateway: more sub-devices than one batch takes are logged in chunk after chunk",
          "[integration][client][gateway]") {
    const HubProcess& h = hub();
    DeviceClient gw = connected_client(gateway_options(h, "gw3", "gwSecret3"));
    // 120 unknown sub-devices: two chunks, every one reported failed (705 at the hub, batch code 723).
    std::vector<SubDeviceSecret> many;
    for (int i = 0; i < 120; ++i)
        many.push_back({"pkSub", "ghost" + std::to_string(i), "s"});
    auto report = gw.log_in_sub_devices(many);
    REQUIRE(report);
    CHECK(report->logged_in.empty());
    CHECK(report->failed.size() == 120);
    // A hand-made batch above the limit is refused by the core before sending (the hub's own
    // refusal: test_hub_replies.cpp).
    up::SubDeviceLoginBatch big;
    big.devices = many;
    CHECK(gw.send(big).error() == errc::too_many_items);
}

TEST_CASE("gateway: sub-device commands from enos-hub reach the right handler",
          "[integration][client][gateway]") {
    const HubProcess& h = hub();
    DeviceClient gw = connected_client(gateway_options(h));
    gw.on_service("setPower", [](const ServiceCall& c) {
        return CommandReply::ok_json("\"gateway:" + c.device_key + "\"");
    });
    gw.on_command(CommandKind::measurepoint_set, [](const Command& c) {
        return CommandReply::ok_json("\"gateway-set:" + c.device_key + "\"");
    });
    SubDevice s05 = gw.sub_device("pkSub", "subDev05");
    s05.on_service("setPower", [](const ServiceCall& c) {
        return CommandReply::ok_json("\"own:" + c.device_key + "\"");
    });
    auto report = gw.log_in_sub_devices({sub("05"), sub("06")});
    REQUIRE(report);
    REQUIRE(report->all_logged_in());

    Injected own = inject(h, {"invoke", "--pk", "pkSub", "--dk", "subDev05", "--service", "setPower"});
    INFO(own.out << own.err);
    CHECK(own.exit_code == 0);
    CHECK(own.reply.data_json == R"("own:subDev05")");
    Injected fallback = inject(h, {"invoke", "--pk", "pkSub", "--dk", "subDev06", "--service", "setPower"});
    CHECK(fallback.reply.data_json == R"("gateway:subDev06")");
    Injected rrpc = inject(h, {"rrpc", "--pk", "pkSub", "--dk", "subDev05", "--service", "setPower"});
    INFO(rrpc.out << rrpc.err);
    CHECK(rrpc.reply.data_json == R"("own:subDev05")");
    Injected set =
        inject(h, {"set-measurepoints", "--pk", "pkSub", "--dk", "subDev05", "--params", R"({"a":1})"});
    CHECK(set.reply.data_json == R"("gateway-set:subDev05")");
    Injected unhandled = inject(h, {"invoke", "--pk", "pkSub", "--dk", "subDev05", "--service", "nothing"});
    CHECK(unhandled.reply.code == 1101);
}

TEST_CASE("gateway: after a broker restart sub-devices are logged in again and their queued data arrives",
          "[integration][client][gateway]") {
    HubProcess h = HubProcess::start(); // its broker is stopped and started
    Events events;
    auto created = DeviceClient::create(gateway_options(h));
    REQUIRE(created);
    DeviceClient gw = std::move(*created);
    gw.on_sub_device_session(events.handler());
    std::atomic<int> connects{0};
    gw.on_connection([&](const ConnectionEvent& e) {
        if (e.kind == ConnectionEventKind::connected) ++connects;
    });
    REQUIRE(gw.connect());
    gw.on_service("ping",
                  [](const ServiceCall& c) { return CommandReply::ok_json("\"" + c.device_key + "\""); });
    auto report = gw.log_in_sub_devices({sub("01"), sub("02")});
    REQUIRE(report);
    REQUIRE(report->all_logged_in());
    SubDevice s01 = gw.sub_device("pkSub", "subDev01");
    SubDevice s02 = gw.sub_device("pkSub", "subDev02");
    REQUIRE(s01.send(up::MeasurepointPost{{{"seq", 0}}}));

    h.stop_broker();
    REQUIRE(eventually([&] { return !gw.connected(); }));
    for (int i = 1; i <= 20; ++i) {
        REQUIRE(s01.send_nowait(up::MeasurepointPost{{{"seq", i}}}));
        REQUIRE(s02.send_nowait(up::MeasurepointPost{{{"seq", 100 + i}}}));
    }
    h.start_broker();

    std::set<std::int64_t> want01, want02;
    for (int i = 0; i <= 20; ++i)
        want01.insert(i);
    for (int i = 1; i <= 20; ++i)
        want02.insert(100 + i);
    CHECK(eventually([&] { return stored(h, "subDev01", "seq") == want01; }, 60s));
    CHECK(eventually([&] { return stored(h, "subDev02", "seq") == want02; }, 60s));
    CHECK(eventually([&] { return events.count(SubDeviceSessionEventKind::logged_in, "subDev01") == 2; }));
    CHECK(events.count(SubDeviceSessionEventKind::login_failed, "subDev01") == 0);
    CHECK(s01.state() == SubDeviceState::logged_in);
    CHECK(eventually([&] { return !query(h, "sessions", "pkSub", "subDev02").empty(); }));
    // Their commands come through again (the command topics were subscribed again).
    Injected ping = inject(h, {"invoke", "--pk", "pkSub", "--dk", "subDev02", "--service", "ping"});
    INFO(ping.out << ping.err);
    CHECK(ping.reply.data_json == R"("subDev02")");
    // And live data resumes.
    REQUIRE(s02.send(up::MeasurepointPost{{{"live", 1}}}));
}

TEST_CASE("gateway: disable, enable and delete from enos-hub", "[integration][client][gateway]") {
    const HubProcess& h = hub();
    Events events;
    DeviceClient gw = connected_client(gateway_options(h));
    gw.on_sub_device_session(events.handler());
    for (CommandKind kind :
         {CommandKind::sub_device_disable, CommandKind::sub_device_enable, CommandKind::sub_device_delete})
        gw.on_command(kind, [](const Command&) { return CommandReply::ok(); });
    auto first = gw.log_in_sub_devices({sub("07")});
    REQUIRE(first);
    REQUIRE(first->all_logged_in());
    SubDevice s07 = gw.sub_device("pkSub", "subDev07");
    const std::vector<std::string> about = {"--pk",     "pkGw",  "--dk",     "gw1",
                                            "--sub-pk", "pkSub", "--sub-dk", "subDev07"};
    auto notice = [&](const std::string& what) {
        std::vector<std::string> args = {"subdevice", what};
        args.insert(args.end(), about.begin(), about.end());
        Injected r = inject(h, args);
        INFO(r.out << r.err);
        CHECK(r.exit_code == 0);
    };

    notice("disable");
    REQUIRE(eventually([&] { return events.count(SubDeviceSessionEventKind::disabled, "subDev07") == 1; }));
    CHECK(s07.state() == SubDeviceState::disabled);
    CHECK(s07.send_nowait(up::MeasurepointPost{{{"t", 1}}}).error() == errc::sub_device_disabled);
    auto refused = gw.log_in_sub_devices({sub("07")}); // the hub refuses a disabled sub-device
    REQUIRE(refused);
    REQUIRE(refused->failed.size() == 1);
    CHECK(refused->failed[0].error.detail.find("disabled") != std::string::npos);
    CHECK(s07.state() == SubDeviceState::disabled); // still: a refused login changes nothing

    notice("enable");
    REQUIRE(eventually([&] { return events.count(SubDeviceSessionEventKind::enabled, "subDev07") == 1; }));
    CHECK(s07.send_nowait(up::MeasurepointPost{{{"t", 1}}}).error() == errc::sub_device_offline);
    auto again = gw.log_in_sub_devices({sub("07")});
    REQUIRE(again);
    CHECK(again->all_logged_in());
    REQUIRE(s07.send(up::MeasurepointPost{{{"t", 2}}}));

    notice("delete");
    REQUIRE(eventually([&] { return events.count(SubDeviceSessionEventKind::deleted, "subDev07") == 1; }));
    CHECK(s07.state() == SubDeviceState::deleted);
    CHECK(s07.send(up::MeasurepointPost{{{"t", 3}}}).error() == errc::sub_device_disabled);
}
