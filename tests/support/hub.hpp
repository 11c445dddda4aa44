// enos-hub for tests: a private hub in a temp dir on free ports (HubProcess::start), or the shared
// hub that the CTest fixture starts once for all integration tests (shared_hub()).
#pragma once

#include "support/mqtt_probe.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace enos::test {

/// The enos-hub executable: $ENOS_HUB_BINARY, else the one built with the tests.
std::string enos_hub_binary();
/// The shared test registry (tests/integration/registry.json): $ENOS_TEST_REGISTRY, else the source tree's.
std::string test_registry_path();
/// Runs `enos-hub ARGS...` to its end.
ProcessResult run_hub(std::vector<std::string> args);

class HubProcess {
public:
    struct Options {
        std::string registry_path; ///< empty: test_registry_path()
        bool tls = false;          ///< also a TLS listener, server certificate from the hub's own CA
        bool require_client_cert = false;
        /// The platform's connect rate limit (§1.7). Off by default: tests reconnect far more often
        /// than a device may; pass the --connect-* numbers in extra_start_args to test it.
        bool connect_limit = false;
        bool simulator = true;
        std::string extra_start_args; ///< more `enos-hub start` arguments, separated by spaces
    };

    /// Runs `enos-hub start --dir <temp dir> --port 0 ...` and REQUIREs that it succeeds.
    static HubProcess start();
    static HubProcess start(const Options& options);
    /// A hub someone else started in `dir` (not stopped by this object).
    static HubProcess attach(const std::string& dir);

    HubProcess(HubProcess&&) noexcept;
    HubProcess& operator=(HubProcess&&) noexcept;
    ~HubProcess(); ///< `enos-hub stop` when this object started the hub

    std::uint16_t port() const { return port_; }
    std::uint16_t tls_port() const { return tls_port_; } ///< 0 without TLS
    const std::string& dir() const { return dir_; }
    std::string url() const;     ///< "tcp://127.0.0.1:P"
    std::string tls_url() const; ///< "ssl://127.0.0.1:P2"
    std::string ca_file() const; ///< the CA that signed the server certificate ("" without TLS)
    std::string log_file() const { return dir_ + "/mosquitto.log"; }
    std::string broker_log() const;                      ///< the broker log so far
    int simulator_pid() const { return simulator_pid_; } ///< the cloud simulator's process

    /// The privileged identity the simulator and the injection commands use.
    MqttCredentials admin() const { return admin_credentials(dir_); }

    /// Outage tests: stop only mosquitto, then start it again on the same ports.
    void stop_broker();
    void start_broker();

    struct CommandResult {
        int exit_code = -1;
        std::string out, err;
    };
    /// Runs `enos-hub ARGS... --dir DIR` (--dir is added unless ARGS has --dir or --port).
    CommandResult run(const std::vector<std::string>& args) const;

    /// Issues a device certificate signed by this hub's CA into `out_dir` (cert, key paths).
    std::pair<std::string, std::string> issue_device_cert(const std::string& product_key,
                                                          const std::string& device_key,
                                                          const std::string& out_dir) const;

private:
    HubProcess() = default;
    void read_hub_json();

    std::unique_ptr<TempDir> temp_; ///< owned run dir (private hubs only)
    std::string dir_;
    std::uint16_t port_ = 0, tls_port_ = 0;
    int simulator_pid_ = 0;
    std::string ca_file_;
    bool owned_ = false;
};

/// Stops the hub's cloud simulator (SIGSTOP: requests get no reply, commands are not sent) until
/// destroyed (SIGCONT).
class PausedSimulator {
public:
    explicit PausedSimulator(const HubProcess& hub);
    ~PausedSimulator();
    PausedSimulator(const PausedSimulator&) = delete;
    PausedSimulator& operator=(const PausedSimulator&) = delete;

private:
    int pid_ = 0;
};

/// The hub of the CTest fixture ($ENOS_HUB_DIR). When the tests run without it (the test binary
/// started by hand), a private hub is started on first use and stopped at exit.
const HubProcess& shared_hub();

} // namespace enos::test
