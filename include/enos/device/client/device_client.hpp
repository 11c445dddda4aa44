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
// Requests: every upstream method comes in three forms over one mechanism
// * blocking:        Result<Response> x(args..., options)        waits for the reply or the timeout
// * callback:        void x_async(args..., callback, options)    callback runs exactly once
// * fire-and-forget: Status x_nowait(args..., options)           only local errors are reported
// A request fails with: the cloud's code when it is not 200 (Error::code in cloud_category(), detail
// = the reply message), errc::timeout, errc::disconnected (the link dropped before the reply),
// errc::not_connected, errc::shutting_down, or a local check (encoder limits, QoS 2, ...).
#pragma once

#include <enos/device/client/commands.hpp>
#include <enos/device/client/connection.hpp>
#include <enos/device/client/export.hpp>
#include <enos/device/client/options.hpp>
#include <enos/device/core/payload.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/client/stats.hpp>
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
namespace detail {
class ClientCore;
void run_due_timers(DeviceClient& client);
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

/// Per-request settings; the defaults fit most calls.
struct RequestOptions {
    /// Reply deadline; zero: ClientOptions::request_timeout.
    std::chrono::milliseconds timeout{0};
    /// -1: the method's QoS (0 for events and logs as EnOS expects, docs/protocol.md §2.5; 1 otherwise).
    /// 0 or 1 otherwise; 2 is refused with errc::qos_not_allowed.
    int qos = -1;
    /// Measure points and events: sample time in epoch ms; empty: now.
    std::optional<std::int64_t> time_ms;
    /// Device the data is about; empty: this client's device. A gateway uses a logged-in
    /// sub-device's keys here.
    std::string product_key;
    std::string device_key;
    /// request() of UpMethod::event_post only: the event identifier.
    std::string event_id;
    /// Measure points queued while offline are replayed through the resume topics by default
    /// (OfflineQueueOptions::replay_through_resume_topics); true keeps this message's own topic.
    bool keep_original_topic = false;
};

using Tags = std::vector<std::pair<std::string, std::string>>;

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
    /// automatically (ClientOptions::auto_reconnect) until disconnect(). A refused connect
    /// (CONNACK 4/5) is never retried by itself: fix the cause and call connect() again.
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

    // --- requests (docs/protocol.md §3.1–3.8) ---------------------------------------------------------

    /// thing.measurepoint.post (time: options.time_ms or now)
    Result<Response> post_measurepoints(const Points& points, const RequestOptions& options = {});
    void post_measurepoints_async(const Points& points, ResponseCallback callback,
                                  const RequestOptions& options = {});
    Status post_measurepoints_nowait(const Points& points, const RequestOptions& options = {});

    /// thing.measurepoint.post.batch: several devices and/or timestamps in one request.
    Result<Response> post_measurepoints_batch(const std::vector<MeasurePointSample>& samples,
                                              BatchFlags flags = {}, const RequestOptions& options = {});
    void post_measurepoints_batch_async(const std::vector<MeasurePointSample>& samples,
                                        ResponseCallback callback, BatchFlags flags = {},
                                        const RequestOptions& options = {});
    Status post_measurepoints_batch_nowait(const std::vector<MeasurePointSample>& samples,
                                           BatchFlags flags = {}, const RequestOptions& options = {});

    /// thing.measurepoint.resume: history backfill, no alerts or stream processing in the cloud.
    Result<Response> resume_measurepoints(const Points& points, const RequestOptions& options = {});
    void resume_measurepoints_async(const Points& points, ResponseCallback callback,
                                    const RequestOptions& options = {});
    Status resume_measurepoints_nowait(const Points& points, const RequestOptions& options = {});

    /// thing.measurepoint.resume.batch
    Result<Response> resume_measurepoints_batch(const std::vector<MeasurePointSample>& samples,
                                                BatchFlags flags = {}, const RequestOptions& options = {});
    void resume_measurepoints_batch_async(const std::vector<MeasurePointSample>& samples,
                                          ResponseCallback callback, BatchFlags flags = {},
                                          const RequestOptions& options = {});
    Status resume_measurepoints_batch_nowait(const std::vector<MeasurePointSample>& samples,
                                             BatchFlags flags = {}, const RequestOptions& options = {});

    /// thing.event.{event_id}.post. Published at QoS 0 by default (EnOS convention); the blocking
    /// and callback forms still wait for the cloud's reply.
    Result<Response> post_event(std::string_view event_id, const Points& values,
                                const RequestOptions& options = {});
    void post_event_async(std::string_view event_id, const Points& values, ResponseCallback callback,
                          const RequestOptions& options = {});
    Status post_event_nowait(std::string_view event_id, const Points& values,
                             const RequestOptions& options = {});

    /// thing.attribute.query; empty names: all attributes. Response::data_json: name -> value.
    Result<Response> query_attributes(const std::vector<std::string>& names = {},
                                      const RequestOptions& options = {});
    void query_attributes_async(const std::vector<std::string>& names, ResponseCallback callback,
                                const RequestOptions& options = {});
    Status query_attributes_nowait(const std::vector<std::string>& names, const RequestOptions& options = {});

    /// thing.attribute.update (≤ 200 attributes)
    Result<Response> update_attributes(const Points& attributes, const RequestOptions& options = {});
    void update_attributes_async(const Points& attributes, ResponseCallback callback,
                                 const RequestOptions& options = {});
    Status update_attributes_nowait(const Points& attributes, const RequestOptions& options = {});

    /// thing.attribute.delete
    Result<Response> delete_attributes(const std::vector<std::string>& names,
                                       const RequestOptions& options = {});
    void delete_attributes_async(const std::vector<std::string>& names, ResponseCallback callback,
                                 const RequestOptions& options = {});
    Status delete_attributes_nowait(const std::vector<std::string>& names,
                                    const RequestOptions& options = {});

    /// thing.tag.query; empty names: all tags. Response::data_json: key -> value.
    Result<Response> query_tags(const std::vector<std::string>& names = {},
                                const RequestOptions& options = {});
    void query_tags_async(const std::vector<std::string>& names, ResponseCallback callback,
                          const RequestOptions& options = {});
    Status query_tags_nowait(const std::vector<std::string>& names, const RequestOptions& options = {});

    /// thing.tag.update (≤ 200 key/value pairs)
    Result<Response> update_tags(const Tags& tags, const RequestOptions& options = {});
    void update_tags_async(const Tags& tags, ResponseCallback callback, const RequestOptions& options = {});
    Status update_tags_nowait(const Tags& tags, const RequestOptions& options = {});

    /// thing.tag.delete
    Result<Response> delete_tags(const std::vector<std::string>& names, const RequestOptions& options = {});
    void delete_tags_async(const std::vector<std::string>& names, ResponseCallback callback,
                           const RequestOptions& options = {});
    Status delete_tags_nowait(const std::vector<std::string>& names, const RequestOptions& options = {});

    /// thing/model/up_raw: bytes for the product's parsing script; the reply bytes are in
    /// Response::raw. Raw replies carry no id, so only one raw request per device waits at a time
    /// (a second one fails with errc::invalid_argument while the first is pending).
    Result<Response> post_raw(std::string_view bytes, const RequestOptions& options = {});
    void post_raw_async(std::string_view bytes, ResponseCallback callback,
                        const RequestOptions& options = {});
    Status post_raw_nowait(std::string_view bytes, const RequestOptions& options = {});

    /// thing.tsltemplate.get: the thing model. Response::data_json: tslAttributeMap, ...
    Result<Response> get_tsl_template(const RequestOptions& options = {});
    void get_tsl_template_async(ResponseCallback callback, const RequestOptions& options = {});
    Status get_tsl_template_nowait(const RequestOptions& options = {});

    /// Any upstream method with params given as JSON text (raw methods: the bytes). The SDK adds
    /// id, version and method, and picks the topic from the method and the options' keys.
    Result<Response> request(UpMethod method, std::string_view params_json,
                             const RequestOptions& options = {});
    void request_async(UpMethod method, std::string_view params_json, ResponseCallback callback,
                       const RequestOptions& options = {});
    Status request_nowait(UpMethod method, std::string_view params_json, const RequestOptions& options = {});

    /// Internal: the shared core (used by the SDK's own gateway face and tests).
    explicit DeviceClient(std::shared_ptr<detail::ClientCore> core) noexcept;

private:
    friend void detail::run_due_timers(DeviceClient& client);
    std::shared_ptr<detail::ClientCore> core_;
};

} // namespace enos::device
