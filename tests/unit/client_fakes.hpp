// A scripted transport and a manual clock for the DeviceClient unit tests: no broker, no sockets,
// and time moves only when the test says so.
#pragma once

#include "client/testing.hpp"
#include <enos/device/core/payload.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace enos::test {

using namespace std::chrono_literals;
using device::Status;
using device::detail::Transport;
using device::detail::TransportConnectParams;
using device::detail::TransportEvents;

class ManualClock final : public device::detail::Clock {
public:
    time_point now() const override { return time_point(std::chrono::nanoseconds(now_.load())); }
    bool manual() const override { return true; }
    void advance(std::chrono::nanoseconds by) { now_ += by.count(); }

private:
    std::atomic<std::int64_t> now_{1'000'000'000'000};
};

struct Published {
    std::string topic, payload;
    int qos = 0;
};

/// Everything the fake transport saw, and the knobs of its behaviour. Shared between the test and
/// the transport (which the client owns). Events and completions run on the test's thread, standing
/// in for the MQTT library's thread.
class FakeBroker {
    template <class F> auto locked(F f) const -> decltype(f()) {
        std::lock_guard lock(mutex_);
        return f();
    }

public:
    // behaviour
    Status connect_result;                   ///< what each connect attempt answers (when automatic)
    bool answer_connects = true;             ///< false: connect attempts wait for finish_connect()
    std::vector<std::string> refused_topics; ///< subscriptions the "broker" refuses

    // what the transport saw
    std::vector<TransportConnectParams> connects() const {
        return locked([&] { return connects_; });
    }
    std::vector<std::vector<std::string>> subscriptions() const {
        return locked([&] { return subscriptions_; });
    }
    std::vector<Published> published() const {
        return locked([&] { return published_; });
    }
    int disconnects() const {
        return locked([&] { return disconnects_; });
    }
    /// "subscribe <topic>", "publish <topic>" and "coalescing on|off" in the order the transport
    /// saw them.
    std::vector<std::string> journal() const {
        return locked([&] { return journal_; });
    }
    /// How often `topic` was subscribed, over all SUBSCRIBEs.
    std::size_t times_subscribed(const std::string& topic) const {
        std::size_t n = 0;
        for (const auto& subscribe : subscriptions())
            for (const std::string& t : subscribe)
                n += t == topic;
        return n;
    }

    /// Waits (bounded) until `pred(published())` holds; the published messages at that point.
    std::vector<Published> wait_published(const std::function<bool(const std::vector<Published>&)>& pred,
                                          std::chrono::milliseconds bound = 5s) const {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, bound, [&] { return pred(published_); });
        return published_;
    }
    /// The first message published on `topic` (waits for it, bounded); nullopt if none came.
    std::optional<Published> wait_for_topic(const std::string& topic, std::size_t nth = 0,
                                            std::chrono::milliseconds bound = 5s) const {
        auto all =
            wait_published([&](const std::vector<Published>& p) { return count_on(p, topic) > nth; }, bound);
        for (const Published& m : all)
            if (m.topic == topic && nth-- == 0) return m;
        return std::nullopt;
    }
    bool wait_connects(std::size_t n, std::chrono::milliseconds bound = 5s) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, bound, [&] { return connects_.size() >= n; });
    }
    static std::size_t count_on(const std::vector<Published>& p, const std::string& topic) {
        std::size_t n = 0;
        for (const Published& m : p)
            n += m.topic == topic;
        return n;
    }

    /// Drops what the transport recorded so far (tests that measure the client's own memory).
    void forget() {
        std::lock_guard lock(mutex_);
        std::vector<std::vector<std::string>>().swap(subscriptions_);
        std::vector<Published>().swap(published_);
        std::vector<std::string>().swap(journal_);
    }

    // driving the client as the broker would
    void deliver(const std::string& topic, const std::string& payload) {
        auto message = locked([&] { return events_.message; });
        if (message) message(topic, payload);
    }
    void lose_link(const std::string& cause = "test cut the link") {
        auto lost = locked([&] {
            link_up_ = false;
            return events_.connection_lost;
        });
        if (lost) lost(device::Error{device::errc::disconnected, cause});
    }
    /// Completes a connect attempt that waits (answer_connects == false).
    bool finish_connect(Status result) {
        Transport::Done done = locked([&] {
            link_up_ = bool(result);
            return std::exchange(waiting_connect_, nullptr);
        });
        if (!done) return false;
        done(std::move(result));
        return true;
    }

private:
    friend class FakeTransport;

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    TransportEvents events_;
    bool link_up_ = false;
    std::vector<TransportConnectParams> connects_;
    std::vector<std::vector<std::string>> subscriptions_;
    std::vector<Published> published_;
    std::vector<std::string> journal_;
    int disconnects_ = 0;
    Transport::Done waiting_connect_;
};

class FakeTransport final : public Transport {
public:
    explicit FakeTransport(std::shared_ptr<FakeBroker> broker) : broker_(std::move(broker)) {}

    void set_events(TransportEvents events) override {
        std::lock_guard lock(broker_->mutex_);
        broker_->events_ = std::move(events);
    }

    void connect(const TransportConnectParams& params, Done done) override {
        Status result;
        {
            std::lock_guard lock(broker_->mutex_);
            broker_->connects_.push_back(params);
            broker_->changed_.notify_all();
            if (!broker_->answer_connects) {
                broker_->waiting_connect_ = std::move(done);
                return;
            }
            result = broker_->connect_result;
            broker_->link_up_ = bool(result);
        }
        done(std::move(result));
    }

    void disconnect(std::chrono::milliseconds) override {
        std::lock_guard lock(broker_->mutex_);
        broker_->link_up_ = false;
        ++broker_->disconnects_;
        broker_->changed_.notify_all();
    }

    Status subscribe(const std::vector<std::string>& topics, int, SubscribeDone done) override {
        std::vector<bool> granted;
        {
            std::lock_guard lock(broker_->mutex_);
            if (!broker_->link_up_) return device::Error{device::errc::not_connected, "fake link is down"};
            broker_->subscriptions_.push_back(topics);
            for (const std::string& t : topics) {
                broker_->journal_.push_back("subscribe " + t);
                bool refused = false;
                for (const std::string& r : broker_->refused_topics)
                    refused |= r == t;
                granted.push_back(!refused);
            }
            broker_->changed_.notify_all();
        }
        done(std::move(granted));
        return {};
    }

    Status publish(const std::string& topic, const std::string& payload, int qos, Done done) override {
        {
            std::lock_guard lock(broker_->mutex_);
            if (!broker_->link_up_) return device::Error{device::errc::not_connected, "fake link is down"};
            broker_->published_.push_back({topic, payload, qos});
            broker_->journal_.push_back("publish " + topic);
            broker_->changed_.notify_all();
        }
        if (done) done({});
        return {};
    }

    void set_coalescing(const std::atomic<bool>& wanted) override {
        std::lock_guard lock(broker_->mutex_);
        const bool on = wanted.load();
        broker_->journal_.push_back(on ? "coalescing on" : "coalescing off");
    }

private:
    std::shared_ptr<FakeBroker> broker_;
};

/// Waits (bounded) for a condition that another thread makes true; polls, never asserts on time.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// A DeviceClient over a FakeBroker and a ManualClock.
struct ClientRig {
    static device::ClientOptions default_options() {
        device::ClientOptions o;
        o.product_key = "pk";
        o.device_key = "dk";
        o.device_secret = "secret";
        o.request_timeout = 10s;
        o.shutdown_timeout = 2s;
        return o;
    }

    explicit ClientRig(device::ClientOptions options = default_options())
        : client(device::detail::create_client(std::move(options), std::make_unique<FakeTransport>(broker),
                                               clock)
                     .value()) {}

    /// Lets the manual clock move and runs what became due.
    void advance(std::chrono::nanoseconds by) {
        clock->advance(by);
        device::detail::run_due_timers(client);
    }

    std::shared_ptr<FakeBroker> broker = std::make_shared<FakeBroker>();
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
    device::DeviceClient client;
};

/// The id of a request the client published.
inline std::string request_id(const Published& message) {
    auto request = device::decode_request(message.payload);
    return request ? request->id : std::string{};
}

inline std::string reply_json(const std::string& id, int code = 200, const std::string& data = "{}",
                              const std::string& message = "") {
    return R"({"id":")" + id + R"(","code":)" + std::to_string(code) + R"(,"message":")" + message +
           R"(","data":)" + data + "}";
}

} // namespace enos::test
