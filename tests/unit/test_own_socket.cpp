// Finding the transport's own socket to the broker among the process's descriptors, without
// touching any other: only sockets new since a snapshot are duplicated and asked for their peer
// (src/transport/tcp_nodelay.hpp).
#include "transport/tcp_nodelay.hpp"

#include "support/catch.hpp"

#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace enos::device;
using namespace enos::device::detail;

namespace {

/// A TCP listener on 127.0.0.1 with a port of the kernel's choosing.
struct Listener {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};

    Listener() {
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(fd >= 0);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        socklen_t length = sizeof address;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    }
    ~Listener() { ::close(fd); }

    BrokerAddress as_broker() const {
        BrokerAddress broker;
        broker.port = ntohs(address.sin_port);
        sockaddr_storage peer{};
        std::memcpy(&peer, &address, sizeof address);
        broker.addresses.push_back(peer);
        return broker;
    }

    /// A new client socket connected to this listener.
    int connect_client() const {
        const int client = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
        return client;
    }
};

} // namespace

TEST_CASE("own socket: the new connection to the broker is found, other new sockets are not taken",
          "[unit][transport]") {
    Listener broker, elsewhere;
    const std::vector<unsigned long> before = socket_snapshot();
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    const int other = elsewhere.connect_client();
    const int client = broker.connect_client();

    Result<SocketRef> found = find_new_socket(before, broker.as_broker());
    REQUIRE(found);
    CHECK(found->fd == client);

    Result<SocketHandle> handle = SocketHandle::duplicate(*found);
    REQUIRE(handle);
    CHECK(handle->fd() != client);
    REQUIRE(handle->set_nodelay(true));
    int value = 0;
    socklen_t size = sizeof value;
    REQUIRE(::getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &value, &size) == 0);
    CHECK(value == 1); // one socket, two descriptors

    SocketRef stale = *found;
    stale.inode += 1; // a descriptor number reused by another socket meanwhile
    CHECK_FALSE(SocketHandle::duplicate(stale));

    for (int fd : {client, other, pair[0], pair[1]})
        ::close(fd);
}

TEST_CASE("own socket: a connection that was there before, or two new ones, are not taken",
          "[unit][transport]") {
    Listener broker;
    const int earlier = broker.connect_client();
    const std::vector<unsigned long> before = socket_snapshot();

    Result<SocketRef> none = find_new_socket(before, broker.as_broker());
    REQUIRE_FALSE(none);
    CHECK(contains(none.error().detail, "no new socket"));

    const int first = broker.connect_client();
    const int second = broker.connect_client();
    Result<SocketRef> two = find_new_socket(before, broker.as_broker());
    REQUIRE_FALSE(two);
    CHECK(contains(two.error().detail, "at the same time"));

    for (int fd : {earlier, first, second})
        ::close(fd);
}
