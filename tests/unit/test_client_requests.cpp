// DeviceClient requests over a fake transport: topics, ids, reply matching, exactly-once completion,
// timeouts on a manual clock, late replies, local errors.
#include "client_fakes.hpp"

#include "support/catch.hpp"

#include <enos/device.hpp>

#include <algorithm>
#include <future>

using namespace enos::device;
using namespace enos::test;

namespace {

const std::string post_topic = "/sys/pk/dk/thing/measurepoint/post";
const std::string post_reply = "/sys/pk/dk/thing/measurepoint/post_reply";

/// Collects the outcomes of callback-form requests; counts how often each callback ran.
struct Outcomes {
    std::mutex mutex;
    std::vector<Result<Response>> results;
    ResponseCallback callback() {
        return [this](Result<Response> r) {
            std::lock_guard lock(mutex);
            results.push_back(std::move(r));
        };
    }
    std::size_t size() {
        std::lock_guard lock(mutex);
        return results.size();
    }
    Result<Response> at(std::size_t i) {
        std::lock_guard lock(mutex);
        return results.at(i);
    }
};

} // namespace

TEST_CASE("requests: blocking post subscribes the reply topic, then publishes, then returns the reply",
          "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());

    auto reply = std::async(std::launch::async, [&] {
        return rig.client.send(up::MeasurepointPost{{{"temp", 21.5}, {"status", "running"}}});
    });
    auto sent = rig.broker->wait_for_topic(post_topic);
    REQUIRE(sent);
    CHECK(sent->qos == 1);
    auto request = decode_request(sent->payload);
    REQUIRE(request);
    CHECK(request->id == "1");
    CHECK(request->method == "thing.measurepoint.post");
    CHECK(request->params_json.find(R"("measurepoints":{"temp":21.5,"status":"running"})") !=
          std::string::npos);
    CHECK(request->params_json.find(R"("time":)") != std::string::npos);

    // The reply topic was subscribed, once, before the request went out.
    rig.broker->deliver(post_reply, reply_json("1", 200, R"({"ok":true})"));
    const auto journal = rig.broker->journal();
    const auto subscribed = std::find(journal.begin(), journal.end(), "subscribe " + post_reply);
    const auto sent_at = std::find(journal.begin(), journal.end(), "publish " + post_topic);
    CHECK(subscribed < sent_at);
    CHECK(rig.broker->times_subscribed(post_reply) == 1);

    Result<Response> r = reply.get();
    REQUIRE(r);
    CHECK(r->id == "1");
    CHECK(r->code == 200);
    CHECK(r->data_json == R"({"ok":true})");
    CHECK(rig.client.stats().replies_received == 1);
    CHECK(rig.client.stats().pending_requests == 0);
}

TEST_CASE("requests: ids count up per connection and the reply topic is subscribed once", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    Outcomes outcomes;
    for (int i = 0; i < 3; ++i)
        rig.client.send_async(up::MeasurepointPost{{{"n", i}}}, outcomes.callback());
    auto sent = rig.broker->wait_published([](auto& p) { return FakeBroker::count_on(p, post_topic) == 3; });
    std::vector<std::string> ids;
    for (auto& m : sent)
        if (m.topic == post_topic) ids.push_back(request_id(m));
    CHECK(ids == std::vector<std::string>{"1", "2", "3"});
    CHECK(rig.broker->times_subscribed(post_reply) == 1);

    // Replies in any order complete the matching request.
    for (const char* id : {"2", "3", "1"})
        rig.broker->deliver(post_reply, reply_json(id));
    REQUIRE(eventually([&] { return outcomes.size() == 3; }));
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(outcomes.at(i));
}

TEST_CASE("requests: a non-200 reply is an error carrying the cloud's code and message", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto reply = std::async(std::launch::async, [&] {
        return rig.client.send(up::AttributeUpdate{{{"color", "red"}}});
    });
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/thing/attribute/update");
    REQUIRE(sent);
    rig.broker->deliver("/sys/pk/dk/thing/attribute/update_reply",
                        reply_json(request_id(*sent), 1204, "{}", "Model validate failed"));
    Result<Response> r = reply.get();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == make_cloud_error(1204));
    CHECK(r.error().detail == "Model validate failed");
}

TEST_CASE("requests: timeout completes exactly once, the late reply is dropped and counted",
          "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    Outcomes outcomes;
    SendOptions options;
    options.timeout = 5s;
    rig.client.send_async(up::TagQuery{{"site"}}, outcomes.callback(), options);
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/thing/tag/query");
    REQUIRE(sent);

    rig.advance(4s);
    CHECK(rig.client.stats().pending_requests == 1);
    rig.advance(2s);
    REQUIRE(eventually([&] { return outcomes.size() == 1; }));
    CHECK(outcomes.at(0).error() == errc::timeout);

    rig.broker->deliver("/sys/pk/dk/thing/tag/query_reply", reply_json(request_id(*sent)));
    rig.broker->deliver("/sys/pk/dk/thing/tag/query_reply", reply_json("999"));
    REQUIRE(eventually([&] { return rig.client.stats().unmatched_replies == 1; }));
    auto stats = rig.client.stats();
    CHECK(stats.late_replies == 1);
    CHECK(stats.requests_timed_out == 1);
    CHECK(stats.pending_requests == 0);
    CHECK(outcomes.size() == 1);
}

TEST_CASE("requests: each request keeps its own deadline", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    Outcomes slow, fast;
    SendOptions long_wait, short_wait;
    long_wait.timeout = 20s;
    short_wait.timeout = 3s;
    rig.client.send_async(up::TslTemplateGet{}, slow.callback(), long_wait);
    rig.client.send_async(up::TslTemplateGet{}, fast.callback(), short_wait);
    REQUIRE(rig.broker->wait_for_topic("/sys/pk/dk/thing/tsltemplate/get", 1));
    rig.advance(5s);
    REQUIRE(eventually([&] { return fast.size() == 1; }));
    CHECK(slow.size() == 0);
    rig.broker->deliver("/sys/pk/dk/thing/tsltemplate/get_reply",
                        reply_json("1", 200, R"({"tslAttributeMap":{}})"));
    REQUIRE(eventually([&] { return slow.size() == 1; }));
    REQUIRE(slow.at(0));
    CHECK(slow.at(0)->data_json == R"({"tslAttributeMap":{}})");
}

TEST_CASE("requests: local errors fail every form without sending", "[unit][client]") {
    ClientRig rig;

    SECTION("not connected") {
        CHECK(rig.client.send(up::MeasurepointPost{{{"a", 1}}}).error() == errc::not_connected);
        CHECK(rig.client.send_nowait(up::MeasurepointPost{{{"a", 1}}}).error() == errc::not_connected);
        Outcomes outcomes;
        rig.client.send_async(up::MeasurepointPost{{{"a", 1}}}, outcomes.callback());
        REQUIRE(eventually([&] { return outcomes.size() == 1; }));
        CHECK(outcomes.at(0).error() == errc::not_connected);
    }
    SECTION("QoS 2") {
        REQUIRE(rig.client.connect());
        SendOptions qos2;
        qos2.qos = 2;
        CHECK(rig.client.send(up::MeasurepointPost{{{"a", 1}}}, qos2).error() == errc::qos_not_allowed);
        CHECK(rig.client.send_nowait(up::TagUpdate{{{"k", "v"}}}, qos2).error() == errc::qos_not_allowed);
    }
    SECTION("encoder limits") {
        REQUIRE(rig.client.connect());
        CHECK(rig.client.send(up::MeasurepointPost{{{"a", std::nan("")}}}).error() ==
              errc::non_finite_number);
        CHECK(rig.client.send(up::EventPost{"", {{"a", 1}}}).error() == errc::missing_argument);
        CHECK(rig.client.send(up::RawPost{std::string(600 * 1024, 'x')}).error() == errc::payload_too_large);
    }
    CHECK(rig.broker->wait_published([](auto& p) { return !p.empty(); }, 0ms).empty());
}

TEST_CASE("requests: events go out at QoS 0 and still wait for their reply", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto reply = std::async(std::launch::async, [&] {
        return rig.client.send(up::EventPost{"overTemp", {{"temp", 95.5}}});
    });
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/thing/event/overTemp/post");
    REQUIRE(sent);
    CHECK(sent->qos == 0);
    CHECK(decode_request(sent->payload)->method == "thing.event.overTemp.post");
    rig.broker->deliver("/sys/pk/dk/thing/event/overTemp/post_reply", reply_json(request_id(*sent)));
    CHECK(reply.get());
}

TEST_CASE("requests: raw uploads are matched by topic, one at a time", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    Outcomes first;
    rig.client.send_async(up::RawPost{std::string("\x01\x02\x00\x03", 4)}, first.callback());
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/thing/model/up_raw");
    REQUIRE(sent);
    CHECK(sent->payload == std::string("\x01\x02\x00\x03", 4));

    Result<Response> second = rig.client.send(up::RawPost{"again"});
    CHECK(second.error() == errc::invalid_argument);

    rig.broker->deliver("/sys/pk/dk/thing/model/up_raw_reply", std::string("\xAA\x00", 2));
    REQUIRE(eventually([&] { return first.size() == 1; }));
    REQUIRE(first.at(0));
    CHECK(first.at(0)->raw == std::string("\xAA\x00", 2));
}

TEST_CASE("requests: fire-and-forget sends without waiting, its replies count as unmatched",
          "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    REQUIRE(rig.client.send_nowait(up::AttributeDelete{{"location"}}));
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/thing/attribute/delete");
    REQUIRE(sent);
    CHECK(rig.broker->times_subscribed("/sys/pk/dk/thing/attribute/delete_reply") == 0); // nobody waits
    rig.broker->deliver("/sys/pk/dk/thing/attribute/delete_reply", reply_json(request_id(*sent)));
    CHECK(rig.client.stats().unmatched_replies == 1);
    CHECK(rig.client.stats().requests_sent == 1);
}

TEST_CASE("requests: a refused reply subscription fails the requests waiting for it", "[unit][client]") {
    ClientRig rig;
    rig.broker->refused_topics = {"/sys/pk/dk/thing/tag/delete_reply"};
    REQUIRE(rig.client.connect());
    Result<Response> r = rig.client.send(up::TagDelete{{"site"}});
    CHECK(r.error() == errc::not_authorized);
    CHECK(FakeBroker::count_on(rig.broker->published(), "/sys/pk/dk/thing/tag/delete") == 0);
}

TEST_CASE("requests: a gateway sends for a sub-device on the sub-device's topics", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    SendOptions sub;
    sub.product_key = "subPk";
    sub.device_key = "subDk";
    Outcomes outcomes;
    rig.client.send_async(up::MeasurepointPost{{{"v", 1}}}, outcomes.callback(), sub);
    auto sent = rig.broker->wait_for_topic("/sys/subPk/subDk/thing/measurepoint/post");
    REQUIRE(sent);
    rig.broker->deliver("/sys/subPk/subDk/thing/measurepoint/post_reply", reply_json(request_id(*sent)));
    REQUIRE(eventually([&] { return outcomes.size() == 1; }));
    CHECK(outcomes.at(0));
}

TEST_CASE("requests: the generic form reaches any upstream method", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    auto reply = std::async(std::launch::async, [&] {
        return rig.client.send(up::JsonRequest{UpMethod::ota_inform, R"({"version":"1.0.3"})"});
    });
    auto sent = rig.broker->wait_for_topic("/sys/pk/dk/ota/device/inform");
    REQUIRE(sent);
    auto request = decode_request(sent->payload);
    CHECK(request->method == "ota.device.inform");
    CHECK(request->params_json == R"({"version":"1.0.3"})");
    rig.broker->deliver("/sys/pk/dk/ota/device/inform_reply", reply_json(request->id));
    CHECK(reply.get());
    CHECK(rig.client.send(up::JsonRequest{UpMethod::ota_inform, "{not json"}).error() ==
          errc::malformed_json);
}

TEST_CASE("requests: TCP coalescing is on from eight replies awaited until none is", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    const std::string query = "/sys/pk/dk/thing/tag/query";
    auto switches = [&] {
        std::vector<std::string> out;
        for (const std::string& entry : rig.broker->journal())
            if (entry.rfind("coalescing", 0) == 0) out.push_back(entry);
        return out;
    };
    Outcomes outcomes;
    for (int i = 0; i < 7; ++i)
        rig.client.send_async(up::TagQuery{{"site"}}, outcomes.callback());
    REQUIRE(rig.broker->wait_for_topic(query, 6));
    CHECK(switches().empty()); // a few requests: each goes out at once
    rig.client.send_async(up::TagQuery{{"site"}}, outcomes.callback());
    REQUIRE(rig.broker->wait_for_topic(query, 7));
    CHECK(switches() == std::vector<std::string>{"coalescing on"});

    std::vector<std::string> ids;
    for (const auto& m : rig.broker->published())
        if (m.topic == query) ids.push_back(request_id(m));
    REQUIRE(ids.size() == 8);
    for (std::size_t i = 0; i < 7; ++i)
        rig.broker->deliver(query + "_reply", reply_json(ids[i]));
    REQUIRE(eventually([&] { return outcomes.size() == 7; }));
    CHECK(switches() == std::vector<std::string>{"coalescing on"}); // one is still awaited
    rig.broker->deliver(query + "_reply", reply_json(ids[7]));
    REQUIRE(eventually([&] { return outcomes.size() == 8; }));
    CHECK(switches() == std::vector<std::string>{"coalescing on", "coalescing off"});
}

TEST_CASE("requests: the link dropping fails what is pending with errc::disconnected", "[unit][client]") {
    ClientRig rig;
    REQUIRE(rig.client.connect());
    Outcomes outcomes;
    rig.client.send_async(up::AttributeQuery{{}}, outcomes.callback());
    REQUIRE(rig.broker->wait_for_topic("/sys/pk/dk/thing/attribute/query"));
    rig.broker->lose_link();
    REQUIRE(eventually([&] { return outcomes.size() == 1; }));
    CHECK(outcomes.at(0).error() == errc::disconnected);
    rig.advance(30s); // the deadline passes: nothing completes twice
    CHECK(outcomes.size() == 1);
}

TEST_CASE("requests: destroying the client completes pending requests with shutting_down", "[unit][client]") {
    auto outcomes = std::make_shared<Outcomes>();
    {
        ClientRig rig;
        REQUIRE(rig.client.connect());
        rig.client.send_async(up::TagQuery{{}}, outcomes->callback());
        REQUIRE(rig.broker->wait_for_topic("/sys/pk/dk/thing/tag/query"));
    }
    REQUIRE(outcomes->size() == 1);
    CHECK(outcomes->at(0).error() == errc::shutting_down);
}
