// The pending-request table on its own: matching, deadlines, and telling late replies from stray ones.
#include "client/pending_requests.hpp"

#include "support/catch.hpp"

using namespace enos::device;
using namespace enos::device::detail;
using namespace std::chrono_literals;

namespace {

// A completion that records the outcome it was given.
Completion recorder(std::vector<std::string>& log, std::string name) {
    return [&log, name](Result<Response> r) { log.push_back(name + (r ? " ok" : " " + r.error().message())); };
}

} // namespace

TEST_CASE("pending requests: a reply completes its request once, later ones are late, others stray",
          "[unit]") {
    PendingRequests table;
    std::vector<std::string> log;
    const detail::Clock::time_point t0{};
    const std::string key = PendingRequests::key("/sys/pk/dk/thing/measurepoint/post_reply", "7");
    CHECK(key == "/sys/pk/dk/thing/measurepoint/post_reply#7");
    table.add(key, 1, t0 + 5s, recorder(log, "a"));
    CHECK(table.size() == 1);
    CHECK(table.contains(key));
    CHECK(table.waits(key, 1));
    CHECK_FALSE(table.waits(key, 2));

    Completion done;
    REQUIRE(table.take_reply(key, done) == PendingRequests::Match::matched);
    done(Response{});
    CHECK(log == std::vector<std::string>{"a ok"});
    CHECK(table.size() == 0);
    CHECK_FALSE(table.next_deadline());
    // Answered: a second reply with that id was not asked for.
    CHECK(table.take_reply(key, done) == PendingRequests::Match::unmatched);

    table.add(key, 2, t0 + 5s, recorder(log, "b"));
    CHECK_FALSE(table.take(key, 1)); // an older request under the same key is not this one
    REQUIRE(table.take(key, 2));
    CHECK(table.take_reply(key, done) == PendingRequests::Match::late);
    table.forget_ended(); // a new link: ids start again
    CHECK(table.take_reply(key, done) == PendingRequests::Match::unmatched);
}

TEST_CASE("pending requests: deadlines expire in order and only when due", "[unit]") {
    PendingRequests table;
    std::vector<std::string> log;
    const detail::Clock::time_point t0{};
    table.add("r#3", 3, t0 + 30s, recorder(log, "late"));
    table.add("r#1", 1, t0 + 10s, recorder(log, "first"));
    table.add("r#2", 2, t0 + 20s, recorder(log, "second"));
    REQUIRE(table.next_deadline() == t0 + 10s);

    CHECK(table.take_expired(t0 + 9s).empty());
    auto expired = table.take_expired(t0 + 20s);
    REQUIRE(expired.size() == 2);
    CHECK(expired[0].second == "r#1");
    CHECK(expired[1].second == "r#2");
    CHECK(table.next_deadline() == t0 + 30s);
    CHECK(table.take_reply("r#1", expired[0].first) == PendingRequests::Match::late);

    auto all = table.take_all();
    REQUIRE(all.size() == 1);
    all[0](Error{errc::disconnected, "link lost"});
    CHECK(log.size() == 1);
    CHECK(log[0].rfind("late ", 0) == 0);
    CHECK(table.size() == 0);
    CHECK_FALSE(table.next_deadline());
}

TEST_CASE("pending requests: the memory of ended requests is bounded", "[unit]") {
    PendingRequests table;
    const detail::Clock::time_point t0{};
    for (int i = 0; i < 5000; ++i) {
        const std::string key = "r#" + std::to_string(i);
        table.add(key, static_cast<std::uint64_t>(i), t0, [](Result<Response>) {});
        REQUIRE(table.take(key, static_cast<std::uint64_t>(i)));
    }
    Completion done;
    CHECK(table.take_reply("r#4999", done) == PendingRequests::Match::late);
    CHECK(table.take_reply("r#0", done) == PendingRequests::Match::unmatched); // forgotten, oldest first
}
