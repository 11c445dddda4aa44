// Child processes for tests: started with fork/exec, output captured, stopped only through their own
// pid (never by name), and always reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace enos::test {

class ChildProcess {
public:
    struct Options {
        bool capture_output = true;         ///< false: inherit the test's stdout/stderr
        std::string working_dir;            ///< empty: the test's
        std::vector<std::string> extra_env; ///< "NAME=value" entries added to the environment
    };

    /// Starts argv[0] (a path, or a name looked up in PATH). Throws std::runtime_error if it
    /// cannot be started.
    static ChildProcess spawn(const std::vector<std::string>& argv);
    static ChildProcess spawn(const std::vector<std::string>& argv, const Options& options);

    ChildProcess(ChildProcess&&) noexcept;
    ChildProcess& operator=(ChildProcess&&) noexcept;
    ~ChildProcess(); ///< SIGKILLs the child if it still runs, then reaps it

    pid_t pid() const;
    bool running();
    void terminate(); ///< SIGTERM
    void kill();      ///< SIGKILL

    /// Waits for the exit; the exit code (128 + signal number for a signal), or nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    /// Output captured so far (all of it once wait_exit returned).
    std::string out() const;
    std::string err() const;

private:
    struct State;
    explicit ChildProcess(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

struct ProcessResult {
    int exit_code = -1; ///< -1: still running at the deadline (it was killed)
    std::string out, err;
};

/// Runs a program to completion (killed at the deadline) and returns its output.
ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace enos::test
