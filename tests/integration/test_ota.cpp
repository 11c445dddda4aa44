// OTA against enos-hub: the version report after every connect, getversion, and the whole upgrade
// (ota-upgrade --file puts real firmware on the hub's HTTP file service) with each failure cause
// of docs/protocol.md §3.12 as the hub records it. The downloader is the ota_update example's.
#include "client_support.hpp"

#include "http_get.hpp"

#include <enos/device/client/ota.hpp>

#include <condition_variable>
#include <filesystem>
#include <fstream>

using namespace enos::test;
using namespace enos::test::client;
using namespace enos::test::cloud;
using namespace enos::device;

namespace {

// Each test case has a device of its own (pkTest/devN, secret devSecretN), so that the rows the
// hub stored for one never mix with another's when the cases run in one process.
constexpr const char* pk = "pkTest";

std::string file_service_url(const HubProcess& h) {
    std::ifstream in(h.dir() + "/file-service.url");
    std::string url;
    std::getline(in, url);
    REQUIRE(url.rfind("http://127.0.0.1:", 0) == 0);
    return url;
}

/// Firmware bytes that are not all alike (several download chunks, every byte value).
std::string firmware_bytes(std::size_t size) {
    std::string bytes(size, '\0');
    std::uint32_t x = 0x9e3779b9u;
    for (char& c : bytes) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return bytes;
}

/// One device with an OtaUpdater whose installer copies the file into `installed`, and who waits
/// for the upgrade's end.
class OtaDevice {
public:
    OtaDevice(const std::string& dk, const std::string& version, Status install_result = {})
        : dk(dk), install_result_(install_result) {
        ClientOptions options = options_for(hub(), pk, dk, "devSecret" + dk.substr(3));
        options.ota.firmware_version = version;
        options.log_sink = log.sink();
        auto c = DeviceClient::create(options);
        REQUIRE(c);
        client_.emplace(std::move(*c));
        const std::string service = file_service_url(hub());
        OtaUpdaterOptions o;
        o.download_directory = dir.file("download");
        o.download = [this, service](const Firmware& f, const FirmwareSink& sink) {
            return ota_example::http_get(ota_example::firmware_url(service, f.file_url), sink);
        };
        o.install = [this](const Firmware& f, const std::string& path) -> Status {
            {
                std::lock_guard lock(mutex_);
                installed_versions_.push_back(f.version);
            }
            if (!install_result_) return install_result_;
            installed = read_file(path);
            return {};
        };
        o.on_finished = [this](const OtaResult& r) {
            std::lock_guard lock(mutex_);
            results_.push_back(r);
            changed_.notify_all();
        };
        auto u = OtaUpdater::create(*client_, std::move(o));
        REQUIRE(u);
        updater_.emplace(std::move(*u));
        REQUIRE(client_->connect());
    }

    DeviceClient& client() { return *client_; }
    OtaUpdater& updater() { return *updater_; }

    /// The end of the next upgrade (REQUIREs that it ends within a generous bound).
    OtaResult wait_result() {
        std::unique_lock lock(mutex_);
        REQUIRE(changed_.wait_for(lock, 30s, [&] { return !results_.empty(); }));
        return results_.front();
    }
    std::vector<std::string> installer_calls() {
        std::lock_guard lock(mutex_);
        return installed_versions_;
    }

    const std::string dk;
    TempDir dir{"enos-ota"};
    LogLines log;
    std::string installed;

private:
    Status install_result_;
    std::optional<DeviceClient> client_;
    std::optional<OtaUpdater> updater_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<OtaResult> results_;
    std::vector<std::string> installed_versions_;
};

std::string write_firmware(const TempDir& dir, const std::string& bytes) {
    const std::string path = dir.file("fw.bin");
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

/// Pushes an upgrade with `enos-hub ota-upgrade`; the device answers it at once with 200.
void push_upgrade(const std::string& dk, std::vector<std::string> args) {
    std::vector<std::string> all = {"ota-upgrade", "--pk", pk, "--dk", dk};
    all.insert(all.end(), args.begin(), args.end());
    const Injected r = inject(hub(), all);
    INFO("ota-upgrade: " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.reply.code == 200);
}

/// The progress steps the hub stored, oldest first, once one of them is `last`.
std::vector<std::string> steps_until(const std::string& dk, const std::string& last) {
    const auto rows = query_until(hub(), "ota", pk, dk, [&](const auto& rows) {
        return !with(with(rows, "type", "progress"), "step", last).empty();
    });
    std::vector<std::string> steps;
    for (const Value& row : with(rows, "type", "progress"))
        steps.push_back(at(row, "step").as_string());
    return steps;
}

std::string desc_of_step(const std::string& dk, const std::string& step) {
    const auto rows = with(with(query(hub(), "ota", pk, dk), "type", "progress"), "step", step);
    REQUIRE(!rows.empty());
    const Value* desc = rows.back().find("desc");
    return desc && desc->is_string() ? desc->as_string() : "";
}

std::size_t informs_of(const std::vector<Value>& rows, const std::string& version) {
    return with(with(rows, "type", "inform"), "version", version).size();
}

/// Puts `bytes` on the hub's file service by hand; the path to use as fileUrl.
std::string serve(const std::string& name, const std::string& bytes) {
    const std::string dir = hub().dir() + "/files/test";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return "/test/" + name;
}

void check_pushed_upgrade(const std::string& dk, const std::string& method) {
    OtaDevice device(dk, "1.0.0");
    const std::string bytes = firmware_bytes(300 * 1024 + 7);
    const std::string version = "2.0.0-" + method;
    push_upgrade(
        dk, {"--version", version, "--file", write_firmware(device.dir, bytes), "--sign-method", method});

    const OtaResult result = device.wait_result();
    INFO(result.status.error().message());
    REQUIRE(result.status);
    CHECK(result.reported_step == 100);
    CHECK(result.from_cloud);
    CHECK(device.installed == bytes);
    CHECK(device.client().firmware_version() == version);

    const std::vector<std::string> expected = {"0",  "10", "20", "30", "40", "50",
                                               "60", "70", "80", "85", "90", "100"};
    CHECK(steps_until(dk, "100") == expected);
    query_until(hub(), "ota", pk, dk, [&](const auto& rows) { return informs_of(rows, version) == 1; });

    // The same command again (the cloud repeats cached commands): no second download or install,
    // the version is reported again.
    push_upgrade(
        dk, {"--version", version, "--file", write_firmware(device.dir, bytes), "--sign-method", method});
    query_until(hub(), "ota", pk, dk, [&](const auto& rows) { return informs_of(rows, version) == 2; });
    CHECK(device.installer_calls().size() == 1);
}

} // namespace

TEST_CASE("ota: the firmware version is reported after connect and after every reconnect",
          "[integration][ota]") {
    const std::string dk = "dev1";
    OtaDevice device(dk, "1.0.0-connect");
    query_until(hub(), "ota", pk, dk,
                [](const auto& rows) { return informs_of(rows, "1.0.0-connect") == 1; });

    auto& h = const_cast<HubProcess&>(hub());
    h.stop_broker();
    REQUIRE(eventually([&] { return !device.client().connected(); }, 30s));
    h.start_broker();
    REQUIRE(eventually([&] { return device.client().connected(); }, 60s));
    query_until(hub(), "ota", pk, dk,
                [](const auto& rows) { return informs_of(rows, "1.0.0-connect") == 2; });
}

TEST_CASE("ota: getversion returns the firmware the cloud offers", "[integration][ota]") {
    OtaDevice device("dev2", "1.0.0");
    Result<std::vector<Firmware>> offers = device.updater().check_for_update();
    INFO(offers.error().message());
    REQUIRE(offers);
    REQUIRE(offers->size() == 1); // tests/integration/registry.json
    CHECK((*offers)[0].version == "1.1.0");
    CHECK((*offers)[0].sign_method == "md5");
    CHECK((*offers)[0].sign == "9e107d9d372bb6826bd81d3542a419d6");
    CHECK((*offers)[0].file_url == "/fw/pkTest/1.1.0");
    CHECK((*offers)[0].file_size == 1024);
}

TEST_CASE("ota: a pushed upgrade (md5) is downloaded, verified, installed and reported",
          "[integration][ota]") {
    check_pushed_upgrade("dev3", "md5");
}

TEST_CASE("ota: a pushed upgrade (sha256) is downloaded, verified, installed and reported",
          "[integration][ota]") {
    check_pushed_upgrade("dev4", "sha256");
}

TEST_CASE("ota: a device-initiated upgrade reports like a pushed one", "[integration][ota]") {
    const std::string dk = "dev5";
    OtaDevice device(dk, "1.0.0");
    const std::string bytes = firmware_bytes(10000);
    Firmware firmware;
    firmware.version = "3.0.0";
    firmware.file_url = serve("dev5-3.0.0.bin", bytes);
    firmware.file_size = static_cast<std::int64_t>(bytes.size());
    firmware.sign_method = "sha256";
    Result<FirmwareDigest> digest = FirmwareDigest::create("SHA256");
    REQUIRE(digest);
    digest->update(bytes);
    firmware.sign = digest->finish_hex();
    REQUIRE(device.updater().start(firmware));
    CHECK(device.updater().start(firmware).error() == errc::invalid_argument); // one at a time

    const OtaResult result = device.wait_result();
    INFO(result.status.error().message());
    REQUIRE(result.status);
    CHECK_FALSE(result.from_cloud);
    CHECK(device.installed == bytes);
    CHECK(steps_until(dk, "100").back() == "100");
    query_until(hub(), "ota", pk, dk, [](const auto& rows) { return informs_of(rows, "3.0.0") == 1; });
}

TEST_CASE("ota: a download error is reported as step -2", "[integration][ota]") {
    const std::string dk = "dev6";
    OtaDevice device(dk, "1.0.0");
    push_upgrade(dk, {"--version", "2.1.0", "--file", write_firmware(device.dir, "abc"), "--file-url",
                      "/ota/missing.bin"});
    const OtaResult result = device.wait_result();
    REQUIRE_FALSE(result.status);
    CHECK(result.status.error().code == make_error_code(OtaFailure::download_failed));
    CHECK(result.reported_step == -2);
    CHECK(steps_until(dk, "-2") == std::vector<std::string>{"0", "-2"});
    CHECK(desc_of_step(dk, "-2").find("HTTP 404") != std::string::npos);
    CHECK(device.installer_calls().empty());
    CHECK(device.client().firmware_version() == "1.0.0");
}

TEST_CASE("ota: a file shorter than fileSize is a download error", "[integration][ota]") {
    const std::string dk = "dev7";
    OtaDevice device(dk, "1.0.0");
    push_upgrade(dk, {"--version", "2.1.1", "--file", write_firmware(device.dir, firmware_bytes(1000)),
                      "--file-size", "2000"});
    const OtaResult result = device.wait_result();
    CHECK(result.reported_step == -2);
    CHECK(steps_until(dk, "-2").back() == "-2");
    CHECK(desc_of_step(dk, "-2").find("1000 of 2000 bytes") != std::string::npos);
    CHECK(device.installer_calls().empty());
}

TEST_CASE("ota: a checksum mismatch is reported as step -3 and nothing is installed", "[integration][ota]") {
    const std::string dk = "dev8";
    OtaDevice device(dk, "1.0.0");
    const std::string wrong(64, 'a');
    push_upgrade(dk, {"--version", "2.2.0", "--file", write_firmware(device.dir, firmware_bytes(50000)),
                      "--sign-method", "sha256", "--sign", wrong});
    const OtaResult result = device.wait_result();
    CHECK(result.status.error().code == make_error_code(OtaFailure::verification_failed));
    CHECK(result.reported_step == -3);
    const std::vector<std::string> steps = steps_until(dk, "-3");
    CHECK(steps.front() == "0");
    CHECK(steps.back() == "-3");
    CHECK(desc_of_step(dk, "-3").find(wrong) != std::string::npos);
    CHECK(device.installer_calls().empty());
    CHECK(device.client().firmware_version() == "1.0.0");
}

TEST_CASE("ota: an install failure is reported as step -4 and the version stays", "[integration][ota]") {
    const std::string dk = "dev9";
    OtaDevice device(dk, "1.0.0", Error{errc::invalid_argument, "flash bank B is write-protected"});
    push_upgrade(dk, {"--version", "2.3.0", "--file", write_firmware(device.dir, firmware_bytes(2048))});
    const OtaResult result = device.wait_result();
    CHECK(result.status.error().code == make_error_code(OtaFailure::write_failed));
    CHECK(result.reported_step == -4);
    const std::vector<std::string> steps = steps_until(dk, "-4");
    REQUIRE(steps.size() >= 4);
    const std::vector<std::string> tail(steps.end() - 4, steps.end());
    CHECK(tail == std::vector<std::string>{"80", "85", "90", "-4"});
    CHECK(desc_of_step(dk, "-4").find("write-protected") != std::string::npos);
    CHECK(device.installer_calls() == std::vector<std::string>{"2.3.0"});
    CHECK(device.client().firmware_version() == "1.0.0");
    CHECK(informs_of(query(hub(), "ota", pk, dk), "2.3.0") == 0);
}
