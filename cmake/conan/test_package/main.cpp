// Links the compiled library and the core: signs a CONNECT and builds a client (without connecting).
#include <enos/device.hpp>

#include <cstdio>

int main() {
    using namespace enos::device;
    CredentialInput in;
    in.product_key = "pk";
    in.device_key = "dk";
    in.secret = "secret";
    auto creds = make_connect_credentials(in);
    ClientOptions options;
    options.server_url = "tcp://127.0.0.1:11883";
    options.product_key = "pk";
    options.device_key = "dk";
    options.device_secret = "secret";
    auto client = DeviceClient::create(options);
    std::printf("enos-device %s: credentials %s, client %s\n", library_version(), creds ? "ok" : "failed",
                client ? "ok" : client.error().message().c_str());
    return creds && client ? 0 : 1;
}
