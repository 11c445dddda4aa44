// Everything a DeviceClient needs to know before it connects. Plain value types with defaults:
// fields may be added over time without breaking callers that set only what they need.
#pragma once

#include <enos/device/client/log.hpp>
#include <enos/device/client/queue.hpp>
#include <enos/device/core/backoff.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/sign.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace enos::device {

/// TLS settings, used when server_url starts with ssl://. All files are PEM. The broker's
/// certificate chain and host name are always verified unless an insecure_ option says otherwise;
/// the client then logs a warning at every connect.
struct TlsOptions {
    std::string ca_file; ///< CA certificate(s) that signed the broker's certificate
    /// INSECURE: accept any certificate from the broker (no chain check, no host name check), so
    /// anyone on the path can read and change the traffic. For a lab broker only.
    bool insecure_skip_server_verification = false;
    /// INSECURE: check the chain but not that the certificate names the host of server_url.
    bool insecure_skip_hostname_check = false;
    std::string cert_file;    ///< mutual TLS: the device certificate
    std::string key_file;     ///< mutual TLS: the device's private key
    std::string key_password; ///< if key_file is encrypted (a secret: never logged)
};

/// The firmware version the client reports (ClientOptions::ota; OTA upgrades: ota.hpp).
struct OtaOptions {
    /// The version running now; empty: nothing is reported until DeviceClient::set_firmware_version.
    std::string firmware_version;
    /// Report it with ota.device.inform after every successful connect and reconnect: EnOS targets
    /// upgrade jobs only at devices that reported a version.
    bool inform_on_connect = true;
};

/// Receives the device secret during dynamic activation (securemode 3, docs/protocol.md §1.8). It runs on
/// the thread that called connect(), before the activation is acknowledged to the cloud: return an
/// error if the secret could not be stored, and the activation is not acknowledged.
using DeviceSecretHandler = std::function<Status(std::string_view device_secret)>;

/// Payload compression (docs/protocol.md §1.6, §5.6). The broker learns it from the client id, and
/// then expects and sends every payload of the connection compressed.
enum class PayloadCompression {
    none, ///< plain JSON (the default; what every EnOS broker accepts)
    gzip, ///< GZIP (RFC 1952, zlib): announced as {compress=GZIP} after the raw client id
};

/// Milliseconds since the Unix epoch (UTC).
using WallClock = std::function<std::int64_t()>;

struct ClientOptions {
    /// Broker address: tcp://host:port or ssl://host:port (EnOS: 11883 plain, 18883 TLS).
    std::string server_url = "tcp://127.0.0.1:11883";
    std::string product_key;
    std::string device_key;

    /// Static authentication (securemode 2): the device secret.
    std::string device_secret;
    /// Dynamic activation (securemode 3), used when device_secret is empty and no secret was
    /// stored in device_secret_file: the product secret.
    std::string product_secret;
    /// Dynamic activation: the received device secret is written here (file mode 0600) before the
    /// activation is acknowledged, and read back by later connects (so the device connects with
    /// securemode 2 from then on). Empty: the secret is only handed to on_device_secret. Dynamic
    /// activation needs at least one of the two: the cloud issues the secret only once.
    std::string device_secret_file;
    DeviceSecretHandler on_device_secret;

    /// Connect as the product's message-integration channel (securemode 4, docs/protocol.md §3.16)
    /// instead of as a device: the username is "%channel%&{product_key}", product_secret signs, and
    /// device_key stays empty. The channel may only send the integration requests
    /// (up::IntegrationMeasurepointPost, ...EventPost, ...AttributePost, up::IntegrationRawPost),
    /// each naming its devices; it subscribes to no command topics and reports no firmware version,
    /// since the broker lets it use nothing but /sys/{product_key}/integration/.
    bool integration_channel = false;

    /// Raw MQTT client id (before the "|securemode=..." part); empty: the device key (the product
    /// key on the integration channel). ≤ 64 chars.
    std::string client_id;
    SignMethod sign_method = SignMethod::sha256;
    HexCase hex_case = HexCase::platform;

    /// MQTT keep-alive; EnOS accepts 60..300 s.
    std::chrono::seconds keep_alive{60};
    /// Bound on one connect attempt (TCP + TLS + CONNACK + command subscriptions).
    std::chrono::milliseconds connect_timeout{10000};
    /// Default deadline of a request's reply (blocking and callback forms).
    std::chrono::milliseconds request_timeout{30000};
    /// How long dynamic activation waits for the cloud to send the device secret.
    std::chrono::milliseconds activation_timeout{30000};
    /// Bound on disconnect() and the destructor: flushing in-flight work and the MQTT DISCONNECT.
    std::chrono::milliseconds shutdown_timeout{3000};

    /// Reconnect by itself after the link is lost, until disconnect(). connect() itself never
    /// retries: it returns why it failed.
    bool auto_reconnect = true;
    /// An automatic reconnect the broker refused (CONNACK 4/5: wrong secret, device disabled, rate
    /// limit) is tried again no sooner than this: such causes rarely heal fast, and the platform
    /// blocks a device for 5 minutes after 4 CONNECTs in 2 minutes. Zero: stop reconnecting after
    /// a refusal, until the next connect().
    std::chrono::milliseconds retry_after_refusal{std::chrono::minutes(5)};
    /// Delays between automatic reconnect attempts: jittered, ≤ 4 attempts per 2 minutes and ≥ 1 s
    /// apart by default (the platform blocks devices that connect more often).
    BackoffPolicy reconnect_backoff{};

    /// Subscribe to the command topics (services, RRPC, measure-point set/get, raw, OTA, ...) after
    /// every connect. The EnOS broker may also deliver them without a subscription; either way they
    /// are dispatched.
    bool subscribe_commands = true;

    /// Most QoS 1 publishes the transport keeps in flight at once.
    int max_inflight = 1000;

    /// Disable Nagle's algorithm on the connection to the broker after every connect, so that a
    /// small reply is sent at once instead of up to ~40 ms later. While eight or more replies are
    /// awaited it is enabled again, so that a pipeline of small requests shares TCP segments.
    bool tcp_nodelay = true;

    TlsOptions tls;

    /// Compress every payload in both directions. Only for brokers that support it (EnOS ≥ the
    /// release of Java SDK 2.2.10, and enos-hub): one that does not would read the compressed
    /// bytes as malformed JSON. The 512 KB limit applies to the payload before compression.
    PayloadCompression compression = PayloadCompression::none;

    /// The one source of every timestamp the client writes: measure point, event and log "time",
    /// reportTime, sub-device sign timestamps and the CONNECT timestamp. Empty: the system clock.
    /// Called on the threads that send and connect; it must be thread-safe and must not throw.
    /// Deadlines, timeouts and reconnect delays never use it (they run on the steady clock), so a
    /// clock that jumps moves timestamps only. See docs/client.md, "Time".
    WallClock wall_clock;

    /// Where requests wait while the link is down (queue.hpp): in memory by default (100,000
    /// messages / 16 MiB, oldest dropped first); set store_directory to keep them across a crash.
    OfflineQueueOptions offline_queue;

    /// The firmware version reported with ota.device.inform (docs/client.md "OTA").
    OtaOptions ota;

    LogSink log_sink; ///< empty: no logging
    LogLevel log_level = LogLevel::info;
};

} // namespace enos::device
