#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>

namespace enos::test {
namespace {

using Clock = FaultProxy::Clock;
using std::chrono::milliseconds;

constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t max_queued = 256 * 1024; ///< per direction; beyond it the sender is not read
constexpr std::size_t connack_bytes = 4;

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("fault proxy: " + what + ": " + std::strerror(errno));
}

/// A non-blocking connection to 127.0.0.1:port, or -1 when nothing accepts there within a second.
int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const sockaddr_in addr = loopback(port);
    bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    if (!ok && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int error = 0;
        socklen_t size = sizeof error;
        ok = ::poll(&p, 1, 1000) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 &&
             error == 0;
    }
    if (ok) return fd;
    ::close(fd);
    return -1;
}

int millis_until(Clock::time_point when, Clock::time_point now) {
    if (when <= now) return 0;
    return static_cast<int>(std::chrono::ceil<milliseconds>(when - now).count());
}

} // namespace

/// One accepted connection and its connection to the broker.
struct FaultProxy::Link {
    struct Chunk {
        std::string bytes;
        Clock::time_point due; ///< not forwarded before (Mode::delay)
    };
    /// One direction of the link: bytes read from `from`, waiting to be written to `to`.
    struct Direction {
        int from = -1, to = -1;
        std::deque<Chunk> queue;
        std::size_t queued = 0;
        bool eof = false; ///< `from` closed its side: nothing more will come
        std::uint64_t sent = 0;
        double tokens = 0; ///< Mode::throttle's budget in bytes
        Clock::time_point refilled = Clock::now();
    };

    std::size_t number = 0;
    int client = -1, broker = -1;
    Mode mode = Mode::pass;
    bool cut_after_connack = false;
    bool closed = false;
    Direction up, down; ///< client -> broker, broker -> client

    void close() {
        if (closed) return;
        closed = true;
        ::close(client);
        ::close(broker);
    }
};

FaultProxy::FaultProxy(std::uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) fail("socket");
    sockaddr_in addr = loopback(0);
    socklen_t length = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
        const int saved = errno;
        ::close(listen_fd_);
        errno = saved;
        fail("listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
        ::close(listen_fd_);
        fail("pipe");
    }
    thread_ = std::thread([this] { run(); });
}

FaultProxy::~FaultProxy() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake();
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_fds_[0]);
    ::close(wake_fds_[1]);
}

std::string FaultProxy::url() const {
    return "tcp://127.0.0.1:" + std::to_string(port_);
}

template <class Change> void FaultProxy::command(Change change) {
    std::unique_lock lock(mutex_);
    change(settings_);
    const std::uint64_t generation = ++requested_;
    lock.unlock();
    wake();
    lock.lock();
    applied_cv_.wait(lock, [&] { return applied_ >= generation || stopping_; });
}

void FaultProxy::set_mode(Mode mode) {
    command([&](Settings& s) {
        s.mode = mode;
        s.mode_changed = true;
    });
}

void FaultProxy::set_link_mode(std::size_t link, Mode mode) {
    command([&](Settings& s) { s.link_modes.emplace_back(link, mode); });
}

void FaultProxy::set_delay(milliseconds delay) {
    command([&](Settings& s) { s.delay = delay; });
}

void FaultProxy::set_throttle(std::size_t bytes_per_second) {
    command([&](Settings& s) { s.bytes_per_second = std::max<std::size_t>(1, bytes_per_second); });
}

void FaultProxy::cut() {
    command([](Settings& s) { s.links_to_cut.push_back(0); });
}

void FaultProxy::cut_link(std::size_t link) {
    command([&](Settings& s) { s.links_to_cut.push_back(link); });
}

void FaultProxy::refuse_new(bool on) {
    command([&](Settings& s) { s.refuse = on; });
}

void FaultProxy::cut_after_connack(std::size_t links) {
    command([&](Settings& s) { s.cut_after_connack = links; });
}

std::size_t FaultProxy::accepted() const {
    std::lock_guard lock(mutex_);
    return accept_times_.size();
}

std::vector<Clock::time_point> FaultProxy::accept_times() const {
    std::lock_guard lock(mutex_);
    return accept_times_;
}

std::size_t FaultProxy::refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
}

std::size_t FaultProxy::open_links() const {
    std::lock_guard lock(mutex_);
    return open_links_;
}

FaultProxy::Traffic FaultProxy::traffic() const {
    std::lock_guard lock(mutex_);
    return traffic_;
}

void FaultProxy::wake() {
    const char byte = 1;
    // A full pipe already holds a wake-up; nothing is lost when this write fails.
    static_cast<void>(::write(wake_fds_[1], &byte, 1));
}

// Called with mutex_ held.
void FaultProxy::apply(std::vector<Link>& links, Settings& settings) {
    for (Link& link : links) {
        if (settings.mode_changed) link.mode = settings.mode;
        for (const auto& [number, mode] : settings.link_modes)
            if (link.number == number) link.mode = mode;
        for (std::size_t number : settings.links_to_cut)
            if (number == 0 || number == link.number) link.close();
    }
    settings.mode_changed = false;
    settings.link_modes.clear();
    settings.links_to_cut.clear();
}

// Called with mutex_ held.
void FaultProxy::accept_new(std::vector<Link>& links, Settings& settings) {
    while (true) {
        const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) return;
        accept_times_.push_back(Clock::now());
        if (settings.refuse) {
            ++refused_;
            ::close(client);
            continue;
        }
        const int broker = connect_to(target_port_);
        if (broker < 0) { // the broker is down: the client sees its connection closed
            ::close(client);
            continue;
        }
        Link link;
        link.number = accept_times_.size();
        link.client = client;
        link.broker = broker;
        link.mode = settings.mode;
        link.up.from = link.down.to = client;
        link.up.to = link.down.from = broker;
        if (settings.cut_after_connack > 0) {
            link.cut_after_connack = true;
            --settings.cut_after_connack;
        }
        links.push_back(std::move(link));
    }
}

void FaultProxy::run() {
    std::vector<Link> links;
    std::vector<pollfd> fds;
    std::vector<char> buffer(read_size);
    while (true) {
        milliseconds delay;
        double rate;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) break;
            if (applied_ < requested_) {
                apply(links, settings_);
                applied_ = requested_;
                applied_cv_.notify_all();
            }
            delay = settings_.delay;
            rate = static_cast<double>(settings_.bytes_per_second);
            links.erase(std::remove_if(links.begin(), links.end(), [](const Link& l) { return l.closed; }),
                        links.end());
            open_links_ = links.size();
        }

        Clock::time_point now = Clock::now();
        std::optional<Clock::time_point> next_timer;
        auto timer_at = [&](Clock::time_point when) {
            if (!next_timer || when < *next_timer) next_timer = when;
        };
        // How many bytes a direction may write now, and when it may write more.
        auto writable = [&](const Link& link, Link::Direction& d) -> std::size_t {
            if (d.queue.empty() || link.mode == Mode::stall) return 0;
            if (d.queue.front().due > now) {
                timer_at(d.queue.front().due);
                return 0;
            }
            if (link.mode != Mode::throttle) return d.queue.front().bytes.size();
            const double elapsed = std::chrono::duration<double>(now - d.refilled).count();
            d.tokens = std::min(std::max(rate / 10, 1.0), d.tokens + elapsed * rate);
            d.refilled = now;
            if (d.tokens < 1) {
                timer_at(now + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>((1 - d.tokens) / rate)));
                return 0;
            }
            return std::min(d.queue.front().bytes.size(), static_cast<std::size_t>(d.tokens));
        };

        fds.clear();
        fds.push_back({wake_fds_[0], POLLIN, 0});
        fds.push_back({listen_fd_, POLLIN, 0});
        for (Link& link : links) {
            short client_events = 0, broker_events = 0;
            if (link.mode != Mode::stall) {
                if (!link.up.eof && link.up.queued < max_queued) client_events |= POLLIN;
                if (!link.down.eof && link.down.queued < max_queued) broker_events |= POLLIN;
                if (writable(link, link.up) > 0) broker_events |= POLLOUT;
                if (writable(link, link.down) > 0) client_events |= POLLOUT;
            }
            // A socket with nothing to do is left out, so that a hang-up on a stalled link goes
            // unnoticed (as on a real half-open link) instead of waking poll() again and again.
            fds.push_back({client_events ? link.client : -1, client_events, 0});
            fds.push_back({broker_events ? link.broker : -1, broker_events, 0});
        }
        const int timeout = next_timer ? millis_until(*next_timer, now) : -1;
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;

        if (fds[0].revents & POLLIN)
            while (::read(wake_fds_[0], buffer.data(), buffer.size()) > 0) {
            }
        std::lock_guard lock(mutex_);
        if (fds[1].revents & POLLIN) accept_new(links, settings_);

        now = Clock::now();
        auto read_into = [&](Link& link, Link::Direction& d) {
            const ssize_t n = ::recv(d.from, buffer.data(), buffer.size(), 0);
            if (n > 0) {
                const auto due = link.mode == Mode::delay ? now + delay : now;
                d.queue.push_back({std::string(buffer.data(), static_cast<std::size_t>(n)), due});
                d.queued += static_cast<std::size_t>(n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                d.eof = true;
            }
        };
        auto write_from = [&](Link& link, Link::Direction& d, std::uint64_t& counter) {
            const std::size_t allowed = writable(link, d);
            if (allowed == 0) return;
            Link::Chunk& chunk = d.queue.front();
            const ssize_t n = ::send(d.to, chunk.bytes.data(), allowed, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR) link.close();
                return;
            }
            const auto written = static_cast<std::size_t>(n);
            chunk.bytes.erase(0, written);
            d.queued -= written;
            d.sent += written;
            d.tokens -= static_cast<double>(written);
            counter += written;
            if (chunk.bytes.empty()) d.queue.pop_front();
        };
        // Only the links that were polled: accept_new() may have appended some since.
        const std::size_t polled = (fds.size() - 2) / 2;
        for (std::size_t i = 0; i < polled; ++i) {
            Link& link = links[i];
            const short client_revents = fds[2 + 2 * i].revents, broker_revents = fds[3 + 2 * i].revents;
            if (link.closed || link.mode == Mode::stall) continue;
            if (client_revents & (POLLIN | POLLHUP | POLLERR)) read_into(link, link.up);
            if (broker_revents & (POLLIN | POLLHUP | POLLERR)) read_into(link, link.down);
            if (broker_revents & POLLOUT) write_from(link, link.up, traffic_.to_broker);
            if (client_revents & POLLOUT) write_from(link, link.down, traffic_.to_client);
            // A side that closed ends the link once what it sent has been passed on.
            const bool drained =
                (link.up.eof && link.up.queue.empty()) || (link.down.eof && link.down.queue.empty());
            if (drained || (link.cut_after_connack && link.down.sent >= connack_bytes)) link.close();
        }
        // Counted before the lock is released: poll() may not return for a long time.
        open_links_ = static_cast<std::size_t>(
            std::count_if(links.begin(), links.end(), [](const Link& l) { return !l.closed; }));
    }
    for (Link& link : links)
        link.close();
    std::lock_guard lock(mutex_);
    stopping_ = true; // also when poll() failed: no command waits for this thread any more
    open_links_ = 0;
    applied_cv_.notify_all();
}

} // namespace enos::test
