// Proves that the protocol core is self-contained: this program is built with nothing but the
// project's include directory and RapidJSON, and links only the standard library.
#if __has_include(<enos/device/core.hpp>)
#include <enos/device/core.hpp>
#endif
#include <enos/device/core/backoff.hpp>
#include <enos/device/core/credentials.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/sign.hpp>
#include <enos/device/core/topics.hpp>

#include <cstdio>
#include <string>

int main() {
    using namespace enos::device;
    // docs/protocol.md §1.5, Example A.
    CredentialInput in;
    in.product_key = "KV315idW";
    in.device_key = "tPbZGCdmaE";
    in.secret = "M3yy874uGY8INjEGddTR";
    in.client_id = "123456";
    in.timestamp = "1548753362502";
    auto c = make_connect_credentials(in);
    if (!c) {
        std::fprintf(stderr, "make_connect_credentials failed: %s\n", c.error().message().c_str());
        return 1;
    }
    int failures = 0;
    const auto expect = [&failures](const std::string& got, const char* want) {
        if (got != want) {
            std::fprintf(stderr, "expected %s\n     got %s\n", want, got.c_str());
            ++failures;
        }
    };
    expect(c->client_id, "123456|securemode=2,signmethod=sha256,timestamp=1548753362502|");
    expect(c->username, "tPbZGCdmaE&KV315idW");
    expect(c->password, "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff");
    expect(reply_topic(UpMethod::measurepoint_post, "KV315idW", "tPbZGCdmaE"),
           "/sys/KV315idW/tPbZGCdmaE/thing/measurepoint/post_reply");
    if (failures == 0) std::puts("core headers: Example A reproduced");
    return failures == 0 ? 0 : 1;
}
