// Firmware file digests with mbedTLS (md5 and sha256, the sign methods of OTA upgrades) and the
// checks of a downloaded file against the upgrade's sign and size.
#include <enos/device/client/ota.hpp>
#include <enos/device/core/detail/hex.hpp>

#include <mbedtls/md.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <vector>

namespace enos::device {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

const mbedtls_md_info_t* md_info_of(std::string_view sign_method) {
    const std::string name = lower(sign_method);
    if (name == "md5") return mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    if (name == "sha256" || name == "sha-256") return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return nullptr;
}

Error verification_error(std::string detail) {
    return Error{make_error_code(OtaFailure::verification_failed), std::move(detail)};
}

class OtaCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "enos.ota"; }
    std::string message(int value) const override {
        switch (static_cast<OtaFailure>(value)) {
        case OtaFailure::upgrade_failed: return "upgrade failed";
        case OtaFailure::download_failed: return "firmware download failed";
        case OtaFailure::verification_failed: return "firmware verification failed";
        case OtaFailure::write_failed: return "firmware install failed";
        case OtaFailure::ignored: return "upgrade ignored by the device";
        }
        return "upgrade failed (step " + std::to_string(value) + ")";
    }
};

} // namespace

const std::error_category& ota_category() noexcept {
    static const OtaCategory category;
    return category;
}

struct FirmwareDigest::Impl {
    mbedtls_md_context_t context;
    const mbedtls_md_info_t* info = nullptr;
    Impl() { mbedtls_md_init(&context); }
    ~Impl() { mbedtls_md_free(&context); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
};

FirmwareDigest::FirmwareDigest(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
FirmwareDigest::FirmwareDigest(FirmwareDigest&&) noexcept = default;
FirmwareDigest& FirmwareDigest::operator=(FirmwareDigest&&) noexcept = default;
FirmwareDigest::~FirmwareDigest() = default;

Result<FirmwareDigest> FirmwareDigest::create(std::string_view sign_method) {
    const mbedtls_md_info_t* info = md_info_of(sign_method);
    if (!info)
        return Error{errc::unsupported_sign_method, "firmware sign method '" +
                                                        std::string(sign_method.substr(0, 32)) +
                                                        "' is not md5 or sha256"};
    auto impl = std::make_unique<Impl>();
    impl->info = info;
    if (mbedtls_md_setup(&impl->context, info, 0) != 0 || mbedtls_md_starts(&impl->context) != 0)
        return Error{errc::invalid_argument, "mbedTLS could not set up the digest"};
    return FirmwareDigest(std::move(impl));
}

void FirmwareDigest::update(std::string_view bytes) noexcept {
    if (!impl_ || bytes.empty()) return;
    (void)mbedtls_md_update(&impl_->context, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

std::string FirmwareDigest::finish_hex() {
    if (!impl_) return {};
    std::vector<unsigned char> digest(mbedtls_md_get_size(impl_->info));
    (void)mbedtls_md_finish(&impl_->context, digest.data());
    (void)mbedtls_md_starts(&impl_->context);
    std::string hex;
    detail::append_hex(hex, digest.data(), digest.size(), false);
    return hex;
}

Status check_firmware_sign(const Firmware& firmware, std::string_view hex_digest) {
    if (firmware.sign.empty())
        return verification_error("the upgrade carries no sign to verify the file with");
    if (!md_info_of(firmware.sign_method))
        return verification_error("sign method '" + firmware.sign_method.substr(0, 32) +
                                  "' is not md5 or sha256");
    if (lower(firmware.sign) != lower(hex_digest))
        return verification_error(lower(firmware.sign_method) + " of the file is " + std::string(hex_digest) +
                                  ", the upgrade's sign is " + firmware.sign.substr(0, 128));
    return {};
}

Status verify_firmware_file(const std::string& path, const Firmware& firmware) {
    Result<FirmwareDigest> digest = FirmwareDigest::create(firmware.sign_method);
    if (!digest) return check_firmware_sign(firmware, {}); // names the unsupported method as -3
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error{std::error_code(errno ? errno : ENOENT, std::generic_category()), "cannot open " + path};
    std::vector<char> buffer(64 * 1024);
    std::int64_t size = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const std::streamsize got = in.gcount();
        if (got <= 0) break;
        digest->update({buffer.data(), static_cast<std::size_t>(got)});
        size += got;
    }
    if (in.bad()) return Error{std::error_code(EIO, std::generic_category()), "cannot read " + path};
    if (firmware.file_size && *firmware.file_size != size)
        return verification_error("the file has " + std::to_string(size) + " bytes, the upgrade says " +
                                  std::to_string(*firmware.file_size));
    return check_firmware_sign(firmware, digest->finish_hex());
}

} // namespace enos::device
