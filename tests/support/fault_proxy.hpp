// A TCP proxy between a client and its broker that injects network faults on command: cut the
// link, stall it (half-open: the sockets stay open but nothing moves), delay or throttle it, refuse
// new connections, or cut new links right after the broker's first reply (CONNACK).
//
// It listens on a free 127.0.0.1 port and forwards every accepted connection to 127.0.0.1:target.
// One thread runs every link with poll(); the test thread changes the faults at any time, and each
// change has taken effect when the call returns. The destructor closes every link and stops the
// thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace enos::test {

class FaultProxy {
public:
    using Clock = std::chrono::steady_clock;

    /// What a link does with the bytes that arrive on either side.
    enum class Mode {
        pass,     ///< forward at once
        stall,    ///< read and write nothing, keep both sockets open (a half-open link)
        delay,    ///< forward each chunk `delay` after it arrived
        throttle, ///< forward at most `bytes_per_second` in each direction
    };

    /// Bytes forwarded so far, over all links.
    struct Traffic {
        std::uint64_t to_broker = 0;
        std::uint64_t to_client = 0;
    };

    /// Starts forwarding to 127.0.0.1:target_port. Throws std::runtime_error if it cannot listen.
    explicit FaultProxy(std::uint16_t target_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const; ///< "tcp://127.0.0.1:P"

    /// The mode of every open link and of the links accepted from now on.
    void set_mode(Mode mode);
    /// The mode of one open link (numbered from 1 in accept order); no effect on a closed one.
    void set_link_mode(std::size_t link, Mode mode);
    void set_delay(std::chrono::milliseconds delay); ///< Mode::delay's latency (default 100 ms)
    void set_throttle(std::size_t bytes_per_second); ///< Mode::throttle's rate (default 1 KiB/s)

    /// Closes both sides of every open link (the client and the broker see the connection end).
    void cut();
    /// Closes both sides of one link.
    void cut_link(std::size_t link);
    /// While on, new connections are accepted and closed at once, before any byte is exchanged.
    void refuse_new(bool on);
    /// The next `links` connections are cut as soon as the broker's first 4 bytes (an MQTT 3.1.1
    /// CONNACK) have reached the client.
    void cut_after_connack(std::size_t links);

    std::size_t accepted() const; ///< connections accepted so far, refused ones included
    std::vector<Clock::time_point> accept_times() const;
    std::size_t refused() const;
    std::size_t open_links() const;
    Traffic traffic() const;

private:
    struct Link;
    struct Settings {
        Mode mode = Mode::pass;
        std::chrono::milliseconds delay{100};
        std::size_t bytes_per_second = 1024;
        bool refuse = false;
        std::size_t cut_after_connack = 0;
        std::vector<std::pair<std::size_t, Mode>> link_modes; ///< requests not yet applied
        std::vector<std::size_t> links_to_cut;                ///< 0: every link
        bool mode_changed = false;
    };

    /// Runs `change` on the settings, wakes the thread and waits until it has applied them.
    template <class Change> void command(Change change);
    void run();
    void accept_new(std::vector<Link>& links, Settings& settings);
    void apply(std::vector<Link>& links, Settings& settings);
    void wake();

    std::uint16_t target_port_;
    std::uint16_t port_ = 0;
    int listen_fd_ = -1;
    int wake_fds_[2] = {-1, -1};

    mutable std::mutex mutex_;
    std::condition_variable applied_cv_;
    Settings settings_;
    std::uint64_t requested_ = 0; ///< settings generations: asked for by the test thread ...
    std::uint64_t applied_ = 0;   ///< ... and applied by the proxy thread
    bool stopping_ = false;
    std::vector<Clock::time_point> accept_times_;
    std::size_t refused_ = 0;
    std::size_t open_links_ = 0;
    Traffic traffic_;

    std::thread thread_;
};

} // namespace enos::test
