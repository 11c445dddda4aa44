#include "transport/link_watchdog.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace enos::device::detail {
namespace {

using std::chrono::milliseconds;

std::string seconds_text(milliseconds ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
    return text;
}

} // namespace

LinkWatchdog::~LinkWatchdog() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        release_locked();
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
}

milliseconds LinkWatchdog::limit_for(std::chrono::seconds keep_alive) {
    return milliseconds(keep_alive) * 13 / 10;
}

milliseconds LinkWatchdog::period_for(std::chrono::seconds keep_alive) {
    return std::max(milliseconds(50), milliseconds(keep_alive) / 20);
}

void LinkWatchdog::watch(const SocketRef& socket, std::chrono::seconds keep_alive) {
    // Our own duplicate pins the very socket: whatever Paho closes later, it never names another one.
    Result<SocketHandle> copy = SocketHandle::duplicate(socket);
    {
        std::lock_guard lock(mutex_);
        release_locked();
        reason_.clear();
        if (!copy || stopping_ || keep_alive.count() <= 0) return;
        socket_ = std::move(*copy);
        limit_ = limit_for(keep_alive);
        period_ = period_for(keep_alive);
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    changed_.notify_all();
}

void LinkWatchdog::forget() {
    std::lock_guard lock(mutex_);
    release_locked();
}

std::string LinkWatchdog::take_reason() {
    std::lock_guard lock(mutex_);
    return std::exchange(reason_, {});
}

void LinkWatchdog::release_locked() {
    socket_ = SocketHandle{};
}

void LinkWatchdog::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (!socket_)
            changed_.wait(lock);
        else
            changed_.wait_for(lock, period_);
        if (!stopping_) check_locked();
    }
}

void LinkWatchdog::check_locked() {
    if (!socket_) return;
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(socket_.fd(), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return;
    if (info.tcpi_state != TCP_ESTABLISHED) return; // ending already: Paho sees it by itself
    const milliseconds silence(info.tcpi_last_data_recv);
    if (silence <= limit_) return;
    reason_ = "nothing received from the broker for " + seconds_text(silence) + " (limit " +
              seconds_text(limit_) + "): the link is half-open";
    // Paho's read then sees the end of the stream and reports the loss as for any closed link.
    ::shutdown(socket_.fd(), SHUT_RDWR);
    release_locked();
}

} // namespace enos::device::detail
