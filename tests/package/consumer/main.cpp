#include <enos/device/core/credentials.hpp>
#include <enos/device/core/version.hpp>

#include <cstdio>
#include <cstring>

int main() {
    enos::device::CredentialInput in;
    in.product_key = "KV315idW";
    in.device_key = "tPbZGCdmaE";
    in.secret = "M3yy874uGY8INjEGddTR";
    in.client_id = "123456";
    in.timestamp = "1548753362502";
    auto creds = enos::device::make_connect_credentials(in);
    if (!creds) return 1;
    std::printf("library %s password %s\n", enos::device::library_version(), creds->password.c_str());
    return creds->password == "a3c438ddcb6eaa0cf07ad1c36655245ccdd67aa1917e4cc4eff57bf6f464abff" ? 0 : 1;
}
