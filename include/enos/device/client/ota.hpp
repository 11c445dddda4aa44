// Firmware over the air (docs/protocol.md §3.12, §4.8; docs/client.md "OTA").
//
// EnOS announces an upgrade with the ota.device.upgrade command (version, file URL, size, sign and
// sign method); the file itself comes from the EnOS HTTP file service, not over MQTT. OtaUpdater
// runs the device's side of it: it answers the command, downloads the file through the
// application's FirmwareDownloader into a file while hashing it, verifies its md5 or sha256 with
// mbedTLS, hands it to the application's FirmwareInstaller, reports every step with
// ota.device.progress and finally reports the new version with ota.device.inform. The pieces
// (FirmwareDigest, verify_firmware_file, up::OtaProgress) are public for applications that drive
// an upgrade themselves.
#pragma once

#include <enos/device/client/export.hpp>
#include <enos/device/core/payload/ota.hpp>
#include <enos/device/core/result.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace enos::device {

class DeviceClient;

/// The category of OtaFailure: an Error whose code is in it says which failure step (§3.12) was
/// or would be reported (value -1 .. -5, or an application's own value below -5).
ENOS_DEVICE_API const std::error_category& ota_category() noexcept;
inline std::error_code make_error_code(OtaFailure failure) noexcept {
    return {static_cast<int>(failure), ota_category()};
}

/// The ota.device.progress steps OtaUpdater reports on the way to success. The download is
/// reported as download_first..download_last, scaled by the bytes received of fileSize.
namespace ota_step {
inline constexpr int download_first = 0;
inline constexpr int download_last = 80;
inline constexpr int verified = 85;
inline constexpr int installing = 90;
inline constexpr int installed = 100;
} // namespace ota_step

/// Streaming digest of a firmware file with mbedTLS: md5 or sha256, named as in signMethod (any
/// letter case). Move-only.
class ENOS_DEVICE_API FirmwareDigest {
public:
    /// errc::unsupported_sign_method for anything but md5 and sha256.
    static Result<FirmwareDigest> create(std::string_view sign_method);
    FirmwareDigest(FirmwareDigest&&) noexcept;
    FirmwareDigest& operator=(FirmwareDigest&&) noexcept;
    ~FirmwareDigest();

    void update(std::string_view bytes) noexcept;
    /// Lower-case hex digest of everything passed to update(); the digest is reset afterwards.
    std::string finish_hex();

private:
    struct Impl;
    explicit FirmwareDigest(std::unique_ptr<Impl> impl) noexcept;
    std::unique_ptr<Impl> impl_;
};

/// Whether `hex_digest` (any letter case) equals the firmware's sign. Fails with
/// OtaFailure::verification_failed when it does not, when the sign is missing, or when the sign
/// method is neither md5 nor sha256.
ENOS_DEVICE_API Status check_firmware_sign(const Firmware& firmware, std::string_view hex_digest);

/// Reads the file at `path` and checks its size (when fileSize is given) and its digest against
/// the firmware's. OtaFailure::verification_failed on a mismatch; the file's errno (generic
/// category) when it cannot be read.
ENOS_DEVICE_API Status verify_firmware_file(const std::string& path, const Firmware& firmware);

/// Takes the next bytes of the firmware file, in order. Once it returns an error, stop and return
/// that error.
using FirmwareSink = std::function<Status(std::string_view bytes)>;
/// Fetches firmware.file_url (on EnOS: a path on the HTTP file service) and passes every byte to
/// the sink in order. Runs on the updater's worker thread; it should bound its waits, because
/// destroying the updater waits for it (the sink fails with errc::shutting_down meanwhile).
using FirmwareDownloader = std::function<Status(const Firmware& firmware, const FirmwareSink& sink)>;
/// Installs the verified file at `path` (flashes it, moves it into place, ...). Runs on the worker
/// thread. An error is reported as OtaFailure::write_failed (-4) unless its code is an OtaFailure.
using FirmwareInstaller = std::function<Status(const Firmware& firmware, const std::string& path)>;

/// How an upgrade ended, for the application (the cloud learns it from the progress reports).
struct OtaResult {
    Firmware firmware;
    bool from_cloud = true; ///< false: started by OtaUpdater::start
    Status status;          ///< ok, or the failure; its code is in ota_category() for the reported ones
    int reported_step = 0;  ///< the last step reported: 100, or the failure's negative step
};

struct OtaUpdaterOptions {
    FirmwareDownloader download; ///< required
    FirmwareInstaller install;   ///< required
    /// Where the file is written while it downloads (firmware-<version>.part) and after it was
    /// verified (firmware-<version>.bin, the path the installer gets). Required; created if absent.
    /// The file is removed after install() unless the installer moved it.
    std::string download_directory;
    /// Decides whether to take an upgrade the cloud pushed; empty: take every one. A refusal is
    /// reported as OtaFailure::ignored (-5).
    std::function<bool(const Firmware&)> accept;
    /// Runs on the worker thread when an upgrade ended, after the last report was sent.
    std::function<void(const OtaResult&)> on_finished;
    /// Download progress is reported each time it advanced by this many steps (1..80).
    int progress_interval = 10;
    /// Refuse (-3) a firmware that comes without a sign; false installs it after only the size check.
    bool require_sign = true;
    /// Deadline of each ota.device.getversion request; zero: ClientOptions::request_timeout.
    std::chrono::milliseconds request_timeout{0};
};

/// Runs firmware upgrades for one DeviceClient on a worker thread of its own, so a long download
/// never blocks other commands. While it exists it owns the client's ota_upgrade command handler.
/// One upgrade at a time: a second upgrade command to another version while one runs is answered
/// with code 2000; the same version again is answered 200 and changes nothing.
///
/// After a successful install the new version becomes the client's firmware version
/// (DeviceClient::set_firmware_version) and is reported with ota.device.inform. Move-only; the
/// destructor cancels a download in progress, reports it as failed (-2) if it can, and waits for
/// the worker. It holds the client only weakly: destroying the client first is safe (later reports
/// are then not sent).
class ENOS_DEVICE_API OtaUpdater {
public:
    /// errc::missing_argument when download, install or download_directory is missing.
    static Result<OtaUpdater> create(DeviceClient& client, OtaUpdaterOptions options);
    OtaUpdater(OtaUpdater&&) noexcept;
    OtaUpdater& operator=(OtaUpdater&&) noexcept;
    ~OtaUpdater();

    /// Asks the cloud which firmware this device may install (ota.device.getversion; for upgrade
    /// jobs "upon device request"). Blocks until the reply; empty when nothing is offered.
    Result<std::vector<Firmware>> check_for_update();
    /// Starts an upgrade the device chose (e.g. one from check_for_update()); returns at once.
    /// errc::invalid_argument while another upgrade runs.
    Status start(Firmware firmware);
    /// True while an upgrade runs or waits to run.
    bool busy() const noexcept;

private:
    struct State;
    explicit OtaUpdater(std::shared_ptr<State> state) noexcept;
    void stop() noexcept;
    std::shared_ptr<State> state_;
};

} // namespace enos::device

template <> struct std::is_error_code_enum<enos::device::OtaFailure> : std::true_type {};
