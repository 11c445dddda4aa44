#include "transport/gzip_transport.hpp"
#include "transport/gzip_codec.hpp"

#include <enos/device/core/limits.hpp>
#include <enos/device/core/topics.hpp>

namespace enos::device::detail {

GzipTransport::GzipTransport(std::unique_ptr<Transport> inner, Logger log)
    : inner_(std::move(inner)), log_(std::move(log)) {}

void GzipTransport::set_events(TransportEvents events) {
    deliver_ = std::move(events.message);
    events.message = [this](const std::string& topic, const std::string& payload) {
        on_message(topic, payload);
    };
    inner_->set_events(std::move(events));
}

void GzipTransport::on_message(const std::string& topic, const std::string& payload) const {
    if (!deliver_) return;
    if (parse_command_reply_topic(topic)) { // our own reply, echoed: never read
        deliver_(topic, payload);
        return;
    }
    Result<std::string> plain = gzip_decompress(payload, limits::max_payload_bytes);
    if (!plain) {
        if (log_)
            log_(LogLevel::error,
                 "dropped a message on " + topic + " (" + std::to_string(payload.size()) +
                     " bytes): GZIP is negotiated but the payload does not inflate: " + plain.error().detail);
        return;
    }
    deliver_(topic, *plain);
}

void GzipTransport::connect(const TransportConnectParams& params, Done done) {
    inner_->connect(params, std::move(done));
}

void GzipTransport::disconnect(std::chrono::milliseconds timeout) {
    inner_->disconnect(timeout);
}

Status GzipTransport::subscribe(const std::vector<std::string>& topics, int qos, SubscribeDone done) {
    return inner_->subscribe(topics, qos, std::move(done));
}

Status GzipTransport::publish(const std::string& topic, const std::string& payload, int qos, Done done) {
    Result<std::string> compressed = gzip_compress(payload);
    if (!compressed) return compressed.error();
    return inner_->publish(topic, *compressed, qos, std::move(done));
}

void GzipTransport::set_coalescing(const std::atomic<bool>& wanted) {
    inner_->set_coalescing(wanted);
}

Error GzipTransport::explain_connect_failure(const TransportConnectParams& params, const Error& failure,
                                             std::chrono::milliseconds bound) {
    return inner_->explain_connect_failure(params, failure, bound);
}

} // namespace enos::device::detail
