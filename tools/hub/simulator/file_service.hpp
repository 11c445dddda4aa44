// The hub's stand-in for the EnOS HTTP file service, from which devices fetch OTA firmware
// (docs/protocol.md §3.12: fileUrl is a path on that service). A minimal HTTP/1.1 server on
// 127.0.0.1 and a free port that answers GET with the files under RUNDIR/files/; its base URL is
// written to RUNDIR/file-service.url. `enos-hub ota-upgrade --file` puts firmware there.
#pragma once

#include "common.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace enos::hub::sim {

/// RUNDIR/files: the root of what the file service serves.
std::string file_service_root(const std::string& run_dir);
/// RUNDIR/file-service.url: "http://127.0.0.1:PORT" while the simulator runs.
std::string file_service_url_path(const std::string& run_dir);

class FileService {
public:
    using LogLine = std::function<void(const std::string&)>;
    /// Listens on 127.0.0.1 (a port the system picks) and serves `root` from a thread of its own.
    static Result<std::unique_ptr<FileService>> start(std::string root, LogLine log);
    ~FileService(); ///< stops serving and joins the thread
    FileService(const FileService&) = delete;
    FileService& operator=(const FileService&) = delete;

    int port() const noexcept { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    FileService(int listener, int port, std::string root, LogLine log);
    void serve();
    void answer(int connection);

    int listener_;
    int port_;
    std::string root_;
    LogLine log_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace enos::hub::sim
