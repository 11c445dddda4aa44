// The device of the soak: posts numbered measure points at a steady rate, an event every second and
// a question every two seconds, answers the "soakPing" service, and reports its counters every
// second. Posts and events use the callback form, so a message leaves the offline queue only when
// the cloud answered it: a broker restart loses nothing it had acked but not yet passed on.
#include "soak.hpp"

#include "common/args.hpp"

#include <enos/device.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <malloc.h>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace enos::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace up = device::up;

struct Counters {
    std::atomic<std::int64_t> posted{0}, posts_ok{0}, posts_failed{0};
    std::atomic<std::int64_t> events_sent{0}, events_ok{0}, events_failed{0};
    std::atomic<std::int64_t> requests_ok{0}, requests_failed{0}, commands{0};
};

/// The first few failures on stderr, so that a failing soak says why.
void report_failure(const std::string& what, const device::Error& error) {
    static std::atomic<int> reported{0};
    if (reported++ < 20) std::cerr << "soak device: " << what << " failed: " << error.message() << "\n";
}

device::ResponseCallback count_answer(std::atomic<std::int64_t>& ok, std::atomic<std::int64_t>& failed,
                                      std::string what) {
    return [&ok, &failed, what](device::Result<device::Response> r) {
        if (r) {
            ++ok;
            return;
        }
        ++failed;
        report_failure(what, r.error());
    };
}

/// Runs `step` every `period` until `running` turns false.
template <class Step>
std::thread every(std::chrono::microseconds period, std::atomic<bool>& running, Step step) {
    return std::thread([period, &running, step]() mutable {
        auto next = Clock::now();
        while (running) {
            step();
            next += period;
            std::this_thread::sleep_until(next);
        }
    });
}

/// Bytes the program holds on the heap (all arenas and mmapped blocks), to tell a leak (this grows)
/// from memory the allocator keeps after a peak (only RSS grows).
std::int64_t heap_in_use_kb() {
    const struct mallinfo2 m = mallinfo2();
    return static_cast<std::int64_t>((m.uordblks + m.hblkhd) / 1024);
}

StatusLine status_of(const device::DeviceClient& client, const Counters& c) {
    const device::ClientStats s = client.stats();
    return {{"posted", c.posted},
            {"posts_ok", c.posts_ok},
            {"posts_failed", c.posts_failed},
            {"events_sent", c.events_sent},
            {"events_ok", c.events_ok},
            {"events_failed", c.events_failed},
            {"requests_ok", c.requests_ok},
            {"requests_failed", c.requests_failed},
            {"commands", c.commands},
            {"connected", client.connected() ? 1 : 0},
            {"connects", static_cast<std::int64_t>(s.connects)},
            {"losses", static_cast<std::int64_t>(s.connection_losses)},
            {"depth", static_cast<std::int64_t>(s.queue.depth)},
            {"replayed", static_cast<std::int64_t>(s.queue.replayed)},
            {"duplicates_sent", static_cast<std::int64_t>(s.queue.duplicates_sent)},
            {"dropped", static_cast<std::int64_t>(s.queue.dropped)},
            {"heap_kb", heap_in_use_kb()}};
}

void print_status(StatusLine status) {
    std::cout << format_status(status) << std::endl;
}

bool settled(const device::DeviceClient& client, const Counters& c) {
    return c.posts_ok + c.posts_failed == c.posted && c.events_ok + c.events_failed == c.events_sent &&
           client.stats().queue.depth == 0;
}

int usage(const std::string& error) {
    if (!error.empty()) std::cerr << "enos-soak device: " << error << "\n";
    std::cerr << "usage: enos-soak device --url URL --pk PK --dk DK --secret SECRET [--rate POSTS_PER_S]\n";
    return 2;
}

} // namespace

int device_main(int argc, char** argv) {
    auto args =
        tools::parse_command_line(tools::arguments_from(argc, argv, 1),
                                  {tools::valued("--url"), tools::valued("--pk"), tools::valued("--dk"),
                                   tools::valued("--secret"), tools::valued("--rate")});
    if (!args) return usage(args.error().detail);
    for (const char* required : {"--url", "--pk", "--dk", "--secret"})
        if (!args->value(required)) return usage(std::string("missing ") + required);
    auto rate = tools::parse_integer(args->value("--rate").value_or("100"), "--rate", 1, 10000);
    if (!rate) return usage(rate.error().detail);

    // The signals that end the run are taken by sigtimedwait() below, never by a handler.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    device::ClientOptions o;
    o.server_url = *args->value("--url");
    o.product_key = *args->value("--pk");
    o.device_key = *args->value("--dk");
    o.device_secret = *args->value("--secret");
    o.client_id = o.device_key + "-soak-" + std::to_string(::getpid());
    // Reconnect quickly after each fault (the soak's hub has the connect limit off).
    o.reconnect_backoff.initial = 100ms;
    o.reconnect_backoff.max = 2s;
    o.reconnect_backoff.min_spacing = 100ms;
    o.reconnect_backoff.window_attempts = 0;
    o.log_level = device::LogLevel::warn;
    o.log_sink = [](device::LogLevel level, std::string_view text) {
        std::cerr << "soak device " << to_string(level) << ": " << text << "\n";
    };
    auto client = device::DeviceClient::create(o);
    if (!client) return usage(client.error().message());
    Counters c;
    client->on_service("soakPing", [&](const device::ServiceCall&) {
        ++c.commands;
        return device::CommandReply::ok_json(R"("pong")");
    });
    for (auto deadline = Clock::now() + 60s;;) {
        device::Status s = client->connect();
        if (s) break;
        if (Clock::now() > deadline) {
            std::cerr << "soak device: cannot connect: " << s.error().message() << "\n";
            return 1;
        }
        std::this_thread::sleep_for(1s);
    }

    std::atomic<bool> running{true};
    const auto post_period = std::chrono::microseconds(1000000 / *rate);
    std::thread poster = every(post_period, running, [&] {
        const std::int64_t seq = c.posted;
        client->send_async(up::MeasurepointPost{{{"seq", device::Value(seq)}}},
                           count_answer(c.posts_ok, c.posts_failed, "post " + std::to_string(seq)));
        ++c.posted;
    });
    std::thread eventer = every(1s, running, [&] {
        const std::int64_t n = c.events_sent;
        client->send_async(up::EventPost{"soakEvent", {{"n", device::Value(n)}}},
                           count_answer(c.events_ok, c.events_failed, "event " + std::to_string(n)));
        ++c.events_sent;
    });
    // Questions fail fast with not_connected during an outage: counted, not an error of the soak.
    std::thread asker = every(2s, running, [&] {
        if (client->send(up::AttributeQuery{}))
            ++c.requests_ok;
        else
            ++c.requests_failed;
    });

    const timespec second{1, 0};
    while (sigtimedwait(&stop_signals, nullptr, &second) < 0)
        print_status(status_of(*client, c));
    running = false;
    for (std::thread* t : {&poster, &eventer, &asker})
        t->join();
    const auto deadline = Clock::now() + 240s;
    while (!settled(*client, c) && Clock::now() < deadline) {
        print_status(status_of(*client, c));
        std::this_thread::sleep_for(1s);
    }
    StatusLine last = status_of(*client, c);
    last["final"] = 1;
    last["settled"] = settled(*client, c) ? 1 : 0;
    print_status(last);
    return last["settled"] == 1 ? 0 : 1;
}

} // namespace enos::soak
