// File-system faults for the offline store's tests: a disk that fills up (a small tmpfs), a file
// size limit, and whole-directory snapshots to damage and restore.
#pragma once

#include "support/temp_dir.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace enos::test {

/// A tmpfs of a given size mounted on a fresh directory, unmounted (with its contents) at the end.
/// Needs CAP_SYS_ADMIN (root).
class SmallDisk {
public:
    /// nullptr, with the reason in `why`, when mounting is not possible here.
    static std::unique_ptr<SmallDisk> mount(std::size_t bytes, std::string& why);
    ~SmallDisk();
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;

    const std::string& path() const { return dir_.path(); }

private:
    SmallDisk() = default;
    TempDir dir_{"enos-small-disk"};
    bool mounted_ = false;
};

/// Caps the size of any file this process writes (RLIMIT_FSIZE) until the end of the scope. SIGXFSZ
/// is ignored meanwhile, so a write past the cap fails with EFBIG instead of killing the process.
/// Keep the scope short: it applies to every file the process writes, test reports included.
class FileSizeLimit {
public:
    explicit FileSizeLimit(std::uint64_t bytes);
    ~FileSizeLimit();
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

    bool ok() const { return ok_; }

private:
    rlimit saved_{};
    struct sigaction saved_action_ {};
    bool ok_ = false;
};

/// Every regular file of `dir` (not its subdirectories): name -> content.
std::map<std::string, std::string> read_directory(const std::string& dir);
/// Makes `dir` hold exactly `files` (removing everything else in it).
void restore_directory(const std::string& dir, const std::map<std::string, std::string>& files);

} // namespace enos::test
