// A plain MQTT 3.1.1 client for tests (libmosquitto underneath): synchronous connect, subscribe,
// publish and wait-for-message, each bounded by a deadline, reporting exactly what the broker
// answered (the CONNACK code, the granted QoS). For checking the hub itself and for playing the
// other side of an SDK test.
#pragma once

#include <enos/device/core/credentials.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace enos::test {

inline constexpr std::chrono::milliseconds mqtt_deadline{15000};

struct MqttCredentials {
    std::string client_id, username, password;
};

struct TlsFiles {
    std::string ca_file;             ///< verify the broker with this CA; empty: plain TCP
    std::string cert_file, key_file; ///< client certificate for mutual TLS (optional)
};

struct ReceivedMessage {
    std::string topic, payload;
    int qos = 0;
    bool retain = false;
};

class MqttProbe {
public:
    /// No CONNACK: the broker closed the connection (or TLS failed) before answering.
    static constexpr int no_connack = -1;
    /// CONNACK codes: accepted, and refused as not authorized.
    static constexpr int accepted = 0;
    static constexpr int not_authorized = 5;
    /// SUBACK code of a refused subscription.
    static constexpr int subscription_refused = 0x80;

    explicit MqttProbe(std::uint16_t port, TlsFiles tls = {});
    ~MqttProbe();
    MqttProbe(const MqttProbe&) = delete;
    MqttProbe& operator=(const MqttProbe&) = delete;

    /// Connects (clean session) and returns the CONNACK code: 0 accepted, 4 bad credentials,
    /// 5 not authorised, ..., or no_connack.
    int connect(const MqttCredentials& credentials, std::chrono::milliseconds timeout = mqtt_deadline);
    bool connected() const;
    /// Why the last connect or the connection failed (libmosquitto's words), for failure messages.
    std::string last_error() const;

    /// The granted QoS (0, 1) or subscription_refused; -1 if no SUBACK arrived in time.
    int subscribe(const std::string& filter, int qos = 1, std::chrono::milliseconds timeout = mqtt_deadline);
    /// True once sent (QoS 0) or acknowledged (QoS 1). A broker drops a publish it denies
    /// silently under MQTT 3.1.1 and still acknowledges it, so check denials at a subscriber.
    bool publish(const std::string& topic, std::string_view payload, int qos = 1, bool retain = false,
                 std::chrono::milliseconds timeout = mqtt_deadline);

    /// The first message on `topic` (exact topic) not returned before, waiting up to `timeout`.
    std::optional<ReceivedMessage> wait_for(const std::string& topic,
                                            std::chrono::milliseconds timeout = mqtt_deadline);
    std::optional<ReceivedMessage> wait_for(const std::function<bool(const ReceivedMessage&)>& match,
                                            std::chrono::milliseconds timeout = mqtt_deadline);
    /// Every message received so far, in arrival order.
    std::vector<ReceivedMessage> received() const;

    /// Waits until the broker closed the connection.
    bool wait_disconnected(std::chrono::milliseconds timeout = mqtt_deadline);
    void disconnect();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

/// The CONNECT fields of a device (docs/protocol.md §1.2); REQUIREs valid input. An empty client_id
/// becomes a unique one (see unique_client_id), so parallel tests never replace each other's
/// connection on a shared hub.
MqttCredentials device_credentials(const std::string& product_key, const std::string& device_key,
                                   const std::string& secret,
                                   device::SecureMode mode = device::SecureMode::static_secret,
                                   device::SignMethod method = device::SignMethod::sha256,
                                   device::HexCase hex_case = device::HexCase::platform,
                                   std::string client_id = {});

/// The hub's privileged identity (RUNDIR/admin.token), with a unique client id.
MqttCredentials admin_credentials(const std::string& hub_dir);

/// `base` plus a suffix unique within this machine and run.
std::string unique_client_id(std::string_view base);

/// Sends one hand-made CONNECT over a raw socket, for input a normal client library refuses to
/// send (invalid UTF-8, missing password, ...). Returns the CONNACK code or MqttProbe::no_connack.
int raw_connect(std::uint16_t port, std::string_view client_id, std::optional<std::string_view> username,
                std::optional<std::string_view> password, std::chrono::milliseconds timeout = mqtt_deadline);

} // namespace enos::test
