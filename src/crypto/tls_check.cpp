#include "crypto/tls_check.hpp"

#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>
#include <string>

#if MBEDTLS_VERSION_MAJOR >= 3
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#endif

namespace enos::device::detail {
namespace {

struct Certificate {
    mbedtls_x509_crt crt;
    Certificate() { mbedtls_x509_crt_init(&crt); }
    ~Certificate() { mbedtls_x509_crt_free(&crt); }
    Certificate(const Certificate&) = delete;
    Certificate& operator=(const Certificate&) = delete;
};

struct Key {
    mbedtls_pk_context pk;
    Key() { mbedtls_pk_init(&pk); }
    ~Key() { mbedtls_pk_free(&pk); }
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
};

std::string mbedtls_text(int code) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "-0x%04x", static_cast<unsigned>(-code));
    return std::string("mbedTLS error ") + hex;
}

// Seconds since the epoch of an X.509 time (UTC), without the local time zone getting involved.
std::time_t to_epoch(const mbedtls_x509_time& t) {
    auto days_from_civil = [](long y, long m, long d) { // proleptic Gregorian, 1970-01-01 = 0
        y -= m <= 2;
        const long era = (y >= 0 ? y : y - 399) / 400;
        const long yoe = y - era * 400;
        const long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
    };
    return static_cast<std::time_t>(days_from_civil(t.year, t.mon, t.day) * 86400L + t.hour * 3600L +
                                    t.min * 60L + t.sec);
}

std::string utc_text(std::time_t when) {
    std::tm tm{};
    gmtime_r(&when, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return text;
}

Status check_validity(const mbedtls_x509_crt& crt, const std::string& what, std::time_t now) {
#if MBEDTLS_VERSION_MAJOR >= 3
    const mbedtls_x509_time& from = crt.MBEDTLS_PRIVATE(valid_from);
    const mbedtls_x509_time& to = crt.MBEDTLS_PRIVATE(valid_to);
#else
    const mbedtls_x509_time& from = crt.valid_from;
    const mbedtls_x509_time& to = crt.valid_to;
#endif
    const std::string clock = " (the device clock says " + utc_text(now) + "; check the device clock)";
    if (now < to_epoch(from))
        return Error{errc::certificate_not_yet_valid,
                     what + " is not valid before " + utc_text(to_epoch(from)) + clock};
    if (now > to_epoch(to))
        return Error{errc::certificate_expired, what + " expired on " + utc_text(to_epoch(to)) + clock};
    return {};
}

Status load_certificates(Certificate& cert, const std::string& path, const std::string& what) {
    if (std::FILE* f = std::fopen(path.c_str(), "rb"))
        std::fclose(f);
    else
        return Error{errc::tls_error, "cannot read " + what + " file '" + path + "'"};
    if (int rc = mbedtls_x509_crt_parse_file(&cert.crt, path.c_str()); rc != 0)
        return Error{errc::tls_error,
                     what + " file '" + path + "' holds no valid PEM certificate (" + mbedtls_text(rc) + ")"};
    return {};
}

int parse_key(Key& key, const std::string& path, const std::string& password) {
    const char* pwd = password.empty() ? nullptr : password.c_str();
#if MBEDTLS_VERSION_MAJOR >= 3
    return mbedtls_pk_parse_keyfile(&key.pk, path.c_str(), pwd, mbedtls_ctr_drbg_random, nullptr);
#else
    return mbedtls_pk_parse_keyfile(&key.pk, path.c_str(), pwd);
#endif
}

int check_pair(const mbedtls_pk_context& pub, const mbedtls_pk_context& prv) {
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0);
    if (rc == 0) rc = mbedtls_pk_check_pair(&pub, &prv, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return rc;
#else
    return mbedtls_pk_check_pair(&pub, &prv);
#endif
}

} // namespace

Status check_tls_files(const TlsOptions& tls, std::time_t now) {
    if (!tls.insecure_skip_server_verification && tls.ca_file.empty())
        return Error{errc::invalid_argument, "tls.ca_file is required to verify the broker"};
    if (!tls.ca_file.empty()) {
        Certificate ca;
        if (Status s = load_certificates(ca, tls.ca_file, "CA certificate"); !s) return s;
        // A CA that is not yet valid almost always means the device clock is wrong.
        if (Status s = check_validity(ca.crt, "CA certificate '" + tls.ca_file + "'", now);
            !s && s.error() == errc::certificate_not_yet_valid)
            return s;
    }
    if (tls.cert_file.empty() != tls.key_file.empty())
        return Error{errc::invalid_argument, "mutual TLS needs both tls.cert_file and tls.key_file"};
    if (tls.cert_file.empty()) return {};

    Certificate cert;
    if (Status s = load_certificates(cert, tls.cert_file, "device certificate"); !s) return s;
    if (Status s = check_validity(cert.crt, "device certificate '" + tls.cert_file + "'", now); !s) return s;
    Key key;
    if (int rc = parse_key(key, tls.key_file, tls.key_password); rc != 0) {
        const bool password_issue =
            rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
        return Error{errc::tls_error, "cannot read the private key file '" + tls.key_file + "'" +
                                          (password_issue ? " (missing or wrong tls.key_password)" : "") +
                                          " (" + mbedtls_text(rc) + ")"};
    }
    if (check_pair(cert.crt.pk, key.pk) != 0)
        return Error{errc::key_mismatch, "the private key '" + tls.key_file +
                                             "' does not belong to the certificate '" + tls.cert_file + "'"};
    return {};
}

} // namespace enos::device::detail
