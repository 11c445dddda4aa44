#include "certificates.hpp"

#include "processes.hpp"
#include "simulator/common.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace enos::hub {

namespace {

constexpr const char* openssl_conf = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = enos-hub
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

std::string random_serial() {
    char bytes[8];
    sim::random_bytes(bytes, sizeof bytes);
    bytes[0] = static_cast<char>(bytes[0] & 0x7f); // positive, as a serial must be
    return "0x" + sim::to_hex(std::string_view(bytes, sizeof bytes));
}

// Characters with a meaning in openssl's "-subj /O=../CN=.." syntax are escaped.
std::string subject_value(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '/' || c == '\\' || c == '=' || c == '+' || c == ',') out += '\\';
        out += c;
    }
    return out;
}

} // namespace

CertificateTool::CertificateTool(const std::string& certs_dir) : conf_(certs_dir + "/openssl.cnf") {
    auto found = find_in_path("openssl", {"/usr/bin", "/usr/local/bin"});
    if (!found) throw std::runtime_error("openssl not found: install it (Debian: apt-get install openssl)");
    binary_ = *found;
    std::filesystem::create_directories(certs_dir);
    // Private keys live here: the directory is the owner's alone, like the run directory.
    ::chmod(certs_dir.c_str(), 0700);
    std::ofstream(conf_, std::ios::trunc) << openssl_conf;
}

void CertificateTool::make_ca(const std::string& cert, const std::string& key) const {
    run({"req",         "-config",  conf_,
         "-x509",       "-new",     "-newkey",
         "ec",          "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes",      "-keyout",  key,
         "-out",        cert,       "-days",
         "3650",        "-subj",    "/CN=enos-hub local CA",
         "-extensions", "ca_ext"});
    ::chmod(key.c_str(), 0600);
}

void CertificateTool::issue_server(const std::string& ca_cert, const std::string& ca_key,
                                   const std::string& cert, const std::string& key) const {
    issue("/CN=localhost", "server_ext", ca_cert, ca_key, cert, key, 825);
}

void CertificateTool::issue_device(const std::string& product_key, const std::string& device_key,
                                   const std::string& ca_cert, const std::string& ca_key,
                                   const std::string& cert, const std::string& key, int days) const {
    issue("/O=" + subject_value(product_key) + "/CN=" + subject_value(device_key), "client_ext", ca_cert,
          ca_key, cert, key, days);
}

void CertificateTool::issue(const std::string& subject, const char* extensions, const std::string& ca_cert,
                            const std::string& ca_key, const std::string& cert, const std::string& key,
                            int days) const {
    const std::string csr = cert + ".csr";
    run({"req", "-config", conf_, "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", csr, "-subj", subject});
    ::chmod(key.c_str(), 0600);
    run({"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", random_serial(),
         "-days", std::to_string(days), "-out", cert, "-extfile", conf_, "-extensions", extensions});
    std::filesystem::remove(csr);
}

void CertificateTool::run(std::vector<std::string> args) const {
    args.insert(args.begin(), binary_);
    std::string output;
    if (run_tool(args, output) != 0) throw std::runtime_error("openssl " + args[1] + " failed:\n" + output);
}

} // namespace enos::hub
