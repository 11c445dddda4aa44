// Dynamic activation (securemode 3): a device that was built knowing only its product's secret logs
// in once with it, receives its own device secret from the cloud, keeps it in a file, and from then
// on logs in with that secret (securemode 2). Run it twice: the first run activates, the second one
// finds the stored secret and connects directly.
//
//   dynamic_activation --url tcp://127.0.0.1:11883 --product-key PK --device-key DK
//                      --product-secret PS [--secret-file FILE]
//
// Options may also come from ENOS_URL, ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY, ENOS_PRODUCT_SECRET.
#include <enos/device.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
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

bool file_exists(const std::string& path) {
    return std::ifstream(path).good();
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "tcp://127.0.0.1:11883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    options.product_secret = setting(argc, argv, "--product-secret", "ENOS_PRODUCT_SECRET");
    // The SDK writes the issued secret here (mode 0600) before acknowledging the activation, and
    // reads it back on every later connect. Without a file the secret would be lost at exit, and an
    // activated device cannot be activated again.
    options.device_secret_file = setting(argc, argv, "--secret-file", "ENOS_SECRET_FILE", "device_secret");
    const bool already_activated = file_exists(options.device_secret_file);

    auto client = DeviceClient::create(options);
    if (!client) {
        std::fprintf(stderr, "cannot create the client: %s\n", client.error().message().c_str());
        return 2;
    }
    client->on_connection([](const ConnectionEvent& event) {
        if (event.kind == ConnectionEventKind::activated)
            std::printf("activated: the device secret is stored, later logins use securemode 2\n");
    });

    std::printf(already_activated ? "found a stored device secret in %s: logging in with it\n"
                                  : "no device secret in %s yet: activating with the product secret\n",
                options.device_secret_file.c_str());
    // With securemode 3, connect() performs the whole activation: it receives the secret, stores it,
    // acknowledges it and reconnects with securemode 2 before it returns.
    if (Status connected = client->connect(); !connected) {
        std::fprintf(stderr, "cannot connect: %s\n", connected.error().message().c_str());
        return 3;
    }
    std::printf("connected as %s/%s\n", options.product_key.c_str(), options.device_key.c_str());

    auto reply = client->send(up::MeasurepointPost{{{"temperature", 21.5}}});
    if (!reply) {
        std::fprintf(stderr, "post failed: %s\n", reply.error().message().c_str());
        return 4;
    }
    std::printf("posted a measure point (reply id %s)\n", reply->id.c_str());
    (void)client->disconnect();
    return 0;
}
