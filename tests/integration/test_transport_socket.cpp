// The client's own socket to the broker gets TCP_NODELAY after the first connect and after every
// reconnect, while another thread keeps opening and closing descriptors of every kind (of those,
// the transport only duplicates the sockets that appear during a connect attempt and asks the
// duplicates for their peer: under TSan this test also checks that no descriptor of another thread
// is used while it may be closed).
#include "client_support.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace enos::device;
using namespace enos::test;
using namespace enos::test::client;

namespace {

/// What the kernel says about this process's connections to 127.0.0.1:port.
struct BrokerSockets {
    std::set<unsigned long> inodes; ///< distinct sockets
    bool all_nodelay = true;
};

/// Looks at every descriptor of the process through its link name and getpeername/getsockopt only;
/// runs while the churn is paused, so the descriptors it sees are not being closed.
BrokerSockets sockets_to(std::uint16_t port) {
    BrokerSockets found;
    DIR* dir = opendir("/proc/self/fd");
    REQUIRE(dir != nullptr);
    while (const dirent* entry = readdir(dir)) {
        char target[64] = {};
        const ssize_t length = readlinkat(dirfd(dir), entry->d_name, target, sizeof target - 1);
        unsigned long inode = 0;
        if (length <= 0 || std::sscanf(target, "socket:[%lu]", &inode) != 1) continue;
        const int fd = std::atoi(entry->d_name);
        sockaddr_in peer{};
        socklen_t size = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0 || peer.sin_family != AF_INET ||
            ntohs(peer.sin_port) != port || peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
            continue;
        int nodelay = 0;
        socklen_t option_size = sizeof nodelay;
        if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &option_size) != 0 || nodelay == 0)
            found.all_nodelay = false;
        found.inodes.insert(inode);
    }
    closedir(dir);
    return found;
}

/// Opens and closes descriptors on its own thread until paused: pipes, files, Unix socket pairs and
/// TCP connections to a listener of its own (none to the broker).
class DescriptorChurn {
public:
    DescriptorChurn() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listener_ >= 0);
        address_.sin_family = AF_INET;
        address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address_), sizeof address_) == 0);
        REQUIRE(::listen(listener_, 16) == 0);
        socklen_t size = sizeof address_;
        REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address_), &size) == 0);
        resume();
    }
    ~DescriptorChurn() {
        pause();
        ::close(listener_);
    }
    void resume() {
        running_ = true;
        thread_ = std::thread([this] { churn(); });
    }
    void pause() {
        running_ = false;
        if (thread_.joinable()) thread_.join();
    }
    std::uint64_t rounds() const { return rounds_; }

private:
    void churn() {
        while (running_) {
            int fds[2];
            if (::pipe2(fds, O_CLOEXEC) == 0) {
                ::close(fds[0]);
                ::close(fds[1]);
            }
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0) {
                ::close(fds[0]);
                ::close(fds[1]);
            }
            const int file = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (file >= 0) ::close(file);
            const int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (tcp >= 0) {
                if (::connect(tcp, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) == 0) {
                    const int accepted = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                    if (accepted >= 0) ::close(accepted);
                }
                ::close(tcp);
            }
            ++rounds_;
        }
    }

    int listener_ = -1;
    sockaddr_in address_{};
    std::atomic<bool> running_{false};
    std::atomic<std::uint64_t> rounds_{0};
    std::thread thread_;
};

} // namespace

TEST_CASE("transport: TCP_NODELAY is set on the client's socket after every connect while other "
          "threads open and close descriptors",
          "[integration][client]") {
    HubProcess h = HubProcess::start();
    LogLines log;
    ClientOptions options = options_for(h, "pkTest", "dev1", "devSecret1");
    options.log_sink = log.sink();
    options.log_level = LogLevel::debug;
    // Three links in a row: the platform's 4-per-2-minutes rule and a growing back-off would leave a
    // slow broker restart (a loaded machine) waiting for minutes; this test is about the socket.
    options.reconnect_backoff.window_attempts = 0; // the hub's connect limit is off in tests
    options.reconnect_backoff.max = 1s;
    DescriptorChurn churn;
    REQUIRE(eventually([&] { return churn.rounds() > 0; })); // running before the first connect

    DeviceClient c = connected_client(options);
    for (int link = 0; link < 3; ++link) {
        if (link > 0) {
            h.stop_broker();
            REQUIRE(eventually([&] { return !c.connected(); }));
            const std::uint64_t before = churn.rounds();
            churn.resume();
            h.start_broker();
            REQUIRE(eventually([&] { return c.connected(); }, 30s));
            REQUIRE(eventually([&] { return churn.rounds() > before; })); // it ran across the reconnect
        }
        churn.pause();
        const BrokerSockets sockets = sockets_to(h.port());
        INFO("link " << link << "\n" << log.all());
        CHECK(sockets.inodes.size() == 1); // the link, seen through Paho's descriptor and ours
        CHECK(sockets.all_nodelay);
    }
    CHECK_FALSE(log.contains("TCP_NODELAY not set"));
}
