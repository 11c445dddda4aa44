// OtaUpdater (include/enos/device/client/ota.hpp): answers ota.device.upgrade on the dispatcher and
// runs each upgrade on a worker thread of its own: download into a file while hashing, verify,
// install, report every step (docs/protocol.md §3.12) and finally the new version.
#include "client/client_core.hpp"

#include <enos/device/client/ota.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

namespace enos::device {

namespace {

using detail::ClientCore;

constexpr std::size_t max_desc_size = 256; // a progress desc is a hint for people, not a log

Error ota_error(OtaFailure failure, const Error& cause) {
    if (cause.code.category() == ota_category()) return cause;
    return Error{make_error_code(failure), cause.message()};
}

/// "1.2.0-rc/1" -> "1.2.0-rc_1": the version names a file in download_directory.
std::string file_name_part(const std::string& version) {
    std::string out;
    for (char c : version.substr(0, 64))
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
    return out.empty() ? "unnamed" : out;
}

Status remove_file(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) return Error{ec, "cannot remove " + path};
    return {};
}

} // namespace

struct OtaUpdater::State : std::enable_shared_from_this<OtaUpdater::State> {
    struct Job {
        Firmware firmware;
        bool from_cloud = true;
    };

    std::weak_ptr<ClientCore> core;
    OtaUpdaterOptions options;

    std::mutex mutex;
    std::condition_variable changed;
    std::optional<Job> queued;
    std::optional<std::string> active_version; ///< queued or running
    bool stopping = false;
    std::size_t reports_in_flight = 0;
    std::thread worker;

    // ---- talking to the cloud ----

    template <class Request> Result<detail::PreparedRequest> prepare(ClientCore& c, const Request& request) {
        Result<RequestBody> body = encode_body(request, c.wall_clock_ms());
        if (!body) return body.error();
        SendOptions send;
        send.timeout = options.request_timeout;
        return c.prepare(std::move(*body), send);
    }

    /// Sends a progress report without waiting; finish() waits for all of them.
    void report(int step, std::string desc) {
        auto c = core.lock();
        if (!c) return;
        if (desc.size() > max_desc_size) desc.resize(max_desc_size);
        Result<detail::PreparedRequest> request = prepare(*c, up::OtaProgress{step, std::move(desc)});
        if (!request)
            return c->log(LogLevel::warn, "cannot report OTA progress: " + request.error().message());
        {
            std::lock_guard lock(mutex);
            ++reports_in_flight;
        }
        std::weak_ptr<ClientCore> weak_core = c;
        std::weak_ptr<State> weak_self = weak_from_this();
        c->send_async(std::move(*request), [weak_core, weak_self, step](Result<Response> reply) {
            if (!reply)
                if (auto c2 = weak_core.lock())
                    c2->log(LogLevel::warn, "OTA progress " + std::to_string(step) +
                                                " was not delivered: " + reply.error().message());
            if (auto self = weak_self.lock()) {
                {
                    std::lock_guard lock(self->mutex);
                    --self->reports_in_flight;
                }
                self->changed.notify_all();
            }
        });
    }

    /// Waits until every report was answered (or stop() was called), so that they reach the cloud
    /// before the new version and before on_finished runs.
    void wait_for_reports() {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return reports_in_flight == 0 || stopping; });
    }

    void inform(const std::string& version) {
        auto c = core.lock();
        if (!c) return;
        c->set_firmware_version(version);
        Result<detail::PreparedRequest> request = prepare(*c, up::OtaInform{version});
        Result<Response> reply =
            request ? c->send_blocking(std::move(*request)) : Result<Response>(request.error());
        if (!reply)
            c->log(LogLevel::warn,
                   "reporting firmware version " + version + " failed: " + reply.error().message());
    }

    bool stop_requested() {
        std::lock_guard lock(mutex);
        return stopping;
    }

    // ---- one upgrade ----

    /// Downloads into `part` while hashing; the digest's hex (empty without a sign) or why not.
    Result<std::string> download(const Firmware& fw, const std::string& part) {
        std::optional<FirmwareDigest> digest;
        if (!fw.sign.empty() || options.require_sign) {
            Result<FirmwareDigest> d = FirmwareDigest::create(fw.sign_method);
            if (!d) return ota_error(OtaFailure::verification_failed, d.error());
            if (fw.sign.empty())
                return Error{make_error_code(OtaFailure::verification_failed), "the upgrade carries no sign"};
            digest.emplace(std::move(*d));
        }
        std::ofstream out(part, std::ios::binary | std::ios::trunc);
        if (!out) return Error{make_error_code(OtaFailure::download_failed), "cannot write " + part};

        std::int64_t received = 0;
        int reported = ota_step::download_first;
        std::optional<Error> sink_error;
        const FirmwareSink sink = [&](std::string_view bytes) -> Status {
            if (stop_requested())
                sink_error = Error{errc::shutting_down, "the OTA updater was stopped"};
            else if (fw.file_size && received + static_cast<std::int64_t>(bytes.size()) > *fw.file_size)
                sink_error = Error{make_error_code(OtaFailure::download_failed),
                                   "the file is longer than its fileSize " + std::to_string(*fw.file_size)};
            else if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())))
                sink_error = Error{make_error_code(OtaFailure::download_failed), "cannot write " + part};
            if (sink_error) return *sink_error;
            if (digest) digest->update(bytes);
            received += static_cast<std::int64_t>(bytes.size());
            if (fw.file_size && *fw.file_size > 0) {
                // Whole multiples of the interval: 0, 10, 20, ... read better than 0, 13, 26, ...
                const int percent = static_cast<int>(ota_step::download_last * received / *fw.file_size);
                const int step = percent / options.progress_interval * options.progress_interval;
                if (step > reported && step < ota_step::download_last) {
                    reported = step;
                    report(step, "downloading");
                }
            }
            return {};
        };
        report(ota_step::download_first, "downloading " + fw.version);
        Status status = [&]() -> Status {
            try {
                return options.download(fw, sink);
            } catch (const std::exception& e) {
                return Error{errc::handler_failed, std::string("the downloader threw: ") + e.what()};
            } catch (...) {
                return Error{errc::handler_failed, "the downloader threw"};
            }
        }();
        if (sink_error) return ota_error(OtaFailure::download_failed, *sink_error);
        if (!status) return ota_error(OtaFailure::download_failed, status.error());
        if (!out.flush() || (out.close(), out.fail()))
            return Error{make_error_code(OtaFailure::download_failed), "cannot write " + part};
        if (fw.file_size && received != *fw.file_size)
            return Error{make_error_code(OtaFailure::download_failed),
                         "the download ended after " + std::to_string(received) + " of " +
                             std::to_string(*fw.file_size) + " bytes"};
        report(ota_step::download_last, "downloaded " + std::to_string(received) + " bytes");
        return digest ? digest->finish_hex() : std::string();
    }

    Status install(const Firmware& fw, const std::string& path) {
        report(ota_step::installing, "installing " + fw.version);
        Status s = [&]() -> Status {
            try {
                return options.install(fw, path);
            } catch (const std::exception& e) {
                return Error{errc::handler_failed, std::string("the installer threw: ") + e.what()};
            } catch (...) {
                return Error{errc::handler_failed, "the installer threw"};
            }
        }();
        return s ? s : Status(ota_error(OtaFailure::write_failed, s.error()));
    }

    Status upgrade(const Job& job) {
        const Firmware& fw = job.firmware;
        if (job.from_cloud && options.accept && !options.accept(fw))
            return Error{make_error_code(OtaFailure::ignored), "the device declined version " + fw.version};
        if (auto c = core.lock(); c && job.from_cloud && c->firmware_version() == fw.version)
            return {}; // a repeated command for what already runs: report it as installed again
        std::error_code ec;
        std::filesystem::create_directories(options.download_directory, ec);
        if (ec)
            return Error{make_error_code(OtaFailure::download_failed),
                         "cannot create " + options.download_directory};
        const std::string base = options.download_directory + "/firmware-" + file_name_part(fw.version);
        const std::string part = base + ".part", path = base + ".bin";

        Result<std::string> hex = download(fw, part);
        if (hex && !hex->empty())
            if (Status s = check_firmware_sign(fw, *hex); !s) hex = s.error();
        if (!hex) {
            (void)remove_file(part);
            return hex.error();
        }
        std::filesystem::rename(part, path, ec);
        if (ec) return Error{make_error_code(OtaFailure::download_failed), "cannot rename " + part};
        report(ota_step::verified, hex->empty() ? "size checked (no sign)" : "verified");
        Status installed = install(fw, path);
        (void)remove_file(path); // the installer may have moved it already
        return installed;
    }

    void run(const Job& job) {
        OtaResult result;
        result.firmware = job.firmware;
        result.from_cloud = job.from_cloud;
        result.status = upgrade(job);
        if (result.status) {
            result.reported_step = ota_step::installed;
            report(ota_step::installed, "installed " + job.firmware.version);
        } else {
            const Error& e = result.status.error();
            result.reported_step = e.code.category() == ota_category()
                                       ? e.code.value()
                                       : static_cast<int>(OtaFailure::upgrade_failed);
            if (e.code.category() != ota_category()) result.status = ota_error(OtaFailure::upgrade_failed, e);
            report(result.reported_step, e.detail.empty() ? e.message() : e.detail);
        }
        wait_for_reports();
        if (result.status) inform(job.firmware.version);
        if (auto c = core.lock())
            c->log(result.status ? LogLevel::info : LogLevel::warn,
                   "OTA upgrade to " + job.firmware.version + ": " +
                       (result.status ? std::string("installed") : result.status.error().message()));
        if (options.on_finished) {
            try {
                options.on_finished(result);
            } catch (...) {
            }
        }
    }

    void worker_loop() {
        std::unique_lock lock(mutex);
        for (;;) {
            changed.wait(lock, [&] { return stopping || queued; });
            if (stopping) return;
            Job job = std::move(*queued);
            queued.reset();
            lock.unlock();
            run(job);
            lock.lock();
            active_version.reset();
        }
    }

    // ---- accepting work ----

    Status enqueue(Firmware firmware, bool from_cloud) {
        {
            std::lock_guard lock(mutex);
            if (stopping) return Error{errc::shutting_down, "the OTA updater is stopping"};
            if (active_version)
                return Error{errc::invalid_argument, "an upgrade to " + *active_version + " is in progress"};
            active_version = firmware.version;
            queued = Job{std::move(firmware), from_cloud};
        }
        changed.notify_all();
        return {};
    }

    CommandReply on_upgrade_command(const Command& command) {
        Result<Firmware> firmware = decode_ota_upgrade(command.params_json);
        if (!firmware) return CommandReply(firmware.error());
        {
            std::lock_guard lock(mutex);
            if (active_version && *active_version == firmware->version) return CommandReply::ok(); // repeated
        }
        Status s = enqueue(std::move(*firmware), true);
        return s ? CommandReply::ok() : CommandReply::error(2000, s.error().detail);
    }
};

Result<OtaUpdater> OtaUpdater::create(DeviceClient& client, OtaUpdaterOptions options) {
    if (!client.core_) return Error{errc::shutting_down, "the client was moved from or closed"};
    if (!options.download || !options.install)
        return Error{errc::missing_argument, "OtaUpdaterOptions needs both download and install"};
    if (options.download_directory.empty())
        return Error{errc::missing_argument, "OtaUpdaterOptions::download_directory is required"};
    if (options.progress_interval < 1 || options.progress_interval > ota_step::download_last)
        return Error{errc::invalid_argument, "OtaUpdaterOptions::progress_interval must be 1..80"};
    auto state = std::make_shared<State>();
    state->core = client.core_;
    state->options = std::move(options);
    // The thread keeps the state alive, so a worker detached by stop() never outlives it.
    state->worker = std::thread([state] { state->worker_loop(); });
    std::weak_ptr<State> weak = state;
    CommandHandler handler = [weak](const Command& command) {
        auto s = weak.lock();
        if (!s) return CommandReply::error(1101, "no OTA updater");
        return s->on_upgrade_command(command);
    };
    client.core_->set_command_handler(CommandKind::ota_upgrade,
                                      detail::HandlerSlot{std::move(handler), nullptr});
    return OtaUpdater(std::move(state));
}

OtaUpdater::OtaUpdater(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
OtaUpdater::OtaUpdater(OtaUpdater&&) noexcept = default;

OtaUpdater& OtaUpdater::operator=(OtaUpdater&& other) noexcept {
    if (this != &other) {
        stop();
        state_ = std::move(other.state_);
    }
    return *this;
}

OtaUpdater::~OtaUpdater() {
    stop();
}

void OtaUpdater::stop() noexcept {
    if (!state_) return;
    if (auto c = state_->core.lock()) c->set_command_handler(CommandKind::ota_upgrade, detail::HandlerSlot{});
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->changed.notify_all();
    if (state_->worker.joinable()) {
        if (state_->worker.get_id() == std::this_thread::get_id())
            state_->worker.detach(); // destroyed from on_finished or the installer: it ends by itself
        else
            state_->worker.join();
    }
    state_.reset();
}

Result<std::vector<Firmware>> OtaUpdater::check_for_update() {
    if (!state_) return Error{errc::shutting_down, "the OTA updater was moved from"};
    auto c = state_->core.lock();
    if (!c) return Error{errc::shutting_down, "the client is gone"};
    Result<detail::PreparedRequest> request = state_->prepare(*c, up::OtaGetVersion{});
    if (!request) return request.error();
    Result<Response> reply = c->send_blocking(std::move(*request));
    if (!reply) return reply.error();
    if (reply->data_json.empty() || reply->data_json == "null" || reply->data_json == "\"\"")
        return std::vector<Firmware>{};
    return decode_ota_getversion_reply(reply->data_json);
}

Status OtaUpdater::start(Firmware firmware) {
    if (!state_) return Error{errc::shutting_down, "the OTA updater was moved from"};
    if (firmware.version.empty() || firmware.file_url.empty())
        return Error{errc::missing_argument, "the firmware needs a version and a file URL"};
    return state_->enqueue(std::move(firmware), false);
}

bool OtaUpdater::busy() const noexcept {
    if (!state_) return false;
    std::lock_guard lock(state_->mutex);
    return state_->active_version.has_value();
}

} // namespace enos::device
