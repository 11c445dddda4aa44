// ota_update: a device that takes firmware upgrades over the air. It reports its firmware version
// after every connect, and when EnOS pushes an upgrade (or, with --ask, when it asks for one) it
// downloads the file from the file service, verifies its md5/sha256, reports the progress,
// "installs" it by writing it to --install-dir and reports the new version. The installed version
// is kept in --install-dir/version, so a restart reports what was installed last.
//
//   ota_update --url tcp://127.0.0.1:11883 --product-key PK --device-key DK --device-secret S
//              --file-service http://127.0.0.1:PORT --install-dir DIR [--version 1.0.0] [--ask] [--once]
//
// Options may also come from the environment (ENOS_URL, ENOS_PRODUCT_KEY, ENOS_DEVICE_KEY,
// ENOS_DEVICE_SECRET, ENOS_FILE_SERVICE). Runs until Ctrl-C, or with --once until one upgrade ended
// (exit code 0 when it was installed, 1 when it failed).
#include "http_get.hpp"

#include <enos/device.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

using namespace enos::device;

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int) {
    stop_requested = true;
}

std::string setting(int argc, char** argv, std::string_view name, const char* env,
                    std::string fallback = {}) {
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name) return argv[i + 1];
    if (const char* value = env ? std::getenv(env) : nullptr) return value;
    return fallback;
}

bool flag(int argc, char** argv, std::string_view name) {
    for (int i = 1; i < argc; ++i)
        if (argv[i] == name) return true;
    return false;
}

void log_to_stderr(LogLevel level, std::string_view message) {
    const auto name = to_string(level);
    std::fprintf(stderr, "[%.*s] %.*s\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(message.size()), message.data());
}

std::string read_version(const std::string& install_dir, const std::string& fallback) {
    std::ifstream in(install_dir + "/version");
    std::string version;
    return std::getline(in, version) && !version.empty() ? version : fallback;
}

/// "Installing": the firmware goes to install_dir/firmware.bin, then its version to
/// install_dir/version, each written to a temporary file first and renamed into place.
Status install(const std::string& install_dir, const Firmware& firmware, const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(install_dir, ec);
    if (!ec) fs::copy_file(path, install_dir + "/firmware.bin.new", fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(install_dir + "/firmware.bin.new", install_dir + "/firmware.bin", ec);
    if (ec) return Error{ec, "cannot write the firmware into " + install_dir};
    {
        std::ofstream out(install_dir + "/version.new", std::ios::trunc);
        out << firmware.version << '\n';
        if (!out.flush())
            return Error{errc::invalid_argument, "cannot write " + install_dir + "/version.new"};
    }
    fs::rename(install_dir + "/version.new", install_dir + "/version", ec);
    if (ec) return Error{ec, "cannot write the version into " + install_dir};
    return {};
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const std::string install_dir = setting(argc, argv, "--install-dir", nullptr, "firmware");
    const std::string file_service = setting(argc, argv, "--file-service", "ENOS_FILE_SERVICE");
    const bool once = flag(argc, argv, "--once");

    ClientOptions options;
    options.server_url = setting(argc, argv, "--url", "ENOS_URL", "tcp://127.0.0.1:11883");
    options.product_key = setting(argc, argv, "--product-key", "ENOS_PRODUCT_KEY");
    options.device_key = setting(argc, argv, "--device-key", "ENOS_DEVICE_KEY");
    options.device_secret = setting(argc, argv, "--device-secret", "ENOS_DEVICE_SECRET");
    options.log_sink = log_to_stderr;
    // Reported with ota.device.inform after every connect: EnOS targets upgrades at reported versions.
    options.ota.firmware_version =
        read_version(install_dir, setting(argc, argv, "--version", nullptr, "1.0.0"));
    if (file_service.empty()) {
        std::fprintf(stderr,
                     "--file-service URL is required (enos-hub: the URL in RUNDIR/file-service.url)\n");
        return 2;
    }

    auto client = DeviceClient::create(options);
    if (!client) {
        std::fprintf(stderr, "cannot create the client: %s\n", client.error().message().c_str());
        return 1;
    }

    std::mutex mutex;
    std::condition_variable finished;
    std::optional<OtaResult> last;

    OtaUpdaterOptions ota;
    ota.download_directory = install_dir + "/download";
    ota.download = [&](const Firmware& firmware, const FirmwareSink& sink) {
        const std::string url = ota_example::firmware_url(file_service, firmware.file_url);
        std::printf("downloading %s from %s\n", firmware.version.c_str(), url.c_str());
        return ota_example::http_get(url, sink);
    };
    ota.install = [&](const Firmware& firmware, const std::string& path) {
        return install(install_dir, firmware, path);
    };
    ota.on_finished = [&](const OtaResult& result) {
        if (result.status)
            std::printf("upgrade to %s: installed (step %d)\n", result.firmware.version.c_str(),
                        result.reported_step);
        else
            std::printf("upgrade to %s: failed (step %d): %s\n", result.firmware.version.c_str(),
                        result.reported_step, result.status.error().message().c_str());
        std::lock_guard lock(mutex);
        last = result;
        finished.notify_all();
    };
    auto updater = OtaUpdater::create(*client, std::move(ota));
    if (!updater) {
        std::fprintf(stderr, "cannot create the updater: %s\n", updater.error().message().c_str());
        return 1;
    }

    if (Status s = client->connect(); !s) {
        std::fprintf(stderr, "connect failed: %s\n", s.error().message().c_str());
        return 1;
    }
    std::printf("connected as %s/%s, firmware %s\n", options.product_key.c_str(), options.device_key.c_str(),
                client->firmware_version().c_str());

    if (flag(argc, argv, "--ask")) { // device-initiated: take the first offer that is not running yet
        auto offers = updater->check_for_update();
        if (!offers) {
            std::fprintf(stderr, "getversion failed: %s\n", offers.error().message().c_str());
            return 1;
        }
        std::optional<Firmware> chosen;
        for (const Firmware& f : *offers)
            if (f.version != client->firmware_version() && !chosen) chosen = f;
        if (!chosen) {
            std::printf("no new firmware offered\n");
            if (once) return 0;
        } else if (Status s = updater->start(*chosen); !s) {
            std::fprintf(stderr, "cannot start the upgrade: %s\n", s.error().message().c_str());
            return 1;
        }
    }

    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    std::unique_lock lock(mutex);
    while (!stop_requested && !(once && last))
        finished.wait_for(lock, std::chrono::milliseconds(200)); // wakes for Ctrl-C too
    return last && !last->status ? 1 : 0;
}
