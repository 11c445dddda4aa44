// Shared by the offline queue and store tests: deterministic messages, and a recorder of what the
// queue reports.
#pragma once

#include "queue/offline_queue.hpp"
#include "queue/queue_record.hpp"

#include "support/catch.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace queue_test {

using namespace enos::device;
using namespace enos::device::detail;

inline const std::string post_topic = "/sys/pk/dk/thing/measurepoint/post";

/// The n-th test message: its content is a function of n alone, so a test can tell what it got back.
struct Message {
    std::string topic, id, payload;
    UpMethod method = UpMethod::measurepoint_post;
    int qos = 1;
    bool keep_original_topic = false;

    OutboundMessage view() const { return {method, topic, id, payload, qos, keep_original_topic}; }
    std::size_t record_size() const { return record_header_size + topic.size() + id.size() + payload.size(); }
};

inline std::string payload_of(std::uint64_t n, std::size_t size) {
    std::string payload(size, '\0');
    std::uint64_t x = n * 0x9E3779B97F4A7C15ull + 1;
    for (char& c : payload) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
    }
    return payload;
}

/// payload_size 0: a size that varies with n (40..199 bytes).
inline Message message(std::uint64_t n, std::size_t payload_size = 0) {
    Message m;
    m.topic = post_topic;
    m.id = std::to_string(n);
    m.payload = payload_of(n, payload_size ? payload_size : 40 + n * 37 % 160);
    return m;
}

/// Every field of a message, as varied as the format allows, still a function of n.
inline Message varied_message(std::uint64_t n) {
    Message m;
    m.method = static_cast<UpMethod>(n % 30);
    m.topic = "/sys/pk/dk-" + std::to_string(n % 7) + "/thing/" + std::string(n % 50, 't');
    m.id = n % 5 == 0 ? std::string() : std::to_string(n * 31);
    m.payload = payload_of(n, n % 11 == 0 ? 0 : n * 53 % 1500);
    m.qos = static_cast<int>(n % 2);
    m.keep_original_topic = n % 3 == 0;
    return m;
}

inline void check_same(const QueuedMessage& got, const Message& expected) {
    CHECK(got.topic == expected.topic);
    CHECK(got.id == expected.id);
    CHECK(got.payload == expected.payload);
    CHECK(got.method == expected.method);
    CHECK(got.qos == expected.qos);
    CHECK(got.keep_original_topic == expected.keep_original_topic);
}

/// Collects drop reports and log lines (thread-safe: the queue calls it from any thread).
class Recorder {
public:
    QueueEvents events() {
        QueueEvents e;
        e.on_drop = [this](const DroppedMessage& d) {
            std::lock_guard<std::mutex> lock(mutex_);
            drops_.push_back(d);
        };
        e.log = [this](LogLevel level, std::string_view text) {
            std::lock_guard<std::mutex> lock(mutex_);
            logs_.emplace_back(level, std::string(text));
        };
        return e;
    }
    std::vector<DroppedMessage> drops() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return drops_;
    }
    std::vector<std::uint64_t> dropped_sequences() const {
        std::vector<std::uint64_t> out;
        for (const auto& d : drops())
            out.push_back(d.sequence);
        return out;
    }
    /// Log lines containing `text`.
    std::size_t count_logs(std::string_view text) const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::size_t n = 0;
        for (const auto& entry : logs_)
            n += entry.second.find(text) != std::string::npos;
        return n;
    }
    std::string all_logs() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string all;
        for (const auto& entry : logs_)
            all += entry.second + "\n";
        return all;
    }

private:
    mutable std::mutex mutex_;
    std::vector<DroppedMessage> drops_;
    std::vector<std::pair<LogLevel, std::string>> logs_;
};

/// Hands out everything left, oldest first.
inline std::vector<QueuedMessage> take_all(OfflineQueue& queue) {
    std::vector<QueuedMessage> out;
    QueuedMessage m;
    while (queue.next(m))
        out.push_back(m);
    return out;
}

inline std::vector<std::uint64_t> sequences_of(const std::vector<QueuedMessage>& messages) {
    std::vector<std::uint64_t> out;
    for (const auto& m : messages)
        out.push_back(m.sequence);
    return out;
}

inline std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t n = first; n <= last; ++n)
        out.push_back(n);
    return out;
}

/// Every message taken in is delivered, dropped or still queued.
inline void check_balance(const QueueStats& s) {
    CHECK(s.accepted + s.recovered == s.delivered + s.dropped + s.depth);
}

/// Opens a queue the test expects to open.
inline OfflineQueue open_queue(const OfflineQueueOptions& options, QueueEvents events = {}) {
    auto queue = OfflineQueue::open(options, std::move(events));
    REQUIRE(queue.ok());
    return std::move(*queue);
}

} // namespace queue_test
