#include "support/hub.hpp"

#include "support/catch.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"

#include <rapidjson/document.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

namespace enos::test {

namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

#ifndef ENOS_TEST_HUB_BINARY
#define ENOS_TEST_HUB_BINARY "enos-hub"
#endif
#ifndef ENOS_TEST_REGISTRY
#define ENOS_TEST_REGISTRY ""
#endif
#ifndef ENOS_TEST_HUB_DIR
#define ENOS_TEST_HUB_DIR ""
#endif

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> split_words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string w; in >> w;)
        words.push_back(w);
    return words;
}

constexpr auto command_timeout = std::chrono::seconds(90);

} // namespace

ProcessResult run_hub(std::vector<std::string> args) {
    args.insert(args.begin(), enos_hub_binary());
    return run_process(args);
}

std::string enos_hub_binary() {
    return env_or("ENOS_HUB_BINARY", ENOS_TEST_HUB_BINARY);
}
std::string test_registry_path() {
    return env_or("ENOS_TEST_REGISTRY", ENOS_TEST_REGISTRY);
}

HubProcess HubProcess::start() {
    return start(Options{});
}

HubProcess HubProcess::start(const Options& options) {
    HubProcess hub;
    hub.temp_ = std::make_unique<TempDir>("enos-hub");
    hub.dir_ = hub.temp_->path();
    std::vector<std::string> argv = {
        enos_hub_binary(), "start",
        "--dir",           hub.dir_,
        "--port",          "0",
        "--registry",      options.registry_path.empty() ? test_registry_path() : options.registry_path};
    if (options.tls) argv.insert(argv.end(), {"--tls-port", "0"});
    if (options.require_client_cert) argv.push_back("--require-client-cert");
    if (!options.connect_limit) argv.push_back("--no-connect-limit");
    if (!options.simulator) argv.push_back("--no-simulator");
    // Should this test process crash or be killed, the hub stops itself instead of lingering.
    argv.insert(argv.end(), {"--owner-pid", std::to_string(::getpid())});
    for (auto& word : split_words(options.extra_start_args))
        argv.push_back(std::move(word));

    const ProcessResult started = run_process(argv, command_timeout);
    INFO("enos-hub start: exit " << started.exit_code << "\nstdout: " << started.out
                                 << "\nstderr: " << started.err);
    REQUIRE(started.exit_code == 0);
    hub.owned_ = true;
    hub.read_hub_json();
    return hub;
}

HubProcess HubProcess::attach(const std::string& dir) {
    HubProcess hub;
    hub.dir_ = dir;
    hub.read_hub_json();
    return hub;
}

void HubProcess::read_hub_json() {
    const std::string text = read_text(dir_ + "/hub.json");
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    INFO("hub.json in " << dir_ << ": " << text);
    REQUIRE((!doc.HasParseError() && doc.IsObject() && doc.HasMember("port") && doc["port"].IsInt()));
    port_ = static_cast<std::uint16_t>(doc["port"].GetInt());
    tls_port_ = doc.HasMember("tls_port") && doc["tls_port"].IsInt()
                    ? static_cast<std::uint16_t>(doc["tls_port"].GetInt())
                    : 0;
    ca_file_ = doc.HasMember("ca_file") && doc["ca_file"].IsString() ? doc["ca_file"].GetString() : "";
    simulator_pid_ =
        doc.HasMember("simulator_pid") && doc["simulator_pid"].IsInt() ? doc["simulator_pid"].GetInt() : 0;
}

PausedSimulator::PausedSimulator(const HubProcess& hub) : pid_(hub.simulator_pid()) {
    INFO("hub.json in " << hub.dir() << " names no simulator_pid");
    REQUIRE(pid_ > 0);
    REQUIRE(::kill(pid_, SIGSTOP) == 0);
}

PausedSimulator::~PausedSimulator() {
    ::kill(pid_, SIGCONT);
}

HubProcess::HubProcess(HubProcess&&) noexcept = default;
HubProcess& HubProcess::operator=(HubProcess&&) noexcept = default;

HubProcess::~HubProcess() {
    if (!owned_) return;
    // Stops by the pids recorded in the run dir; the temp dir goes afterwards.
    run_process({enos_hub_binary(), "stop", "--dir", dir_}, command_timeout);
}

std::string HubProcess::url() const {
    return "tcp://127.0.0.1:" + std::to_string(port_);
}
std::string HubProcess::tls_url() const {
    return "ssl://127.0.0.1:" + std::to_string(tls_port_);
}
std::string HubProcess::ca_file() const {
    return ca_file_;
}
std::string HubProcess::broker_log() const {
    return read_text(log_file());
}

void HubProcess::stop_broker() {
    const CommandResult r = run({"broker-stop"});
    INFO("enos-hub broker-stop: " << r.err);
    REQUIRE(r.exit_code == 0);
}

void HubProcess::start_broker() {
    const CommandResult r = run({"broker-start"});
    INFO("enos-hub broker-start: " << r.err);
    REQUIRE(r.exit_code == 0);
}

HubProcess::CommandResult HubProcess::run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {enos_hub_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    bool located = false;
    for (const auto& a : args)
        located = located || a == "--dir" || a == "--port";
    if (!located) argv.insert(argv.end(), {"--dir", dir_});
    const ProcessResult r = run_process(argv, command_timeout);
    return CommandResult{r.exit_code, r.out, r.err};
}

std::pair<std::string, std::string> HubProcess::issue_device_cert(const std::string& product_key,
                                                                  const std::string& device_key,
                                                                  const std::string& out_dir) const {
    const std::string cert = out_dir + "/" + device_key + ".crt", key = out_dir + "/" + device_key + ".key";
    const CommandResult r =
        run({"issue-cert", "--pk", product_key, "--dk", device_key, "--out-cert", cert, "--out-key", key});
    INFO("enos-hub issue-cert: " << r.err);
    REQUIRE(r.exit_code == 0);
    return {cert, key};
}

const HubProcess& shared_hub() {
    static std::once_flag once;
    static std::unique_ptr<HubProcess> hub;
    std::call_once(once, [] {
        const std::string dir = env_or("ENOS_HUB_DIR", ENOS_TEST_HUB_DIR);
        if (!dir.empty() && !read_text(dir + "/hub.json").empty()) {
            auto attached = std::make_unique<HubProcess>(HubProcess::attach(dir));
            if (tcp_port_open(attached->port())) {
                hub = std::move(attached);
                return;
            }
        }
        HubProcess::Options options;
        options.tls = true;
        hub = std::make_unique<HubProcess>(HubProcess::start(options));
    });
    REQUIRE(hub);
    return *hub;
}

} // namespace enos::test
