// Payload compression at the transport boundary (docs/protocol.md §5.6): with GZIP negotiated in the
// client id, every payload is compressed as a whole after encoding and inflated before anything
// reads it; topics are unchanged. The core above sees plain payloads only, so the 512 KB limit
// keeps applying to the uncompressed message, as on the platform. Not part of the stable API.
#pragma once

#include "transport/transport.hpp"
#include <enos/device/client/log.hpp>

#include <functional>
#include <memory>
#include <string>

namespace enos::device::detail {

class GzipTransport final : public Transport {
public:
    using Logger = std::function<void(LogLevel, const std::string&)>;

    GzipTransport(std::unique_ptr<Transport> inner, Logger log);

    /// Inflates each arriving payload before `events.message` sees it. One that does not inflate
    /// (corrupt, truncated, not gzip, larger than 512 KB inflated) is logged as an error with its
    /// topic and never handed on, so no handler or reply waiter sees garbage. The device's own
    /// command replies echoed back by its thing/service/+ subscription are handed on as they are:
    /// the core drops them unread.
    void set_events(TransportEvents events) override;
    void connect(const TransportConnectParams& params, Done done) override;
    void disconnect(std::chrono::milliseconds timeout) override;
    Status subscribe(const std::vector<std::string>& topics, int qos, SubscribeDone done) override;
    Status publish(const std::string& topic, const std::string& payload, int qos, Done done) override;
    void set_coalescing(const std::atomic<bool>& wanted) override;
    Error explain_connect_failure(const TransportConnectParams& params, const Error& failure,
                                  std::chrono::milliseconds bound) override;

private:
    void on_message(const std::string& topic, const std::string& payload) const;

    std::unique_ptr<Transport> inner_;
    Logger log_;
    std::function<void(const std::string&, const std::string&)> deliver_;
};

} // namespace enos::device::detail
