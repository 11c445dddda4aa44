// Turning off Nagle's algorithm on Paho's socket.
//
// Paho never sets TCP_NODELAY and offers no hook to reach its socket, so a small publish that
// follows another one (a command reply after the PUBACK of the command, a request after the
// previous one) waits for the delayed ACK of the peer: ~40 ms on Linux. We find our own socket
// after every connect instead:
//   1. Before the attempt, take a snapshot of the process's open sockets (their inode numbers).
//   2. When CONNACK arrives, look for sockets that are new since the snapshot and whose peer is the
//      broker's address and port. That is ours only if exactly one matches.
//   3. Set TCP_NODELAY on it (and keep it, to switch the option later: see PahoTransport).
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

/// A socket as found: its descriptor, and the inode that tells it from a later reuse of the number.
struct SocketRef {
    int fd = -1;
    unsigned long inode = 0;
};

/// The one socket opened since `before` whose peer is `broker`. The error says why not (no
/// candidate, several candidates).
Result<SocketRef> find_new_socket(const std::vector<unsigned long>& before, const BrokerAddress& broker);

/// Sets TCP_NODELAY on or off, if `socket` is still open. Turning it on sends at once what Nagle's
/// algorithm was holding back.
Status set_nodelay(const SocketRef& socket, bool on);

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
