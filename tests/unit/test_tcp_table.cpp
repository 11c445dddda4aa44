// Reading the kernel's TCP tables (/proc/net/tcp, /proc/net/tcp6), through which the transport finds
// the peer of a socket without touching descriptors of other threads (src/transport/tcp_nodelay.hpp).
#include "transport/tcp_nodelay.hpp"

#include "support/catch.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <vector>

using namespace enos::device;
using namespace enos::device::detail;

namespace {

std::string address_of(const sockaddr_storage& peer) {
    char text[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
    else
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
    return text;
}

unsigned short port_of(const sockaddr_storage& peer) {
    return ntohs(peer.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(peer).sin_port
                                           : reinterpret_cast<const sockaddr_in6&>(peer).sin6_port);
}

} // namespace

TEST_CASE("tcp table: an IPv4 line gives the peer and the inode", "[unit][transport]") {
    // As printed on a little-endian machine (x86-64, aarch64): addresses as native 32-bit words,
    // ports in host order.
    const std::string line = "   3: 0100007F:D3A2 0100007F:075B 01 00000000:00000000 02:000A7A3C 00000000"
                             "     0        0 4012345 2 0000000000000000 20 4 30 10 -1";
    Result<TcpTableEntry> entry = parse_tcp_table_line(line, AF_INET);
    REQUIRE(entry);
    CHECK(entry->peer.ss_family == AF_INET);
    CHECK(address_of(entry->peer) == "127.0.0.1");
    CHECK(port_of(entry->peer) == 1883);
    CHECK(entry->inode == 4012345);
}

TEST_CASE("tcp table: an IPv6 line gives the peer and the inode", "[unit][transport]") {
    const std::string line =
        "   0: 00000000000000000000000001000000:A1B2 00000000000000000000000001000000:22B3 01 "
        "00000000:00000000 00:00000000 00000000  1000        0 987654 1 0000000000000000 20 4 "
        "0 10 -1";
    Result<TcpTableEntry> entry = parse_tcp_table_line(line, AF_INET6);
    REQUIRE(entry);
    CHECK(entry->peer.ss_family == AF_INET6);
    CHECK(address_of(entry->peer) == "::1");
    CHECK(port_of(entry->peer) == 8883);
    CHECK(entry->inode == 987654);
}

TEST_CASE("tcp table: the header, a line of the other family and broken lines are refused",
          "[unit][transport]") {
    const std::string v4 = "   3: 0100007F:D3A2 0100007F:075B 01 00000000:00000000 02:000A7A3C 00000000"
                           "     0        0 4012345 2 0000000000000000 20 4 30 10 -1";
    CHECK_FALSE(parse_tcp_table_line("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                                     "retrnsmt   uid  timeout inode",
                                     AF_INET));
    CHECK_FALSE(parse_tcp_table_line(v4, AF_INET6));
    CHECK_FALSE(parse_tcp_table_line("", AF_INET));
    CHECK_FALSE(parse_tcp_table_line("   3: 0100007F:D3A2 0100007G:075B 01", AF_INET));
    std::string truncated = v4.substr(0, v4.find(" 4012345"));
    CHECK_FALSE(parse_tcp_table_line(truncated, AF_INET));
}

TEST_CASE("tcp table: this process's own connection is found by its peer", "[unit][transport]") {
    // A listener and a client on 127.0.0.1: the client's socket is listed with the listener's port
    // as its peer, under the inode its descriptor names.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);

    const std::vector<unsigned long> before = socket_snapshot();
    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);

    BrokerAddress broker;
    broker.port = ntohs(address.sin_port);
    sockaddr_storage peer{};
    std::memcpy(&peer, &address, sizeof address);
    broker.addresses.push_back(peer);
    Result<SocketRef> found = find_new_socket(before, broker);
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

    ::close(client);
    ::close(listener);
}
