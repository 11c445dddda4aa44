// Turning off Nagle's algorithm on Paho's socket.
//
// Paho never sets TCP_NODELAY and offers no hook to reach its socket, so a small publish that
// follows another one (a command reply after the PUBACK of the command, a request after the
// previous one) waits for the delayed ACK of the peer: ~40 ms on Linux. We find our own socket
// after every connect instead; a descriptor of another thread is at most duplicated, never read,
// written or closed:
//   1. Before the attempt, note the inodes of the process's sockets, read from the names of the
//      links in /proc/self/fd (readlink only: other threads may open and close descriptors freely).
//   2. When CONNACK arrives (on Paho's own thread, the only one that closes that socket while the
//      link is up), take a duplicate of each socket that is new since step 1, checked to be the
//      same socket (the number may have been closed and reused), and ask the duplicate for its
//      peer. The one new socket whose peer is the broker's address and port is ours, if exactly one
//      is. Duplicating costs microseconds; the kernel's TCP table (/proc/net/tcp) would tell the
//      same, but reading it walks the whole connection hash table: 1 to 3 ms on a large machine.
//   3. Keep a duplicate of that socket and set TCP_NODELAY through it; it stays with the link so
//      the option can be switched later from any thread without racing Paho closing or another
//      thread reusing the descriptor number. It is closed when the link ends; Paho shuts the socket
//      down before it closes its own descriptor, so the duplicate never keeps a link open.
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
