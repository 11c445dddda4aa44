#include "transport/tcp_nodelay.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace enos::device::detail {
namespace {

std::mutex gate_mutex;
std::condition_variable gate_free;
bool gate_taken = false;

bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
    if (a.ss_family != b.ss_family) return false;
    if (a.ss_family == AF_INET) {
        const auto& x = reinterpret_cast<const sockaddr_in&>(a);
        const auto& y = reinterpret_cast<const sockaddr_in&>(b);
        return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
    }
    if (a.ss_family == AF_INET6) {
        const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
        const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
        return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
    }
    return false;
}

// Calls fn(fd, inode) for every socket among the process's descriptors. Only the names of the links
// in /proc/self/fd are read: no descriptor of another thread is touched (fstat, getpeername), so
// threads opening and closing theirs meanwhile race with nothing here.
template <class Fn> void for_each_socket(Fn fn) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return;
    const int own = dirfd(dir);
    while (const dirent* entry = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == own) continue;
        char target[64];
        const ssize_t length = readlinkat(own, entry->d_name, target, sizeof target - 1);
        if (length <= 0) continue;
        target[length] = '\0';
        unsigned long inode = 0;
        char close = 0;
        if (std::sscanf(target, "socket:[%lu%c", &inode, &close) != 2 || close != ']') continue;
        fn(static_cast<int>(fd), inode);
    }
    closedir(dir);
}

// Whether the socket behind `fd` is connected to one of the broker's addresses.
bool connected_to(int fd, const BrokerAddress& broker) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return false;
    return std::any_of(broker.addresses.begin(), broker.addresses.end(),
                       [&](const sockaddr_storage& a) { return same_endpoint(a, peer); });
}

} // namespace

Result<BrokerAddress> resolve_broker(const std::string& server_url) {
    const std::size_t scheme_end = server_url.find("://");
    if (scheme_end == std::string::npos) return Error{errc::invalid_argument, "server_url has no scheme"};
    std::string authority = server_url.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find('/'));
    std::string host, port;
    if (!authority.empty() && authority.front() == '[') { // [v6]:port
        const std::size_t close = authority.find(']');
        if (close == std::string::npos)
            return Error{errc::invalid_argument, "server_url has an unclosed '['"};
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
    } else {
        const std::size_t colon = authority.rfind(':');
        host = authority.substr(0, colon);
        if (colon != std::string::npos) port = authority.substr(colon + 1);
    }
    if (host.empty()) return Error{errc::invalid_argument, "server_url has no host"};
    if (port.empty()) port = server_url.compare(0, 6, "ssl://") == 0 ? "8883" : "1883";

    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
        return Error{errc::host_unreachable, "cannot resolve '" + host + "': " + gai_strerror(rc)};
    BrokerAddress broker;
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        sockaddr_storage address{};
        std::memcpy(&address, ai->ai_addr, std::min<std::size_t>(ai->ai_addrlen, sizeof address));
        broker.addresses.push_back(address);
    }
    freeaddrinfo(found);
    broker.port = static_cast<unsigned short>(std::atoi(port.c_str()));
    return broker;
}

bool tcp_reachable(const BrokerAddress& broker, std::chrono::milliseconds bound) {
    for (const sockaddr_storage& address : broker.addresses) {
        const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        const socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
        bool reachable = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
        if (!reachable && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            int error = 0;
            socklen_t size = sizeof error;
            reachable = ::poll(&p, 1, static_cast<int>(bound.count())) == 1 &&
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0;
        }
        ::close(fd);
        if (reachable) return true;
    }
    return false;
}

std::vector<unsigned long> socket_snapshot() {
    std::vector<unsigned long> inodes;
    for_each_socket([&](int, unsigned long inode) { inodes.push_back(inode); });
    std::sort(inodes.begin(), inodes.end());
    return inodes;
}

Result<SocketRef> find_new_socket(const std::vector<unsigned long>& before, const BrokerAddress& broker) {
    std::vector<SocketRef> fresh; // collected first: the duplicates below must not be listed too
    for_each_socket([&](int fd, unsigned long inode) {
        if (!std::binary_search(before.begin(), before.end(), inode)) fresh.push_back({fd, inode});
    });
    SocketRef match;
    std::vector<unsigned long> matched;
    for (const SocketRef& candidate : fresh) {
        // Its peer is asked of a duplicate: the owner may close the number and reuse it meanwhile.
        Result<SocketHandle> copy = SocketHandle::duplicate(candidate);
        if (!copy || !connected_to(copy->fd(), broker)) continue;
        if (std::find(matched.begin(), matched.end(), candidate.inode) == matched.end())
            matched.push_back(candidate.inode);
        match = candidate;
    }
    if (matched.empty()) return Error{errc::connect_failed, "no new socket to the broker found"};
    if (matched.size() > 1)
        return Error{errc::connect_failed,
                     "other code in this process connected to the broker at the same time"};
    return match;
}

Result<SocketHandle> SocketHandle::duplicate(const SocketRef& socket) {
    const int fd = fcntl(socket.fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return Error{errc::connect_failed,
                     std::string("cannot duplicate the socket: ") + std::strerror(errno)};
    SocketHandle handle(fd);
    // The number could have been closed and reused since it was found: keep only the very socket.
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || static_cast<unsigned long>(st.st_ino) != socket.inode)
        return Error{errc::connect_failed, "the socket was closed before it could be reached"};
    return handle;
}

SocketHandle::~SocketHandle() {
    if (fd_ >= 0) ::close(fd_);
}

SocketHandle::SocketHandle(SocketHandle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

SocketHandle& SocketHandle::operator=(SocketHandle&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Status SocketHandle::set_nodelay(bool on) const {
    const int value = on ? 1 : 0;
    if (setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value) != 0)
        return Error{errc::connect_failed, std::string("setsockopt(TCP_NODELAY): ") + std::strerror(errno)};
    return {};
}

ConnectGate::ConnectGate(std::chrono::milliseconds timeout) {
    std::unique_lock lock(gate_mutex);
    acquired_ = gate_free.wait_for(lock, timeout, [] { return !gate_taken; });
    if (acquired_) gate_taken = true;
}

ConnectGate::~ConnectGate() {
    if (!acquired_) return;
    {
        std::lock_guard lock(gate_mutex);
        gate_taken = false;
    }
    gate_free.notify_one();
}

} // namespace enos::device::detail
