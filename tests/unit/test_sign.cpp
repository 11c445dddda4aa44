// Signatures: every worked example of docs/protocol.md §1.5 and the sub-device examples of §3.11.
#include <enos/device/core/credentials.hpp>
#include <enos/device/core/sign.hpp>

#include "support/catch.hpp"

#include <string>

using namespace enos::device;

namespace {

// Example A (§1.5): values from the EnOS nonsdk_login page.
constexpr SignParams example_a{"123456", "tPbZGCdmaE", "KV315idW", "1548753362502"};
constexpr std::string_view example_a_secret = "M3yy874uGY8INjEGddTR";

// §3.11 sub-device.
constexpr std::string_view sub_secret = "subSecret0123456789";

} // namespace

TEST_CASE("sign_input concatenates the sorted keys, values and the secret", "[unit][sign]") {
    CHECK(sign_input(example_a, example_a_secret) ==
          "clientId123456deviceKeytPbZGCdmaEproductKeyKV315idWtimestamp1548753362502M3yy874uGY8INjEGddTR");
}

TEST_CASE("Example A: sha256 lower and upper, sha1 upper, md5 lower", "[unit][sign]") {
    CHECK(sign(example_a, example_a_secret) == "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff");
    CHECK(sign(example_a, example_a_secret, SignMethod::sha256, HexCase::lower) ==
          "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff");
    CHECK(sign(example_a, example_a_secret, SignMethod::sha256, HexCase::upper) ==
          "A3C438DDCB6EAA0CF07AD1C36655245CCDD67AA1917E4CC4EFF57BF6F464ABFF");
    CHECK(sign(example_a, example_a_secret, SignMethod::sha1) == "E42C1186C3BFFE98E1EA8AB320CD800D579212AA");
    CHECK(sign(example_a, example_a_secret, SignMethod::sha1, HexCase::lower) ==
          "e42c1186c3bffe98e1ea8ab320cd800d579212aa");
    CHECK(sign(example_a, example_a_secret, SignMethod::md5) == "10af8dc95019a1fe05cd146a9e64778b");
    CHECK(sign(example_a, example_a_secret, SignMethod::md5, HexCase::upper) == "10AF8DC95019A1FE05CD146A9E64778B");
}

TEST_CASE("Example A through make_connect_credentials", "[unit][sign]") {
    CredentialInput in;
    in.product_key = "KV315idW";
    in.device_key = "tPbZGCdmaE";
    in.secret = std::string(example_a_secret);
    in.client_id = "123456";
    in.timestamp = "1548753362502";
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "123456|securemode=2,signmethod=sha256,timestamp=1548753362502|");
    CHECK(c->username == "tPbZGCdmaE&KV315idW");
    CHECK(c->password == "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff");

    in.hex_case = HexCase::upper;
    CHECK(make_connect_credentials(in)->password == "A3C438DDCB6EAA0CF07AD1C36655245CCDD67AA1917E4CC4EFF57BF6F464ABFF");

    in.hex_case = HexCase::platform;
    in.method = SignMethod::sha1;
    c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "123456|securemode=2,signmethod=sha1,timestamp=1548753362502|");
    CHECK(c->password == "E42C1186C3BFFE98E1EA8AB320CD800D579212AA");

    in.method = SignMethod::md5;
    c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "123456|securemode=2,signmethod=md5,timestamp=1548753362502|");
    CHECK(c->password == "10af8dc95019a1fe05cd146a9e64778b");
}

TEST_CASE("Example B: extra info is part of the signed client id", "[unit][sign]") {
    CredentialInput in;
    in.product_key = "KV315idW";
    in.device_key = "tPbZGCdmaE";
    in.secret = std::string(example_a_secret);
    in.timestamp = "1548753362502";
    in.extra_info = "{ip=192.168.1.10,version=enos-mqtt-2.2.16,compress=GZIP}";
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "tPbZGCdmaE{ip=192.168.1.10,version=enos-mqtt-2.2.16,compress=GZIP}"
                          "|securemode=2,signmethod=sha256,timestamp=1548753362502|");
    CHECK(c->password == "0bdf125f7a910cd87d06ad98b022537c42803e7548ca3fe5a0305d6f71bee233");

    const SignParams params{"tPbZGCdmaE{ip=192.168.1.10,version=enos-mqtt-2.2.16,compress=GZIP}", "tPbZGCdmaE",
                            "KV315idW", "1548753362502"};
    CHECK(sign_input(params, example_a_secret) ==
          "clientIdtPbZGCdmaE{ip=192.168.1.10,version=enos-mqtt-2.2.16,compress=GZIP}deviceKeytPbZGCdmaE"
          "productKeyKV315idWtimestamp1548753362502M3yy874uGY8INjEGddTR");
    CHECK(sign(params, example_a_secret) == "0bdf125f7a910cd87d06ad98b022537c42803e7548ca3fe5a0305d6f71bee233");
}

TEST_CASE("Example C: pk.dk client id and the fixed 2050 timestamp", "[unit][sign]") {
    const SignParams params{"KV315idW.tPbZGCdmaE", "tPbZGCdmaE", "KV315idW", "2524608000000"};
    CHECK(sign_input(params, example_a_secret) == "clientIdKV315idW.tPbZGCdmaEdeviceKeytPbZGCdmaEproductKeyKV315idW"
                                                  "timestamp2524608000000M3yy874uGY8INjEGddTR");
    CHECK(sign(params, example_a_secret) == "e86a6aebc68b108a2ba60510f55bf1e3f780a6e9403a9c12f2a02eda431fd1a0");
    CHECK(sign(params, example_a_secret, SignMethod::sha256, HexCase::upper) ==
          "E86A6AEBC68B108A2BA60510F55BF1E3F780A6E9403A9C12F2A02EDA431FD1A0");
}

TEST_CASE("Example D: dynamic activation, securemode 3", "[unit][sign]") {
    CredentialInput in;
    in.product_key = "pkDyn001";
    in.device_key = "dev001";
    in.secret = "prodSecretXYZ";
    in.mode = SecureMode::dynamic_activation;
    in.timestamp = "1700000000000";
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "dev001|securemode=3,signmethod=sha256,timestamp=1700000000000|");
    CHECK(c->username == "dev001&pkDyn001");
    CHECK(c->password == "64fa8d649f16b08fa912d628863fff3fcf2dba36a2737f35c621c54451f27b26");
    CHECK(sign_input({"dev001", "dev001", "pkDyn001", "1700000000000"}, "prodSecretXYZ") ==
          "clientIddev001deviceKeydev001productKeypkDyn001timestamp1700000000000prodSecretXYZ");
}

TEST_CASE("Example E: message integration, securemode 4", "[unit][sign]") {
    CredentialInput in;
    in.product_key = "pkInt001";
    in.device_key = "ignored-in-mode-4";
    in.secret = "prodSecretXYZ";
    in.mode = SecureMode::integration;
    in.timestamp = "1700000000000";
    auto c = make_connect_credentials(in);
    REQUIRE(c);
    CHECK(c->client_id == "pkInt001|securemode=4,signmethod=sha256,timestamp=1700000000000|");
    CHECK(c->username == "%channel%&pkInt001");
    CHECK(c->password == "81c6047f7526f36a32fc9edc68eb56f20f74c453eb149c7be6e83d1e060901f4");
    CHECK(sign_input({"pkInt001", integration_device_key, "pkInt001", "1700000000000"}, "prodSecretXYZ") ==
          "clientIdpkInt001deviceKey%channel%productKeypkInt001timestamp1700000000000prodSecretXYZ");
}

TEST_CASE("Sub-device signatures of topo add, login and batch login (§3.10-3.11)", "[unit][sign]") {
    const SignParams login{"subPK01.subDev01.1700000000000", "subDev01", "subPK01", "1700000000000"};
    CHECK(sign_input(login, sub_secret) == "clientIdsubPK01.subDev01.1700000000000deviceKeysubDev01"
                                           "productKeysubPK01timestamp1700000000000subSecret0123456789");
    CHECK(sign(login, sub_secret) == "430621b7aec27fb726930f1d8dae905cf5fc7db564165df1ee1271c43653e653");

    const SignParams batch{"login.batch", "subDev01", "subPK01", "1700000000000"};
    CHECK(sign_input(batch, sub_secret) ==
          "clientIdlogin.batchdeviceKeysubDev01productKeysubPK01timestamp1700000000000subSecret0123456789");
    CHECK(sign(batch, sub_secret) == "b62608b4cb184fce774556f5dcb51348e37163d0664a2246b063f0e425f42cdb");
}

TEST_CASE("parse_sign_method: names, aliases, case and white space", "[unit][sign]") {
    CHECK(*parse_sign_method("sha256") == SignMethod::sha256);
    CHECK(*parse_sign_method("SHA256") == SignMethod::sha256);
    CHECK(*parse_sign_method(" Sha256\t") == SignMethod::sha256);
    CHECK(*parse_sign_method("hmacsha256") == SignMethod::sha256);
    CHECK(*parse_sign_method("sha1") == SignMethod::sha1);
    CHECK(*parse_sign_method("hmacSha1") == SignMethod::sha1);
    CHECK(*parse_sign_method("HMACSHA1") == SignMethod::sha1);
    CHECK(*parse_sign_method("md5") == SignMethod::md5);
    CHECK(*parse_sign_method("hmacmd5") == SignMethod::md5);

    for (std::string_view bad : {"", "   ", "sha512", "sha-256", "hmac", "sha 256", "md4", "sha2566"}) {
        INFO(std::string(bad));
        auto r = parse_sign_method(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error() == errc::unsupported_sign_method);
    }
    CHECK(parse_sign_method("").error().detail == "sign method is empty");
    CHECK(parse_sign_method("sha512").error().detail.find("'sha512'") != std::string::npos);
}

TEST_CASE("hmac* names hash plainly, exactly like the plain names", "[unit][sign]") {
    // hmacsha256 resolves to the same method, so Example A signed with it is the plain digest.
    CHECK(sign(example_a, example_a_secret, *parse_sign_method("hmacsha256")) ==
          "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff");
    CHECK(sign(example_a, example_a_secret, *parse_sign_method("hmacsha1")) ==
          "E42C1186C3BFFE98E1EA8AB320CD800D579212AA");
}

TEST_CASE("to_string gives the canonical wire names", "[unit][sign]") {
    CHECK(to_string(SignMethod::sha256) == "sha256");
    CHECK(to_string(SignMethod::sha1) == "sha1");
    CHECK(to_string(SignMethod::md5) == "md5");
    CHECK(to_string(static_cast<SignMethod>(42)).empty());
    CHECK(hex_digest(static_cast<SignMethod>(42), "x", false).empty());
}

TEST_CASE("hex case: platform is lower for sha256/md5 and upper for sha1", "[unit][sign]") {
    CHECK_FALSE(uses_upper_hex(SignMethod::sha256, HexCase::platform));
    CHECK_FALSE(uses_upper_hex(SignMethod::md5, HexCase::platform));
    CHECK(uses_upper_hex(SignMethod::sha1, HexCase::platform));
    for (auto m : {SignMethod::sha256, SignMethod::sha1, SignMethod::md5}) {
        CHECK(uses_upper_hex(m, HexCase::upper));
        CHECK_FALSE(uses_upper_hex(m, HexCase::lower));
    }
}

TEST_CASE("signature_equals ignores case, nothing else", "[unit][sign]") {
    const std::string lower = "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff";
    const std::string upper = "A3C438DDCB6EAA0CF07AD1C36655245CCDD67AA1917E4CC4EFF57BF6F464ABFF";
    CHECK(signature_equals(lower, upper));
    CHECK(signature_equals(upper, lower));
    CHECK(signature_equals(lower, lower));
    CHECK(signature_equals("", ""));
    CHECK_FALSE(signature_equals(lower, lower.substr(1)));
    CHECK_FALSE(signature_equals(lower, ""));
    std::string last = lower;
    last.back() = 'e';
    CHECK_FALSE(signature_equals(lower, last));
    std::string first = upper;
    first.front() = 'B';
    CHECK_FALSE(signature_equals(lower, first));
    // Only letters fold: '@' (0x40) and '`' (0x60) differ by the case bit but are not letters,
    // nor are '[' (0x5b) and '{' (0x7b).
    CHECK_FALSE(signature_equals("@", "`"));
    CHECK_FALSE(signature_equals("[", "{"));
    CHECK_FALSE(signature_equals("1", "\x11"));
    CHECK(signature_equals("AZ", "az"));
}
