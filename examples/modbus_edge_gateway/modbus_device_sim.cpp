// modbus_device_sim: a small Modbus TCP device for trying modbus_edge_gateway and for its tests. It
// serves 1000 holding and 1000 input registers (all 0 at start) to any number of clients and any
// unit id, and prints the port it listens on as one JSON line, {"port":N}.
//
//   modbus_device_sim [--host 127.0.0.1] [--port 0]
//                     [--set holding|input:ADDR=VALUE]...        a 16-bit value (-32768..65535)
//                     [--set-float holding|input:ADDR=VALUE]...  float32, high word at ADDR
//                     [--counter holding|input:ADDR]...          +1 after every read of ADDR
//
// --port 0 (the default) picks a free port. A counter register answers its current value and then
// counts up by one, so the n-th read of it (from 0) returns its start value + n: a client that
// reads it once per poll round sees the round number. Clients may write holding registers.
// Stops on SIGTERM or SIGINT.
#include <modbus/modbus.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int register_count = 1000;

volatile sig_atomic_t stop_requested = 0;

extern "C" void request_stop(int) {
    stop_requested = 1;
}

struct RegisterRef {
    bool holding = true;
    int address = 0;
};

[[noreturn]] void usage(const std::string& problem) {
    std::fprintf(stderr,
                 "modbus_device_sim: %s\n"
                 "usage: modbus_device_sim [--host H] [--port P] [--set KIND:ADDR=VALUE]... "
                 "[--set-float KIND:ADDR=VALUE]... [--counter KIND:ADDR]...\n"
                 "       KIND is holding or input; ADDR 0..%d\n",
                 problem.c_str(), register_count - 1);
    std::exit(2);
}

/// "holding:12" (and the text after '=' into `value` when `value` is given).
RegisterRef parse_ref(const std::string& arg, std::string* value, int words) {
    const auto colon = arg.find(':');
    if (colon == std::string::npos) usage("'" + arg + "': expected KIND:ADDR");
    RegisterRef ref;
    const std::string kind = arg.substr(0, colon);
    if (kind == "holding")
        ref.holding = true;
    else if (kind == "input")
        ref.holding = false;
    else
        usage("'" + arg + "': KIND must be holding or input");
    std::string rest = arg.substr(colon + 1);
    if (value != nullptr) {
        const auto eq = rest.find('=');
        if (eq == std::string::npos) usage("'" + arg + "': expected KIND:ADDR=VALUE");
        *value = rest.substr(eq + 1);
        rest = rest.substr(0, eq);
    }
    char* end = nullptr;
    const long address = std::strtol(rest.c_str(), &end, 10);
    if (rest.empty() || *end != '\0' || address < 0 || address + words > register_count)
        usage("'" + arg + "': ADDR must be 0.." + std::to_string(register_count - words));
    ref.address = static_cast<int>(address);
    return ref;
}

std::uint16_t* slot(modbus_mapping_t* map, const RegisterRef& ref) {
    return ref.holding ? &map->tab_registers[ref.address] : &map->tab_input_registers[ref.address];
}

/// Counts the counter registers that a read request covered, after it was answered.
void count_reads(modbus_mapping_t* map, const std::vector<RegisterRef>& counters, const std::uint8_t* request,
                 int header_length) {
    const int function = request[header_length];
    bool holding = false;
    if (function == MODBUS_FC_READ_HOLDING_REGISTERS || function == MODBUS_FC_WRITE_AND_READ_REGISTERS)
        holding = true;
    else if (function != MODBUS_FC_READ_INPUT_REGISTERS)
        return;
    const int address = (request[header_length + 1] << 8) | request[header_length + 2];
    const int count = (request[header_length + 3] << 8) | request[header_length + 4];
    for (const RegisterRef& c : counters)
        if (c.holding == holding && c.address >= address && c.address < address + count) ++*slot(map, c);
}

} // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0;
    modbus_mapping_t* map = modbus_mapping_new(0, 0, register_count, register_count);
    if (map == nullptr) return 1;
    std::vector<RegisterRef> counters;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) usage(arg + " needs a value");
        const std::string next = argv[++i];
        std::string value;
        char* end = nullptr;
        if (arg == "--host") {
            host = next;
        } else if (arg == "--port") {
            port = static_cast<int>(std::strtol(next.c_str(), &end, 10));
            if (next.empty() || *end != '\0' || port < 0 || port > 65535) usage("--port must be 0..65535");
        } else if (arg == "--set") {
            const RegisterRef ref = parse_ref(next, &value, 1);
            const long v = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || v < -32768 || v > 65535)
                usage("'" + next + "': VALUE must be an integer from -32768 to 65535");
            *slot(map, ref) = static_cast<std::uint16_t>(v);
        } else if (arg == "--set-float") {
            const RegisterRef ref = parse_ref(next, &value, 2);
            const float f = std::strtof(value.c_str(), &end);
            if (value.empty() || *end != '\0') usage("'" + next + "': VALUE must be a number");
            std::uint32_t bits = 0;
            std::memcpy(&bits, &f, sizeof bits);
            slot(map, ref)[0] = static_cast<std::uint16_t>(bits >> 16);
            slot(map, ref)[1] = static_cast<std::uint16_t>(bits);
        } else if (arg == "--counter") {
            counters.push_back(parse_ref(next, nullptr, 1));
        } else {
            usage("unknown option " + arg);
        }
    }

    modbus_t* ctx = modbus_new_tcp(host.c_str(), port);
    if (ctx == nullptr) {
        std::fprintf(stderr, "modbus_device_sim: %s\n", modbus_strerror(errno));
        return 1;
    }
    const int server = modbus_tcp_listen(ctx, 16);
    if (server < 0) {
        std::fprintf(stderr, "modbus_device_sim: cannot listen on %s:%d: %s\n", host.c_str(), port,
                     modbus_strerror(errno));
        return 1;
    }
    sockaddr_in bound{};
    socklen_t bound_length = sizeof bound;
    if (getsockname(server, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) return 1;
    std::printf("{\"port\":%d}\n", ntohs(bound.sin_port));
    std::fflush(stdout);

    // SIGTERM is blocked except inside ppoll(), so a stop request can never slip in between the
    // check of the flag and the wait.
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    sigset_t blocked, during_wait;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigprocmask(SIG_BLOCK, &blocked, &during_wait);
    sigdelset(&during_wait, SIGTERM);
    sigdelset(&during_wait, SIGINT);

    std::vector<int> clients;
    std::uint8_t request[MODBUS_TCP_MAX_ADU_LENGTH];
    const int header_length = modbus_get_header_length(ctx);
    while (!stop_requested) {
        std::vector<pollfd> fds{{server, POLLIN, 0}};
        for (int c : clients)
            fds.push_back({c, POLLIN, 0});
        if (ppoll(fds.data(), fds.size(), nullptr, &during_wait) < 0) {
            if (errno == EINTR) continue;
            std::perror("modbus_device_sim: ppoll");
            break;
        }
        if (fds[0].revents & POLLIN) {
            const int client = accept(server, nullptr, nullptr);
            if (client >= 0) clients.push_back(client);
        }
        for (std::size_t i = 1; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            modbus_set_socket(ctx, fds[i].fd);
            const int length = modbus_receive(ctx, request);
            if (length > 0) {
                modbus_reply(ctx, request, length, map);
                count_reads(map, counters, request, header_length);
            } else if (length < 0) { // closed by the client, or a malformed frame
                close(fds[i].fd);
                clients.erase(std::find(clients.begin(), clients.end(), fds[i].fd));
            }
        }
    }
    for (int c : clients)
        close(c);
    close(server);
    modbus_free(ctx);
    modbus_mapping_free(map);
    return 0;
}
