// A minimal HTTP/1.1 GET server for firmware files (file_service.hpp). One connection at a time,
// each closed after its response: enough for the devices of a test or a demo, and nothing more.
#include "file_service.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace enos::hub::sim {

namespace {

constexpr std::size_t max_request_head = 8192;

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

void send_status(int fd, int code, const char* reason) {
    const std::string body = std::to_string(code) + " " + reason + "\n";
    const std::string head =
        "HTTP/1.1 " + std::to_string(code) + " " + reason +
        "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n";
    (void)send_all(fd, (head + body).data(), head.size() + body.size());
}

/// Reads up to the blank line that ends the request head; empty when the client gave up.
std::string read_head(int fd) {
    std::string head;
    char buffer[1024];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < max_request_head) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) return {};
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return {};
        head.append(buffer, static_cast<std::size_t>(n));
    }
    return head;
}

/// A request path is served only if it stays under the root: no "..", no NUL, no query part.
bool safe_path(const std::string& path) {
    if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos) return false;
    for (char c : path)
        if (static_cast<unsigned char>(c) <= 0x20 || c == '?' || c == '#' || c == '%' || c == '\\')
            return false;
    return true;
}

} // namespace

std::string file_service_root(const std::string& run_dir) {
    return run_dir + "/files";
}

std::string file_service_url_path(const std::string& run_dir) {
    return run_dir + "/file-service.url";
}

Result<std::unique_ptr<FileService>> FileService::start(std::string root, LogLine log) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return Error{errc::connect_failed, std::string("file service socket: ") + std::strerror(errno)};
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        return Error{errc::connect_failed, "file service cannot listen on 127.0.0.1: " + why};
    }
    return std::unique_ptr<FileService>(
        new FileService(fd, ntohs(address.sin_port), std::move(root), std::move(log)));
}

FileService::FileService(int listener, int port, std::string root, LogLine log)
    : listener_(listener), port_(port), root_(std::move(root)), log_(std::move(log)) {
    thread_ = std::thread([this] { serve(); });
}

FileService::~FileService() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
}

void FileService::serve() {
    while (!stop_) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue; // the timeout is how often stop_ is looked at
        const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) continue;
        answer(connection);
        ::close(connection);
    }
}

void FileService::answer(int connection) {
    const std::string head = read_head(connection);
    if (head.empty()) return;
    const std::size_t line_end = head.find("\r\n");
    const std::string line = head.substr(0, line_end);
    const std::size_t first = line.find(' '), second = line.find(' ', first + 1);
    if (first == std::string::npos || second == std::string::npos ||
        line.compare(second + 1, 5, "HTTP/") != 0)
        return send_status(connection, 400, "Bad Request");
    const std::string method = line.substr(0, first), path = line.substr(first + 1, second - first - 1);
    if (method != "GET") return send_status(connection, 405, "Method Not Allowed");
    const std::string file = root_ + path;
    struct stat info {};
    const int fd = safe_path(path) ? ::open(file.c_str(), O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || ::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        if (fd >= 0) ::close(fd);
        log_("file service: 404 for GET " + path.substr(0, 200));
        return send_status(connection, 404, "Not Found");
    }
    const std::string response_head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
        std::to_string(info.st_size) + "\r\nConnection: close\r\n\r\n";
    bool sent = send_all(connection, response_head.data(), response_head.size());
    char buffer[64 * 1024];
    for (ssize_t n; sent && (n = ::read(fd, buffer, sizeof buffer)) > 0;)
        sent = send_all(connection, buffer, static_cast<std::size_t>(n));
    ::close(fd);
    log_("file service: GET " + path.substr(0, 200) + " -> 200, " + std::to_string(info.st_size) + " bytes" +
         (sent ? "" : " (the client went away)"));
}

} // namespace enos::hub::sim
