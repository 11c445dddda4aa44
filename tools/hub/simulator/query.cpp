// `enos-hub query KIND [--pk PK] [--dk DK] [--dir RUNDIR]`: prints rows of the simulator's store, one
// JSON object per line, oldest first. Reads the store directly (WAL: never blocks the simulator), so
// it also works after the hub was stopped.
#include "simulator.hpp"

#include "common.hpp"
#include "store.hpp"

#include <cstdio>
#include <unistd.h>

namespace enos::hub {

namespace {

using namespace sim;

std::string kind_names() {
    std::string names;
    for (std::string_view kind : Store::row_kinds())
        names += (names.empty() ? "" : "|") + std::string(kind);
    return names;
}

int usage(const std::string& error) {
    if (!error.empty()) std::fprintf(stderr, "enos-hub query: %s\n", error.c_str());
    std::fprintf(
        stderr,
        "usage: enos-hub query %s [--pk PK] [--dk DK] [--dir RUNDIR]\n"
        "  Prints the stored rows (of that device, or all), one JSON object per line, oldest first.\n"
        "  topology and sessions match --pk/--dk as gateway or as sub-device. Exit codes: 0 ok, 2 usage,\n"
        "  3 no store in RUNDIR.\n",
        kind_names().c_str());
    return error.empty() ? exit_ok : exit_usage;
}

std::string json_of(const StoredField& field) {
    switch (field.type) {
    case FieldType::text: return json_quote(field.text);
    case FieldType::integer: return std::to_string(field.number);
    case FieldType::json: return field.text;
    case FieldType::flag: return field.number != 0 ? "true" : "false";
    case FieldType::bytes: return json_quote(to_hex(field.text));
    }
    return "null";
}

} // namespace

int query_main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help") return usage(argc < 2 ? "which rows? name a kind" : "");
    const std::string name = argv[1];
    if (!Store::is_row_kind(name)) return usage("unknown kind '" + name + "'");
    auto options = tools::parse_command_line(
        tools::arguments_from(argc, argv, 2),
        {tools::valued_once("--pk"), tools::valued_once("--dk"), tools::valued_once("--dir")});
    if (!options) return usage(options.error().detail);
    if (!options->positionals().empty())
        return usage("unexpected argument " + options->positionals().front());

    const std::string dir = run_dir_or_default(options->value("--dir"));
    std::string store_path = dir + "/hub.db";
    if (auto hub = read_hub_endpoint(dir)) store_path = hub->store;
    if (::access(store_path.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "enos-hub query: no store at %s (has a hub run in %s?)\n", store_path.c_str(),
                     dir.c_str());
        return exit_unreachable;
    }
    auto store = Store::open_existing(store_path, Store::Access::read_only);
    if (!store) {
        std::fprintf(stderr, "enos-hub query: %s\n", store.error().message().c_str());
        return exit_unreachable;
    }
    std::string line;
    const Status status = (*store)->each_row_of(name, options->value("--pk"), options->value("--dk"),
                                                [&](const std::vector<StoredField>& row) {
                                                    line = "{";
                                                    for (const StoredField& field : row) {
                                                        if (field.is_null) continue;
                                                        if (line.size() > 1) line += ',';
                                                        line += json_quote(field.name);
                                                        line += ':';
                                                        line += json_of(field);
                                                    }
                                                    line += "}\n";
                                                    std::fputs(line.c_str(), stdout);
                                                });
    if (!status) {
        std::fprintf(stderr, "enos-hub query: %s\n", status.error().message().c_str());
        return exit_failure;
    }
    return exit_ok;
}

} // namespace enos::hub
