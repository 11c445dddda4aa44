// Value: the JSON-like type of measure points (docs/protocol.md §5.1), and its JSON text form.
#include <enos/device/core/value.hpp>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "support/catch.hpp"

using namespace enos::device;

TEST_CASE("Value keeps the kind it was built from", "[unit]") {
    CHECK(Value().is_null());
    CHECK(Value(nullptr).is_null());
    CHECK(Value(true).is_bool());
    CHECK(Value(true).as_bool());
    CHECK(Value(7).is_int());
    CHECK(Value(std::int64_t{-9000000000}).as_int() == -9000000000);
    CHECK(Value(static_cast<unsigned char>(200)).as_int() == 200);
    CHECK(Value(1.0).is_double());
    CHECK(Value(1.5f).as_double() == 1.5);
    CHECK(Value("text").is_string());
    CHECK(Value(std::string("s")).as_string() == "s");
    CHECK(Value(std::string_view("v")).as_string() == "v");
    CHECK(Value(1) != Value(1.0));
    CHECK(Value(1).as_double() == 1.0);

    // Above INT64_MAX an unsigned value cannot be an integer on the wire.
    const Value huge(std::numeric_limits<std::uint64_t>::max());
    CHECK(huge.is_double());
    CHECK(Value(std::uint64_t{42}).is_int());
}

TEST_CASE("Value accessors of the wrong type give empty values, never throw", "[unit]") {
    const Value number(3);
    CHECK_FALSE(number.as_bool());
    CHECK(number.as_string().empty());
    CHECK(number.as_array().empty());
    CHECK(number.as_object().empty());
    CHECK(number.find("x") == nullptr);
    CHECK(Value("3").as_int() == 0);
    CHECK(Value("3").as_double() == 0.0);
    Value text("t");
    CHECK(text.mutable_array() == nullptr);
    CHECK(text.mutable_object() == nullptr);
}

TEST_CASE("arrays, objects and values with quality", "[unit]") {
    Value v = Value::object({{"a", 1}, {"b", Value::array({1, 2.5, "x", false, nullptr})}});
    REQUIRE(v.is_object());
    REQUIRE(v.find("b") != nullptr);
    CHECK(v.find("b")->as_array().size() == 5);
    CHECK(v.find("b")->as_array()[1].as_double() == 2.5);
    CHECK(v.find("missing") == nullptr);

    v.mutable_object()->emplace_back("c", "added");
    CHECK(v.find("c")->as_string() == "added");
    CHECK(v.as_object().back().first == "c");

    const Value q = Value::with_quality(21.5, 9);
    CHECK(to_json(q) == R"({"value":21.5,"quality":9})");
    CHECK(q.find("quality")->is_int());
}

TEST_CASE("to_json writes compact JSON and keeps int vs float", "[unit]") {
    CHECK(to_json(Value()) == "null");
    CHECK(to_json(Value(false)) == "false");
    CHECK(to_json(Value(1)) == "1");
    CHECK(to_json(Value(1.0)) == "1.0");
    CHECK(to_json(Value(-0.0)) == "-0.0");
    CHECK(to_json(Value(0.1)) == "0.1");
    CHECK(to_json(Value(100.0)) == "100.0");
    CHECK(to_json(Value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
    CHECK(to_json(Value::array({})) == "[]");
    CHECK(to_json(Value::object({})) == "{}");
    CHECK(to_json(Value::object({{"k", Value::array({1, "two"})}})) == R"({"k":[1,"two"]})");
    CHECK(to_json(Value(std::string("q\"b\\n\n\x1f", 7))) == R"("q\"b\\n\n\u001f")");
    CHECK(to_json(Value("日本")) == "\"日本\"");
}

TEST_CASE("to_json stays valid JSON for NaN and broken UTF-8", "[unit]") {
    CHECK(to_json(Value(std::nan(""))) == "null");
    CHECK(to_json(Value(-HUGE_VAL)) == "null");
    CHECK(to_json(Value(std::string("a\xFF"
                                    "b",
                                    3))) == "\"a\xEF\xBF\xBD"
                                            "b\"");
}

TEST_CASE("parse_value keeps integers and floating-point numbers apart", "[unit]") {
    auto v = parse_value(
        R"({"i":1,"f":1.0,"e":1e2,"neg":-5,"big":9223372036854775807,"bigger":18446744073709551615})");
    REQUIRE(v);
    CHECK(v->find("i")->is_int());
    CHECK(v->find("f")->is_double());
    CHECK(v->find("e")->is_double());
    CHECK(v->find("e")->as_double() == 100.0);
    CHECK(v->find("neg")->as_int() == -5);
    CHECK(v->find("big")->as_int() == std::numeric_limits<std::int64_t>::max());
    CHECK(v->find("bigger")->is_double());
}

TEST_CASE("parse_value keeps member order, duplicates and nesting", "[unit]") {
    auto v = parse_value(R"( {"z":1, "a":[true,null,{"x":"y"}], "z":2} )");
    REQUIRE(v);
    const auto& members = v->as_object();
    REQUIRE(members.size() == 3);
    CHECK(members[0].first == "z");
    CHECK(members[1].first == "a");
    CHECK(members[2].second.as_int() == 2);
    CHECK(v->find("z")->as_int() == 1); // the first of a repeated name
    CHECK(members[1].second.as_array()[2].find("x")->as_string() == "y");
    CHECK(parse_value("\"\\u00e9\\ud83d\\ude00\"")->as_string() == "é😀");
    CHECK(parse_value("-0.0")->is_double());
}

TEST_CASE("doubles survive a text round trip exactly", "[unit]") {
    for (double d : {0.1, 1.0 / 3.0, 2.0 / 3.0, 1e22, 1e-7, 123456789.125, -2.5e-300, DBL_MAX, DBL_MIN,
                     4.9e-324, 9007199254740993.0, 0.30000000000000004}) {
        INFO(d);
        const std::string text = to_json(Value(d));
        auto back = parse_value(text);
        REQUIRE(back);
        CHECK(back->is_double());
        CHECK(back->as_double() == d);
    }
}

TEST_CASE("random doubles survive a text round trip exactly", "[unit]") {
    std::mt19937_64 bits(20240601); // fixed seed: the same values on every run
    int checked = 0;
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t pattern = bits();
        double d;
        std::memcpy(&d, &pattern, sizeof d);
        if (!std::isfinite(d)) continue;
        const std::string text = to_json(Value(d));
        auto back = parse_value(text);
        if (!back || !back->is_double() || back->as_double() != d) {
            FAIL("round trip failed for " << text);
        }
        ++checked;
    }
    CHECK(checked > 99000);
}

TEST_CASE("Value round trips through JSON text", "[unit]") {
    const Value original = Value::object({
        {"Power", Value::with_quality(1.0, 9)},
        {"temp", 21.5},
        {"branchCurr", Value::array({1.02, 2.02, 7.93})},
        {"status", "running"},
        {"count", -42},
        {"ok", true},
        {"nothing", nullptr},
        {"nested", Value::object({{"deep", Value::array({Value::array({}), Value::object({})})}})},
        {"text", "line\nbreak \"quoted\" é"},
    });
    auto parsed = parse_value(to_json(original));
    REQUIRE(parsed);
    CHECK(*parsed == original);
    CHECK(to_json(*parsed) == to_json(original));
}

TEST_CASE("parse_value refuses what is not exactly one JSON document", "[unit]") {
    auto code_of = [](std::string_view text) { return parse_value(text).code(); };
    CHECK(code_of("") == errc::malformed_json);
    CHECK(code_of("   ") == errc::malformed_json);
    CHECK(code_of("{") == errc::malformed_json);
    CHECK(code_of("{\"a\":}") == errc::malformed_json);
    CHECK(code_of("[1,]") == errc::malformed_json);
    CHECK(code_of("{} {}") == errc::malformed_json);
    CHECK(code_of("{}x") == errc::malformed_json);
    CHECK(code_of(std::string_view("{}\0x", 4)) == errc::malformed_json);
    CHECK(code_of(std::string_view("\"a\0b\"", 5)) == errc::malformed_json);
    CHECK(code_of("NaN") == errc::malformed_json);
    CHECK(code_of("Infinity") == errc::malformed_json);
    CHECK(code_of("1e400") == errc::malformed_json);
    CHECK(code_of("'single'") == errc::malformed_json);
    CHECK(code_of("\"\xC3\"") == errc::malformed_json);         // truncated UTF-8
    CHECK(code_of("\"\xED\xA0\x80\"") == errc::malformed_json); // encoded surrogate
    CHECK(code_of("// comment\n{}") == errc::malformed_json);

    const auto error = parse_value("[1, 2").error();
    CHECK(error.detail.find("offset") != std::string::npos);
}

TEST_CASE("parse_value refuses oversize and overly deep input", "[unit]") {
    std::string big = "\"" + std::string(limits::max_payload_bytes, 'x') + "\"";
    CHECK(parse_value(big).code() == errc::input_too_large);

    const std::string deep_ok =
        std::string(detail::max_json_depth, '[') + std::string(detail::max_json_depth, ']');
    CHECK(parse_value(deep_ok));
    // Far deeper than any stack could recurse through: refused without recursion.
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    const auto too_deep = parse_value(deep);
    CHECK(too_deep.code() == errc::input_too_large);
    CHECK(too_deep.error().detail.find("nested") != std::string::npos);
}
