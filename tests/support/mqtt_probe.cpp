#include "support/mqtt_probe.hpp"

#include "support/catch.hpp"

#include <mosquitto.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace enos::test {

namespace {

void init_library_once() {
    static const int initialised = [] { return mosquitto_lib_init(); }();
    (void)initialised;
}

} // namespace

struct MqttProbe::Impl {
    std::uint16_t port;
    TlsFiles tls;
    mosquitto* mosq = nullptr;
    std::thread loop;
    std::atomic<bool> stop{false};

    mutable std::mutex mutex;
    std::condition_variable changed;
    std::optional<int> connack;
    bool open = false;   ///< CONNACK 0 received and not closed since
    bool closed = false; ///< the network connection ended
    std::string error;
    std::map<int, int> subacks; ///< mid -> first granted QoS
    std::set<int> published;    ///< mids whose publish completed
    std::vector<ReceivedMessage> messages;
    std::vector<bool> taken;

    Impl(std::uint16_t p, TlsFiles t) : port(p), tls(std::move(t)) {}

    template <class Pred>
    bool wait(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout, Pred pred) {
        return changed.wait_for(lock, timeout, pred);
    }

    void note_error(const std::string& what) {
        std::lock_guard<std::mutex> lock(mutex);
        if (error.empty()) error = what;
    }

    void shut_down() {
        if (!mosq) return;
        stop = true;
        mosquitto_disconnect(mosq);
        if (loop.joinable()) loop.join();
        mosquitto_destroy(mosq);
        mosq = nullptr;
    }

    void run_loop() {
        while (!stop) {
            const int rc = mosquitto_loop(mosq, 50, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                std::lock_guard<std::mutex> lock(mutex);
                closed = true;
                open = false;
                if (error.empty() && rc != MOSQ_ERR_NO_CONN) error = mosquitto_strerror(rc);
                changed.notify_all();
                return;
            }
        }
    }

    static Impl& of(void* obj) { return *static_cast<Impl*>(obj); }

    static void on_connect(mosquitto*, void* obj, int rc) {
        Impl& self = of(obj);
        std::lock_guard<std::mutex> lock(self.mutex);
        self.connack = rc;
        self.open = rc == 0;
        if (rc != 0 && self.error.empty()) self.error = mosquitto_connack_string(rc);
        self.changed.notify_all();
    }
    static void on_disconnect(mosquitto*, void* obj, int rc) {
        Impl& self = of(obj);
        std::lock_guard<std::mutex> lock(self.mutex);
        self.open = false;
        self.closed = true;
        if (rc != 0 && self.error.empty()) self.error = mosquitto_strerror(rc);
        self.changed.notify_all();
    }
    static void on_subscribe(mosquitto*, void* obj, int mid, int count, const int* granted) {
        Impl& self = of(obj);
        std::lock_guard<std::mutex> lock(self.mutex);
        self.subacks[mid] = count > 0 ? granted[0] : subscription_refused;
        self.changed.notify_all();
    }
    static void on_publish(mosquitto*, void* obj, int mid) {
        Impl& self = of(obj);
        std::lock_guard<std::mutex> lock(self.mutex);
        self.published.insert(mid);
        self.changed.notify_all();
    }
    static void on_message(mosquitto*, void* obj, const mosquitto_message* m) {
        Impl& self = of(obj);
        ReceivedMessage msg;
        msg.topic = m->topic ? m->topic : "";
        if (m->payload && m->payloadlen > 0)
            msg.payload.assign(static_cast<const char*>(m->payload), m->payloadlen);
        msg.qos = m->qos;
        msg.retain = m->retain;
        std::lock_guard<std::mutex> lock(self.mutex);
        self.messages.push_back(std::move(msg));
        self.taken.push_back(false);
        self.changed.notify_all();
    }
};

MqttProbe::MqttProbe(std::uint16_t port, TlsFiles tls) : impl_(std::make_unique<Impl>(port, std::move(tls))) {
    init_library_once();
}

MqttProbe::~MqttProbe() {
    impl_->shut_down();
}

int MqttProbe::connect(const MqttCredentials& credentials, std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    s.shut_down();
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.connack.reset();
        s.open = s.closed = false;
        s.error.clear();
        s.stop = false;
    }
    s.mosq = mosquitto_new(credentials.client_id.c_str(), true, &s);
    if (!s.mosq) {
        s.note_error("mosquitto_new refused the client id");
        return no_connack;
    }
    mosquitto_threaded_set(s.mosq, true);
    mosquitto_int_option(s.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(s.mosq, Impl::on_connect);
    mosquitto_disconnect_callback_set(s.mosq, Impl::on_disconnect);
    mosquitto_subscribe_callback_set(s.mosq, Impl::on_subscribe);
    mosquitto_publish_callback_set(s.mosq, Impl::on_publish);
    mosquitto_message_callback_set(s.mosq, Impl::on_message);
    mosquitto_username_pw_set(s.mosq, credentials.username.c_str(), credentials.password.c_str());
    if (!s.tls.ca_file.empty()) {
        const char* cert = s.tls.cert_file.empty() ? nullptr : s.tls.cert_file.c_str();
        const char* key = s.tls.key_file.empty() ? nullptr : s.tls.key_file.c_str();
        if (const int rc = mosquitto_tls_set(s.mosq, s.tls.ca_file.c_str(), nullptr, cert, key, nullptr);
            rc != MOSQ_ERR_SUCCESS) {
            s.note_error(std::string("TLS setup: ") + mosquitto_strerror(rc));
            return no_connack;
        }
    }
    if (const int rc = mosquitto_connect(s.mosq, "127.0.0.1", s.port, 60); rc != MOSQ_ERR_SUCCESS) {
        s.note_error(std::string("connect: ") + mosquitto_strerror(rc));
        return no_connack;
    }
    s.loop = std::thread([&s] { s.run_loop(); });

    std::unique_lock<std::mutex> lock(s.mutex);
    if (!s.wait(lock, timeout, [&s] { return s.connack.has_value() || s.closed; })) {
        if (s.error.empty()) s.error = "no CONNACK within the deadline";
        return no_connack;
    }
    return s.connack ? *s.connack : no_connack;
}

bool MqttProbe::connected() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->open;
}

std::string MqttProbe::last_error() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->error;
}

int MqttProbe::subscribe(const std::string& filter, int qos, std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    if (!connected()) return -1;
    int mid = 0;
    if (mosquitto_subscribe(s.mosq, &mid, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) return -1;
    std::unique_lock<std::mutex> lock(s.mutex);
    if (!s.wait(lock, timeout, [&] { return s.subacks.count(mid) || s.closed; }) || !s.subacks.count(mid))
        return -1;
    return s.subacks[mid];
}

bool MqttProbe::publish(const std::string& topic, std::string_view payload, int qos, bool retain,
                        std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    if (!connected()) return false;
    int mid = 0;
    if (mosquitto_publish(s.mosq, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos,
                          retain) != MOSQ_ERR_SUCCESS)
        return false;
    std::unique_lock<std::mutex> lock(s.mutex);
    return s.wait(lock, timeout, [&] { return s.published.count(mid) || s.closed; }) &&
           s.published.count(mid);
}

std::optional<ReceivedMessage> MqttProbe::wait_for(const std::string& topic,
                                                   std::chrono::milliseconds timeout) {
    return wait_for([&topic](const ReceivedMessage& m) { return m.topic == topic; }, timeout);
}

std::optional<ReceivedMessage> MqttProbe::wait_for(const std::function<bool(const ReceivedMessage&)>& match,
                                                   std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    std::unique_lock<std::mutex> lock(s.mutex);
    std::size_t found = s.messages.size();
    const auto find = [&] {
        for (std::size_t i = 0; i < s.messages.size(); ++i)
            if (!s.taken[i] && match(s.messages[i])) {
                found = i;
                return true;
            }
        return false;
    };
    if (!s.wait(lock, timeout, find)) return std::nullopt;
    s.taken[found] = true;
    return s.messages[found];
}

std::vector<ReceivedMessage> MqttProbe::received() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->messages;
}

bool MqttProbe::wait_disconnected(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    return impl_->wait(lock, timeout, [this] { return impl_->closed; });
}

void MqttProbe::disconnect() {
    impl_->shut_down();
}

std::string unique_client_id(std::string_view base) {
    static std::atomic<unsigned> counter{0};
    return std::string(base) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

MqttCredentials device_credentials(const std::string& product_key, const std::string& device_key,
                                   const std::string& secret, device::SecureMode mode,
                                   device::SignMethod method, device::HexCase hex_case,
                                   std::string client_id) {
    device::CredentialInput in;
    in.product_key = product_key;
    in.device_key = device_key;
    in.secret = secret;
    in.mode = mode;
    in.method = method;
    in.hex_case = hex_case;
    in.client_id = client_id.empty()
                       ? unique_client_id(mode == device::SecureMode::integration ? product_key : device_key)
                       : std::move(client_id);
    auto credentials = device::make_connect_credentials(in);
    INFO("make_connect_credentials: " << credentials.error().message());
    REQUIRE(credentials.ok());
    return MqttCredentials{credentials->client_id, credentials->username, credentials->password};
}

MqttCredentials admin_credentials(const std::string& hub_dir) {
    std::ifstream in(hub_dir + "/admin.token");
    std::string token;
    in >> token;
    INFO("admin token in " << hub_dir);
    REQUIRE(!token.empty());
    return MqttCredentials{unique_client_id("test-admin"), "enos-hub-admin", token};
}

int raw_connect(std::uint16_t port, std::string_view client_id, std::optional<std::string_view> username,
                std::optional<std::string_view> password, std::chrono::milliseconds timeout) {
    const auto field = [](std::string& out, std::string_view s) {
        out += static_cast<char>((s.size() >> 8) & 0xff);
        out += static_cast<char>(s.size() & 0xff);
        out.append(s);
    };
    std::string body;
    field(body, "MQTT");
    body += '\x04';
    body += static_cast<char>(0x02 | (username ? 0x80 : 0) | (password ? 0x40 : 0));
    body += '\x00';
    body += '\x3c';
    field(body, client_id);
    if (username) field(body, *username);
    if (password) field(body, *password);
    std::string packet(1, '\x10');
    for (std::size_t len = body.size();;) { // remaining length, 7 bits per byte
        char byte = static_cast<char>(len & 0x7f);
        len >>= 7;
        packet += static_cast<char>(byte | (len ? 0x80 : 0));
        if (!len) break;
    }
    packet += body;

    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return MqttProbe::no_connack;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int result = MqttProbe::no_connack;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, packet.data(), packet.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(packet.size())) {
        unsigned char reply[4];
        std::size_t have = 0;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (have < sizeof reply) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            const ssize_t n = ::recv(fd, reply + have, sizeof reply - have, 0);
            if (n <= 0) break;
            have += static_cast<std::size_t>(n);
        }
        if (have == sizeof reply && reply[0] == 0x20 && reply[1] == 0x02) result = reply[3];
    }
    ::close(fd);
    return result;
}

} // namespace enos::test
