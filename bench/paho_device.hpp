// The raw-Paho half of bench/client_vs_paho.cpp: an EnOS device written by hand on Paho MQTT C++,
// the way a careful application would do it without the SDK. It signs with the header-only core
// (that is what the core is for), encodes the same payload bytes, subscribes to the reply topic,
// publishes with its own ids and matches replies by parsing them. It does not set TCP_NODELAY:
// Paho offers no way to, which is what the RRPC figure shows.
#pragma once

#include "client_bench_common.hpp"
#include "device_under_test.hpp"

#include <enos/device/core/credentials.hpp>
#include <enos/device/core/payload.hpp>
#include <enos/device/core/topics.hpp>

#include <unordered_map>

namespace bench {

class PahoDevice final : public DeviceUnderTest {
public:
    PahoDevice(const HubInfo& hub, int device_index)
        : pk_(product_key), dk_(device_key(device_index)), creds_(credentials(device_index)),
          client_(hub.url(), creds_.client_id,
                  mqtt::create_options_builder()
                      .mqtt_version(MQTTVERSION_3_1_1)
                      .max_buffered_messages(1 << 20)
                      .finalize()),
          post_topic_(enos::device::request_topic(enos::device::UpMethod::measurepoint_post, pk_, dk_)),
          reply_topic_(enos::device::reply_topic(enos::device::UpMethod::measurepoint_post, pk_, dk_)),
          rrpc_prefix_("/sys/" + pk_ + "/" + dk_ + "/rrpc/") {
        options_ = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_3_1_1)
                       .clean_session(true)
                       .keep_alive_interval(std::chrono::seconds(60))
                       .user_name(creds_.username)
                       .password(creds_.password)
                       .max_inflight(1000)
                       .finalize();
        client_.set_message_callback([this](mqtt::const_message_ptr msg) { on_message(*msg); });
    }

    ~PahoDevice() override {
        try {
            if (client_.is_connected()) client_.disconnect()->wait();
        } catch (const std::exception&) {
        }
    }

    double connect_seconds() override {
        // Ready means connected and subscribed to the commands it answers, in one SUBSCRIBE.
        const std::string base = "/sys/" + pk_ + "/" + dk_;
        auto filters = mqtt::string_collection::create(
            {base + "/thing/service/+", base + "/thing/service/measurepoint/+", rrpc_prefix_ + "request/+"});
        const auto start = Clock::now();
        client_.connect(options_)->wait();
        client_.subscribe(filters, std::vector<int>(filters->size(), 1))->wait();
        return seconds_since(start);
    }

    void post_qos0(const enos::device::Points& points, std::int64_t time_ms) override {
        encode(points, time_ms);
        client_.publish(post_topic_, buffer_.data(), buffer_.size(), 0, false);
    }

    void post_qos1(const enos::device::Points& points, std::int64_t time_ms, Tally& tally) override {
        // Replies reach only subscribers of the reply topic (PROTOCOL §2.4): subscribe before the
        // first request, as the SDK does.
        if (!reply_subscribed_) {
            client_.subscribe(reply_topic_, 1)->wait();
            reply_subscribed_ = true;
        }
        const std::string id = encode(points, time_ms);
        {
            std::lock_guard<std::mutex> lock(pending_mutex_);
            pending_.emplace(id, [t = &tally](bool ok) { t->record(ok); });
        }
        client_.publish(post_topic_, buffer_.data(), buffer_.size(), 1, false);
    }

    void answer_rrpc_by_echo() override { answer_rrpc_ = true; }

    std::size_t pending() override {
        std::lock_guard<std::mutex> lock(pending_mutex_);
        return pending_.size();
    }

private:
    static enos::device::ConnectCredentials credentials(int device_index) {
        enos::device::CredentialInput input;
        input.product_key = product_key;
        input.device_key = device_key(device_index);
        input.secret = device_secret(device_index);
        auto creds = enos::device::make_connect_credentials(input);
        if (!creds) fail("credentials: " + creds.error().message());
        return *creds;
    }

    /// Encodes a post with the next id into buffer_ and returns the id.
    std::string encode(const enos::device::Points& points, std::int64_t time_ms) {
        std::string id = std::to_string(++next_id_);
        post_.points = points;
        post_.time_ms = time_ms;
        if (!enos::device::encode(buffer_, id, post_)) fail("encode failed");
        return id;
    }

    void on_message(const mqtt::message& msg) {
        const std::string& topic = msg.get_topic();
        if (topic == reply_topic_) {
            auto reply = parse_reply_fields(msg.get_payload_str());
            if (!reply) return;
            std::function<void(bool)> done;
            {
                std::lock_guard<std::mutex> lock(pending_mutex_);
                auto it = pending_.find(reply->id);
                if (it == pending_.end()) return;
                done = std::move(it->second);
                pending_.erase(it);
            }
            done(reply->code == 200);
        } else if (answer_rrpc_ &&
                   topic.compare(0, rrpc_prefix_.size() + 8, rrpc_prefix_ + "request/") == 0) {
            answer_rrpc(topic.substr(rrpc_prefix_.size() + 8), msg.get_payload_str());
        }
    }

    /// Echoes the request's params as the reply's data on rrpc/response/{messageId}, QoS 0.
    void answer_rrpc(const std::string& message_id, const std::string& payload) {
        rapidjson::Document request;
        if (request.Parse(payload.c_str(), payload.size()).HasParseError() || !request.IsObject()) return;
        auto id = request.FindMember("id");
        auto params = request.FindMember("params");
        if (id == request.MemberEnd() || !id->value.IsString()) return;
        std::string reply = "{\"id\":\"";
        reply += id->value.GetString();
        reply += "\",\"code\":200,\"message\":\"\",\"data\":";
        if (params != request.MemberEnd()) {
            rapidjson::StringBuffer text;
            rapidjson::Writer<rapidjson::StringBuffer> writer(text);
            params->value.Accept(writer);
            reply.append(text.GetString(), text.GetSize());
        } else {
            reply += "{}";
        }
        reply += '}';
        client_.publish(rrpc_prefix_ + "response/" + message_id, reply.data(), reply.size(), 0, false);
    }

    std::string pk_, dk_;
    enos::device::ConnectCredentials creds_; // signed once: client id and password share a timestamp
    mqtt::async_client client_;
    mqtt::connect_options options_;
    std::string post_topic_, reply_topic_, rrpc_prefix_;
    std::string buffer_;
    enos::device::up::MeasurepointPost post_; // filled in place for each post
    std::uint64_t next_id_ = 0;
    bool answer_rrpc_ = false;
    bool reply_subscribed_ = false;

    std::mutex pending_mutex_;
    std::unordered_map<std::string, std::function<void(bool)>> pending_;
};

} // namespace bench
