// A lean MQTT 3.1.1 client for the hub's own connections (simulator, injection commands): clean
// session, QoS 0/1, TCP_NODELAY, one socket driven from one thread. It reads whatever the socket holds
// in one call and answers everything it parsed with one write, which is what lets the simulator
// answer tens of thousands of requests per second: libmosquitto, measured here, costs several system
// calls per packet and tops out far lower even as a bare echo.
#pragma once

#include "common.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace enos::hub::sim {

class MqttClient {
public:
    using Clock = std::chrono::steady_clock;
    /// Called for every PUBLISH received; the views are valid during the call only.
    using MessageHandler = std::function<void(std::string_view topic, std::string_view payload)>;

    explicit MqttClient(MessageHandler on_message) : on_message_(std::move(on_message)) {}
    ~MqttClient() { close(); }
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    /// TCP connect, CONNECT with the hub's admin identity, wait for the CONNACK. Errors:
    /// errc::host_unreachable (no broker), errc::timeout, errc::not_authorized/bad_credentials (refused).
    /// A persistent session keeps its subscriptions, and queues what they match, while disconnected.
    Status connect(const HubEndpoint& hub, const std::string& client_id, Clock::time_point deadline,
                   bool persistent_session = false);
    bool connected() const { return fd_ >= 0; }
    void close();

    /// Sends one SUBSCRIBE for all filters; subscribed() turns true when its SUBACK arrives.
    void subscribe(const std::vector<std::string>& filters, int qos);
    bool subscribed() const { return subscribed_; }

    /// Queues a PUBLISH; it is written by the next poll() or flush().
    void publish(std::string_view topic, std::string_view payload, int qos, bool retain = false);

    /// Waits up to `timeout_ms` for the socket, handles every complete packet that arrived (PUBLISH to
    /// the handler, PUBACK for QoS 1 deliveries), keeps the connection alive and writes what is queued.
    /// An error means the connection is gone.
    Status poll(int timeout_ms);
    /// Writes everything queued, waiting for the socket as needed.
    Status flush(Clock::time_point deadline);

private:
    Status read_available();
    Status handle_packets();
    Status write_some();
    void put_packet(unsigned char type, std::string_view head, std::string_view payload = {});

    MessageHandler on_message_;
    int fd_ = -1;
    std::string in_, out_;
    std::size_t out_sent_ = 0;
    std::uint16_t next_packet_id_ = 0;
    std::uint16_t subscribe_id_ = 0;
    bool subscribed_ = false;
    bool connack_ = false;
    int connack_code_ = -1;
    int keepalive_s_ = 60;
    Clock::time_point last_write_{};
};

} // namespace enos::hub::sim
