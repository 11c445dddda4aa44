// Turning off Nagle's algorithm on Paho's socket.
//
// Paho never sets TCP_NODELAY and offers no hook to reach its socket, so a small publish that
// follows another one (a command reply after the PUBACK of the command, a request after the
// previous one) waits for the delayed ACK of the peer: ~40 ms on Linux. We find our own socket
// after every connect instead, without touching any descriptor that is not ours:
//   1. Before the attempt, note the inodes of the process's sockets, read from the names of the
//      links in /proc/self/fd (readlink only: other threads may open and close descriptors freely).
//   2. When CONNACK arrives (on Paho's own thread, the only one that closes that socket while the
//      link is up), the kernel's TCP table names the sockets whose peer is the broker's address
//      and port; the one among them that is new since step 1 is ours, if exactly one is.
//   3. Take a duplicate of that descriptor, checked to be the very same socket, and set TCP_NODELAY
//      through it; the duplicate stays with the link so the option can be switched later from any
//      thread without racing Paho closing or another thread reusing the descriptor number. It is
//      closed when the link ends; Paho shuts the socket down before it closes its own descriptor,
//      so the duplicate never keeps a link open.
// Step 2 is ambiguous only if something else in the process opened a connection to the same broker
// during our attempt. Connect attempts of all DeviceClients in the process take turns through one
// ConnectGate, so only foreign code (e.g. a raw Paho client) can cause that; then we touch nothing
// and say so in the log. Socket options never change the bytes on the wire, only their timing.
#pragma once

#include <enos/device/core/result.hpp>

#include <chrono>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace enos::device::detail {

/// Where the broker of a server URL lives (all addresses its host name resolves to).
struct BrokerAddress {
    std::vector<sockaddr_storage> addresses;
    unsigned short port = 0;
};

/// Resolves "tcp://host:port" / "ssl://host:port". Errors when the URL or the host is unusable.
Result<BrokerAddress> resolve_broker(const std::string& server_url);

/// Whether a TCP connection to the broker can be opened within `bound` (closed again at once).
bool tcp_reachable(const BrokerAddress& broker, std::chrono::milliseconds bound);

/// Inode numbers of the process's sockets, sorted.
std::vector<unsigned long> socket_snapshot();

/// One line of /proc/net/tcp or /proc/net/tcp6: the peer of a TCP socket and its inode (0 for
/// sockets that no descriptor refers to any more, e.g. in TIME_WAIT).
struct TcpTableEntry {
    sockaddr_storage peer{};
    unsigned long inode = 0;
};

/// Parses one line of those tables (`family` AF_INET or AF_INET6); an error for the header line or
/// a malformed one.
Result<TcpTableEntry> parse_tcp_table_line(const std::string& line, int family);

/// Inodes of the TCP sockets in this network namespace whose peer is the broker.
std::vector<unsigned long> sockets_to_broker(const BrokerAddress& broker);

/// A socket as found: its descriptor (in the process) and its inode.
struct SocketRef {
    int fd = -1;
    unsigned long inode = 0;
};

/// The one socket opened since `before` whose peer is `broker`. The error says why not (no
/// candidate, several candidates).
Result<SocketRef> find_new_socket(const std::vector<unsigned long>& before, const BrokerAddress& broker);

/// A descriptor of our own for a socket that another component (Paho) owns: the socket stays
/// addressable through it whatever happens to the owner's descriptor number.
class SocketHandle {
public:
    SocketHandle() = default;
    /// Duplicates `socket.fd` and checks the duplicate is `socket.inode`.
    static Result<SocketHandle> duplicate(const SocketRef& socket);
    ~SocketHandle();
    SocketHandle(SocketHandle&& other) noexcept;
    SocketHandle& operator=(SocketHandle&& other) noexcept;
    SocketHandle(const SocketHandle&) = delete;
    SocketHandle& operator=(const SocketHandle&) = delete;

    explicit operator bool() const noexcept { return fd_ >= 0; }
    int fd() const noexcept { return fd_; }
    /// Sets TCP_NODELAY on or off. Turning it on sends at once what Nagle's algorithm held back.
    Status set_nodelay(bool on) const;

private:
    explicit SocketHandle(int fd) : fd_(fd) {}
    int fd_ = -1;
};

/// Process-wide turn-taking of connect attempts between the snapshot and the search.
class ConnectGate {
public:
    /// Waits up to `timeout` for the turn. A gate that was not acquired does nothing on release.
    explicit ConnectGate(std::chrono::milliseconds timeout);
    ~ConnectGate();
    ConnectGate(const ConnectGate&) = delete;
    ConnectGate& operator=(const ConnectGate&) = delete;
    bool acquired() const noexcept { return acquired_; }

private:
    bool acquired_ = false;
};

} // namespace enos::device::detail
