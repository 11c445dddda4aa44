#include "support/fault_fs.hpp"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace enos::test {

std::unique_ptr<SmallDisk> SmallDisk::mount(std::size_t bytes, std::string& why) {
    std::unique_ptr<SmallDisk> disk(new SmallDisk);
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", disk->path().c_str(), "tmpfs", 0, options.c_str()) != 0) {
        why = "cannot mount a tmpfs on " + disk->path() + ": " + std::strerror(errno);
        return nullptr;
    }
    disk->mounted_ = true;
    return disk;
}

SmallDisk::~SmallDisk() {
    if (mounted_) ::umount2(path().c_str(), MNT_DETACH);
}

FileSizeLimit::FileSizeLimit(std::uint64_t bytes) {
    if (::getrlimit(RLIMIT_FSIZE, &saved_) != 0) return;
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    if (::sigaction(SIGXFSZ, &ignore, &saved_action_) != 0) return;
    rlimit capped = saved_;
    capped.rlim_cur = static_cast<rlim_t>(bytes);
    ok_ = ::setrlimit(RLIMIT_FSIZE, &capped) == 0;
}

FileSizeLimit::~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::sigaction(SIGXFSZ, &saved_action_, nullptr);
}

std::map<std::string, std::string> read_directory(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.is_regular_file())
            files[entry.path().filename().string()] = read_file(entry.path().string());
    return files;
}

void restore_directory(const std::string& dir, const std::map<std::string, std::string>& files) {
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        std::filesystem::remove_all(entry.path());
    for (const auto& [name, bytes] : files)
        write_file(dir + "/" + name, bytes);
}

} // namespace enos::test
