#include "mqtt_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace enos::hub::sim {

namespace {

enum PacketType : unsigned char {
    connect_packet = 0x10,
    connack_packet = 0x20,
    publish_packet = 0x30,
    puback_packet = 0x40,
    subscribe_packet = 0x82, // SUBSCRIBE carries the fixed flags 0010
    suback_packet = 0x90,
    pingreq_packet = 0xC0,
};

/// Above this much unsent output, publish() waits for the broker to take some (bounds memory).
constexpr std::size_t max_buffered_output = 16 * 1024 * 1024;

void put_u16(std::string& out, std::size_t n) {
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
}

void put_string(std::string& out, std::string_view s) {
    put_u16(out, s.size());
    out.append(s);
}

std::uint16_t get_u16(std::string_view s, std::size_t at) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(s[at]) << 8 |
                                      static_cast<unsigned char>(s[at + 1]));
}

int millis_until(MqttClient::Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - MqttClient::Clock::now());
    return static_cast<int>(std::max<long long>(0, std::min<long long>(left.count(), 1000)));
}

Error connack_error(int code) {
    static const char* const reasons[] = {
        "accepted",           "unacceptable protocol version", "identifier rejected",
        "server unavailable", "bad user name or password",     "not authorised"};
    const std::string text = "the broker refused the connection: CONNACK " + std::to_string(code) + " (" +
                             (code >= 0 && code <= 5 ? reasons[code] : "unknown") + ")";
    return Error{code == 4   ? errc::bad_credentials
                 : code == 5 ? errc::not_authorized
                             : errc::connect_failed,
                 text};
}

} // namespace

Status MqttClient::connect(const HubEndpoint& hub, const std::string& client_id, Clock::time_point deadline,
                           bool persistent_session) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string where = hub.host + ":" + std::to_string(hub.port);
    if (getaddrinfo(hub.host.c_str(), std::to_string(hub.port).c_str(), &hints, &found) != 0 || !found)
        return Error{errc::host_unreachable, "cannot resolve " + hub.host};
    int fd = -1;
    for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0)
        return Error{errc::host_unreachable,
                     "cannot connect to the broker at " + where + ": " + std::strerror(errno)};
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fd_ = fd;

    std::string head;
    put_string(head, "MQTT");
    head.push_back(4);                                     // protocol level: 3.1.1
    head.push_back(static_cast<char>(0x80 | 0x40 | (persistent_session ? 0 : 0x02))); // user name, password
    put_u16(head, static_cast<std::size_t>(keepalive_s_));
    put_string(head, client_id);
    put_string(head, hub.admin_username);
    put_string(head, hub.admin_password);
    put_packet(connect_packet, head);
    while (!connack_) {
        if (Clock::now() >= deadline) {
            close();
            return Error{errc::timeout, "no CONNACK from the broker at " + where};
        }
        if (Status s = poll(millis_until(deadline)); !s) {
            close();
            return Error{errc::host_unreachable, "the broker at " + where + " closed the connection"};
        }
    }
    if (connack_code_ != 0) {
        close();
        return connack_error(connack_code_);
    }
    return {};
}

void MqttClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.clear();
    out_.clear();
    out_sent_ = 0;
    subscribed_ = connack_ = false;
    connack_code_ = -1;
}

void MqttClient::subscribe(const std::vector<std::string>& filters, int qos) {
    if (++next_packet_id_ == 0) next_packet_id_ = 1;
    subscribe_id_ = next_packet_id_;
    subscribed_ = false;
    std::string head;
    put_u16(head, subscribe_id_);
    for (const std::string& f : filters) {
        put_string(head, f);
        head.push_back(static_cast<char>(qos));
    }
    put_packet(subscribe_packet, head);
}

void MqttClient::publish(std::string_view topic, std::string_view payload, int qos, bool retain) {
    if (fd_ < 0) return;
    if (out_.size() - out_sent_ > max_buffered_output) (void)flush(Clock::now() + std::chrono::seconds(5));
    std::string head;
    head.reserve(topic.size() + 4);
    put_string(head, topic);
    if (qos > 0) {
        if (++next_packet_id_ == 0) next_packet_id_ = 1;
        put_u16(head, next_packet_id_);
    }
    put_packet(static_cast<unsigned char>(publish_packet | (qos > 0 ? 0x02 : 0) | (retain ? 0x01 : 0)), head,
               payload);
}

void MqttClient::put_packet(unsigned char type, std::string_view head, std::string_view payload) {
    out_.push_back(static_cast<char>(type));
    std::size_t n = head.size() + payload.size();
    do {
        unsigned char byte = n % 128;
        n /= 128;
        if (n > 0) byte |= 128;
        out_.push_back(static_cast<char>(byte));
    } while (n > 0);
    out_.append(head);
    out_.append(payload);
}

Status MqttClient::poll(int timeout_ms) {
    if (fd_ < 0) return Error{errc::not_connected, "not connected"};
    const auto now = Clock::now();
    if (connack_ && now - last_write_ > std::chrono::seconds(keepalive_s_ / 2))
        put_packet(pingreq_packet, {});
    if (Status s = write_some(); !s) return s;
    pollfd p{fd_, static_cast<short>(POLLIN | (out_.size() > out_sent_ ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
        return Error{errc::disconnected, std::strerror(errno)};
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        if (Status s = read_available(); !s) return s;
        if (Status s = handle_packets(); !s) return s;
    }
    return write_some();
}

Status MqttClient::flush(Clock::time_point deadline) {
    while (out_.size() > out_sent_) {
        if (Status s = write_some(); !s) return s;
        if (out_.size() == out_sent_) break;
        if (Clock::now() >= deadline) return Error{errc::timeout, "the broker does not take our output"};
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, millis_until(deadline));
    }
    return {};
}

Status MqttClient::read_available() {
    char buffer[65536];
    // At most 1 MB per call, so a flood is answered in slices rather than buffered whole.
    for (int reads = 0; reads < 16;) {
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            in_.append(buffer, static_cast<std::size_t>(n));
            if (static_cast<std::size_t>(n) < sizeof buffer) return {};
            ++reads;
            continue;
        }
        if (n == 0) return Error{errc::disconnected, "the broker closed the connection"};
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
        if (errno != EINTR) return Error{errc::disconnected, std::strerror(errno)};
    }
    return {};
}

Status MqttClient::handle_packets() {
    std::size_t pos = 0;
    while (true) {
        std::size_t length = 0, header = 1;
        bool complete = false;
        for (unsigned shift = 0; pos + header < in_.size() && header <= 4; shift += 7) {
            const auto byte = static_cast<unsigned char>(in_[pos + header++]);
            length |= static_cast<std::size_t>(byte & 127) << shift;
            if (!(byte & 128)) {
                complete = true;
                break;
            }
        }
        if (!complete || pos + header + length > in_.size()) break;
        const auto type = static_cast<unsigned char>(in_[pos]);
        const std::string_view body(in_.data() + pos + header, length);
        pos += header + length;
        switch (type & 0xF0) {
        case connack_packet:
            if (body.size() < 2) return Error{errc::disconnected, "malformed CONNACK"};
            connack_ = true;
            connack_code_ = static_cast<unsigned char>(body[1]);
            break;
        case suback_packet:
            if (body.size() >= 2 && get_u16(body, 0) == subscribe_id_) subscribed_ = true;
            break;
        case publish_packet: {
            if (body.size() < 2) return Error{errc::disconnected, "malformed PUBLISH"};
            const std::size_t topic_size = get_u16(body, 0);
            const int qos = (type >> 1) & 3;
            const std::size_t payload_at = 2 + topic_size + (qos > 0 ? 2 : 0);
            if (payload_at > body.size()) return Error{errc::disconnected, "malformed PUBLISH"};
            if (qos == 1) {
                std::string ack;
                put_u16(ack, get_u16(body, 2 + topic_size));
                put_packet(puback_packet, ack);
            }
            on_message_(body.substr(2, topic_size), body.substr(payload_at));
            break;
        }
        default: break; // PUBACK, PINGRESP: nothing to do
        }
    }
    in_.erase(0, pos);
    return {};
}

Status MqttClient::write_some() {
    while (out_.size() > out_sent_) {
        const ssize_t n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
        if (n > 0) {
            out_sent_ += static_cast<std::size_t>(n);
            last_write_ = Clock::now();
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
        if (n < 0 && errno == EINTR) continue;
        return Error{errc::disconnected, std::string("write to the broker failed: ") + std::strerror(errno)};
    }
    out_.clear();
    out_sent_ = 0;
    return {};
}

} // namespace enos::hub::sim
