// `enos-hub simulate --dir RUNDIR`: the cloud simulator daemon. Connects to the broker as the
// privileged identity, subscribes to every upstream request topic and answers from its main thread;
// the store's writer thread persists what arrives. Reconnects when the broker restarts and runs until
// SIGTERM or SIGINT.
#include "simulator.hpp"

#include "cloud.hpp"
#include "common.hpp"
#include "file_service.hpp"
#include "mqtt_client.hpp"
#include "store.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace enos::hub {

namespace {

using namespace sim;

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) {
    stop_requested = 1;
}

constexpr const char* simulate_usage =
    "usage: enos-hub simulate [--dir RUNDIR] [--port P] [--registry FILE]\n"
    "  The cloud simulator daemon; `enos-hub start` runs it. Reads RUNDIR/hub.json and RUNDIR/admin.token\n"
    "  (--port and --registry override hub.json) and keeps its store in RUNDIR/hub.db.\n";

void log_line(const std::string& text) {
    std::fprintf(stderr, "enos-hub simulate: %s\n", text.c_str());
    std::fflush(stderr);
}

/// Written once the subscriptions are acknowledged: `enos-hub start` waits for this file.
void write_ready_file(const std::string& dir) {
    const std::string path = dir + "/simulator.ready", temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << ::getpid() << '\n';
    }
    std::rename(temporary.c_str(), path.c_str());
}

} // namespace

int simulator_main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--help") {
            std::fputs(simulate_usage, stdout);
            return exit_ok;
        }
    auto options = tools::parse_command_line(
        tools::arguments_from(argc, argv, 1),
        {tools::valued_once("--dir"), tools::valued_once("--port"), tools::valued_once("--registry")});
    if (!options || !options->positionals().empty()) {
        std::fprintf(stderr, "%s%s", options ? "" : (options.error().detail + "\n").c_str(), simulate_usage);
        return exit_usage;
    }
    const std::string dir = run_dir_or_default(options->value("--dir"));
    auto hub = read_hub_endpoint(dir);
    if (!hub) {
        log_line(hub.error().message());
        return exit_unreachable;
    }
    if (auto port = options->value("--port")) {
        auto n = parse_integer(*port, "--port", 1, 65535);
        if (!n) {
            std::fprintf(stderr, "%s\n%s", n.error().detail.c_str(), simulate_usage);
            return exit_usage;
        }
        hub->port = static_cast<int>(*n);
    }
    if (auto registry_path = options->value("--registry")) hub->registry = *registry_path;
    auto registry = load_registry(hub->registry);
    if (!registry) {
        log_line(registry.error().message());
        return exit_failure;
    }
    auto store = Store::open(hub->store);
    if (!store) {
        log_line(store.error().message());
        return exit_failure;
    }

    struct sigaction stop_action {};
    stop_action.sa_handler = request_stop;
    sigemptyset(&stop_action.sa_mask);
    for (int signal_number : {SIGTERM, SIGINT, SIGHUP})
        sigaction(signal_number, &stop_action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    Cloud* cloud_ptr = nullptr;
    MqttClient client([&cloud_ptr](std::string_view topic, std::string_view payload) {
        cloud_ptr->on_message(topic, payload);
    });
    Cloud cloud(std::move(*registry), **store,
                [&client](const std::string& topic, std::string_view payload, int qos, bool retain) {
                    client.publish(topic, payload, qos, retain);
                });
    cloud_ptr = &cloud;
    if (auto s = cloud.load(); !s) {
        log_line("cannot load the store: " + s.error().message());
        return exit_failure;
    }
    (*store)->start();

    // Firmware for OTA tests: RUNDIR/files over HTTP, its address in RUNDIR/file-service.url.
    ::mkdir(file_service_root(dir).c_str(), 0755);
    auto files = FileService::start(file_service_root(dir), log_line);
    if (!files) {
        log_line(files.error().message());
        return exit_failure;
    }
    {
        const std::string url_path = file_service_url_path(dir), temporary = url_path + ".tmp";
        std::ofstream(temporary, std::ios::trunc) << (*files)->url() << '\n';
        std::rename(temporary.c_str(), url_path.c_str());
    }

    const std::vector<std::string> topics = Cloud::subscriptions();
    const std::string where = hub->host + ":" + std::to_string(hub->port);
    bool ready = false;     // announced at least once
    bool announced = false; // simulator.ready written for the current connection
    std::string last_error;
    while (!stop_requested) {
        if (!client.connected()) {
            // A persistent session, saved by the broker when it stops: after a restart, what devices
            // send before this client is back is queued for it instead of being acked and dropped.
            Status s = client.connect(*hub, "enos-hub-simulator",
                                      MqttClient::Clock::now() + std::chrono::seconds(5), true);
            if (!s) {
                if (s.error().message() != last_error)
                    log_line((last_error = s.error().message()) + "; retrying");
                ::poll(nullptr, 0, 200); // retry pace while the broker is down; a signal cuts it short
                continue;
            }
            last_error.clear();
            // QoS 0: on loopback a QoS 1 delivery guarantees nothing more (the broker queues both alike,
            // queue_qos0_messages), and it would cost the broker a PUBACK per request.
            client.subscribe(topics, 0);
            announced = false;
            cloud.on_connected();
            if (ready) log_line("connected again to " + where);
        }
        if (Status s = client.poll(200); !s) {
            log_line("lost the broker connection (" + s.error().message() + "), reconnecting");
            client.close();
            continue;
        }
        // Rewritten after every reconnect: broker-start waits for it, so a restarted broker counts as
        // up only once the cloud side listens again.
        if (!announced && client.subscribed()) {
            announced = true;
            write_ready_file(dir);
            if (!ready)
                log_line("ready on " + where + " (" + std::to_string(topics.size()) + " subscriptions)");
            ready = true;
        }
    }
    log_line("stopping");
    (void)client.flush(MqttClient::Clock::now() + std::chrono::seconds(1));
    client.close();
    (*store)->stop();
    ::unlink((dir + "/simulator.ready").c_str());
    ::unlink(file_service_url_path(dir).c_str());
    return exit_ok;
}

} // namespace enos::hub
