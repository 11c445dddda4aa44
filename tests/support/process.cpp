#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace enos::test {

struct ChildProcess::State {
    pid_t pid = -1;
    std::optional<int> exit_code;
    std::thread reader;
    mutable std::mutex mutex;
    std::string out, err;

    std::atomic<bool> exited{false};

    // Drains both pipes until they close, or until the child has exited and nothing is left to read
    // (a daemon it started may hold the pipes open for much longer).
    void read_output(int out_fd, int err_fd) {
        pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
        int open_fds = 2;
        char buf[4096];
        while (open_fds > 0) {
            const int ready = ::poll(fds, 2, 50);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0 || (ready == 0 && exited)) break;
            for (int i = 0; i < 2; ++i) {
                if (fds[i].fd < 0 || fds[i].revents == 0) continue;
                const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
                if (n > 0) {
                    std::lock_guard<std::mutex> lock(mutex);
                    (i == 0 ? out : err).append(buf, static_cast<std::size_t>(n));
                } else if (n == 0 || errno != EINTR) {
                    ::close(fds[i].fd);
                    fds[i].fd = -1;
                    --open_fds;
                }
            }
        }
        for (const pollfd& p : fds)
            if (p.fd >= 0) ::close(p.fd);
    }

    bool reap(int flags) {
        if (exit_code) return true;
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, flags);
        if (r != pid) return false;
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        exited = true;
        return true;
    }
};

ChildProcess::ChildProcess(std::unique_ptr<State> state) : state_(std::move(state)) {}
ChildProcess::ChildProcess(ChildProcess&&) noexcept = default;
ChildProcess& ChildProcess::operator=(ChildProcess&&) noexcept = default;

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv) {
    return spawn(argv, Options{});
}

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const Options& options) {
    if (argv.empty()) throw std::invalid_argument("ChildProcess::spawn: empty argv");
    std::vector<std::string> args = argv;
    std::vector<char*> c_args;
    for (auto& a : args)
        c_args.push_back(a.data());
    c_args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        env_strings.emplace_back(*e);
    env_strings.insert(env_strings.end(), options.extra_env.begin(), options.extra_env.end());
    std::vector<char*> c_env;
    for (auto& e : env_strings)
        c_env.push_back(e.data());
    c_env.push_back(nullptr);

    int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2];
    if (options.capture_output && (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0))
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(report, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        if (options.capture_output) {
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(err[1], STDERR_FILENO);
        }
        int failure = 0;
        if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) failure = errno;
        if (failure == 0) {
            ::execvpe(c_args[0], c_args.data(), c_env.data());
            failure = errno;
        }
        (void)!::write(report[1], &failure, sizeof failure);
        ::_exit(127);
    }
    ::close(report[1]);
    int failure = 0;
    const bool exec_failed = ::read(report[0], &failure, sizeof failure) == sizeof failure;
    ::close(report[0]);

    auto state = std::make_unique<State>();
    state->pid = pid;
    if (options.capture_output) {
        ::close(out[1]);
        ::close(err[1]);
        state->reader = std::thread([s = state.get(), o = out[0], e = err[0]] { s->read_output(o, e); });
    }
    ChildProcess child(std::move(state));
    if (exec_failed) {
        child.wait_exit(std::chrono::seconds(10));
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(failure));
    }
    return child;
}

ChildProcess::~ChildProcess() {
    if (!state_) return;
    if (!state_->reap(WNOHANG)) {
        ::kill(state_->pid, SIGKILL);
        state_->reap(0);
    }
    if (state_->reader.joinable()) state_->reader.join();
}

pid_t ChildProcess::pid() const {
    return state_->pid;
}

bool ChildProcess::running() {
    return !state_->reap(WNOHANG);
}

void ChildProcess::terminate() {
    if (running()) ::kill(state_->pid, SIGTERM);
}

void ChildProcess::kill() {
    if (running()) ::kill(state_->pid, SIGKILL);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!state_->reap(WNOHANG)) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (state_->reader.joinable()) state_->reader.join(); // returns once the pipes are drained

    return state_->exit_code;
}

std::string ChildProcess::out() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->out;
}

std::string ChildProcess::err() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->err;
}

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    ChildProcess child = ChildProcess::spawn(argv);
    ProcessResult result;
    if (auto code = child.wait_exit(timeout)) {
        result.exit_code = *code;
    } else {
        child.kill();
        child.wait_exit(std::chrono::seconds(10));
    }
    result.out = child.out();
    result.err = child.err();
    return result;
}

} // namespace enos::test
