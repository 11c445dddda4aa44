// OTA pieces without a broker: the firmware digests (mbedTLS) against the standard vectors and the
// header-only digests, the sign and file checks with their failure codes, the progress encoding
// (§3.12: the step travels as a string) and the updater's option checks.
#include <enos/device/client/device_client.hpp>
#include <enos/device/client/ota.hpp>
#include <enos/device/core/payload.hpp>
#include <enos/device/core/sign.hpp>

#include "support/catch.hpp"
#include "support/temp_dir.hpp"

#include <fstream>
#include <string>

using namespace enos::device;

namespace {

std::string digest_of(const std::string& method, std::string_view data, std::size_t chunk) {
    Result<FirmwareDigest> d = FirmwareDigest::create(method);
    REQUIRE(d);
    for (std::size_t i = 0; i < data.size(); i += chunk)
        d->update(data.substr(i, chunk));
    return d->finish_hex();
}

Firmware firmware_with(std::string method, std::string sign,
                       std::optional<std::int64_t> size = std::nullopt) {
    Firmware f;
    f.version = "1.1.0";
    f.file_url = "/fw/1.1.0";
    f.sign_method = std::move(method);
    f.sign = std::move(sign);
    f.file_size = size;
    return f;
}

} // namespace

TEST_CASE("ota: firmware digests match the standard vectors and the header-only digests", "[unit][ota]") {
    CHECK(digest_of("md5", "abc", 1) == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(digest_of("MD5", "", 1) == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(digest_of("sha256", "abc", 2) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string data(100003, 'x');
    for (std::size_t chunk : {1u, 63u, 64u, 4096u, 100003u}) {
        CHECK(digest_of("sha256", data, chunk) == hex_digest(SignMethod::sha256, data, false));
        CHECK(digest_of("md5", data, chunk) == hex_digest(SignMethod::md5, data, false));
    }
    Result<FirmwareDigest> again = FirmwareDigest::create("sha256");
    REQUIRE(again);
    CHECK(again->finish_hex() == again->finish_hex()); // finish resets: both are the empty digest
}

TEST_CASE("ota: only md5 and sha256 are firmware sign methods", "[unit][ota]") {
    for (const char* method : {"sha1", "crc32", "", "hmacsha256"}) {
        Result<FirmwareDigest> d = FirmwareDigest::create(method);
        CHECK(d.error() == errc::unsupported_sign_method);
        CHECK(check_firmware_sign(firmware_with(method, "00"), "00").error().code ==
              make_error_code(OtaFailure::verification_failed));
    }
}

TEST_CASE("ota: a sign matches in any letter case, a mismatch or no sign is verification_failed (-3)",
          "[unit][ota]") {
    const std::string hex = "900150983cd24fb0d6963f7d28e17f72";
    CHECK(check_firmware_sign(firmware_with("md5", hex), hex));
    CHECK(check_firmware_sign(firmware_with("md5", "900150983CD24FB0D6963F7D28E17F72"), hex));
    Status wrong = check_firmware_sign(firmware_with("md5", std::string(32, '0')), hex);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code == make_error_code(OtaFailure::verification_failed));
    CHECK(wrong.error().code.value() == -3);
    CHECK(wrong.error().message().find(hex) != std::string::npos);
    CHECK(check_firmware_sign(firmware_with("md5", ""), hex).error().code ==
          make_error_code(OtaFailure::verification_failed));
}

TEST_CASE("ota: verify_firmware_file checks size and digest of a file", "[unit][ota]") {
    enos::test::TempDir dir("enos-ota-unit");
    const std::string path = dir.file("fw.bin");
    std::ofstream(path, std::ios::binary) << "abc";
    const std::string md5 = "900150983cd24fb0d6963f7d28e17f72";
    CHECK(verify_firmware_file(path, firmware_with("md5", md5, 3)));
    CHECK(verify_firmware_file(path, firmware_with("md5", md5)));
    CHECK(verify_firmware_file(path, firmware_with("md5", md5, 4)).error().code ==
          make_error_code(OtaFailure::verification_failed));
    CHECK(verify_firmware_file(path, firmware_with("sha256", md5)).error().code ==
          make_error_code(OtaFailure::verification_failed));
    Status missing = verify_firmware_file(dir.file("absent.bin"), firmware_with("md5", md5));
    CHECK(missing.error().code == std::make_error_code(std::errc::no_such_file_or_directory));
}

TEST_CASE("ota: failure codes name their step", "[unit][ota]") {
    CHECK(make_error_code(OtaFailure::download_failed).value() == -2);
    CHECK(make_error_code(OtaFailure::write_failed).message() == "firmware install failed");
    CHECK(std::string(ota_category().name()) == "enos.ota");
    CHECK(std::error_code(-7, ota_category()).message().find("-7") != std::string::npos);
}

TEST_CASE("ota: progress carries the step as a string (§3.12)", "[unit][ota]") {
    std::string out;
    REQUIRE(encode(out, "26", up::OtaProgress{40, "downloading"}));
    CHECK(
        out ==
        R"({"id":"26","version":"1.1","method":"ota.device.progress","params":{"step":"40","desc":"downloading"}})");
    REQUIRE(encode(out, "27", up::OtaProgress::failed(OtaFailure::verification_failed, "md5 mismatch")));
    CHECK(out.find(R"("params":{"step":"-3","desc":"md5 mismatch"})") != std::string::npos);
    REQUIRE(encode(out, "28", up::OtaProgress{ota_step::installed}));
    CHECK(out.find(R"("params":{"step":"100"})") != std::string::npos);
    CHECK(encode(out, "29", up::OtaProgress{101}).error() == errc::invalid_argument);
    REQUIRE(encode(out, "30", up::OtaInform{"2.0.0"}));
    CHECK(out.find(R"("method":"ota.device.inform","params":{"version":"2.0.0"})") != std::string::npos);
}

TEST_CASE("ota: the updater needs a downloader, an installer and a directory", "[unit][ota]") {
    ClientOptions options;
    options.product_key = "pkTest";
    options.device_key = "dev1";
    options.device_secret = "devSecret1";
    options.ota.firmware_version = "1.0.0";
    auto client = DeviceClient::create(options);
    REQUIRE(client);
    CHECK(client->firmware_version() == "1.0.0");
    client->set_firmware_version("1.0.1");
    CHECK(client->firmware_version() == "1.0.1");

    OtaUpdaterOptions o;
    CHECK(OtaUpdater::create(*client, o).error() == errc::missing_argument);
    o.download = [](const Firmware&, const FirmwareSink&) { return Status{}; };
    o.install = [](const Firmware&, const std::string&) { return Status{}; };
    CHECK(OtaUpdater::create(*client, o).error() == errc::missing_argument);
    o.download_directory = "/tmp/unused";
    o.progress_interval = 0;
    CHECK(OtaUpdater::create(*client, o).error() == errc::invalid_argument);
    o.progress_interval = 10;
    auto updater = OtaUpdater::create(*client, o);
    REQUIRE(updater);
    CHECK_FALSE(updater->busy());
    CHECK(updater->start(Firmware{}).error() == errc::missing_argument);
    CHECK(updater->check_for_update().error() == errc::not_connected);
}
