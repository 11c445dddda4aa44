// The gateway face over a fake transport: batch logins in chunks with per-sub-device reports,
// sessions restored after a reconnect before queued data replays, the cloud's disable/enable/delete
// notices, handlers of one sub-device and their fallback, request ids across reconnects, and the
// SubDevice handle outliving its client.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <algorithm>
#include <future>
#include <mutex>

#include <malloc.h>

using namespace enos::device;
using namespace enos::test;

namespace {

const std::string batch_topic = "/ext/session/pk/dk/combine/login/batch";
const std::string batch_reply = batch_topic + "_reply";

std::string command_json(const std::string& id, const std::string& method, const std::string& params) {
    return R"({"id":")" + id + R"(","version":"1.0","method":")" + method + R"(","params":)" + params + "}";
}

std::vector<SubDeviceSecret> sub_devices(int count, int first = 0) {
    std::vector<SubDeviceSecret> out;
    for (int i = first; i < first + count; ++i)
        out.push_back({"subPk", "sub" + std::to_string(i), "secret" + std::to_string(i)});
    return out;
}

/// The device keys a batch login request names, and its id.
struct BatchRequest {
    std::string id;
    std::vector<std::string> device_keys;
};

BatchRequest read_batch(const Published& message) {
    BatchRequest out;
    auto request = decode_request(message.payload);
    REQUIRE(request);
    out.id = request->id;
    auto params = parse_value(request->params_json);
    REQUIRE(params);
    const Value* subs = params->find("subDevices");
    REQUIRE(subs);
    for (const Value& item : subs->as_array())
        out.device_keys.push_back(item.find("deviceKey")->as_string());
    return out;
}

std::string identity_json(const std::string& dk) {
    return R"({"productKey":"subPk","deviceKey":")" + dk + R"(","assetId":"asset-)" + dk + "\"}";
}

/// Answers the nth batch login: the device keys in `refused` fail, the others log in.
BatchRequest answer_batch(ClientRig& rig, std::size_t nth, const std::vector<std::string>& refused = {},
                          int code_if_refused = 723) {
    auto sent = rig.broker->wait_for_topic(batch_topic, nth);
    REQUIRE(sent);
    BatchRequest batch = read_batch(*sent);
    std::string ok, failed;
    for (const std::string& dk : batch.device_keys) {
        const bool refuse = std::find(refused.begin(), refused.end(), dk) != refused.end();
        std::string& list = refuse ? failed : ok;
        list += (list.empty() ? "" : ",") +
                (refuse ? R"({"productKey":"subPk","deviceKey":")" + dk + "\"}" : identity_json(dk));
    }
    const std::string data = R"({"loginedSubDevices":[)" + ok + R"(],"failedSubDevices":[)" + failed + "]}";
    rig.broker->deliver(batch_reply,
                        reply_json(batch.id, failed.empty() ? 200 : code_if_refused, data, "some failed"));
    return batch;
}

/// Logs the given sub-devices in through the rig's gateway, the fake cloud accepting all.
void log_in(ClientRig& rig, std::vector<SubDeviceSecret> devices, std::size_t nth_batch = 0) {
    auto login = std::async(std::launch::async, [&] { return rig.client.log_in_sub_devices(devices); });
    answer_batch(rig, nth_batch);
    auto report = login.get();
    REQUIRE(report);
    REQUIRE(report->all_logged_in());
}

/// Session events as the handler saw them (on the dispatcher thread).
struct Events {
    std::mutex mutex;
    std::vector<SubDeviceSessionEvent> seen;
    SubDeviceSessionHandler handler() {
        return [this](const SubDeviceSessionEvent& e) {
            std::lock_guard lock(mutex);
            seen.push_back(e);
        };
    }
    bool has(SubDeviceSessionEventKind kind, const std::string& dk) {
        std::lock_guard lock(mutex);
        return std::any_of(seen.begin(), seen.end(), [&](const SubDeviceSessionEvent& e) {
            return e.kind == kind && e.device.device_key == dk;
        });
    }
};

void reconnect(ClientRig& rig, std::size_t connects_before) {
    rig.broker->lose_link("broker went away");
    REQUIRE(eventually([&] { return rig.client.state() == ConnectionState::waiting_retry; }));
    rig.advance(std::chrono::minutes(1));
    REQUIRE(rig.broker->wait_connects(connects_before + 1));
}

std::size_t index_in(const std::vector<std::string>& journal, const std::string& entry) {
    auto it = std::find(journal.begin(), journal.end(), entry);
    return static_cast<std::size_t>(it - journal.begin());
}

std::size_t first_with_prefix(const std::vector<std::string>& journal, const std::string& prefix) {
    auto it = std::find_if(journal.begin(), journal.end(),
                           [&](const std::string& e) { return e.compare(0, prefix.size(), prefix) == 0; });
    return static_cast<std::size_t>(it - journal.begin());
}

} // namespace

TEST_CASE("gateway: log_in_sub_devices sends chunks of 100 and reports each sub-device",
          "[unit][client][gateway]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto login =
        std::async(std::launch::async, [&] { return rig.client.log_in_sub_devices(sub_devices(250)); });

    // Chunk 1: all logged in. Chunk 2: partly (723 with both lists). Chunk 3: refused as a whole.
    BatchRequest first = answer_batch(rig, 0);
    CHECK(first.device_keys.size() == limits::max_batch_login);
    BatchRequest second = answer_batch(rig, 1, {"sub100", "sub101"});
    CHECK(second.device_keys.size() == 100);
    auto third = rig.broker->wait_for_topic(batch_topic, 2);
    REQUIRE(third);
    BatchRequest third_batch = read_batch(*third);
    CHECK(third_batch.device_keys.size() == 50);
    rig.broker->deliver(batch_reply, reply_json(third_batch.id, 460, "{}", "request parameter error"));

    auto report = login.get();
    REQUIRE(report);
    CHECK(report->logged_in.size() == 198);
    REQUIRE(report->failed.size() == 52);
    CHECK(report->failed[0].device.device_key == "sub100");
    CHECK(report->failed[0].error.code == make_cloud_error(723));
    CHECK(report->failed[2].device.device_key == "sub200");
    CHECK(report->failed[2].error.code == make_cloud_error(460));
    CHECK(report->failed[2].error.detail == "request parameter error");
    CHECK(report->logged_in[0].asset_id == "asset-sub0");

    CHECK(rig.client.sub_device_state({"subPk", "sub0"}) == SubDeviceState::logged_in);
    CHECK(rig.client.sub_device_state({"subPk", "sub100"}) == SubDeviceState::unknown); // never logged in
    CHECK(rig.client.sub_device_state({"subPk", "sub249"}) == SubDeviceState::unknown);

    // One SUBSCRIBE per chunk with the command topics of the sub-devices it logged in.
    auto subs = rig.broker->subscriptions();
    std::vector<std::size_t> sizes;
    for (const auto& s : subs)
        if (std::find(s.begin(), s.end(), "/sys/subPk/sub0/thing/service/+") != s.end() ||
            std::find(s.begin(), s.end(), "/sys/subPk/sub102/thing/service/+") != s.end())
            sizes.push_back(s.size());
    CHECK(sizes == std::vector<std::size_t>{600, 588});
    CHECK(rig.broker->times_subscribed("/sys/subPk/sub0/rrpc/request/+") == 1);
    CHECK(rig.broker->times_subscribed("/sys/subPk/sub0/ota/device/upgrade") == 1);
    CHECK(rig.broker->times_subscribed("/sys/subPk/sub100/thing/service/+") == 0);
}

TEST_CASE("gateway: log_in_sub_devices refuses bad arguments and works only while connected",
          "[unit][client][gateway]") {
    ClientRig rig;
    CHECK(rig.client.log_in_sub_devices(sub_devices(1)).error() == errc::not_connected);
    REQUIRE(rig.client.connect());
    CHECK(rig.client.log_in_sub_devices({}).error() == errc::missing_argument);
    auto no_secret = rig.client.log_in_sub_devices({{"subPk", "a", ""}});
    REQUIRE_FALSE(no_secret);
    CHECK(no_secret.error() == errc::missing_argument);
    CHECK(rig.client.log_in_sub_devices({{"subPk", "a/b", "s"}}).error() == errc::invalid_argument);
    CHECK(rig.broker->published().empty());
}

TEST_CASE("gateway: a secure-mode-3 login keeps the issued secret for the logins after reconnects",
          "[unit][client][gateway]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto login = std::async(std::launch::async, [&] {
        return rig.client.log_in_sub_devices(
            {{"subPk", "dyn", "productSecret", SecureMode::dynamic_activation}});
    });
    auto sent = rig.broker->wait_for_topic(batch_topic);
    REQUIRE(sent);
    const std::string id = read_batch(*sent).id;
    rig.broker->deliver(batch_reply,
                        reply_json(id, 200,
                                   R"({"loginedSubDevices":[{"productKey":"subPk","deviceKey":"dyn",)"
                                   R"("assetId":"a1","deviceSecret":"issuedSecret"}]})"));
    auto report = login.get();
    REQUIRE(report);
    REQUIRE(report->logged_in.size() == 1);
    CHECK(report->logged_in[0].device_secret == "issuedSecret");

    reconnect(rig, 1);
    auto again = rig.broker->wait_for_topic(batch_topic, 1);
    REQUIRE(again);
    auto request = decode_request(again->payload);
    REQUIRE(request);
    auto params = parse_value(request->params_json);
    REQUIRE(params);
    const Value& entry = params->find("subDevices")->as_array().at(0);
    CHECK(entry.find("secureMode")->as_string() == "2");
    const std::string expected =
        sign({params->find("clientId")->as_string(), "dyn", "subPk", params->find("timestamp")->as_string()},
             "issuedSecret", SignMethod::sha256);
    CHECK(entry.find("sign")->as_string() == expected);
}

TEST_CASE("gateway: after a reconnect queued sub-device data is replayed only after its login succeeded",
          "[unit][client][gateway]") {
    Events events;
    ClientRig rig;
    rig.client.on_sub_device_session(events.handler());
    REQUIRE(rig.client.connect());
    log_in(rig, {{"subPk", "good", "s1"}, {"subPk", "bad", "s2"}});
    SubDevice good = rig.client.sub_device("subPk", "good");
    SubDevice bad = rig.client.sub_device("subPk", "bad");

    rig.broker->lose_link("broker went away");
    REQUIRE(eventually([&] { return rig.client.state() == ConnectionState::waiting_retry; }));
    CHECK(good.state() == SubDeviceState::logging_in);
    REQUIRE(good.send_nowait(up::MeasurepointPost{{{"temp", 1}}}));
    std::promise<Result<Response>> bad_outcome;
    bad.send_async(up::MeasurepointPost{{{"temp", 2}}},
                   [&](Result<Response> r) { bad_outcome.set_value(std::move(r)); });
    REQUIRE(rig.client.send_nowait(up::MeasurepointPost{{{"own", 3}}}));
    // A blocking request of a sub-device being logged in again cannot wait in the queue.
    CHECK(good.send(up::AttributeQuery{}).error() == errc::sub_device_offline);

    rig.advance(std::chrono::minutes(1));
    REQUIRE(rig.broker->wait_connects(2));
    auto relogin = rig.broker->wait_for_topic(batch_topic, 1);
    REQUIRE(relogin);
    // Nothing queued goes out while the logins are under way, not even the gateway's own data.
    auto journal = rig.broker->journal();
    CHECK(first_with_prefix(journal, "publish /sys/") == journal.size());
    CHECK(rig.client.connected());

    answer_batch(rig, 1, {"bad"});
    auto resumed = rig.broker->wait_for_topic("/sys/subPk/good/thing/measurepoint/resume");
    REQUIRE(resumed);
    auto outcome = bad_outcome.get_future().get();
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == errc::sub_device_offline);
    CHECK(outcome.error().detail.find("subPk/bad") != std::string::npos);
    REQUIRE(rig.broker->wait_for_topic("/sys/pk/dk/thing/measurepoint/resume"));

    journal = rig.broker->journal();
    const std::size_t login_at = index_in(journal, "publish " + batch_topic);
    const std::size_t relogin_at =
        index_in(std::vector<std::string>(journal.begin() + login_at + 1, journal.end()),
                 "publish " + batch_topic) +
        login_at + 1;
    const std::size_t subscribed_at =
        index_in(std::vector<std::string>(journal.begin() + relogin_at, journal.end()),
                 "subscribe /sys/subPk/good/thing/service/+") +
        relogin_at;
    CHECK(relogin_at < subscribed_at);
    CHECK(subscribed_at < index_in(journal, "publish /sys/subPk/good/thing/measurepoint/resume"));
    CHECK(first_with_prefix(journal, "publish /sys/subPk/bad/") == journal.size()); // never published

    CHECK(good.state() == SubDeviceState::logged_in);
    CHECK(bad.state() == SubDeviceState::offline);
    CHECK(bad.send_nowait(up::MeasurepointPost{{{"temp", 4}}}).error() == errc::sub_device_offline);
    REQUIRE(eventually([&] { return events.has(SubDeviceSessionEventKind::login_failed, "bad"); }));
    REQUIRE(eventually([&] { return events.has(SubDeviceSessionEventKind::logged_in, "good"); }));
}

TEST_CASE("gateway: disable and delete stop a sub-device, enable makes it eligible for the next login",
          "[unit][client][gateway]") {
    Events events;
    ClientRig rig;
    rig.client.on_sub_device_session(events.handler());
    std::atomic<int> notices{0};
    rig.client.on_command(CommandKind::sub_device_disable, [&](const Command&) {
        ++notices;
        return CommandReply::ok();
    });
    REQUIRE(rig.client.connect());
    log_in(rig, {{"subPk", "a", "s1"}, {"subPk", "b", "s2"}});
    SubDevice a = rig.client.sub_device("subPk", "a");

    // Data queued for `a` during an outage; the cloud disables it while it is being logged in again.
    rig.broker->lose_link();
    REQUIRE(eventually([&] { return rig.client.state() == ConnectionState::waiting_retry; }));
    std::promise<Result<Response>> queued;
    a.send_async(up::EventPost{"alarm", {{"level", 1}}},
                 [&](Result<Response> r) { queued.set_value(std::move(r)); });
    rig.advance(std::chrono::minutes(1));
    REQUIRE(rig.broker->wait_for_topic(batch_topic, 1));
    rig.broker->deliver("/ext/session/pk/dk/combine/disable",
                        command_json("n1", "combine.disable", R"([{"productKey":"subPk","deviceKey":"a"}])"));
    REQUIRE(eventually([&] { return events.has(SubDeviceSessionEventKind::disabled, "a"); }));
    CHECK(notices == 1); // the application's handler got the notice too
    answer_batch(rig, 1, {"a"});
    auto outcome = queued.get_future().get();
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == errc::sub_device_disabled);
    CHECK(a.state() == SubDeviceState::disabled);
    CHECK(a.send_nowait(up::MeasurepointPost{{{"temp", 1}}}).error() == errc::sub_device_disabled);
    CHECK(a.send(up::AttributeQuery{}).error() == errc::sub_device_disabled);

    // Not logged in again after the next reconnect; `b` is.
    reconnect(rig, 2);
    auto third = answer_batch(rig, 2);
    CHECK(third.device_keys == std::vector<std::string>{"b"});

    // Enabled: eligible again, through the application's next log_in_sub_devices.
    rig.broker->deliver("/ext/session/pk/dk/combine/enable",
                        command_json("n2", "combine.enable", R"([{"productKey":"subPk","deviceKey":"a"}])"));
    REQUIRE(eventually([&] { return events.has(SubDeviceSessionEventKind::enabled, "a"); }));
    CHECK(a.state() == SubDeviceState::offline);
    CHECK(a.send_nowait(up::MeasurepointPost{{{"temp", 1}}}).error() == errc::sub_device_offline);
    log_in(rig, {{"subPk", "a", "s1"}}, 3);
    CHECK(a.state() == SubDeviceState::logged_in);

    // Deleted: the same, and a notice for a sub-device unknown so far stops it too.
    rig.broker->deliver(
        "/ext/session/pk/dk/combine/delete",
        command_json("n3", "combine.delete",
                     R"([{"productKey":"subPk","deviceKey":"a"},{"productKey":"subPk","deviceKey":"z"}])"));
    REQUIRE(eventually([&] { return events.has(SubDeviceSessionEventKind::deleted, "z"); }));
    CHECK(a.state() == SubDeviceState::deleted);
    CHECK(rig.client.sub_device("subPk", "z").send_nowait(up::MeasurepointPost{{{"t", 1}}}).error() ==
          errc::sub_device_disabled);
    // Its commands are no longer ours.
    const auto ignored = rig.client.stats().messages_ignored;
    rig.broker->deliver("/sys/subPk/a/thing/service/x", command_json("c", "thing.service.x", "{}"));
    CHECK(rig.client.stats().messages_ignored == ignored + 1);
}

TEST_CASE("gateway: a sub-device's commands reach its own handler, else the gateway's, else 1101",
          "[unit][client][gateway]") {
    ClientRig rig;
    rig.client.on_service("setPower", [](const ServiceCall& c) {
        return CommandReply::ok_json("\"gateway:" + c.device_key + "\"");
    });
    rig.client.on_command(CommandKind::measurepoint_set, [](const Command& c) {
        return CommandReply::ok_json("\"gateway-set:" + c.device_key + "\"");
    });
    SubDevice a = rig.client.sub_device("subPk", "a");
    a.on_service("setPower",
                 [](const ServiceCall& c) { return CommandReply::ok_json("\"own:" + c.device_key + "\""); });
    REQUIRE(rig.client.connect());
    log_in(rig, {{"subPk", "a", "s1"}, {"subPk", "b", "s2"}});

    auto reply_on = [&](const std::string& topic) {
        auto message = rig.broker->wait_for_topic(topic);
        REQUIRE(message);
        auto reply = decode_reply(message->payload);
        REQUIRE(reply);
        return *reply;
    };
    rig.broker->deliver("/sys/subPk/a/thing/service/setPower",
                        command_json("1", "thing.service.setPower", "{}"));
    CHECK(reply_on("/sys/subPk/a/thing/service/setPower_reply").data_json == R"("own:a")");
    rig.broker->deliver("/sys/subPk/b/thing/service/setPower",
                        command_json("2", "thing.service.setPower", "{}"));
    CHECK(reply_on("/sys/subPk/b/thing/service/setPower_reply").data_json == R"("gateway:b")");
    rig.broker->deliver("/sys/subPk/a/thing/service/measurepoint/set",
                        command_json("3", "thing.service.measurepoint.set", R"({"x":1})"));
    CHECK(reply_on("/sys/subPk/a/thing/service/measurepoint/set_reply").data_json == R"("gateway-set:a")");
    // RRPC without an RRPC handler: the sub-device's service handler answers it.
    rig.broker->deliver("/sys/subPk/a/rrpc/request/m1", command_json("4", "thing.service.setPower", "{}"));
    CHECK(reply_on("/sys/subPk/a/rrpc/response/m1").data_json == R"("own:a")");
    rig.broker->deliver("/sys/subPk/a/thing/service/other", command_json("5", "thing.service.other", "{}"));
    CHECK(reply_on("/sys/subPk/a/thing/service/other_reply").code == 1101);

    // Removing the sub-device's handler falls back to the gateway's.
    a.on_service("setPower", nullptr);
    rig.broker->deliver("/sys/subPk/a/thing/service/setPower",
                        command_json("6", "thing.service.setPower", "{}"));
    auto replies = rig.broker->wait_published([](const std::vector<Published>& p) {
        return FakeBroker::count_on(p, "/sys/subPk/a/thing/service/setPower_reply") == 2;
    });
    std::vector<std::string> data;
    for (const Published& m : replies)
        if (m.topic == "/sys/subPk/a/thing/service/setPower_reply")
            data.push_back(decode_reply(m.payload)->data_json);
    CHECK(data == std::vector<std::string>{R"("own:a")", R"("gateway:a")"});
}

TEST_CASE("gateway: log_out_sub_device ends the session and forgets the sub-device",
          "[unit][client][gateway]") {
    Events events;
    ClientRig rig;
    rig.client.on_sub_device_session(events.handler());
    REQUIRE(rig.client.connect());
    log_in(rig, {{"subPk", "a", "s1"}});
    auto logout = std::async(std::launch::async, [&] {
        return rig.client.log_out_sub_device({"subPk", "a"});
    });
    auto sent = rig.broker->wait_for_topic("/ext/session/pk/dk/combine/logout");
    REQUIRE(sent);
    rig.broker->deliver("/ext/session/pk/dk/combine/logout_reply",
                        reply_json(request_id(*sent), 200, R"({"productKey":"subPk","deviceKey":"a"})"));
    REQUIRE(logout.get());
    CHECK(rig.client.sub_device_state({"subPk", "a"}) == SubDeviceState::unknown);
    REQUIRE(eventually([&] { return events.has(SubDeviceSessionEventKind::logged_out, "a"); }));
    // Not logged in again after a reconnect.
    reconnect(rig, 1);
    REQUIRE(eventually([&] { return rig.client.connected(); }));
    CHECK(FakeBroker::count_on(rig.broker->published(), batch_topic) == 1);
}

TEST_CASE(
    "gateway: request ids keep counting across reconnects, a late reply never completes a newer request",
    "[unit][client][gateway]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    const std::string query_topic = "/sys/pk/dk/thing/attribute/query";
    std::promise<Result<Response>> first;
    rig.client.send_async(up::AttributeQuery{}, [&](Result<Response> r) { first.set_value(std::move(r)); });
    auto sent = rig.broker->wait_for_topic(query_topic);
    REQUIRE(sent);
    const std::string old_id = request_id(*sent);
    reconnect(rig, 1);
    CHECK(first.get_future().get().error() == errc::disconnected);
    REQUIRE(eventually([&] { return rig.client.connected(); }));

    std::promise<Result<Response>> second;
    rig.client.send_async(up::AttributeQuery{}, [&](Result<Response> r) { second.set_value(std::move(r)); });
    auto again = rig.broker->wait_for_topic(query_topic, 1);
    REQUIRE(again);
    const std::string new_id = request_id(*again);
    CHECK(std::stoll(new_id) > std::stoll(old_id));
    // The old request's reply arrives late: it matches nothing.
    rig.broker->deliver(query_topic + "_reply", reply_json(old_id, 200, R"({"late":true})"));
    CHECK(rig.client.stats().replies_received == 0);
    rig.broker->deliver(query_topic + "_reply", reply_json(new_id, 200, R"({"late":false})"));
    auto result = second.get_future().get();
    REQUIRE(result);
    CHECK(result->data_json == R"({"late":false})");
}

TEST_CASE("gateway: a SubDevice handle outlives its client safely", "[unit][client][gateway]") {
    SubDevice handle;
    CHECK(handle.send_nowait(up::MeasurepointPost{{{"t", 1}}}).error() == errc::shutting_down);
    {
        ClientRig rig;
        REQUIRE(rig.client.connect());
        handle = rig.client.sub_device("subPk", "a");
        SubDevice copy = handle;
        CHECK(copy.product_key() == "subPk");
        CHECK(copy.state() == SubDeviceState::unknown);
    }
    CHECK(handle.send_nowait(up::MeasurepointPost{{{"t", 1}}}).error() == errc::shutting_down);
    CHECK(handle.send(up::AttributeQuery{}).error() == errc::shutting_down);
    std::promise<Result<Response>> outcome;
    handle.send_async(up::AttributeQuery{}, [&](Result<Response> r) { outcome.set_value(std::move(r)); });
    CHECK(outcome.get_future().get().error() == errc::shutting_down);
    handle.on_service("x", [](const ServiceCall&) { return CommandReply::ok(); }); // does nothing
    CHECK(handle.state() == SubDeviceState::unknown);
}

TEST_CASE("gateway: 10000 logged-in sub-devices cost the client less than 1 KB each",
          "[unit][client][gateway]") {
    // Bytes in use by the heap (glibc); sanitizer allocators do not report here.
    auto heap_in_use = [] { return static_cast<std::size_t>(mallinfo2().uordblks); };
    if (heap_in_use() == 0) {
        WARN("the allocator reports no heap statistics (sanitizer build): not measured");
        return;
    }
    constexpr int count = 10000;
    ClientRig rig;
    REQUIRE(rig.client.connect());
    rig.broker->forget();
    const std::size_t before = heap_in_use();
    {
        std::vector<SubDeviceSecret> devices;
        for (int i = 0; i < count; ++i)
            devices.push_back(
                {"subProduct01", "meter-" + std::to_string(100000 + i), "deviceSecret-0123456789"});
        auto login =
            std::async(std::launch::async, [&] { return rig.client.log_in_sub_devices(std::move(devices)); });
        for (std::size_t nth = 0; nth < count / limits::max_batch_login; ++nth) {
            auto sent = rig.broker->wait_for_topic(batch_topic, nth);
            REQUIRE(sent);
            rig.broker->deliver(batch_reply, reply_json(request_id(*sent), 200, "{}"));
        }
        auto report = login.get();
        REQUIRE(report);
        CHECK(report->logged_in.size() == count);
    }
    rig.broker->forget(); // what the fake transport recorded is not the client's
    const std::size_t after = heap_in_use();
    CHECK(rig.client.sub_device_state({"subProduct01", "meter-100000"}) == SubDeviceState::logged_in);
    const std::size_t per_device = after > before ? (after - before) / count : 0;
    INFO("bytes per logged-in sub-device: " << per_device);
    CHECK(per_device < 1024);
}

TEST_CASE("gateway: a hand-made batch login above limits::max_batch_login is refused before sending",
          "[unit][gateway]") {
    up::SubDeviceLoginBatch batch;
    batch.devices = sub_devices(static_cast<int>(limits::max_batch_login));
    CHECK(encode_body(batch, 1700000000000));
    batch.devices.push_back({"subPk", "one-more", "s"});
    auto refused = encode_body(batch, 1700000000000);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == errc::too_many_items);
    CHECK(refused.error().detail.find("the limit is 100") != std::string::npos);
}
