// Notices a half-open link to the broker (the peer or the path went silent, the socket stayed
// open) sooner than Paho does.
//
// Paho sends PINGREQ once a keep-alive interval passed without traffic, checked every tenth of the
// keep-alive (at most every 5 s), and gives up on a missing PINGRESP only 1.5 intervals after that:
// measured, 154 s after the last byte with a 60 s keep-alive (11 s with 4 s). A healthy broker
// answers every PINGREQ, so on a live link some data always arrives within a keep-alive plus Paho's
// check step plus a round trip. The watchdog reads how long the kernel has received nothing on the socket
// (TCP_INFO) and, past `limit`, shuts the socket down: Paho then sees the connection end and
// reports the loss through its usual path. With limit = 1.3 keep-alives and a check every
// 1/20 keep-alive, a silent link is given up within 1.35 keep-alives of its last byte (measured:
// 80 s with a 60 s keep-alive). It needs the link's socket, which the transport finds when
// tcp_nodelay is on (the default); without it Paho's own detection is all there is.
#pragma once

#include "transport/tcp_nodelay.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace enos::device::detail {

class LinkWatchdog {
public:
    LinkWatchdog() = default;
    ~LinkWatchdog();
    LinkWatchdog(const LinkWatchdog&) = delete;
    LinkWatchdog& operator=(const LinkWatchdog&) = delete;

    /// The silence after which a link of this keep-alive is given up, and how often it is checked.
    static std::chrono::milliseconds limit_for(std::chrono::seconds keep_alive);
    static std::chrono::milliseconds period_for(std::chrono::seconds keep_alive);

    /// Starts watching the link's socket (replacing any earlier one). Never blocks for long: may
    /// be called from a Paho callback.
    void watch(const SocketRef& socket, std::chrono::seconds keep_alive);
    /// Stops watching; the socket is no longer touched.
    void forget();
    /// Why the watchdog shut the last link down ("" if it did not), cleared by the call.
    std::string take_reason();

private:
    void run();
    void check_locked();
    void release_locked();

    std::mutex mutex_;
    std::condition_variable changed_;
    std::thread thread_;
    bool stopping_ = false;
    SocketHandle socket_; ///< our own duplicate of the link's descriptor: never another socket
    std::chrono::milliseconds limit_{0}, period_{0};
    std::string reason_;
};

} // namespace enos::device::detail
