// CONNECT credentials for securemode 2, 3, 4 and the broker-side parsers (docs/protocol.md §1.2-1.3).
#include <enos/device/core/credentials.hpp>

#include "support/catch.hpp"

#include <string>

using namespace enos::device;

namespace {

CredentialInput static_device() {
    CredentialInput in;
    in.product_key = "KV315idW";
    in.device_key = "tPbZGCdmaE";
    in.secret = "M3yy874uGY8INjEGddTR";
    in.timestamp = "1548753362502";
    return in;
}

/// The error of a failed build; fails the test if it succeeded.
Error build_error(const CredentialInput& in) {
    auto c = make_connect_credentials(in);
    REQUIRE_FALSE(c);
    if (!in.secret.empty()) CHECK(c.error().message().find(in.secret) == std::string::npos);
    return c.error();
}

} // namespace

TEST_CASE("raw client id defaults to the device key (modes 2, 3) or product key (mode 4)", "[unit][credentials]") {
    auto in = static_device();
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "tPbZGCdmaE|securemode=2,signmethod=sha256,timestamp=1548753362502|");
    CHECK(c->password == sign({"tPbZGCdmaE", "tPbZGCdmaE", "KV315idW", "1548753362502"}, in.secret));

    in.mode = SecureMode::dynamic_activation;
    c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "tPbZGCdmaE|securemode=3,signmethod=sha256,timestamp=1548753362502|");
    CHECK(c->username == "tPbZGCdmaE&KV315idW");

    in.mode = SecureMode::integration;
    in.device_key.clear(); // not needed in mode 4
    c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "KV315idW|securemode=4,signmethod=sha256,timestamp=1548753362502|");
    CHECK(c->username == "%channel%&KV315idW");
    CHECK(c->password == sign({"KV315idW", "%channel%", "KV315idW", "1548753362502"}, in.secret));

    in.client_id = "my-integration-01";
    c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "my-integration-01|securemode=4,signmethod=sha256,timestamp=1548753362502|");
    CHECK(c->password == sign({"my-integration-01", "%channel%", "KV315idW", "1548753362502"}, in.secret));
}

TEST_CASE("empty timestamp means now, in epoch milliseconds", "[unit][credentials]") {
    auto in = static_device();
    in.timestamp.clear();
    const auto before = std::stoll(now_ms_string());
    auto c = make_connect_credentials(in);
    const auto after = std::stoll(now_ms_string());
    REQUIRE(c);
    auto fields = parse_mqtt_client_id(c->client_id);
    REQUIRE(fields);
    REQUIRE(detail::is_decimal_digits(fields->timestamp));
    const auto ts = std::stoll(fields->timestamp);
    CHECK(ts >= before);
    CHECK(ts <= after);
    CHECK(c->password == sign({"tPbZGCdmaE", "tPbZGCdmaE", "KV315idW", fields->timestamp}, in.secret));
    CHECK(fields->timestamp.size() == 13); // milliseconds, not seconds, for the next couple of centuries
}

TEST_CASE("credential errors name the wrong part and never the secret", "[unit][credentials]") {
    auto in = static_device();
    in.product_key.clear();
    auto e = build_error(in);
    CHECK(e == errc::missing_argument);
    CHECK(e.detail == "product_key is empty");

    in = static_device();
    in.device_key.clear();
    e = build_error(in);
    CHECK(e == errc::missing_argument);
    CHECK(e.detail == "device_key is empty");

    in = static_device();
    in.secret.clear();
    e = build_error(in);
    CHECK(e == errc::missing_argument);
    CHECK(e.detail == "secret is empty");

    in = static_device();
    in.client_id = std::string(65, 'c');
    e = build_error(in);
    CHECK(e == errc::invalid_argument);
    CHECK(e.detail == "client id longer than 64 characters");
    in.client_id = std::string(64, 'c');
    CHECK(make_connect_credentials(in));
    // Characters, not bytes: 64 two-byte characters are fine.
    std::string wide;
    for (int i = 0; i < 64; ++i) wide += "\xC3\xA9";
    in.client_id = wide;
    CHECK(make_connect_credentials(in));

    in = static_device();
    in.client_id = "abc|def";
    e = build_error(in);
    CHECK(e.detail == "client id contains '|'");

    in = static_device();
    in.timestamp = "1548753362502.5";
    e = build_error(in);
    CHECK(e == errc::invalid_argument);
    CHECK(e.detail == "timestamp must be decimal digits");
    in.timestamp = "-1";
    CHECK(build_error(in).detail == "timestamp must be decimal digits");

    in = static_device();
    in.mode = static_cast<SecureMode>(5);
    CHECK(build_error(in).detail == "securemode must be 2, 3 or 4");

    in = static_device();
    in.method = static_cast<SignMethod>(9);
    CHECK(build_error(in) == errc::unsupported_sign_method);

    in = static_device();
    in.extra_info = "compress=GZIP";
    CHECK(build_error(in).detail == "extra info must have the form {key=value,...}");
    in.extra_info = "{a=|}";
    CHECK(build_error(in).detail == "extra info contains '|'");
}

TEST_CASE("keys with characters that break topics or the username are refused", "[unit][credentials]") {
    for (std::string_view bad : {"a/b", "a+b", "a#b", "a&b", "a|b", "a b", "a\tb", "a\nb"}) {
        INFO(std::string(bad));
        auto in = static_device();
        in.device_key = std::string(bad);
        auto e = build_error(in);
        CHECK(e == errc::invalid_argument);
        CHECK(e.detail.rfind("device_key contains", 0) == 0);

        in = static_device();
        in.product_key = std::string(bad);
        e = build_error(in);
        CHECK(e.detail.rfind("product_key contains", 0) == 0);
    }
    // Keys are not otherwise restricted.
    auto in = static_device();
    in.device_key = "dev-01.A_b%";
    CHECK(make_connect_credentials(in));
}

TEST_CASE("parse_mqtt_client_id reads back what make_connect_credentials wrote", "[unit][credentials]") {
    for (auto mode : {SecureMode::static_secret, SecureMode::dynamic_activation, SecureMode::integration}) {
        for (auto method : {SignMethod::sha256, SignMethod::sha1, SignMethod::md5}) {
            auto in = static_device();
            in.mode = mode;
            in.method = method;
            in.client_id = "id-123";
            in.extra_info = "{compress=GZIP}";
            auto c = make_connect_credentials(in);
            REQUIRE(c);
            auto f = parse_mqtt_client_id(c->client_id);
            REQUIRE(f);
            CHECK(f->raw_client_id == "id-123{compress=GZIP}");
            CHECK(f->secure_mode == static_cast<int>(mode));
            CHECK(f->method == method);
            CHECK(f->method_name == to_string(method));
            CHECK(f->timestamp == "1548753362502");

            auto u = parse_mqtt_username(c->username);
            REQUIRE(u);
            CHECK(u->product_key == "KV315idW");
            CHECK(u->device_key == (mode == SecureMode::integration ? "%channel%" : "tPbZGCdmaE"));

            // What a broker does: recompute and compare.
            CHECK(signature_equals(c->password, sign({f->raw_client_id, u->device_key, u->product_key, f->timestamp},
                                                     in.secret, f->method)));
        }
    }
}

TEST_CASE("parse_mqtt_client_id accepts what other SDKs send", "[unit][credentials]") {
    auto f = parse_mqtt_client_id("dk1|timestamp=1700000000000,signmethod=hmacsha1,securemode=2|");
    REQUIRE(f);
    CHECK(f->method == SignMethod::sha1);
    CHECK(f->method_name == "hmacsha1");
    CHECK(f->timestamp == "1700000000000");

    // Python SDK: float timestamp string.
    f = parse_mqtt_client_id("dk1|securemode=2,signmethod=hmacsha256,timestamp=1700000000000.123|");
    REQUIRE(f);
    CHECK(f->timestamp == "1700000000000.123");

    // The docs' template has a space after the comma; those bytes are not signed.
    f = parse_mqtt_client_id("123456|securemode=2, signmethod=sha256, timestamp=1548753362502|");
    REQUIRE(f);
    CHECK(f->raw_client_id == "123456");
    CHECK(f->secure_mode == 2);
    CHECK(f->timestamp == "1548753362502");

    // The raw part is byte-exact, spaces and extra info included, and not length-limited here
    // (Example B's raw id with extra info is 66 characters).
    f = parse_mqtt_client_id(" id {ip=1.2.3.4}|securemode=3,signmethod=md5,timestamp=1|");
    REQUIRE(f);
    CHECK(f->raw_client_id == " id {ip=1.2.3.4}");
    f = parse_mqtt_client_id("tPbZGCdmaE{ip=192.168.1.10,version=enos-mqtt-2.2.16,compress=GZIP}"
                             "|securemode=2,signmethod=sha256,timestamp=1548753362502|");
    REQUIRE(f);
    CHECK(f->raw_client_id.size() == 66);
}

TEST_CASE("parse_mqtt_client_id is strict about the section", "[unit][credentials]") {
    struct Case {
        std::string_view input, detail;
    };
    const Case cases[] = {
        {"", "client id has no '|securemode=...|' section"},
        {"plainclientid", "client id has no '|securemode=...|' section"},
        {"|securemode=2,signmethod=sha256,timestamp=1|", "raw client id (before the first '|') is empty"},
        {"id|", "client id section is not closed by a final '|'"},
        {"id|securemode=2,signmethod=sha256,timestamp=1", "client id section is not closed by a final '|'"},
        {"id|securemode=2,signmethod=sha256,timestamp=1|x", "client id section is not closed by a final '|'"},
        {"id|securemode=2|signmethod=sha256,timestamp=1|", "client id has more than two '|'"},
        {"id||", "client id item '' has no '='"},
        {"id|securemode=2,,signmethod=sha256,timestamp=1|", "client id item '' has no '='"},
        {"id|securemode=2,signmethod=sha256,timestamp=1,|", "client id item '' has no '='"},
        {"id|securemode=2,signmethod=sha256|", "client id has no timestamp"},
        {"id|securemode=2,timestamp=1|", "client id has no signmethod"},
        {"id|signmethod=sha256,timestamp=1|", "client id has no securemode"},
        {"id|securemode=,signmethod=sha256,timestamp=1|", "client id item 'securemode' has no value"},
        {"id|securemode=1,signmethod=sha256,timestamp=1|", "securemode '1' is not 2, 3 or 4"},
        {"id|securemode=22,signmethod=sha256,timestamp=1|", "securemode '22' is not 2, 3 or 4"},
        {"id|securemode=two,signmethod=sha256,timestamp=1|", "securemode 'two' is not 2, 3 or 4"},
        {"id|securemode=2,signmethod=sha256,timestamp=1,lang=en|", "unknown key 'lang' in client id"},
        {"id|SecureMode=2,signmethod=sha256,timestamp=1|", "unknown key 'SecureMode' in client id"},
        {"id|securemode=2,securemode=2,signmethod=sha256,timestamp=1|", "key securemode appears twice in client id"},
        {"id|securemode=2,signmethod=sha256,timestamp=1a|", "timestamp must be decimal digits"},
        {"id|securemode=2,signmethod=sha256,timestamp=1.|", "timestamp must be decimal digits"},
        {"id|securemode=2,signmethod=sha256,timestamp=.5|", "timestamp must be decimal digits"},
        {"id|securemode=2,signmethod=sha256,timestamp=-5|", "timestamp must be decimal digits"},
    };
    for (const Case& c : cases) {
        INFO(std::string(c.input));
        auto f = parse_mqtt_client_id(c.input);
        REQUIRE_FALSE(f);
        CHECK(f.error() == errc::invalid_argument);
        CHECK(f.error().detail == c.detail);
    }
    auto f = parse_mqtt_client_id("id|securemode=2,signmethod=sha512,timestamp=1|");
    REQUIRE_FALSE(f);
    CHECK(f.error() == errc::unsupported_sign_method);
}

TEST_CASE("parse_mqtt_username is strict", "[unit][credentials]") {
    auto u = parse_mqtt_username("tPbZGCdmaE&KV315idW");
    REQUIRE(u);
    CHECK(u->device_key == "tPbZGCdmaE");
    CHECK(u->product_key == "KV315idW");

    struct Case {
        std::string_view input, detail;
    };
    const Case cases[] = {
        {"", "username has no '&' (expected dk&pk)"},
        {"tPbZGCdmaE", "username has no '&' (expected dk&pk)"},
        {"a&b&c", "username has more than one '&'"},
        {"&pk", "device key in username is empty"},
        {"dk&", "product key in username is empty"},
        {"d k&pk", "device key in username contains white space or a control character"},
        {"dk&pk ", "product key in username contains white space or a control character"},
        {"dk&p/k", "product key in username contains '/'"},
    };
    for (const Case& c : cases) {
        INFO(std::string(c.input));
        auto r = parse_mqtt_username(c.input);
        REQUIRE_FALSE(r);
        CHECK(r.error() == errc::invalid_argument);
        CHECK(r.error().detail == c.detail);
    }
}
