// Mutual TLS: the device checks the broker's certificate against a CA it trusts, and proves its own
// identity with a client certificate and key on top of the usual signed login (EnOS requires both).
//
//   mutual_tls --url ssl://127.0.0.1:18883 --ca ca.crt --cert device.crt --key device.key
//              --product-key PK --device-key DK --device-secret S
//
// Options may also come from ENOS_URL, ENOS_CA_FILE, ENOS_CERT_FILE, ENOS_KEY_FILE,
// ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY, ENOS_DEVICE_SECRET.
#include <enos/device.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace enos::device;

namespace {

/// The value after `--name` on the command line, else the environment variable, else `fallback`.
std::string setting(int argc, char** argv, std::string_view name, const char* env,
                    std::string fallback = {}) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name) return argv[i + 1];
    if (const char* value = std::getenv(env)) return value;
    return fallback;
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "ssl://127.0.0.1:18883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    options.device_secret = setting(argc, argv, "--device-secret", "ENOS_DEVICE_SECRET");
    // Server verification is on by default: the broker must present a certificate signed by this CA
    // and naming the host of the URL.
    options.tls.ca_file = setting(argc, argv, "--ca", "ENOS_CA_FILE");
    options.tls.cert_file = setting(argc, argv, "--cert", "ENOS_CERT_FILE");
    options.tls.key_file = setting(argc, argv, "--key", "ENOS_KEY_FILE");

    // create() already checks the TLS files: that they parse, that the certificate is valid now
    // (an "expired" or "not yet valid" error usually means the device clock is wrong) and that the
    // key belongs to the certificate. Those mistakes are reported here, not as a failed handshake.
    auto client = DeviceClient::create(options);
    if (!client) {
        std::fprintf(stderr, "cannot create the client: %s\n", client.error().message().c_str());
        return 2;
    }
    if (Status connected = client->connect(); !connected) {
        std::fprintf(stderr, "cannot connect: %s\n", connected.error().message().c_str());
        return 3;
    }
    std::printf("connected over mutual TLS to %s as %s/%s\n", options.server_url.c_str(),
                options.product_key.c_str(), options.device_key.c_str());

    auto reply = client->send(up::MeasurepointPost{{{"temperature", 21.5}}});
    if (!reply) {
        std::fprintf(stderr, "post failed: %s\n", reply.error().message().c_str());
        return 4;
    }
    std::printf("posted a measure point (reply id %s)\n", reply->id.c_str());
    (void)client->disconnect();
    return 0;
}
