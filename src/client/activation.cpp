#include "client/activation.hpp"

#include <enos/device/core/payload.hpp>
#include <enos/device/core/topics.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace enos::device::detail {
namespace {

std::string trim(std::string text) {
    const char* space = " \t\r\n";
    const std::size_t first = text.find_first_not_of(space);
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(space) - first + 1);
}

std::string directory_of(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// Written to a temporary file, flushed, renamed and the directory flushed too, so that after a
/// crash or power cut the file holds either the whole secret or nothing new.
Status write_secret_file(const std::string& path, const std::string& secret) {
    const std::string temp = path + ".tmp";
    auto fail = [&](const char* step) {
        return Error{errc::store_error, std::string("cannot store the device secret in '") + path + "' (" +
                                            step + "): " + std::strerror(errno)};
    };
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("open");
    const std::string line = secret + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    const bool synced = written && ::fsync(fd) == 0;
    ::close(fd);
    if (!written || !synced) {
        ::unlink(temp.c_str());
        return fail(written ? "fsync" : "write");
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        ::unlink(temp.c_str());
        return fail("rename");
    }
    const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return fail("open the directory");
    const bool dir_synced = ::fsync(dir) == 0;
    ::close(dir);
    if (!dir_synced) return fail("fsync the directory");
    return {};
}

} // namespace

Result<std::string> load_device_secret(const ClientOptions& options) {
    if (!options.device_secret.empty() || options.device_secret_file.empty()) return options.device_secret;
    std::ifstream in(options.device_secret_file, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return std::string{};
        return Error{errc::store_error, "cannot read the device secret file '" + options.device_secret_file +
                                            "': " + std::strerror(errno)};
    }
    std::ostringstream text;
    text << in.rdbuf();
    return trim(text.str());
}

Result<ActivationOffer> read_activation_offer(const std::string& payload, const ClientOptions& options) {
    Result<Request> request = decode_request(payload);
    Result<ActivateInfo> info =
        request ? decode_activate_info(request->params_json) : Result<ActivateInfo>(request.error());
    if (info && (info->product_key != options.product_key || info->device_key != options.device_key))
        info = Error{errc::invalid_argument, "the activation names another device (" + info->product_key +
                                                 "/" + info->device_key + ")"};
    if (!info) return Error{info.error().code, "malformed activation message: " + info.error().detail};
    return ActivationOffer{request->id, std::move(info->device_secret)};
}

Status keep_device_secret(const std::string& secret, const ClientOptions& options) {
    if (options.device_secret_file.empty() && !options.on_device_secret)
        return Error{errc::missing_argument,
                     "the device secret would be kept nowhere: set device_secret_file or on_device_secret"};
    if (!options.device_secret_file.empty())
        if (Status s = write_secret_file(options.device_secret_file, secret); !s) return s;
    if (!options.on_device_secret) return {};
    try {
        return options.on_device_secret(secret);
    } catch (const std::exception& e) {
        return Error{errc::store_error, std::string("on_device_secret threw: ") + e.what()};
    } catch (...) {
        return Error{errc::store_error, "on_device_secret threw"};
    }
}

Result<ActivationAck> activation_ack(const ActivationOffer& offer, const ClientOptions& options) {
    ArrivedTopic arrived;
    arrived.kind = DownKind::activate_info;
    arrived.product_key = options.product_key;
    arrived.device_key = options.device_key;
    ActivationAck ack;
    ack.topic = command_reply_topic(arrived);
    if (Status s = encode_reply(ack.payload, offer.request_id, 200, "persistent the device secret success");
        !s)
        return s.error();
    return ack;
}

} // namespace enos::device::detail
