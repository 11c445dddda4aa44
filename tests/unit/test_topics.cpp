// Topic builders against the literal strings of docs/protocol.md §3 and §4, and the parsers (§4.11).
#include <enos/device/core/topics.hpp>

#include "support/catch.hpp"

#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace enos::device;

namespace {

struct UpCase {
    UpMethod method;
    std::string_view topic;  // request topic for pk "pk1", dk "dk1", event "overTemp"
    std::string_view method_name;
    int qos;
};

// docs/protocol.md §3 overview table, spelled out.
const UpCase up_cases[] = {
    {UpMethod::measurepoint_post, "/sys/pk1/dk1/thing/measurepoint/post", "thing.measurepoint.post", 1},
    {UpMethod::measurepoint_post_batch, "/sys/pk1/dk1/thing/measurepoint/post/batch", "thing.measurepoint.post.batch", 1},
    {UpMethod::measurepoint_resume, "/sys/pk1/dk1/thing/measurepoint/resume", "thing.measurepoint.resume", 1},
    {UpMethod::measurepoint_resume_batch, "/sys/pk1/dk1/thing/measurepoint/resume/batch", "thing.measurepoint.resume.batch", 1},
    {UpMethod::event_post, "/sys/pk1/dk1/thing/event/overTemp/post", "thing.event.overTemp.post", 0},
    {UpMethod::attribute_query, "/sys/pk1/dk1/thing/attribute/query", "thing.attribute.query", 1},
    {UpMethod::attribute_update, "/sys/pk1/dk1/thing/attribute/update", "thing.attribute.update", 1},
    {UpMethod::attribute_delete, "/sys/pk1/dk1/thing/attribute/delete", "thing.attribute.delete", 1},
    {UpMethod::tag_query, "/sys/pk1/dk1/thing/tag/query", "thing.tag.query", 1},
    {UpMethod::tag_update, "/sys/pk1/dk1/thing/tag/update", "thing.tag.update", 1},
    {UpMethod::tag_delete, "/sys/pk1/dk1/thing/tag/delete", "thing.tag.delete", 1},
    {UpMethod::raw_up, "/sys/pk1/dk1/thing/model/up_raw", "", 1},
    {UpMethod::tsl_template_get, "/sys/pk1/dk1/thing/tsltemplate/get", "thing.tsltemplate.get", 1},
    {UpMethod::device_register, "/sys/pk1/dk1/thing/device/register", "thing.device.register", 1},
    {UpMethod::topo_add, "/sys/pk1/dk1/thing/topo/add", "thing.topo.add", 1},
    {UpMethod::topo_get, "/sys/pk1/dk1/thing/topo/get", "thing.topo.get", 1},
    {UpMethod::topo_delete, "/sys/pk1/dk1/thing/topo/delete", "thing.topo.delete", 1},
    {UpMethod::sub_login, "/ext/session/pk1/dk1/combine/login", "combine.login", 1},
    {UpMethod::sub_login_batch, "/ext/session/pk1/dk1/combine/login/batch", "combine.login.batch", 1},
    {UpMethod::sub_logout, "/ext/session/pk1/dk1/combine/logout", "combine.logout", 1},
    {UpMethod::ota_inform, "/sys/pk1/dk1/ota/device/inform", "ota.device.inform", 1},
    {UpMethod::ota_getversion, "/sys/pk1/dk1/ota/device/getversion", "ota.device.getversion", 1},
    {UpMethod::ota_progress, "/sys/pk1/dk1/ota/device/progress", "ota.device.progress", 1},
    {UpMethod::log_post, "/sys/pk1/dk1/thing/log/post", "thing.log.post", 0},
    {UpMethod::network_status_report, "/sys/pk1/dk1/network/status/report", "network.status.report", 1},
    {UpMethod::connection_state_post, "/sys/pk1/dk1/connection/state/post", "connection.state.post", 1},
    {UpMethod::integration_measurepoint_post, "/sys/pk1/integration/measurepoint/post", "integration.measurepoint.post", 1},
    {UpMethod::integration_event_post, "/sys/pk1/integration/event/post", "integration.event.post", 0},
    {UpMethod::integration_attribute_post, "/sys/pk1/integration/attribute/post", "integration.attribute.post", 1},
    {UpMethod::integration_raw_up, "/sys/pk1/integration/model/up_raw", "", 1},
};

struct DownCase {
    DownKind kind;
    std::string_view id; // service id / RRPC message id
    std::string_view topic, reply_topic, method;
};

// docs/protocol.md §4 table, spelled out.
const DownCase down_cases[] = {
    {DownKind::measurepoint_set, "", "/sys/pk1/dk1/thing/service/measurepoint/set",
     "/sys/pk1/dk1/thing/service/measurepoint/set_reply", "thing.service.measurepoint.set"},
    {DownKind::measurepoint_get, "", "/sys/pk1/dk1/thing/service/measurepoint/get",
     "/sys/pk1/dk1/thing/service/measurepoint/get_reply", "thing.service.measurepoint.get"},
    {DownKind::service_invoke, "setPower", "/sys/pk1/dk1/thing/service/setPower",
     "/sys/pk1/dk1/thing/service/setPower_reply", "thing.service.setPower"},
    {DownKind::rrpc_request, "m-77", "/sys/pk1/dk1/rrpc/request/m-77", "/sys/pk1/dk1/rrpc/response/m-77",
     "thing.service.m-77"},
    {DownKind::raw_down, "", "/sys/pk1/dk1/thing/model/down_raw", "/sys/pk1/dk1/thing/model/down_raw_reply", ""},
    {DownKind::sub_device_enable, "", "/ext/session/pk1/dk1/combine/enable",
     "/ext/session/pk1/dk1/combine/enable_reply", "combine.enable"},
    {DownKind::sub_device_disable, "", "/ext/session/pk1/dk1/combine/disable",
     "/ext/session/pk1/dk1/combine/disable_reply", "combine.disable"},
    {DownKind::sub_device_delete, "", "/ext/session/pk1/dk1/combine/delete",
     "/ext/session/pk1/dk1/combine/delete_reply", "combine.delete"},
    {DownKind::device_enable, "", "/sys/pk1/dk1/thing/enable", "/sys/pk1/dk1/thing/enable_reply", "thing.enable"},
    {DownKind::device_disable, "", "/sys/pk1/dk1/thing/disable", "/sys/pk1/dk1/thing/disable_reply", "thing.disable"},
    {DownKind::device_delete, "", "/sys/pk1/dk1/thing/delete", "/sys/pk1/dk1/thing/delete_reply", "thing.delete"},
    {DownKind::ota_upgrade, "", "/sys/pk1/dk1/ota/device/upgrade", "/sys/pk1/dk1/ota/device/upgrade_reply",
     "ota.device.upgrade"},
    // Reply topic: "_reply" by choice, not [J]'s command topic itself (see command_reply_topic()).
    {DownKind::traffic_control, "", "/sys/pk1/dk1/traffic/control", "/sys/pk1/dk1/traffic/control_reply",
     "traffic.control"},
    {DownKind::activate_info, "", "/ext/session/pk1/dk1/thing/activate/info",
     "/ext/session/pk1/dk1/thing/activate/info_reply", "thing.activate.info"},
};

} // namespace

TEST_CASE("request and reply topic of every upstream method", "[unit][topics]") {
    CHECK(std::size(up_cases) == std::size(detail::up_routes)); // no UpMethod left out
    for (const UpCase& c : up_cases) {
        INFO(std::string(c.topic));
        CHECK(request_topic(c.method, "pk1", "dk1", "overTemp") == c.topic);
        CHECK(reply_topic(c.method, "pk1", "dk1", "overTemp") == std::string(c.topic) + "_reply");
        CHECK(method_name(c.method, "overTemp") == c.method_name);
        CHECK(default_qos(c.method) == c.qos);
        CHECK(is_raw(c.method) == c.method_name.empty());
        CHECK(is_integration(c.method) == (c.topic.find("/integration/") != std::string_view::npos));
    }
}

TEST_CASE("topics from the examples of docs/protocol.md", "[unit][topics]") {
    CHECK(request_topic(UpMethod::measurepoint_post_batch, "subPK01", "subDev01") ==
          "/sys/subPK01/subDev01/thing/measurepoint/post/batch");
    CHECK(reply_topic(UpMethod::sub_login, "gwPK", "gwDK") == "/ext/session/gwPK/gwDK/combine/login_reply");
    CHECK(reply_topic(UpMethod::sub_login_batch, "gwPK", "gwDK") ==
          "/ext/session/gwPK/gwDK/combine/login/batch_reply");
    CHECK(reply_topic(UpMethod::raw_up, "pk", "dk") == "/sys/pk/dk/thing/model/up_raw_reply");
    CHECK(reply_topic(UpMethod::ota_inform, "pk", "dk") == "/sys/pk/dk/ota/device/inform_reply");
    CHECK(reply_topic(UpMethod::event_post, "pk", "dk", "overTemp") == "/sys/pk/dk/thing/event/overTemp/post_reply");
    CHECK(request_topic(UpMethod::integration_measurepoint_post, "pkInt001", "ignored") ==
          "/sys/pkInt001/integration/measurepoint/post");
    CHECK(reply_topic(UpMethod::integration_measurepoint_post, "pkInt001", "") ==
          "/sys/pkInt001/integration/measurepoint/post_reply");
    CHECK(command_topic(DownKind::service_invoke, "pk", "dk", "setPower") == "/sys/pk/dk/thing/service/setPower");
    CHECK(command_topic(DownKind::activate_info, "pkDyn001", "dev001") == "/ext/session/pkDyn001/dev001/thing/activate/info");
    CHECK(method_name(UpMethod::event_post, "high.temp") == "thing.event.high.temp.post");
    CHECK(command_topic(DownKind::reply, "pk", "dk").empty());
    CHECK(command_method(DownKind::reply).empty());
}

TEST_CASE("command topics, reply topics and methods of every downstream command", "[unit][topics]") {
    CHECK(std::size(down_cases) == std::size(detail::down_routes));
    for (const DownCase& c : down_cases) {
        INFO(std::string(c.topic));
        CHECK(command_topic(c.kind, "pk1", "dk1", c.id) == c.topic);
        CHECK(command_method(c.kind, c.id) == c.method);
    }
}

TEST_CASE("every downstream topic parses back to what built it", "[unit][topics]") {
    for (const DownCase& c : down_cases) {
        for (auto [pk, dk] : {std::pair<std::string_view, std::string_view>{"pk1", "dk1"},
                              {"subPK01", "subDev01"},
                              {"integration", "reply_"}, // keys that look like topic words
                              {"sys", "thing"}}) {
            const std::string topic = command_topic(c.kind, pk, dk, c.id);
            INFO(topic);
            auto a = parse_arrived_topic(topic);
            REQUIRE(a);
            CHECK(a->kind == c.kind);
            CHECK(a->product_key == pk);
            CHECK(a->device_key == dk);
            CHECK(a->service_id == (c.kind == DownKind::service_invoke ? c.id : ""));
            CHECK(a->message_id == (c.kind == DownKind::rrpc_request ? c.id : ""));
            CHECK(a->event_id.empty());

            const std::string reply = command_reply_topic(*a);
            if (pk == "pk1") {
                CHECK(reply == c.reply_topic);
            }

            // The cloud side maps the answer back to the command.
            auto back = parse_command_reply_topic(reply);
            REQUIRE(back);
            CHECK(back->kind == c.kind);
            CHECK(back->product_key == pk);
            CHECK(back->device_key == dk);
            CHECK(back->service_id == a->service_id);
            CHECK(back->message_id == a->message_id);

            // A device's own answer is never mistaken for a new command.
            auto echo = parse_arrived_topic(reply);
            CHECK_FALSE((echo && echo->kind != DownKind::reply));
        }
    }
}

TEST_CASE("every reply topic parses as a reply to its request kind", "[unit][topics]") {
    for (const UpCase& c : up_cases) {
        for (auto [pk, dk, ev] : {std::tuple<std::string_view, std::string_view, std::string_view>{"pk1", "dk1", "overTemp"},
                                  {"subPK01", "subDev01", "post"},
                                  {"p", "integration", "measurepoint"}}) {
            const std::string topic = reply_topic(c.method, pk, dk, ev);
            INFO(topic);
            auto a = parse_arrived_topic(topic);
            REQUIRE(a);
            CHECK(a->kind == DownKind::reply);
            CHECK(a->reply_to == c.method);
            CHECK(a->product_key == pk);
            CHECK(a->device_key == (is_integration(c.method) ? "" : dk));
            CHECK(a->event_id == (c.method == UpMethod::event_post ? ev : ""));
            CHECK(a->service_id.empty());
            CHECK(a->message_id.empty());
            CHECK(command_reply_topic(*a).empty());
        }
    }
}

TEST_CASE("every request topic parses on the cloud side", "[unit][topics]") {
    for (const UpCase& c : up_cases) {
        const std::string topic = request_topic(c.method, "pk1", "dk1", "overTemp");
        INFO(topic);
        auto u = parse_upstream_topic(topic);
        REQUIRE(u);
        CHECK(u->method == c.method);
        CHECK(u->product_key == "pk1");
        CHECK(u->device_key == (is_integration(c.method) ? "" : "dk1"));
        CHECK(u->event_id == (c.method == UpMethod::event_post ? "overTemp" : ""));

        // A request topic is not something a device receives, and a reply is not a request.
        CHECK(parse_arrived_topic(topic).code() == errc::topic_no_match);
        CHECK(parse_upstream_topic(reply_topic(c.method, "pk1", "dk1", "overTemp")).code() == errc::topic_no_match);
    }
}

TEST_CASE("measure point set/get are not services, a service id ending in _reply is not a service",
          "[unit][topics]") {
    auto a = parse_arrived_topic("/sys/pk/dk/thing/service/measurepoint/set");
    REQUIRE(a);
    CHECK(a->kind == DownKind::measurepoint_set);
    CHECK(a->service_id.empty());

    a = parse_arrived_topic("/sys/pk/dk/thing/service/measurepoint/get");
    REQUIRE(a);
    CHECK(a->kind == DownKind::measurepoint_get);

    // Exactly six levels: a service called "measurepoint".
    a = parse_arrived_topic("/sys/pk/dk/thing/service/measurepoint");
    REQUIRE(a);
    CHECK(a->kind == DownKind::service_invoke);
    CHECK(a->service_id == "measurepoint");

    // Replies to commands, seen by a device subscribed with wildcards, match nothing.
    CHECK(parse_arrived_topic("/sys/pk/dk/thing/service/setPower_reply").code() == errc::topic_no_match);
    CHECK(parse_arrived_topic("/sys/pk/dk/thing/service/measurepoint/set_reply").code() == errc::topic_no_match);
    CHECK(parse_arrived_topic("/sys/pk/dk/rrpc/response/1").code() == errc::topic_no_match);
    CHECK(parse_arrived_topic("/sys/pk/dk/thing/service/measurepoint/other").code() == errc::topic_no_match);
}

TEST_CASE("event id is taken from the reply topic, whatever it is", "[unit][topics]") {
    auto a = parse_arrived_topic("/sys/pk/dk/thing/event/overTemp/post_reply");
    REQUIRE(a);
    CHECK(a->kind == DownKind::reply);
    CHECK(a->reply_to == UpMethod::event_post);
    CHECK(a->event_id == "overTemp");
    // An event named "measurepoint" is answered on the legacy-looking topic; the device only receives
    // it after posting such an event, so it is that event's reply.
    a = parse_arrived_topic("/sys/pk/dk/thing/event/measurepoint/post_reply");
    REQUIRE(a);
    CHECK(a->event_id == "measurepoint");
}

TEST_CASE("RRPC message id is the last level, traffic control and activation are typed", "[unit][topics]") {
    auto a = parse_arrived_topic("/sys/pk/dk/rrpc/request/1234567890");
    REQUIRE(a);
    CHECK(a->kind == DownKind::rrpc_request);
    CHECK(a->message_id == "1234567890");
    CHECK(command_reply_topic(*a) == "/sys/pk/dk/rrpc/response/1234567890");

    a = parse_arrived_topic("/sys/pk/dk/traffic/control");
    REQUIRE(a);
    CHECK(a->kind == DownKind::traffic_control);

    a = parse_arrived_topic("/ext/session/pkDyn001/dev001/thing/activate/info");
    REQUIRE(a);
    CHECK(a->kind == DownKind::activate_info);
    CHECK(a->product_key == "pkDyn001");
    CHECK(a->device_key == "dev001");
    CHECK(command_reply_topic(*a) == "/ext/session/pkDyn001/dev001/thing/activate/info_reply");
}

TEST_CASE("garbage topics are rejected with topic_no_match", "[unit][topics]") {
    const std::string huge(100000, 'a');
    std::string many_levels;
    for (int i = 0; i < 5000; ++i) many_levels += "/x";
    const std::vector<std::string> garbage = {
        "",
        "/",
        "//",
        "///////",
        "sys/pk/dk/thing/service/setPower",          // no leading '/'
        "/sys/pk/dk/thing/service/setPower/",        // trailing empty level
        "/sys//dk/thing/service/setPower",           // empty pk
        "/sys/pk//thing/service/setPower",           // empty dk
        "/sys/pk/dk/thing/service/",                 // empty service id
        "/sys/pk/dk/thing/service",                  // missing level
        "/sys/pk/dk/thing/service/a/b",              // extra level
        "/sys/pk/dk/thing/service/measurepoint/set/x",
        "/sys/pk/dk/rrpc/request",
        "/sys/pk/dk/rrpc/request/1/2",
        "/sys/pk/dk/thing/model/down_raw/x",
        "/ext/session/pk/dk/combine/enable/x",
        "/ext/session/pk/combine/enable",
        "/ext/sessions/pk/dk/combine/enable",
        "/sys/pk/dk/thing/measurepoint/post_replyx",
        "/sys/pk/dk/thing/measurepoint/_reply",
        "/sys/pk/dk/thing/measurepoint/post_Reply",
        "/sys/pk/dk/_reply",
        "/_reply",
        "_reply",
        "/sys/pk/dk/thing/event/post_reply",         // event without id
        "/sys/pk/dk/thing/event//post_reply",
        "/sys/pk/integration/measurepoint_reply",
        "/sys//integration/measurepoint/post_reply",
        "/SYS/pk/dk/thing/service/setPower",
        std::string("/sys/pk/dk/thing/service/set\0x", 30), // NUL cannot be in a topic name
        "/sys/pk/dk/thing/service/+",                 // nor wildcards
        "/sys/pk/#",
        "/sys/+/dk/thing/service/setPower",
        "/sys/pk/dk/unknown/thing",
        "/ext/session/pk/dk/thing/activate/info/",
        "/sys/pk/dk/traffic/control/x",
        "/a/b/c/d/e/f/g/h/i/j",
        huge,
        "/" + huge,
        many_levels,
        "/sys/" + huge + "/dk/thing/measurepoint/post_reply/x",
    };
    for (const std::string& topic : garbage) {
        INFO(topic.substr(0, 80));
        auto a = parse_arrived_topic(topic);
        REQUIRE_FALSE(a);
        CHECK(a.error() == errc::topic_no_match);
        CHECK(a.error().detail.size() < 200); // the topic is quoted, but cut short
        CHECK(parse_upstream_topic(topic).code() == errc::topic_no_match);
        CHECK(parse_command_reply_topic(topic).code() == errc::topic_no_match);
    }
}

TEST_CASE("a long but valid topic still parses", "[unit][topics]") {
    const std::string dk(60000, 'd');
    auto a = parse_arrived_topic("/sys/pk/" + dk + "/thing/service/x");
    REQUIRE(a);
    CHECK(a->device_key == dk);
    CHECK(parse_arrived_topic("/sys/pk/" + dk + "/thing/service/" + std::string(6000, 'x')).code() ==
          errc::topic_no_match); // over the MQTT topic length limit
}

TEST_CASE("every prefix and every one-byte change of valid topics is handled without a crash", "[unit][topics]") {
    std::vector<std::string> topics;
    for (const UpCase& c : up_cases) topics.push_back(reply_topic(c.method, "pk1", "dk1", "ev"));
    for (const DownCase& c : down_cases) topics.push_back(command_topic(c.kind, "pk1", "dk1", c.id));
    int parsed = 0;
    for (const std::string& topic : topics) {
        for (std::size_t n = 0; n <= topic.size(); ++n) {
            const std::string prefix = topic.substr(0, n);
            auto a = parse_arrived_topic(prefix);
            if (a) {
                ++parsed;
            } else {
                CHECK(a.error() == errc::topic_no_match);
            }
        }
        for (std::size_t i = 0; i < topic.size(); ++i) {
            for (char c : {'/', '\0', '_', 'x', '+'}) {
                std::string mutated = topic;
                mutated[i] = c;
                auto a = parse_arrived_topic(mutated);
                if (a) {
                    ++parsed;
                    // Whatever parsed must rebuild to the same topic.
                    const std::string rebuilt =
                        a->kind == DownKind::reply
                            ? reply_topic(a->reply_to, a->product_key, a->device_key, a->event_id)
                            : command_topic(a->kind, a->product_key, a->device_key,
                                            a->kind == DownKind::rrpc_request ? a->message_id : a->service_id);
                    CHECK(rebuilt == mutated);
                } else {
                    CHECK(a.error() == errc::topic_no_match);
                }
            }
        }
    }
    CHECK(parsed > 0);
}

TEST_CASE("is_valid_topic_level", "[unit][topics]") {
    CHECK(is_valid_topic_level("overTemp"));
    CHECK(is_valid_topic_level("a.b-c_d"));
    CHECK_FALSE(is_valid_topic_level(""));
    CHECK_FALSE(is_valid_topic_level("a/b"));
    CHECK_FALSE(is_valid_topic_level("+"));
    CHECK_FALSE(is_valid_topic_level("#"));
    CHECK_FALSE(is_valid_topic_level(std::string_view("a\0b", 3)));
}
