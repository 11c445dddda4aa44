// The test hooks of testing.hpp that need the real transport.
#include "client/testing.hpp"

#include "transport/paho_transport.hpp"

#include <utility>

namespace enos::device::detail {
namespace {

/// Passes every call on to the real transport, with another keep-alive in each connect.
class KeepAliveOverride final : public Transport {
public:
    KeepAliveOverride(std::unique_ptr<Transport> inner, std::chrono::seconds keep_alive)
        : inner_(std::move(inner)), keep_alive_(keep_alive) {}

    void set_events(TransportEvents events) override { inner_->set_events(std::move(events)); }
    void connect(const TransportConnectParams& params, Done done) override {
        TransportConnectParams changed = params;
        changed.keep_alive = keep_alive_;
        inner_->connect(changed, std::move(done));
    }
    void disconnect(std::chrono::milliseconds timeout) override { inner_->disconnect(timeout); }
    Status subscribe(const std::vector<std::string>& topics, int qos, SubscribeDone done) override {
        return inner_->subscribe(topics, qos, std::move(done));
    }
    Status publish(const std::string& topic, const std::string& payload, int qos, Done done) override {
        return inner_->publish(topic, payload, qos, std::move(done));
    }
    void set_coalescing(const std::atomic<bool>& wanted) override { inner_->set_coalescing(wanted); }
    Error explain_connect_failure(const TransportConnectParams& params, const Error& failure,
                                  std::chrono::milliseconds bound) override {
        return inner_->explain_connect_failure(params, failure, bound);
    }

private:
    std::unique_ptr<Transport> inner_;
    std::chrono::seconds keep_alive_;
};

} // namespace

Result<DeviceClient> create_client_with_keep_alive(ClientOptions options, std::chrono::seconds keep_alive) {
    LogSink sink = options.log_sink;
    const LogLevel level = options.log_level;
    auto paho = std::make_unique<PahoTransport>([sink, level](LogLevel l, const std::string& text) {
        if (l < level || l == LogLevel::off || !sink) return;
        try {
            sink(l, text);
        } catch (...) {
        }
    });
    return create_client(std::move(options), std::make_unique<KeepAliveOverride>(std::move(paho), keep_alive),
                         std::make_shared<SteadyClock>());
}

} // namespace enos::device::detail
