// The Store methods that serve other processes than the simulator: the rows `enos-hub query` prints
// (its kinds, their SQL and their columns) and the commands the injection commands record.
#include "store.hpp"
#include "store_database.hpp"

namespace enos::hub::sim {

Status Store::record_command(const CommandRecord& c) {
    return db_->run(
        "INSERT INTO commands(product_key, device_key, command, request_id, topic, payload, sent_at, "
        "reply_topic, reply, reply_code, replied_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        c.product_key, c.device_key, c.command,
        c.request_id.empty() ? std::optional<std::string>() : std::optional<std::string>(c.request_id),
        c.topic, Blob{c.payload}, c.sent_at, c.reply_topic, c.reply, c.reply_code, c.replied_at,
        c.reply ? "replied" : "timeout");
}

namespace {

struct RowField {
    const char* name;
    FieldType type;
};

/// One kind of row `enos-hub query` prints: its SQL (?1 = product key, ?2 = device key, NULL matching
/// anything) and the names of its columns, in order.
struct RowKind {
    const char* name;
    const char* sql;
    std::vector<RowField> fields;
};

#define ENOS_HUB_DEVICE_FILTER "(?1 IS NULL OR product_key = ?1) AND (?2 IS NULL OR device_key = ?2)"

const RowKind row_kind_table[] = {
    {"measurepoints",
     "SELECT product_key, device_key, identifier, value, time, resumed, received_at, request_id FROM "
     "measurepoints "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"identifier", FieldType::text},
      {"value", FieldType::json},
      {"time", FieldType::integer},
      {"resumed", FieldType::flag},
      {"receivedAt", FieldType::integer},
      {"requestId", FieldType::text}}},
    {"events",
     "SELECT product_key, device_key, event_id, events, time, received_at, request_id FROM events "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"eventId", FieldType::text},
      {"events", FieldType::json},
      {"time", FieldType::integer},
      {"receivedAt", FieldType::integer},
      {"requestId", FieldType::text}}},
    {"attributes",
     "SELECT product_key, device_key, name, value, updated_at FROM attributes WHERE " ENOS_HUB_DEVICE_FILTER
     " ORDER BY product_key, device_key, name",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"name", FieldType::text},
      {"value", FieldType::json},
      {"updatedAt", FieldType::integer}}},
    {"tags",
     "SELECT product_key, device_key, tag_key, tag_value, updated_at FROM tags WHERE " ENOS_HUB_DEVICE_FILTER
     " ORDER BY product_key, device_key, tag_key",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"tagKey", FieldType::text},
      {"tagValue", FieldType::text},
      {"updatedAt", FieldType::integer}}},
    // Topology and sessions match the gateway or the sub-device.
    {"topology",
     "SELECT gateway_product_key, gateway_device_key, product_key, device_key, added_at FROM topology WHERE "
     "((?1 IS NULL OR gateway_product_key = ?1) AND (?2 IS NULL OR gateway_device_key = ?2)) OR "
     "((?1 IS NULL OR product_key = ?1) AND (?2 IS NULL OR device_key = ?2)) ORDER BY rowid",
     {{"gatewayProductKey", FieldType::text},
      {"gatewayDeviceKey", FieldType::text},
      {"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"addedAt", FieldType::integer}}},
    {"sessions",
     "SELECT gateway_product_key, gateway_device_key, product_key, device_key, asset_id, logged_in_at FROM "
     "sessions "
     "WHERE ((?1 IS NULL OR gateway_product_key = ?1) AND (?2 IS NULL OR gateway_device_key = ?2)) OR "
     "((?1 IS NULL OR product_key = ?1) AND (?2 IS NULL OR device_key = ?2)) ORDER BY logged_in_at",
     {{"gatewayProductKey", FieldType::text},
      {"gatewayDeviceKey", FieldType::text},
      {"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"assetId", FieldType::text},
      {"loggedInAt", FieldType::integer}}},
    {"ota",
     "SELECT 'inform', product_key, device_key, version, NULL, NULL, reported_at, request_id FROM "
     "ota_versions WHERE " ENOS_HUB_DEVICE_FILTER
     " UNION ALL SELECT 'progress', product_key, device_key, NULL, step, description, "
     "reported_at, request_id FROM ota_progress WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY 7",
     {{"type", FieldType::text},
      {"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"version", FieldType::text},
      {"step", FieldType::text},
      {"desc", FieldType::text},
      {"reportedAt", FieldType::integer},
      {"requestId", FieldType::text}}},
    {"logs",
     "SELECT product_key, device_key, logs, time, received_at, request_id FROM logs "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"logs", FieldType::json},
      {"time", FieldType::integer},
      {"receivedAt", FieldType::integer},
      {"requestId", FieldType::text}}},
    {"network-status",
     "SELECT product_key, device_key, report, report_time, received_at, request_id FROM network_status "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"report", FieldType::json},
      {"reportTime", FieldType::integer},
      {"receivedAt", FieldType::integer},
      {"requestId", FieldType::text}}},
    {"connection-states",
     "SELECT product_key, device_key, report, report_time, received_at, request_id FROM connection_states "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"report", FieldType::json},
      {"reportTime", FieldType::integer},
      {"receivedAt", FieldType::integer},
      {"requestId", FieldType::text}}},
    {"raw",
     "SELECT product_key, device_key, topic, payload, reply, received_at FROM raw_messages "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"topic", FieldType::text},
      {"hex", FieldType::bytes},
      {"replyHex", FieldType::bytes},
      {"receivedAt", FieldType::integer}}},
    {"commands",
     "SELECT product_key, device_key, command, request_id, topic, payload, sent_at, reply_code, reply, "
     "replied_at, "
     "outcome FROM commands WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"command", FieldType::text},
      {"requestId", FieldType::text},
      {"topic", FieldType::text},
      {"payloadHex", FieldType::bytes},
      {"sentAt", FieldType::integer},
      {"replyCode", FieldType::integer},
      {"replyHex", FieldType::bytes},
      {"repliedAt", FieldType::integer},
      {"outcome", FieldType::text}}},
    {"connections",
     "SELECT product_key, device_key, event, client_id, secure_mode, at FROM connections "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY id",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"event", FieldType::text},
      {"clientId", FieldType::text},
      {"secureMode", FieldType::integer},
      {"at", FieldType::integer}}},
    // The generated secret stays in the store: query shows whether a device is activated, not its secret.
    {"activations",
     "SELECT product_key, device_key, activated FROM activations WHERE " ENOS_HUB_DEVICE_FILTER
     " ORDER BY product_key, device_key",
     {{"productKey", FieldType::text}, {"deviceKey", FieldType::text}, {"activated", FieldType::flag}}},
    {"devices",
     "SELECT product_key, device_key, origin, enabled, deleted, details, updated_at FROM devices "
     "WHERE " ENOS_HUB_DEVICE_FILTER " ORDER BY product_key, device_key",
     {{"productKey", FieldType::text},
      {"deviceKey", FieldType::text},
      {"origin", FieldType::text},
      {"enabled", FieldType::flag},
      {"deleted", FieldType::flag},
      {"details", FieldType::json},
      {"updatedAt", FieldType::integer}}},
};

#undef ENOS_HUB_DEVICE_FILTER

} // namespace

std::vector<std::string_view> Store::row_kinds() {
    std::vector<std::string_view> names;
    for (const RowKind& k : row_kind_table)
        names.emplace_back(k.name);
    return names;
}

bool Store::is_row_kind(std::string_view kind) {
    for (const RowKind& k : row_kind_table)
        if (kind == k.name) return true;
    return false;
}

Status Store::each_row_of(std::string_view kind, const std::optional<std::string>& product_key,
                          const std::optional<std::string>& device_key,
                          const std::function<void(const std::vector<StoredField>&)>& row) {
    const RowKind* found = nullptr;
    for (const RowKind& k : row_kind_table)
        if (kind == k.name) found = &k;
    if (!found) return Error{errc::invalid_argument, "unknown kind '" + std::string(kind) + "'"};
    std::vector<StoredField> fields(found->fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
        fields[i].name = found->fields[i].name;
        fields[i].type = found->fields[i].type;
    }
    return db_->each_row(
        found->sql,
        [&](sqlite3_stmt* r) {
            for (std::size_t i = 0; i < fields.size(); ++i) {
                StoredField& f = fields[i];
                const int column = static_cast<int>(i);
                f.is_null = column_is_null(r, column);
                if (f.type == FieldType::integer || f.type == FieldType::flag)
                    f.number = f.is_null ? 0 : column_int(r, column);
                else
                    f.text = f.is_null ? std::string() : column_text(r, column);
            }
            row(fields);
        },
        product_key, device_key);
}

} // namespace enos::hub::sim
