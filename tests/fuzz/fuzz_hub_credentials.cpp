// The hub plugin's reading of CONNECT credentials (tools/hub/plugin/login_claim.hpp): client id and
// username of any client that reaches the broker, before any registry lookup. Input: the client id,
// a '\n', then the username.
//
// Invariants: an accepted claim has a role that matches its securemode, keys that are safe in topics
// and ACLs (non-empty, no '/', '+', '#', '&', '|', white space or control characters) and that give
// back the username; the canonical client id of the claim reads back the same; and credentials the
// SDK builds for that identity are read back and verified by the hub.
#include "fuzz_support.hpp"

#include "login_claim.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/sign.hpp>

namespace {

namespace dev = enos::device;
using namespace enos::hub::plugin;
using enos::fuzz::require;

bool safe_key(const std::string& key) {
    return dev::detail::check_key("key", key).ok();
}

Role role_of(int secure_mode) {
    return secure_mode == 2 ? Role::device : secure_mode == 3 ? Role::activation : Role::integration;
}

void check_canonical_form(const LoginClaim& claim, std::string_view username) {
    const dev::ClientIdFields& f = claim.fields;
    const std::string canonical = f.raw_client_id + "|securemode=" + std::to_string(f.secure_mode) +
                                  ",signmethod=" + std::string(dev::to_string(f.method)) +
                                  ",timestamp=" + f.timestamp + "|";
    auto again = parse_login_claim(canonical, username);
    require(again.ok(), "the canonical client id of a claim parses");
    require(again->fields.secure_mode == f.secure_mode && again->fields.method == f.method &&
                again->fields.timestamp == f.timestamp && again->fields.raw_client_id == f.raw_client_id,
            "the canonical client id reads back the same fields");
}

/// What the SDK would send for this identity, the hub reads and verifies.
void check_sdk_agreement(const LoginClaim& claim) {
    const Identity& who = claim.identity;
    dev::CredentialInput in;
    in.product_key = who.product_key;
    in.device_key = who.role == Role::integration ? std::string() : who.device_key;
    in.secret = "fuzz-secret";
    in.mode = static_cast<dev::SecureMode>(who.secure_mode);
    in.method = claim.fields.method;
    in.client_id = who.raw_client_id;
    in.timestamp = claim.fields.timestamp;
    auto sent = dev::make_connect_credentials(in);
    if (!sent) return; // the SDK is stricter (64-character client id, integer timestamp)
    auto read = parse_login_claim(sent->client_id, sent->username);
    require(read.ok(), "the hub reads what the SDK sends");
    const dev::ClientIdFields& f = read->fields;
    const std::string expected =
        dev::sign({f.raw_client_id, read->identity.device_key, read->identity.product_key, f.timestamp},
                  in.secret, f.method);
    require(dev::signature_equals(sent->password, expected), "the hub verifies what the SDK signs");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = enos::fuzz::as_text(data, size);
    const std::size_t newline = input.find('\n');
    const std::string_view client_id = input.substr(0, newline);
    const std::string_view username =
        newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

    auto claim = parse_login_claim(client_id, username);
    if (!claim) {
        require(!claim.error().detail.empty(), "a refused login says why");
        return 0;
    }
    const Identity& who = claim->identity;
    require(who.role == role_of(who.secure_mode), "the role follows the securemode");
    require((who.device_key == dev::integration_device_key) == (who.role == Role::integration),
            "%channel% is the integration channel's device key and nobody else's");
    require(safe_key(who.product_key) && safe_key(who.device_key), "claimed keys are safe in topics");
    require(who.device_key + "&" + who.product_key == username, "the keys give back the username");
    require(!who.raw_client_id.empty() &&
                client_id.substr(0, who.raw_client_id.size()) == who.raw_client_id &&
                client_id[who.raw_client_id.size()] == '|',
            "the raw client id is the client id up to its first '|'");
    check_canonical_form(*claim, username);
    check_sdk_agreement(*claim);
    return 0;
}
