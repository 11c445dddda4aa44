// A program using the installed compiled library (static or shared) the way an application does.
#include <enos/device.hpp>

#include <cstdio>
#include <cstring>

using namespace enos::device;

int main() {
    CredentialInput in;
    in.product_key = "KV315idW";
    in.device_key = "tPbZGCdmaE";
    in.secret = "M3yy874uGY8INjEGddTR";
    in.client_id = "123456";
    in.timestamp = "1548753362502";
    auto creds = make_connect_credentials(in);
    if (!creds) return 1;
    std::printf("library %s password %s\n", library_version(), creds->password.c_str());
    if (creds->password != "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff") return 1;
    if (std::strcmp(library_version(), ENOS_DEVICE_VERSION_STRING) != 0) return 1;

    ClientOptions options;
    options.server_url = "tcp://127.0.0.1:1";
    options.product_key = "pkTest";
    options.device_key = "dev1";
    // No secret: the library refuses, and its error code equals one made here (a shared library and
    // the program must share the error categories).
    auto refused = DeviceClient::create(options);
    if (refused || !(refused.error() == errc::missing_argument)) {
        std::puts("create() without a secret: expected errc::missing_argument");
        return 1;
    }
    options.device_secret = "devSecret1";
    auto client = DeviceClient::create(options);
    if (!client) {
        std::printf("create() failed: %s\n", client.error().message().c_str());
        return 1;
    }
    std::puts("DeviceClient created");
    return 0;
}
