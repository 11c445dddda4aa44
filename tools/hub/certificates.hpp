// Certificates for the hub's TLS listener, made with the openssl command-line tool at start time:
// a local CA (kept in the run directory), the server certificate, and device certificates for
// mutual TLS. Keys are EC P-256 and written with mode 0600. Failures throw std::runtime_error.
#pragma once

#include <string>
#include <vector>

namespace enos::hub {

class CertificateTool {
public:
    /// Finds openssl and writes its configuration into `certs_dir` (created if needed).
    explicit CertificateTool(const std::string& certs_dir);

    void make_ca(const std::string& cert, const std::string& key) const;

    /// Server certificate for 127.0.0.1 and localhost, signed by the CA.
    void issue_server(const std::string& ca_cert, const std::string& ca_key, const std::string& cert,
                      const std::string& key) const;

    /// Device certificate with subject O=product_key, CN=device_key, signed by the CA.
    void issue_device(const std::string& product_key, const std::string& device_key,
                      const std::string& ca_cert, const std::string& ca_key, const std::string& cert,
                      const std::string& key, int days) const;

private:
    void issue(const std::string& subject, const char* extensions, const std::string& ca_cert,
               const std::string& ca_key, const std::string& cert, const std::string& key, int days) const;
    void run(std::vector<std::string> args) const;

    std::string binary_, conf_;
};

} // namespace enos::hub
