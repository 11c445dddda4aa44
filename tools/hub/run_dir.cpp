#include "run_dir.hpp"

#include "launcher_errors.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace enos::hub {

namespace fs = std::filesystem;

RunDir::RunDir(const std::optional<std::string>& flag) {
    std::string d = flag ? *flag : (std::getenv("ENOS_HUB_DIR") ? std::getenv("ENOS_HUB_DIR") : ".enos-hub");
    if (d.empty()) throw UsageError("--dir must not be empty");
    dir = fs::absolute(d).lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
}

namespace {

// Tightening is only safe for a directory enos-hub made: never chmod /tmp or a home directory.
bool empty_or_run_dir(const RunDir& run) {
    std::error_code ec;
    if (fs::is_empty(run.dir, ec)) return true;
    for (const char* ours : {"hub.json", "mosquitto.conf", "admin.token"})
        if (fs::exists(run.file(ours), ec)) return true;
    return false;
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

} // namespace

void prepare_run_dir(const RunDir& run) {
    std::error_code ec;
    const fs::path parent = fs::path(run.dir).parent_path();
    if (!parent.empty() && !fs::create_directories(parent, ec) && ec)
        throw Failure("cannot create " + parent.string() + ": " + ec.message());
    if (::mkdir(run.dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw Failure("cannot create the run directory " + run.dir + ": " + std::strerror(errno));
    struct stat st {};
    if (::stat(run.dir.c_str(), &st) != 0)
        throw Failure("cannot use the run directory " + run.dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) throw Failure("the run directory " + run.dir + " is not a directory");
    if (st.st_uid != ::geteuid())
        throw Failure("the run directory " + run.dir + " belongs to uid " + std::to_string(st.st_uid) +
                      ", not to you (uid " + std::to_string(::geteuid()) +
                      "); it holds the hub's secrets: pass a directory of your own with --dir");
    if ((st.st_mode & 07777) == 0700) return;
    if (!empty_or_run_dir(run))
        throw Failure("the run directory " + run.dir + " has mode " + octal_mode(st.st_mode) +
                      " and holds other files; the hub keeps secrets there, so pass a new directory " +
                      "or make this one private (chmod 700)");
    if (::chmod(run.dir.c_str(), 0700) != 0)
        throw Failure("cannot make the run directory " + run.dir +
                      " private (mode 0700): " + std::strerror(errno));
}

void make_private(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) == 0600) return;
    if (::chmod(path.c_str(), 0600) != 0)
        throw Failure("cannot make " + path + " private (mode 0600): " + std::strerror(errno));
}

std::vector<std::string> secret_files(const RunDir& run) {
    std::vector<std::string> files;
    for (const char* name :
         {"admin.token", "hub.db", "hub.db-wal", "hub.db-shm", "hub.db-journal", "mosquitto.db"})
        files.push_back(run.file(name));
    return files;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw Failure("cannot write " + tmp + ": " + std::strerror(errno));
    // fchmod as well: a leftover temporary file keeps its old mode through O_CREAT.
    bool written = ::fchmod(fd, mode) == 0;
    for (std::size_t done = 0; written && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        written = n > 0;
        if (written) done += static_cast<std::size_t>(n);
    }
    const int err = errno;
    ::close(fd);
    if (!written) throw Failure("cannot write " + tmp + ": " + std::strerror(err));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw Failure("cannot write " + path + ": " + std::strerror(errno));
}

std::string log_tail(const std::string& path, std::size_t lines) {
    std::istringstream in(read_file(path));
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);)
        all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += "  " + all[i] + "\n";
    return out;
}

void write_hub_info(const RunDir& run, const HubInfo& info) {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    const auto str = [&w](const char* key, const std::string& value) {
        w.Key(key);
        if (value.empty())
            w.Null();
        else
            w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    };
    const auto num = [&w](const char* key, long long value) {
        w.Key(key);
        if (value == 0)
            w.Null();
        else
            w.Int64(value);
    };
    w.StartObject();
    str("host", "127.0.0.1");
    num("port", info.port);
    num("tls_port", info.tls_port);
    w.Key("require_client_cert");
    w.Bool(info.require_client_cert);
    str("ca_file", info.ca_file);
    str("ca_key_file", info.ca_key_file);
    str("registry", info.registry);
    str("store", info.store);
    str("admin_username", admin_username);
    str("admin_token_file", run.file("admin.token"));
    str("dir", run.dir);
    num("broker_pid", info.broker_pid);
    num("simulator_pid", info.simulator_pid);
    w.EndObject();
    write_file(run.hub_json(), std::string(buffer.GetString(), buffer.GetSize()) + "\n");
}

std::optional<HubInfo> read_hub_info(const RunDir& run) {
    const std::string text = read_file(run.hub_json());
    if (text.empty()) return std::nullopt;
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) throw Failure(run.hub_json() + " is not valid JSON");
    HubInfo info;
    const auto integer = [&doc](const char* key) -> long long {
        const auto it = doc.FindMember(key);
        return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
    };
    const auto string = [&doc](const char* key) -> std::string {
        const auto it = doc.FindMember(key);
        return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
    };
    info.port = static_cast<std::uint16_t>(integer("port"));
    info.tls_port = static_cast<std::uint16_t>(integer("tls_port"));
    const auto cert = doc.FindMember("require_client_cert");
    info.require_client_cert = cert != doc.MemberEnd() && cert->value.IsBool() && cert->value.GetBool();
    info.ca_file = string("ca_file");
    info.ca_key_file = string("ca_key_file");
    info.registry = string("registry");
    info.store = string("store");
    info.broker_pid = static_cast<pid_t>(integer("broker_pid"));
    info.simulator_pid = static_cast<pid_t>(integer("simulator_pid"));
    return info;
}

pid_t recorded_pid(const RunDir& run, const char* pid_file) {
    std::istringstream in(read_file(run.file(pid_file)));
    long long pid = 0;
    return in >> pid && pid > 0 ? static_cast<pid_t>(pid) : 0;
}

} // namespace enos::hub
