#include "common.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace enos::hub::sim {

std::string run_dir_or_default(const std::optional<std::string>& dir) {
    if (dir && !dir->empty()) return *dir;
    if (const char* env = std::getenv("ENOS_HUB_DIR"); env && *env) return env;
    return "./.enos-hub";
}

namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{errc::invalid_argument, "cannot read " + path};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

Result<HubEndpoint> read_hub_endpoint(const std::string& dir) {
    HubEndpoint hub;
    hub.dir = dir;
    auto info = read_file(dir + "/hub.json");
    if (!info) return Error{errc::invalid_argument, "no hub running in " + dir + " (hub.json not found)"};
    rapidjson::Document doc;
    doc.Parse(info->data(), info->size());
    if (doc.HasParseError() || !doc.IsObject())
        return Error{errc::malformed_json, dir + "/hub.json is not a JSON object"};
    const auto text = [&](const char* key, std::string& out) {
        const auto it = doc.FindMember(key);
        if (it != doc.MemberEnd() && it->value.IsString())
            out.assign(it->value.GetString(), it->value.GetStringLength());
    };
    text("host", hub.host);
    text("registry", hub.registry);
    text("store", hub.store);
    text("admin_username", hub.admin_username);
    const auto port = doc.FindMember("port");
    if (port == doc.MemberEnd() || !port->value.IsInt() || port->value.GetInt() <= 0 ||
        port->value.GetInt() > 65535)
        return Error{errc::invalid_argument, dir + "/hub.json has no valid \"port\""};
    hub.port = port->value.GetInt();
    if (hub.store.empty()) hub.store = dir + "/hub.db";
    auto token = read_file(dir + "/admin.token");
    if (!token) return Error{errc::invalid_argument, "cannot read the admin token in " + dir};
    while (!token->empty() && (token->back() == '\n' || token->back() == '\r' || token->back() == ' '))
        token->pop_back();
    hub.admin_password = std::move(*token);
    return hub;
}

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void random_bytes(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
        const ssize_t got = ::getrandom(p, n, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            std::fprintf(stderr, "enos-hub: getrandom failed: %s\n", std::strerror(errno));
            std::abort();
        }
        p += got;
        n -= static_cast<std::size_t>(got);
    }
}

std::string random_token(std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    constexpr unsigned letters = sizeof(alphabet) - 1;
    constexpr unsigned usable = 256 / letters * letters; // bytes at or above this would favour some letters
    std::string out;
    out.reserve(n);
    unsigned char pool[64];
    while (out.size() < n) {
        random_bytes(pool, sizeof pool);
        for (unsigned char byte : pool)
            if (byte < usable && out.size() < n) out.push_back(alphabet[byte % letters]);
    }
    return out;
}

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    random_bytes(raw.data(), raw.size());
    return to_hex(raw);
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

Result<std::string> from_hex(std::string_view hex) {
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    if (hex.size() % 2 != 0)
        return Error{errc::invalid_argument, "hex text must have an even number of digits"};
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return Error{errc::invalid_argument, "not a hex digit at position " + std::to_string(i)};
        out.push_back(static_cast<char>(hi << 4 | lo));
    }
    return out;
}

std::string asset_id_of(std::string_view product_key, std::string_view device_key) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uint64_t h = 1469598103934665603ull; // FNV-1a
    const auto mix = [&h](std::string_view s) {
        for (unsigned char c : s)
            h = (h ^ c) * 1099511628211ull;
    };
    mix(product_key);
    mix("/");
    mix(device_key);
    std::string out(8, ' ');
    for (char& c : out) {
        c = alphabet[h % 62];
        h /= 62;
    }
    return out;
}

std::string json_quote(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return std::string(buffer.GetString(), buffer.GetSize());
}

} // namespace enos::hub::sim
