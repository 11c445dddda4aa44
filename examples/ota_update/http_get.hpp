// A minimal HTTP/1.1 GET for firmware files: plain http:// only, a Content-Length or a body that
// ends with the connection, no redirects, no chunked encoding. Enough for enos-hub's file service;
// on EnOS the file service wants an authenticated HTTPS request, so a product plugs its own HTTP
// client into OtaUpdaterOptions::download instead.
#pragma once

#include <enos/device/client/ota.hpp>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <netdb.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace ota_example {

using enos::device::errc;
using enos::device::Error;
using enos::device::Status;

/// `base` + `file_url` unless file_url is already an http:// URL.
inline std::string firmware_url(const std::string& base, const std::string& file_url) {
    if (file_url.rfind("http://", 0) == 0) return file_url;
    if (!base.empty() && base.back() == '/' && !file_url.empty() && file_url.front() == '/')
        return base + file_url.substr(1);
    return base + file_url;
}

class Socket {
public:
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

/// Opens a TCP connection; every read and write is bounded by `timeout_s`.
inline Status connect_to(const std::string& host, const std::string& port, int timeout_s, int& fd_out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
        return Error{errc::host_unreachable, host + ": " + ::gai_strerror(rc)};
    int fd = -1;
    for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        timeval tv{timeout_s, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(found);
    if (fd < 0) return Error{errc::host_unreachable, "cannot connect to " + host + ":" + port};
    fd_out = fd;
    return {};
}

/// GETs `url` and passes the body to `sink` as it arrives.
inline Status http_get(const std::string& url, const enos::device::FirmwareSink& sink, int timeout_s = 10) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) return Error{errc::invalid_argument, "not an http:// URL: " + url};
    const std::size_t path_at = url.find('/', scheme.size());
    const std::string authority = url.substr(scheme.size(), path_at - scheme.size());
    const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
    const std::size_t colon = authority.rfind(':');
    const std::string host = authority.substr(0, colon);
    const std::string port = colon == std::string::npos ? "80" : authority.substr(colon + 1);

    int fd = -1;
    if (Status s = connect_to(host, port, timeout_s, fd); !s) return s;
    Socket socket(fd);
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        return Error{errc::connect_failed, "cannot send the request to " + authority};

    std::string buffer;
    char chunk[16 * 1024];
    auto receive = [&]() -> ssize_t {
        ssize_t n;
        do
            n = ::recv(fd, chunk, sizeof chunk, 0);
        while (n < 0 && errno == EINTR);
        return n;
    };
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = receive();
        if (n < 0) return Error{errc::timeout, "no answer from " + authority + ": " + std::strerror(errno)};
        if (n == 0 || buffer.size() > 16384)
            return Error{errc::connect_failed, "bad HTTP answer from " + authority};
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    std::string head = buffer.substr(0, head_end);
    for (char& c : head)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const int status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    if (status != 200) return Error{errc::invalid_argument, "HTTP " + std::to_string(status) + " for " + url};
    if (head.find("transfer-encoding: chunked") != std::string::npos)
        return Error{errc::invalid_argument, "chunked transfer encoding is not supported"};
    long long expected = -1;
    if (const std::size_t at = head.find("content-length:"); at != std::string::npos)
        expected = std::atoll(head.c_str() + at + 15);

    long long received = 0;
    std::string_view body(buffer);
    body.remove_prefix(head_end + 4);
    for (;;) {
        if (!body.empty()) {
            if (Status s = sink(body); !s) return s;
            received += static_cast<long long>(body.size());
        }
        if (expected >= 0 && received >= expected) return {};
        const ssize_t n = receive();
        if (n < 0) return Error{errc::timeout, "download stalled: " + std::string(std::strerror(errno))};
        if (n == 0) break;
        body = std::string_view(chunk, static_cast<std::size_t>(n));
    }
    if (expected >= 0 && received < expected)
        return Error{errc::disconnected, "the connection closed after " + std::to_string(received) + " of " +
                                             std::to_string(expected) + " bytes"};
    return {};
}

} // namespace ota_example
