// DeviceClient: one device's MQTT connection to EnOS. Connects and authenticates, sends thing-model
// requests and waits for their replies, answers the cloud's commands, and stays connected.
//
// Threads and what may run where
// ------------------------------
// * Every DeviceClient method is thread-safe and may be called from any thread, including from
//   inside handlers and callbacks.
// * Command handlers, response callbacks (the *_async forms) and connection events run on one SDK
//   dispatcher thread, one at a time, in the order they arrived; never on the MQTT library's
//   thread. A slow handler delays the others: answer long jobs through on_*_async and a Responder.
//   While more than one reply is awaited the thread takes replies in batches, so a response
//   callback may start up to 1 ms after its reply arrived (commands wake it at once).
// * Blocking calls (connect(), the blocking request forms, disconnect()) never need the dispatcher,
//   so a handler or callback may make a blocking request without deadlocking (the dispatcher waits
//   meanwhile).
// * The log sink may be called from any SDK thread (see log.hpp).
//
// Ownership and lifetimes
// -----------------------
// * DeviceClient is move-only. It owns a private core shared with the SDK's threads; the MQTT
//   library's callbacks hold only weak references, so nothing runs on a destroyed client.
// * Handlers and callbacks are owned by the client until replaced or until it is destroyed.
// * The destructor is disconnect() plus stopping the threads, bounded by shutdown_timeout. Every
//   pending request completes first (errc::shutting_down) and queued callbacks still run. It may be
//   called from inside a handler or callback of this client. A handler still running elsewhere when
//   the bound expires finishes on its own; it must not touch the destroyed DeviceClient object (as
//   with any C++ object, do not destroy it while other threads are calling its methods).
// * A moved-from DeviceClient is empty: its calls fail with errc::shutting_down.
//
// Requests: one value type per upstream method (enos::device::up, core/payload/*.hpp), sent in
// one of three forms:
// * blocking:        Result<Response> send(request, options)           waits for the reply or the timeout
// * callback:        void send_async(request, callback, options)       callback runs exactly once
// * fire-and-forget: Status send_nowait(request, options)              only local errors are reported
// The request is encoded before the call returns, so it need not outlive the call.
// A request fails with: the cloud's code when it is not 200 (Error::code in cloud_category(), detail
// = the reply message), errc::timeout, errc::disconnected (the link dropped before the reply),
// errc::not_connected, errc::shutting_down, or a local check (encoder limits, QoS 2, ...).
#pragma once

#include <enos/device/client/commands.hpp>
#include <enos/device/client/connection.hpp>
#include <enos/device/client/export.hpp>
#include <enos/device/client/options.hpp>
#include <enos/device/client/stats.hpp>
#include <enos/device/client/sub_device_session.hpp>
#include <enos/device/core/payload.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/topics.hpp>
#include <enos/device/core/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

class DeviceClient;
class OtaUpdater;
class SubDevice; // sub_device.hpp
namespace detail {
class ClientCore;
void run_due_timers(DeviceClient& client);
Result<DeviceClient> make_client(std::shared_ptr<ClientCore> core);
} // namespace detail

/// A successful reply of the cloud (code 200).
struct Response {
    std::string id;
    int code = 200;
    std::string message;
    std::string data_json; ///< JSON text of "data" ("" when the reply had none)
    std::string raw;       ///< raw up (thing/model/up_raw): the reply bytes; data_json stays empty

    /// data as a Value (null when absent).
    Result<Value> data() const { return data_json.empty() ? Result<Value>(Value{}) : parse_value(data_json); }
};

/// Runs exactly once on the dispatcher thread with the reply or the reason there is none.
using ResponseCallback = std::function<void(Result<Response>)>;

/// How and to whom a request is sent; the defaults fit most calls.
struct SendOptions {
    /// Reply deadline; zero: ClientOptions::request_timeout.
    std::chrono::milliseconds timeout{0};
    /// -1: the method's QoS (0 for events and logs as EnOS expects, docs/protocol.md §2.5; 1 otherwise).
    /// 0 or 1 otherwise; 2 is refused with errc::qos_not_allowed.
    int qos = -1;
    /// The device the request is about; empty: this client's device. A gateway names a logged-in
    /// sub-device here (integration methods use only the product key).
    std::string product_key;
    std::string device_key;
    /// Measure points queued while offline are replayed through the resume topics by default
    /// (OfflineQueueOptions::replay_through_resume_topics); true keeps this message's own topic.
    bool keep_original_topic = false;
};

class ENOS_DEVICE_API DeviceClient {
public:
    /// Checks the options (keys, secrets, URL scheme, keep-alive range, TLS files, that the client
    /// certificate is currently valid and matches its key) and builds a client. Does not connect.
    static Result<DeviceClient> create(ClientOptions options);

    DeviceClient(DeviceClient&&) noexcept;
    DeviceClient& operator=(DeviceClient&&) noexcept;
    DeviceClient(const DeviceClient&) = delete;
    DeviceClient& operator=(const DeviceClient&) = delete;
    ~DeviceClient();

    // --- connection -----------------------------------------------------------------------------

    /// Connects and subscribes the command topics; returns when the client can send and receive, or
    /// with the reason it cannot (errc::bad_credentials, not_authorized, host_unreachable, tls_error,
    /// timeout, ...). With securemode 3 it also performs the dynamic activation and reconnects with
    /// securemode 2 before returning. After a successful connect, a lost link is re-established
    /// automatically (ClientOptions::auto_reconnect) until disconnect(). A refused connect()
    /// (CONNACK 4/5) is not retried: fix the cause and call connect() again (a refused automatic
    /// reconnect is retried slowly, see ClientOptions::retry_after_refusal).
    Status connect();

    /// Closes the link (bounded by shutdown_timeout) and stops reconnecting. Pending requests
    /// complete with errc::shutting_down. connect() may be called again afterwards.
    Status disconnect();

    ConnectionState state() const noexcept;
    bool connected() const noexcept { return state() == ConnectionState::connected; }

    /// Connection events (see connection.hpp); replaces the previous handler.
    void on_connection(ConnectionHandler handler);

    ClientStats stats() const noexcept;
    const std::string& product_key() const noexcept;
    const std::string& device_key() const noexcept;

    // --- commands from the cloud ----------------------------------------------------------------
    // An empty std::function removes the handler. Without a handler the SDK answers 1101.

    /// Services (thing/service/{id}); service_id any_service ("*") catches every service without a
    /// handler of its own.
    void on_service(std::string service_id, ServiceHandler handler);
    void on_service_async(std::string service_id, AsyncCommandHandler handler);
    /// RRPC (rrpc/request/{messageId}). Without an RRPC handler, the service handler of the method's
    /// service id answers it (so one handler serves both invocation styles).
    void on_rrpc(RrpcHandler handler);
    void on_rrpc_async(AsyncCommandHandler handler);
    /// Every other kind: measurepoint_set/get, raw_down, traffic_control, device_enable/disable/
    /// delete, ota_upgrade, sub_device_enable/disable/delete. (service and rrpc go to the calls above.)
    void on_command(CommandKind kind, CommandHandler handler);
    void on_command_async(CommandKind kind, AsyncCommandHandler handler);

    // --- gateway: sub-devices (docs/client.md "Gateway") -----------------------------------------

    /// A handle on a sub-device of this gateway (include sub_device.hpp): sends on its topics and
    /// answers its commands. Cheap; it does not log the sub-device in.
    SubDevice sub_device(std::string product_key, std::string device_key) const;

    /// Logs sub-devices in with combine.login.batch, in chunks of limits::max_batch_login, one chunk
    /// after the other (`timeout`: each chunk's reply deadline; zero: request_timeout), then
    /// subscribes the command topics of those logged in (one SUBSCRIBE per chunk) before returning.
    /// The client remembers them with their secret (for secure mode 3: the secret the cloud issued)
    /// and logs them in again after every reconnect, before the offline queue replays.
    /// Fails as a whole only for local errors (arguments, not connected, closed); otherwise the
    /// report says, per sub-device, logged in or failed and why (a partial batch failure too).
    Result<SubDeviceLoginReport> log_in_sub_devices(std::vector<SubDeviceSecret> devices,
                                                    std::chrono::milliseconds timeout = {});
    /// combine.logout; the client forgets the sub-device (also when the logout fails: its result
    /// is returned).
    Status log_out_sub_device(const DeviceIdentity& device);
    /// The sub-device's session as this client knows it.
    SubDeviceState sub_device_state(const DeviceIdentity& device) const;
    /// Sub-device session events (logins, failures, logouts, the cloud's enable/disable/delete);
    /// replaces the previous handler.
    void on_sub_device_session(SubDeviceSessionHandler handler);

    // --- firmware version (docs/client.md "OTA"; upgrades: ota.hpp) ----------------------------

    /// The version reported with ota.device.inform after every connect (ClientOptions::ota). Does
    /// not send anything itself: send up::OtaInform to report it now.
    void set_firmware_version(std::string version);
    std::string firmware_version() const;

    // --- requests (docs/protocol.md §3) ---------------------------------------------------------
    // `request` is any type of enos::device::up: up::MeasurepointPost{points}, up::EventPost{id, values},
    // up::AttributeQuery{names}, up::RawPost{bytes} (reply bytes in Response::raw; raw replies carry
    // no id, so only one raw request per device waits at a time), up::JsonRequest{method, params}, ...

    template <class Request> Result<Response> send(const Request& request, const SendOptions& options = {}) {
        Result<RequestBody> body = encode_body(request, wall_clock_ms());
        if (!body) return body.error();
        return send_body(std::move(*body), options);
    }

    template <class Request>
    void send_async(const Request& request, ResponseCallback callback, const SendOptions& options = {}) {
        Result<RequestBody> body = encode_body(request, wall_clock_ms());
        if (!body) return fail_async(std::move(callback), body.error());
        send_body_async(std::move(*body), std::move(callback), options);
    }

    template <class Request> Status send_nowait(const Request& request, const SendOptions& options = {}) {
        Result<RequestBody> body = encode_body(request, wall_clock_ms());
        if (!body) return body.error();
        return send_body_nowait(std::move(*body), options);
    }

private:
    friend Result<DeviceClient> detail::make_client(std::shared_ptr<detail::ClientCore> core);
    explicit DeviceClient(std::shared_ptr<detail::ClientCore> core) noexcept;

    // The forms of send() after encoding; the body's id is assigned when it is sent.
    Result<Response> send_body(RequestBody body, const SendOptions& options);
    void send_body_async(RequestBody body, ResponseCallback callback, const SendOptions& options);
    Status send_body_nowait(RequestBody body, const SendOptions& options);
    /// Now in ms since the epoch, from ClientOptions::wall_clock: what stamps unset times.
    std::int64_t wall_clock_ms() const;
    /// Runs the callback with `error` on the dispatcher, like every other outcome.
    void fail_async(ResponseCallback callback, Error error);

    friend void detail::run_due_timers(DeviceClient& client);
    friend class OtaUpdater; // drives requests and its command handler through the core

    std::shared_ptr<detail::ClientCore> core_;
};

} // namespace enos::device
