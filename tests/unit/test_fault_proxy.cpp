// The fault proxy of the integration tests, against a plain TCP peer on 127.0.0.1: each fault does
// what the tests that use it rely on.
#include "support/fault_proxy.hpp"

#include "support/catch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

using enos::test::FaultProxy;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// A listening socket standing in for the broker.
class Peer {
public:
    Peer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof addr;
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 8) == 0);
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
        port_ = ntohs(addr.sin_port);
    }
    ~Peer() { ::close(fd_); }
    std::uint16_t port() const { return port_; }
    /// The next connection the proxy opened to us (waits up to 10 s).
    int accept() {
        pollfd p{fd_, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 10000) == 1);
        return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

void send_all(int fd, const std::string& bytes) {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

/// Reads until `count` bytes came, the peer closed, or `bound` passed.
std::string receive(int fd, std::size_t count, std::chrono::milliseconds bound = 10s) {
    std::string out;
    const auto deadline = Clock::now() + bound;
    char buffer[4096];
    while (out.size() < count) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

/// True when the peer closed the connection within 10 s.
bool closed_by_peer(int fd) {
    char byte;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 10000) == 1 && ::recv(fd, &byte, 1, 0) <= 0;
}

struct Linked {
    int client = -1, server = -1;
    ~Linked() {
        ::close(client);
        ::close(server);
    }
};

Linked link_through(FaultProxy& proxy, Peer& peer) {
    Linked l;
    l.client = connect_to(proxy.port());
    l.server = peer.accept();
    REQUIRE(l.server >= 0);
    return l;
}

} // namespace

TEST_CASE("fault proxy: passes bytes both ways and counts them", "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    Linked l = link_through(proxy, peer);
    send_all(l.client, "hello");
    CHECK(receive(l.server, 5) == "hello");
    send_all(l.server, "world!");
    CHECK(receive(l.client, 6) == "world!");
    CHECK(proxy.accepted() == 1);
    CHECK(proxy.open_links() == 1);
    CHECK(proxy.traffic().to_broker == 5);
    CHECK(proxy.traffic().to_client == 6);
}

TEST_CASE("fault proxy: a stalled link keeps its sockets open and forwards nothing until resumed",
          "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    Linked l = link_through(proxy, peer);
    proxy.set_mode(FaultProxy::Mode::stall);
    send_all(l.client, "ping");
    // Nothing can arrive while stalled; the window only bounds how long the test looks.
    CHECK(receive(l.server, 1, 300ms).empty());
    CHECK(proxy.open_links() == 1);
    CHECK(proxy.traffic().to_broker == 0);
    proxy.set_mode(FaultProxy::Mode::pass);
    CHECK(receive(l.server, 4) == "ping");
}

TEST_CASE("fault proxy: cut closes both sides", "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    Linked l = link_through(proxy, peer);
    proxy.cut();
    CHECK(closed_by_peer(l.client));
    CHECK(closed_by_peer(l.server));
    CHECK(proxy.open_links() == 0);
}

TEST_CASE("fault proxy: one link is stalled or cut on its own", "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    Linked first = link_through(proxy, peer);
    Linked second = link_through(proxy, peer);
    proxy.set_link_mode(1, FaultProxy::Mode::stall);
    send_all(second.client, "two");
    CHECK(receive(second.server, 3) == "two");
    proxy.cut_link(2);
    CHECK(closed_by_peer(second.client));
    CHECK(proxy.open_links() == 1);
    proxy.set_link_mode(1, FaultProxy::Mode::pass);
    send_all(first.client, "one");
    CHECK(receive(first.server, 3) == "one");
}

TEST_CASE("fault proxy: refused connections are closed before any byte", "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    proxy.refuse_new(true);
    const int client = connect_to(proxy.port());
    CHECK(closed_by_peer(client));
    ::close(client);
    CHECK(proxy.refused() == 1);
    CHECK(proxy.accepted() == 1);
    proxy.refuse_new(false);
    Linked l = link_through(proxy, peer);
    send_all(l.client, "x");
    CHECK(receive(l.server, 1) == "x");
}

TEST_CASE("fault proxy: cut_after_connack passes the broker's first 4 bytes, then cuts",
          "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    proxy.cut_after_connack(1);
    {
        Linked l = link_through(proxy, peer);
        send_all(l.server, std::string("\x20\x02\x00\x00", 4));
        CHECK(receive(l.client, 4).size() == 4);
        CHECK(closed_by_peer(l.client));
    }
    Linked next = link_through(proxy, peer); // only one link was asked for
    send_all(next.server, std::string("\x20\x02\x00\x00", 4));
    send_all(next.server, "more");
    CHECK(receive(next.client, 8).size() == 8);
}

TEST_CASE("fault proxy: delay holds each chunk back at least the delay", "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    Linked l = link_through(proxy, peer);
    proxy.set_delay(200ms);
    proxy.set_mode(FaultProxy::Mode::delay);
    const auto sent = Clock::now();
    send_all(l.client, "late");
    CHECK(receive(l.server, 4) == "late");
    CHECK(Clock::now() - sent >= 200ms); // a lower bound: the proxy read the chunk after it was sent
}

TEST_CASE("fault proxy: throttle caps the rate", "[unit][fault_proxy]") {
    Peer peer;
    FaultProxy proxy(peer.port());
    Linked l = link_through(proxy, peer);
    proxy.set_throttle(4000);
    proxy.set_mode(FaultProxy::Mode::throttle);
    const auto sent = Clock::now();
    send_all(l.client, std::string(1000, 'x'));
    CHECK(receive(l.server, 1000).size() == 1000);
    // At most a 400-byte burst, then 4000 bytes/s: the other 600 bytes take at least 150 ms.
    CHECK(Clock::now() - sent >= 150ms);
}
