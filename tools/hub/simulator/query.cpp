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

/// How a column is written into the JSON line. A NULL column is left out.
enum class As { text, integer, json, flag, hex };

struct Column {
    const char* key;
    As as;
};

/// One query kind: its SQL (parameters ?1 = product key, ?2 = device key, NULL matching anything)
/// and the JSON keys of its columns, in order.
struct Kind {
    const char* name;
    const char* sql;
    std::vector<Column> columns;
};

#define ENOS_HUB_DEVICE_FILTER "(?1 IS NULL OR product_key = ?1) AND (?2 IS NULL OR device_key = ?2)"

const Kind kinds[] = {
    {"measurepoints",
     "SELECT product_key, device_key, identifier, value, time, resumed, received_at, request_id FROM "
     "measurepoints "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"identifier", As::text},
      {"value", As::json},
      {"time", As::integer},
      {"resumed", As::flag},
      {"receivedAt", As::integer},
      {"requestId", As::text}}},
    {"events",
     "SELECT product_key, device_key, event_id, events, time, received_at, request_id FROM events "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"eventId", As::text},
      {"events", As::json},
      {"time", As::integer},
      {"receivedAt", As::integer},
      {"requestId", As::text}}},
    {"attributes",
     "SELECT product_key, device_key, name, value, updated_at FROM attributes WHERE " ENOS_HUB_DEVICE_FILTER
     " ORDER BY product_key, device_key, name",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"name", As::text},
      {"value", As::json},
      {"updatedAt", As::integer}}},
    {"tags",
     "SELECT product_key, device_key, tag_key, tag_value, updated_at FROM tags WHERE " ENOS_HUB_DEVICE_FILTER
     " ORDER BY product_key, device_key, tag_key",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"tagKey", As::text},
      {"tagValue", As::text},
      {"updatedAt", As::integer}}},
    // Topology and sessions match the gateway or the sub-device.
    {"topology",
     "SELECT gateway_product_key, gateway_device_key, product_key, device_key, added_at FROM topology WHERE "
     "((?1 IS NULL OR gateway_product_key = ?1) AND (?2 IS NULL OR gateway_device_key = ?2)) OR "
     "((?1 IS NULL OR product_key = ?1) AND (?2 IS NULL OR device_key = ?2)) ORDER BY rowid",
     {{"gatewayProductKey", As::text},
      {"gatewayDeviceKey", As::text},
      {"productKey", As::text},
      {"deviceKey", As::text},
      {"addedAt", As::integer}}},
    {"sessions",
     "SELECT gateway_product_key, gateway_device_key, product_key, device_key, asset_id, logged_in_at FROM "
     "sessions "
     "WHERE ((?1 IS NULL OR gateway_product_key = ?1) AND (?2 IS NULL OR gateway_device_key = ?2)) OR "
     "((?1 IS NULL OR product_key = ?1) AND (?2 IS NULL OR device_key = ?2)) ORDER BY logged_in_at",
     {{"gatewayProductKey", As::text},
      {"gatewayDeviceKey", As::text},
      {"productKey", As::text},
      {"deviceKey", As::text},
      {"assetId", As::text},
      {"loggedInAt", As::integer}}},
    {"ota",
     "SELECT 'inform', product_key, device_key, version, NULL, NULL, reported_at, request_id FROM "
     "ota_versions WHERE " ENOS_HUB_DEVICE_FILTER
     " UNION ALL SELECT 'progress', product_key, device_key, NULL, step, description, "
     "reported_at, request_id FROM ota_progress WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY 7",
     {{"type", As::text},
      {"productKey", As::text},
      {"deviceKey", As::text},
      {"version", As::text},
      {"step", As::text},
      {"desc", As::text},
      {"reportedAt", As::integer},
      {"requestId", As::text}}},
    {"logs",
     "SELECT product_key, device_key, logs, time, received_at, request_id FROM logs "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"logs", As::json},
      {"time", As::integer},
      {"receivedAt", As::integer},
      {"requestId", As::text}}},
    {"network-status",
     "SELECT product_key, device_key, report, report_time, received_at, request_id FROM network_status "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"report", As::json},
      {"reportTime", As::integer},
      {"receivedAt", As::integer},
      {"requestId", As::text}}},
    {"connection-states",
     "SELECT product_key, device_key, report, report_time, received_at, request_id FROM connection_states "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"report", As::json},
      {"reportTime", As::integer},
      {"receivedAt", As::integer},
      {"requestId", As::text}}},
    {"raw",
     "SELECT product_key, device_key, topic, payload, reply, received_at FROM raw_messages "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"topic", As::text},
      {"hex", As::hex},
      {"replyHex", As::hex},
      {"receivedAt", As::integer}}},
    {"commands",
     "SELECT product_key, device_key, command, request_id, topic, payload, sent_at, reply_code, reply, "
     "replied_at, "
     "outcome FROM commands WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"command", As::text},
      {"requestId", As::text},
      {"topic", As::text},
      {"payloadHex", As::hex},
      {"sentAt", As::integer},
      {"replyCode", As::integer},
      {"replyHex", As::hex},
      {"repliedAt", As::integer},
      {"outcome", As::text}}},
    {"connections",
     "SELECT product_key, device_key, event, client_id, secure_mode, at FROM connections "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"event", As::text},
      {"clientId", As::text},
      {"secureMode", As::integer},
      {"at", As::integer}}},
    // The generated secret stays in the store: query shows whether a device is activated, not its secret.
    {"activations",
     "SELECT product_key, device_key, activated FROM activations WHERE " ENOS_HUB_DEVICE_FILTER
     " ORDER BY product_key, device_key",
     {{"productKey", As::text}, {"deviceKey", As::text}, {"activated", As::flag}}},
    {"devices",
     "SELECT product_key, device_key, origin, enabled, deleted, details, updated_at FROM devices "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY product_key, device_key",
     {{"productKey", As::text},
      {"deviceKey", As::text},
      {"origin", As::text},
      {"enabled", As::flag},
      {"deleted", As::flag},
      {"details", As::json},
      {"updatedAt", As::integer}}},
};

#undef ENOS_HUB_DEVICE_FILTER

std::string kind_names() {
    std::string names;
    for (const Kind& k : kinds)
        names += std::string(names.empty() ? "" : "|") + k.name;
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

std::string cell(sqlite3_stmt* row, int column, As as) {
    switch (as) {
    case As::text: return json_quote(column_text(row, column));
    case As::integer: return std::to_string(column_int(row, column));
    case As::json: return column_text(row, column);
    case As::flag: return column_int(row, column) != 0 ? "true" : "false";
    case As::hex: return json_quote(to_hex(column_text(row, column)));
    }
    return "null";
}

} // namespace

int query_main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help") return usage(argc < 2 ? "which rows? name a kind" : "");
    const std::string name = argv[1];
    const Kind* kind = nullptr;
    for (const Kind& k : kinds)
        if (name == k.name) kind = &k;
    if (!kind) return usage("unknown kind '" + name + "'");
    auto options = Options::parse(argc, argv, 2, {"pk", "dk", "dir"});
    if (!options) return usage(options.error().detail);
    if (!options->positional().empty()) return usage("unexpected argument " + options->positional().front());

    const std::string dir = run_dir_or_default(options->get("dir"));
    std::string store_path = dir + "/hub.db";
    if (auto hub = read_hub_endpoint(dir)) store_path = hub->store;
    if (::access(store_path.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "enos-hub query: no store at %s (has a hub run in %s?)\n", store_path.c_str(),
                     dir.c_str());
        return exit_unreachable;
    }
    auto db = Database::open(store_path, true);
    if (!db) {
        std::fprintf(stderr, "enos-hub query: %s\n", db.error().message().c_str());
        return exit_unreachable;
    }
    std::string line;
    const Status status = (*db)->each_row(
        kind->sql,
        [&](sqlite3_stmt* row) {
            line = "{";
            for (std::size_t i = 0; i < kind->columns.size(); ++i) {
                if (column_is_null(row, static_cast<int>(i))) continue;
                if (line.size() > 1) line += ',';
                line += json_quote(kind->columns[i].key);
                line += ':';
                line += cell(row, static_cast<int>(i), kind->columns[i].as);
            }
            line += "}\n";
            std::fputs(line.c_str(), stdout);
        },
        options->get("pk"), options->get("dk"));
    if (!status) {
        std::fprintf(stderr, "enos-hub query: %s\n", status.error().message().c_str());
        return exit_failure;
    }
    return exit_ok;
}

} // namespace enos::hub
