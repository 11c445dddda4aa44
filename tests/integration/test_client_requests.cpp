// DeviceClient against enos-hub: every upstream thing-model method in its three forms, what the
// cloud stored (enos-hub query), error replies, and that no secret ever reaches the log.
#include "client_support.hpp"

#include <future>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;
using cloud::at;
using cloud::query;
using cloud::query_until;
using cloud::with;

namespace {

std::string unique_point(const std::string& base) {
    return base + unique_client_id("").substr(1, 6);
}

/// The callback-form result, waited for (bounded).
Result<Response> await(std::future<Result<Response>>& f) {
    REQUIRE(f.wait_for(30s) == std::future_status::ready);
    return f.get();
}

} // namespace

TEST_CASE("client: measure points in all three forms reach the store", "[integration][client]") {
    const HubProcess& h = hub();
    LogLines log;
    auto options = options_for(h, "pkTest", "dev1", "devSecret1");
    options.log_sink = log.sink();
    options.log_level = LogLevel::trace;
    DeviceClient client = connected_client(options);

    Result<Response> blocking =
        client.send(up::MeasurepointPost{{{"temp", 21.5}, {"status", "running"}}, 1700000000123});
    INFO(blocking.error().message());
    REQUIRE(blocking);
    CHECK(blocking->code == 200);

    auto promise = std::make_shared<std::promise<Result<Response>>>();
    auto future = promise->get_future();
    client.send_async(up::MeasurepointPost{{{"Power", Value::with_quality(3.2, 9)}}},
                      [promise](Result<Response> r) { promise->set_value(std::move(r)); });
    Result<Response> async = await(future);
    REQUIRE(async);

    REQUIRE(client.send_nowait(up::MeasurepointPost{{{"fireAndForget", 7}}}));

    auto rows = query_until(h, "measurepoints", "pkTest", "dev1", [](const auto& rows) {
        return !with(rows, "identifier", "temp").empty() && !with(rows, "identifier", "Power").empty() &&
               !with(rows, "identifier", "fireAndForget").empty();
    });
    const Value temp = with(rows, "identifier", "temp").back();
    CHECK(at(temp, "value").as_double() == 21.5);
    CHECK(at(temp, "time").as_int() == 1700000000123);
    CHECK(at(temp, "requestId").as_string() == blocking->id);
    const Value power = with(rows, "identifier", "Power").back();
    CHECK(at(at(power, "value"), "quality").as_int() == 9);
    const Value fired = with(rows, "identifier", "fireAndForget").back();
    CHECK(at(fired, "value").as_int() == 7);

    // Secrets and the password derived from them never reach the log.
    CHECK_FALSE(log.contains("devSecret1"));
    CHECK(log.contains("connected to"));
}

TEST_CASE("client: batch and resumed measure points", "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev2", "devSecret2"));
    const std::string p = unique_point("batch");
    std::vector<MeasurePointSample> samples(2);
    samples[0].points = {{p, 1}};
    samples[0].time_ms = 1700000000000;
    samples[1].points = {{p, 2}};
    samples[1].time_ms = 1700000060000;
    REQUIRE(client.send(up::MeasurepointPostBatch{samples}));
    REQUIRE(client.send(up::MeasurepointResume{{{p + "r", 3}}}));
    REQUIRE(client.send(up::MeasurepointResumeBatch{samples}));

    auto rows = query_until(h, "measurepoints", "pkTest", "dev2", [&](const auto& rows) {
        return with(rows, "identifier", p).size() == 4 && with(rows, "identifier", p + "r").size() == 1;
    });
    int resumed = 0;
    for (const Value& row : with(rows, "identifier", p))
        resumed += at(row, "resumed").as_bool();
    CHECK(resumed == 2);
    const Value single = with(rows, "identifier", p + "r")[0];
    CHECK(at(single, "resumed").as_bool());
}

TEST_CASE("client: a measure point the model refuses is a cloud error with the code",
          "[integration][client]") {
    DeviceClient client = connected_client(options_for(hub(), "pkTest", "dev3", "devSecret3"));
    Result<Response> r =
        client.send(up::MeasurepointPost{{{"Power", Value::object({{"value", 1}, {"quality", "bad"}})}}});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == make_cloud_error(1204));
    CHECK(r.error().detail.find("quality") != std::string::npos);
    // The client goes on working after an error reply.
    CHECK(client.send(up::MeasurepointPost{{{"temp", 1.5}}}));
}

TEST_CASE("client: events, attributes, tags, raw and the TSL template", "[integration][client]") {
    const HubProcess& h = hub();
    DeviceClient client = connected_client(options_for(h, "pkTest", "dev1", "devSecret1"));

    SECTION("event post (QoS 0, reply awaited)") {
        Result<Response> r = client.send(up::EventPost{"overTemp", {{"temp", 95.5}, {"level", 2}}});
        REQUIRE(r);
        auto rows = query_until(h, "events", "pkTest", "dev1",
                                [&](const auto& rows) { return !with(rows, "requestId", r->id).empty(); });
        const Value event = with(rows, "requestId", r->id)[0];
        CHECK(at(at(event, "events"), "level").as_int() == 2);
    }
    SECTION("attributes: update, query, delete") {
        REQUIRE(client.send(up::AttributeUpdate{{{"ratedPower", 36.8}, {"location", "Shanghai"}}}));
        Result<Response> queried = client.send(up::AttributeQuery{{"name", "ratedPower"}});
        REQUIRE(queried);
        auto data = queried->data();
        REQUIRE(data);
        CHECK(data->find("name")->as_string() == "pump-01"); // seeded by the registry
        CHECK(data->find("ratedPower")->as_double() == 36.8);
        REQUIRE(client.send(up::AttributeDelete{{"location"}}));
        auto all = client.send(up::AttributeQuery{});
        REQUIRE(all);
        CHECK(all->data()->find("location") == nullptr);
    }
    SECTION("tags: update, query, delete") {
        REQUIRE(client.send(up::TagUpdate{{{"vendor", "ACME"}}}));
        Result<Response> tags = client.send(up::TagQuery{});
        REQUIRE(tags);
        CHECK(tags->data()->find("vendor")->as_string() == "ACME");
        CHECK(tags->data()->find("site")->as_string() == "SH-01");
        REQUIRE(client.send(up::TagDelete{{"vendor"}}));
        // The hub replies before its store commits; the row goes within a few milliseconds.
        query_until(h, "tags", "pkTest", "dev1",
                    [](const auto& rows) { return with(rows, "tagKey", "vendor").empty(); });
    }
    SECTION("raw up: bytes out, the script's bytes back") {
        const std::string bytes("\x01\x00\x00\x14\x01\x00\x04\x00\x00\x25\xf5", 11);
        Result<Response> r = client.send(up::RawPost{bytes});
        REQUIRE(r);
        CHECK(r->raw == bytes); // the hub's script is the identity
        CHECK(r->data_json.empty());
    }
    SECTION("TSL template") {
        Result<Response> r = client.send(up::TslTemplateGet{});
        REQUIRE(r);
        REQUIRE(r->data());
        CHECK(r->data()->find("tslMeasurepointMap") != nullptr);
    }
    SECTION("generic request: OTA version report") {
        REQUIRE(client.send(up::JsonRequest{UpMethod::ota_inform, R"({"version":"1.0.3"})"}));
        auto rows = query_until(h, "ota", "pkTest", "dev1",
                                [](const auto& rows) { return !with(rows, "version", "1.0.3").empty(); });
        CHECK(!rows.empty());
    }
}

TEST_CASE("client: many callback requests in flight complete exactly once each", "[integration][client]") {
    constexpr int count = 500;
    std::mutex mutex;
    std::vector<int> completions(count, 0);
    int failures = 0;
    DeviceClient client = connected_client(options_for(hub(), "pkTest", "dev4", "devSecret4"));
    for (int i = 0; i < count; ++i) {
        client.send_async(up::MeasurepointPost{{{"seq", i}}}, [&, i](Result<Response> r) {
            std::lock_guard lock(mutex);
            ++completions[i];
            failures += !r;
        });
    }
    REQUIRE(eventually([&] { return client.stats().replies_received == count; }));
    REQUIRE(eventually([&] {
        std::lock_guard lock(mutex);
        for (int c : completions)
            if (c != 1) return false;
        return true;
    }));
    CHECK(failures == 0);
    CHECK(client.stats().pending_requests == 0);
    CHECK(client.stats().late_replies == 0);
}
