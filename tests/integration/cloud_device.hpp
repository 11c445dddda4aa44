// Helpers of the cloud simulator tests (test_hub_replies, test_hub_inject, test_hub_activation): a
// device that sends requests and waits for their replies, and the rows `enos-hub query` prints.
#pragma once

#include "support/catch.hpp"
#include "support/hub.hpp"
#include "support/mqtt_probe.hpp"

#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/value.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace enos::test::cloud {

using device::Reply;
using device::Value;

/// The topic on which the hub asks a dynamically activated device of product pkDyn001 to take its secret.
inline std::string activation_info_topic(const std::string& dk) {
    return "/ext/session/pkDyn001/" + dk + "/thing/activate/info";
}

/// A request id unique within this test process.
inline std::string next_id() {
    static std::atomic<int> counter{0};
    return unique_client_id("r") + "-" + std::to_string(++counter);
}

/// A connected device (or gateway): sends requests, waits for the reply with the same id.
class Device {
public:
    Device(const HubProcess& hub, std::string pk, std::string dk, const std::string& secret)
        : pk_(std::move(pk)), dk_(std::move(dk)), probe_(hub.port()) {
        const int code = probe_.connect(device_credentials(pk_, dk_, secret));
        INFO(pk_ << "/" << dk_ << ": " << probe_.last_error());
        REQUIRE(code == 0);
    }

    MqttProbe& probe() { return probe_; }
    const std::string& pk() const { return pk_; }
    const std::string& dk() const { return dk_; }
    /// "/sys/{pk}/{dk}/" + path
    std::string sys(std::string_view path) const {
        return "/sys/" + pk_ + "/" + dk_ + "/" + std::string(path);
    }
    /// "/ext/session/{pk}/{dk}/" + path
    std::string session(std::string_view path) const {
        return "/ext/session/" + pk_ + "/" + dk_ + "/" + std::string(path);
    }

    void subscribe_once(const std::string& topic) {
        if (subscribed_.insert(topic).second) REQUIRE(probe_.subscribe(topic, 1) == 1);
    }

    /// Publishes `payload` on `topic` and returns the reply on topic + "_reply" whose id is `id`.
    Reply exchange(const std::string& topic, std::string_view payload, const std::string& id) {
        const std::string reply_topic = topic + "_reply";
        subscribe_once(reply_topic);
        REQUIRE(probe_.publish(topic, payload, 1));
        auto message = probe_.wait_for([&](const ReceivedMessage& m) {
            if (m.topic != reply_topic) return false;
            auto r = device::decode_reply(m.payload);
            return r && r->id == id;
        });
        INFO("no reply with id '" << id << "' on " << reply_topic);
        REQUIRE(message.has_value());
        last_reply_payload_ = message->payload;
        return *device::decode_reply(message->payload);
    }

    /// A request envelope with `params_json` (raw JSON text) and optional extra top-level members.
    Reply request(const std::string& topic, const std::string& method, const std::string& params_json,
                  const std::string& extra_members = {}) {
        const std::string id = next_id();
        std::string payload = R"({"id":")" + id + R"(","version":"1.1","method":")" + method + R"(",)" +
                              extra_members + R"("params":)" + params_json + "}";
        return exchange(topic, payload, id);
    }

    /// The raw text of the last reply (to check fields the decoder normalises).
    const std::string& last_reply_payload() const { return last_reply_payload_; }

private:
    std::string pk_, dk_;
    MqttProbe probe_;
    std::set<std::string> subscribed_;
    std::string last_reply_payload_;
};

/// The "data" of a reply as a Value (null when absent).
inline Value data_of(const Reply& reply) {
    if (reply.data_json.empty()) return Value();
    auto v = device::parse_value(reply.data_json);
    REQUIRE(v.ok());
    return std::move(*v);
}

/// A member of an object Value, REQUIRE'd to exist.
inline const Value& at(const Value& object, std::string_view key) {
    const Value* v = object.find(key);
    INFO("missing member '" << key << "' in " << device::to_json(object));
    REQUIRE(v != nullptr);
    return *v;
}

/// Runs `enos-hub query KIND --pk --dk` and parses one JSON object per line.
inline std::vector<Value> query(const HubProcess& hub, const std::string& kind, const std::string& pk,
                                const std::string& dk) {
    const auto r = hub.run({"query", kind, "--pk", pk, "--dk", dk, "--dir", hub.dir()});
    INFO("enos-hub query " << kind << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<Value> rows;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        auto row = device::parse_value(line);
        INFO("query printed: " << line);
        REQUIRE(row.ok());
        rows.push_back(std::move(*row));
    }
    return rows;
}

/// Queries until `done(rows)` holds (the store commits in batches, a few milliseconds behind the
/// reply), and returns the rows; fails the test after a generous deadline.
inline std::vector<Value> query_until(const HubProcess& hub, const std::string& kind, const std::string& pk,
                                      const std::string& dk,
                                      const std::function<bool(const std::vector<Value>&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (true) {
        auto rows = query(hub, kind, pk, dk);
        if (done(rows)) return rows;
        if (std::chrono::steady_clock::now() > deadline) {
            std::string all;
            for (const Value& row : rows)
                all += device::to_json(row) + "\n";
            INFO("query " << kind << " for " << pk << "/" << dk << " never matched; last rows:\n" << all);
            FAIL("condition on stored rows not met within 15 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20)); // polling interval, not a synchronisation
    }
}

/// Rows whose member `key` is the string `value`.
inline std::vector<Value> with(const std::vector<Value>& rows, std::string_view key, std::string_view value) {
    std::vector<Value> out;
    for (const Value& row : rows)
        if (const Value* v = row.find(key); v && v->is_string() && v->as_string() == value)
            out.push_back(row);
    return out;
}

} // namespace enos::test::cloud
