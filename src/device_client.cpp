// The DeviceClient facade: argument plumbing into the core. Every request form of every method goes
// through ClientCore::prepare() and one of send_blocking / send_async / send_nowait.
#include "client/client_core.hpp"
#include "transport/paho_transport.hpp"

#include "client/testing.hpp"
#include <enos/device/core/limits.hpp>
#include <enos/device/core/payload.hpp>

#include <chrono>

namespace enos::device {
namespace {

using detail::ClientCore;
using Encoder = std::function<Status(std::string& out, const std::string& id)>;

Error closed_error() {
    return Error{errc::shutting_down, "the client was moved from or closed"};
}

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<std::int64_t> sample_time(const RequestOptions& options) {
    return options.time_ms ? options.time_ms : std::optional<std::int64_t>(now_ms());
}

Encoder raw_bytes(std::string_view bytes) {
    return [bytes](std::string& out, const std::string&) -> Status {
        if (bytes.size() >= limits::max_payload_bytes)
            return Error{errc::payload_too_large,
                         "raw payload is " + std::to_string(bytes.size()) + " bytes"};
        out.assign(bytes.data(), bytes.size());
        return {};
    };
}

Result<Response> send_blocking(ClientCore* core, UpMethod method, const RequestOptions& options,
                               const Encoder& encode) {
    if (!core) return closed_error();
    Result<detail::PreparedRequest> request = core->prepare(method, options, encode);
    if (!request) return request.error();
    return core->send_blocking(std::move(*request));
}

void send_async(ClientCore* core, UpMethod method, const RequestOptions& options, const Encoder& encode,
                ResponseCallback callback) {
    if (!core) {
        if (callback) callback(closed_error());
        return;
    }
    Result<detail::PreparedRequest> request = core->prepare(method, options, encode);
    if (!request) {
        core->fail_async(std::move(callback), request.error());
        return;
    }
    core->send_async(std::move(*request), std::move(callback));
}

Status send_nowait(ClientCore* core, UpMethod method, const RequestOptions& options, const Encoder& encode) {
    if (!core) return closed_error();
    Result<detail::PreparedRequest> request = core->prepare(method, options, encode);
    if (!request) return request.error();
    return core->send_nowait(*request);
}

RequestOptions with_event(const RequestOptions& options, std::string_view event_id) {
    RequestOptions copy = options;
    copy.event_id = std::string(event_id);
    return copy;
}

Encoder measurepoints(const Points& points, const RequestOptions& options, bool resume) {
    auto time = sample_time(options);
    return [&points, time, resume](std::string& out, const std::string& id) {
        return encode_measurepoint_post(out, id, points, time, resume);
    };
}

Encoder batch(const std::vector<MeasurePointSample>& samples, BatchFlags flags, bool resume) {
    return [&samples, flags, resume](std::string& out, const std::string& id) {
        return encode_measurepoint_batch(out, id, samples, flags, resume);
    };
}

Encoder event(std::string_view event_id, const Points& values, const RequestOptions& options) {
    auto time = sample_time(options);
    return [event_id, &values, time](std::string& out, const std::string& id) {
        return encode_event_post(out, id, event_id, values, time);
    };
}

template <class Items>
Encoder items(Status (*encode)(std::string&, std::string_view, const Items&), const Items& list) {
    return [encode, &list](std::string& out, const std::string& id) { return encode(out, id, list); };
}

Encoder tsl_template() {
    return [](std::string& out, const std::string& id) { return encode_tsl_template_get(out, id); };
}

Encoder generic(UpMethod method, std::string_view params_json, const RequestOptions& options) {
    if (is_raw(method)) return raw_bytes(params_json);
    std::string name = method_name(method, options.event_id);
    return [name, params_json](std::string& out, const std::string& id) {
        return encode_request_raw_params(out, id, name, params_json);
    };
}

} // namespace

// ---- lifetime --------------------------------------------------------------------------------------

Result<DeviceClient> DeviceClient::create(ClientOptions options) {
    LogSink sink = options.log_sink;
    const LogLevel level = options.log_level;
    auto transport =
        std::make_unique<detail::PahoTransport>([sink, level](LogLevel l, const std::string& text) {
            if (l < level || l == LogLevel::off || !sink) return;
            try {
                sink(l, text);
            } catch (...) {
            }
        });
    return detail::create_client(std::move(options), std::move(transport),
                                 std::make_shared<detail::SteadyClock>());
}

DeviceClient::DeviceClient(std::shared_ptr<detail::ClientCore> core) noexcept : core_(std::move(core)) {}

DeviceClient::DeviceClient(DeviceClient&& other) noexcept = default;

DeviceClient& DeviceClient::operator=(DeviceClient&& other) noexcept {
    if (this != &other) {
        if (core_) core_->shutdown();
        core_ = std::move(other.core_);
    }
    return *this;
}

DeviceClient::~DeviceClient() {
    // Shut down first: after that no transport callback or timer can hold the core, so the last
    // reference goes away here (or in a dispatcher task still running, which is fine too).
    if (core_) core_->shutdown();
}

Status DeviceClient::connect() {
    return core_ ? core_->connect() : Status(closed_error());
}
Status DeviceClient::disconnect() {
    return core_ ? core_->disconnect() : Status(closed_error());
}
ConnectionState DeviceClient::state() const noexcept {
    if (!core_) return ConnectionState::closed;
    try {
        return core_->state();
    } catch (...) {
        return ConnectionState::closed;
    }
}

void DeviceClient::on_connection(ConnectionHandler handler) {
    if (core_) core_->set_connection_handler(std::move(handler));
}

ClientStats DeviceClient::stats() const noexcept {
    if (!core_) return {};
    try {
        return core_->stats();
    } catch (...) {
        return {};
    }
}

const std::string& DeviceClient::product_key() const noexcept {
    static const std::string none;
    return core_ ? core_->options().product_key : none;
}

const std::string& DeviceClient::device_key() const noexcept {
    static const std::string none;
    return core_ ? core_->options().device_key : none;
}

// ---- commands --------------------------------------------------------------------------------------

void DeviceClient::on_service(std::string service_id, ServiceHandler handler) {
    if (core_) core_->set_service_handler(std::move(service_id), {std::move(handler), nullptr});
}
void DeviceClient::on_service_async(std::string service_id, AsyncCommandHandler handler) {
    if (core_) core_->set_service_handler(std::move(service_id), {nullptr, std::move(handler)});
}
void DeviceClient::on_rrpc(RrpcHandler handler) {
    if (core_) core_->set_rrpc_handler({std::move(handler), nullptr});
}
void DeviceClient::on_rrpc_async(AsyncCommandHandler handler) {
    if (core_) core_->set_rrpc_handler({nullptr, std::move(handler)});
}
void DeviceClient::on_command(CommandKind kind, CommandHandler handler) {
    if (kind == CommandKind::service || kind == CommandKind::rrpc) return; // on_service / on_rrpc
    if (core_) core_->set_command_handler(kind, {std::move(handler), nullptr});
}
void DeviceClient::on_command_async(CommandKind kind, AsyncCommandHandler handler) {
    if (kind == CommandKind::service || kind == CommandKind::rrpc) return;
    if (core_) core_->set_command_handler(kind, {nullptr, std::move(handler)});
}

// ---- requests --------------------------------------------------------------------------------------

Result<Response> DeviceClient::post_measurepoints(const Points& points, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::measurepoint_post, o, measurepoints(points, o, false));
}
void DeviceClient::post_measurepoints_async(const Points& points, ResponseCallback cb,
                                            const RequestOptions& o) {
    send_async(core_.get(), UpMethod::measurepoint_post, o, measurepoints(points, o, false), std::move(cb));
}
Status DeviceClient::post_measurepoints_nowait(const Points& points, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::measurepoint_post, o, measurepoints(points, o, false));
}

Result<Response> DeviceClient::post_measurepoints_batch(const std::vector<MeasurePointSample>& samples,
                                                        BatchFlags flags, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::measurepoint_post_batch, o, batch(samples, flags, false));
}
void DeviceClient::post_measurepoints_batch_async(const std::vector<MeasurePointSample>& samples,
                                                  ResponseCallback cb, BatchFlags flags,
                                                  const RequestOptions& o) {
    send_async(core_.get(), UpMethod::measurepoint_post_batch, o, batch(samples, flags, false),
               std::move(cb));
}
Status DeviceClient::post_measurepoints_batch_nowait(const std::vector<MeasurePointSample>& samples,
                                                     BatchFlags flags, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::measurepoint_post_batch, o, batch(samples, flags, false));
}

Result<Response> DeviceClient::resume_measurepoints(const Points& points, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::measurepoint_resume, o, measurepoints(points, o, true));
}
void DeviceClient::resume_measurepoints_async(const Points& points, ResponseCallback cb,
                                              const RequestOptions& o) {
    send_async(core_.get(), UpMethod::measurepoint_resume, o, measurepoints(points, o, true), std::move(cb));
}
Status DeviceClient::resume_measurepoints_nowait(const Points& points, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::measurepoint_resume, o, measurepoints(points, o, true));
}

Result<Response> DeviceClient::resume_measurepoints_batch(const std::vector<MeasurePointSample>& samples,
                                                          BatchFlags flags, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::measurepoint_resume_batch, o, batch(samples, flags, true));
}
void DeviceClient::resume_measurepoints_batch_async(const std::vector<MeasurePointSample>& samples,
                                                    ResponseCallback cb, BatchFlags flags,
                                                    const RequestOptions& o) {
    send_async(core_.get(), UpMethod::measurepoint_resume_batch, o, batch(samples, flags, true),
               std::move(cb));
}
Status DeviceClient::resume_measurepoints_batch_nowait(const std::vector<MeasurePointSample>& samples,
                                                       BatchFlags flags, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::measurepoint_resume_batch, o, batch(samples, flags, true));
}

Result<Response> DeviceClient::post_event(std::string_view event_id, const Points& values,
                                          const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::event_post, with_event(o, event_id),
                         event(event_id, values, o));
}
void DeviceClient::post_event_async(std::string_view event_id, const Points& values, ResponseCallback cb,
                                    const RequestOptions& o) {
    send_async(core_.get(), UpMethod::event_post, with_event(o, event_id), event(event_id, values, o),
               std::move(cb));
}
Status DeviceClient::post_event_nowait(std::string_view event_id, const Points& values,
                                       const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::event_post, with_event(o, event_id),
                       event(event_id, values, o));
}

Result<Response> DeviceClient::query_attributes(const std::vector<std::string>& names,
                                                const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::attribute_query, o, items(&encode_attribute_query, names));
}
void DeviceClient::query_attributes_async(const std::vector<std::string>& names, ResponseCallback cb,
                                          const RequestOptions& o) {
    send_async(core_.get(), UpMethod::attribute_query, o, items(&encode_attribute_query, names),
               std::move(cb));
}
Status DeviceClient::query_attributes_nowait(const std::vector<std::string>& names, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::attribute_query, o, items(&encode_attribute_query, names));
}

Result<Response> DeviceClient::update_attributes(const Points& attributes, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::attribute_update, o,
                         items(&encode_attribute_update, attributes));
}
void DeviceClient::update_attributes_async(const Points& attributes, ResponseCallback cb,
                                           const RequestOptions& o) {
    send_async(core_.get(), UpMethod::attribute_update, o, items(&encode_attribute_update, attributes),
               std::move(cb));
}
Status DeviceClient::update_attributes_nowait(const Points& attributes, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::attribute_update, o,
                       items(&encode_attribute_update, attributes));
}

Result<Response> DeviceClient::delete_attributes(const std::vector<std::string>& names,
                                                 const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::attribute_delete, o, items(&encode_attribute_delete, names));
}
void DeviceClient::delete_attributes_async(const std::vector<std::string>& names, ResponseCallback cb,
                                           const RequestOptions& o) {
    send_async(core_.get(), UpMethod::attribute_delete, o, items(&encode_attribute_delete, names),
               std::move(cb));
}
Status DeviceClient::delete_attributes_nowait(const std::vector<std::string>& names,
                                              const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::attribute_delete, o, items(&encode_attribute_delete, names));
}

Result<Response> DeviceClient::query_tags(const std::vector<std::string>& names, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::tag_query, o, items(&encode_tag_query, names));
}
void DeviceClient::query_tags_async(const std::vector<std::string>& names, ResponseCallback cb,
                                    const RequestOptions& o) {
    send_async(core_.get(), UpMethod::tag_query, o, items(&encode_tag_query, names), std::move(cb));
}
Status DeviceClient::query_tags_nowait(const std::vector<std::string>& names, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::tag_query, o, items(&encode_tag_query, names));
}

Result<Response> DeviceClient::update_tags(const Tags& tags, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::tag_update, o, items(&encode_tag_update, tags));
}
void DeviceClient::update_tags_async(const Tags& tags, ResponseCallback cb, const RequestOptions& o) {
    send_async(core_.get(), UpMethod::tag_update, o, items(&encode_tag_update, tags), std::move(cb));
}
Status DeviceClient::update_tags_nowait(const Tags& tags, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::tag_update, o, items(&encode_tag_update, tags));
}

Result<Response> DeviceClient::delete_tags(const std::vector<std::string>& names, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::tag_delete, o, items(&encode_tag_delete, names));
}
void DeviceClient::delete_tags_async(const std::vector<std::string>& names, ResponseCallback cb,
                                     const RequestOptions& o) {
    send_async(core_.get(), UpMethod::tag_delete, o, items(&encode_tag_delete, names), std::move(cb));
}
Status DeviceClient::delete_tags_nowait(const std::vector<std::string>& names, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::tag_delete, o, items(&encode_tag_delete, names));
}

Result<Response> DeviceClient::post_raw(std::string_view bytes, const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::raw_up, o, raw_bytes(bytes));
}
void DeviceClient::post_raw_async(std::string_view bytes, ResponseCallback cb, const RequestOptions& o) {
    send_async(core_.get(), UpMethod::raw_up, o, raw_bytes(bytes), std::move(cb));
}
Status DeviceClient::post_raw_nowait(std::string_view bytes, const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::raw_up, o, raw_bytes(bytes));
}

Result<Response> DeviceClient::get_tsl_template(const RequestOptions& o) {
    return send_blocking(core_.get(), UpMethod::tsl_template_get, o, tsl_template());
}
void DeviceClient::get_tsl_template_async(ResponseCallback cb, const RequestOptions& o) {
    send_async(core_.get(), UpMethod::tsl_template_get, o, tsl_template(), std::move(cb));
}
Status DeviceClient::get_tsl_template_nowait(const RequestOptions& o) {
    return send_nowait(core_.get(), UpMethod::tsl_template_get, o, tsl_template());
}

Result<Response> DeviceClient::request(UpMethod method, std::string_view params_json,
                                       const RequestOptions& o) {
    return send_blocking(core_.get(), method, o, generic(method, params_json, o));
}
void DeviceClient::request_async(UpMethod method, std::string_view params_json, ResponseCallback cb,
                                 const RequestOptions& o) {
    send_async(core_.get(), method, o, generic(method, params_json, o), std::move(cb));
}
Status DeviceClient::request_nowait(UpMethod method, std::string_view params_json, const RequestOptions& o) {
    return send_nowait(core_.get(), method, o, generic(method, params_json, o));
}

// ---- test hooks ------------------------------------------------------------------------------------

namespace detail {

Result<DeviceClient> create_client(ClientOptions options, std::unique_ptr<Transport> transport,
                                   std::shared_ptr<const Clock> clock) {
    Result<std::shared_ptr<ClientCore>> core =
        ClientCore::create(std::move(options), std::move(transport), std::move(clock));
    if (!core) return core.error();
    return DeviceClient(std::move(*core));
}

void run_due_timers(DeviceClient& client) {
    if (client.core_) client.core_->run_due_timers();
}

} // namespace detail
} // namespace enos::device
