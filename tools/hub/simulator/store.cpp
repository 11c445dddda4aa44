#include "store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <unordered_map>

namespace enos::hub::sim {

namespace {

// The most changes a burst may queue before producers wait for the writer (bounds memory; never drops).
constexpr std::size_t max_queued_tasks = 200000;
// A batch is committed when this many changes are queued or the oldest has waited `commit_interval`:
// few wake-ups and commits under load, and a query sees a change within a few milliseconds.
constexpr std::size_t batch_size = 2000;
constexpr auto commit_interval = std::chrono::milliseconds(5);

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS devices(
  product_key TEXT NOT NULL, device_key TEXT NOT NULL, device_secret TEXT, enabled INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, origin TEXT NOT NULL, details TEXT, updated_at INTEGER,
  PRIMARY KEY(product_key, device_key));
-- measurepoints has no per-device index: inserts stay cheap at benchmark rates, queries scan.
CREATE TABLE IF NOT EXISTS measurepoints(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, identifier TEXT NOT NULL,
  value TEXT NOT NULL, time INTEGER NOT NULL, resumed INTEGER NOT NULL, received_at INTEGER NOT NULL,
  request_id TEXT);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, event_id TEXT NOT NULL,
  events TEXT NOT NULL, time INTEGER NOT NULL, received_at INTEGER NOT NULL, request_id TEXT);
CREATE INDEX IF NOT EXISTS events_by_device ON events(product_key, device_key);
CREATE TABLE IF NOT EXISTS attributes(
  product_key TEXT NOT NULL, device_key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
  updated_at INTEGER NOT NULL, PRIMARY KEY(product_key, device_key, name));
CREATE TABLE IF NOT EXISTS tags(
  product_key TEXT NOT NULL, device_key TEXT NOT NULL, tag_key TEXT NOT NULL, tag_value TEXT NOT NULL,
  updated_at INTEGER NOT NULL, PRIMARY KEY(product_key, device_key, tag_key));
CREATE TABLE IF NOT EXISTS topology(
  gateway_product_key TEXT NOT NULL, gateway_device_key TEXT NOT NULL, product_key TEXT NOT NULL,
  device_key TEXT NOT NULL, added_at INTEGER NOT NULL, PRIMARY KEY(product_key, device_key));
CREATE TABLE IF NOT EXISTS sessions(
  gateway_product_key TEXT NOT NULL, gateway_device_key TEXT NOT NULL, product_key TEXT NOT NULL,
  device_key TEXT NOT NULL, asset_id TEXT NOT NULL, logged_in_at INTEGER NOT NULL,
  PRIMARY KEY(product_key, device_key));
CREATE TABLE IF NOT EXISTS activations(
  product_key TEXT, device_key TEXT, device_secret TEXT, activated INTEGER,
  PRIMARY KEY(product_key, device_key));
CREATE TABLE IF NOT EXISTS ota_versions(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, version TEXT NOT NULL,
  reported_at INTEGER NOT NULL, request_id TEXT);
CREATE TABLE IF NOT EXISTS ota_progress(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, step TEXT NOT NULL,
  description TEXT, reported_at INTEGER NOT NULL, request_id TEXT);
CREATE TABLE IF NOT EXISTS logs(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, logs TEXT NOT NULL,
  time INTEGER NOT NULL, received_at INTEGER NOT NULL, request_id TEXT);
CREATE TABLE IF NOT EXISTS network_status(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, report TEXT NOT NULL,
  report_time INTEGER, received_at INTEGER NOT NULL, request_id TEXT);
CREATE TABLE IF NOT EXISTS connection_states(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, report TEXT NOT NULL,
  report_time INTEGER, received_at INTEGER NOT NULL, request_id TEXT);
CREATE TABLE IF NOT EXISTS raw_messages(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, topic TEXT NOT NULL,
  payload BLOB NOT NULL, reply BLOB, received_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS connections(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, client_id TEXT,
  secure_mode INTEGER, event TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands(
  id INTEGER PRIMARY KEY, product_key TEXT NOT NULL, device_key TEXT NOT NULL, command TEXT NOT NULL,
  request_id TEXT, topic TEXT NOT NULL, payload BLOB NOT NULL, sent_at INTEGER NOT NULL,
  reply_topic TEXT NOT NULL, reply BLOB, reply_code INTEGER, replied_at INTEGER, outcome TEXT NOT NULL);
)sql";

/// Bytes to store as a BLOB rather than as text.
struct Blob {
    std::string_view bytes;
};

} // namespace

/// One SQLite connection with a cache of prepared statements (keyed by the SQL text's address, so
/// pass string literals or other long-lived texts).
class Database {
public:
    static Result<std::unique_ptr<Database>> open(const std::string& path, int flags);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Runs a script of statements without parameters.
    Status exec(const char* sql);

    /// Runs one statement with positional parameters to completion.
    template <class... Args> Status run(const char* sql, const Args&... args) {
        sqlite3_stmt* stmt = prepare(sql);
        if (!stmt) return last_error(sql);
        int index = 0;
        (bind(stmt, ++index, args), ...);
        return step_to_end(stmt, sql);
    }

    /// Runs a query; `row` is called once per result row with the statement positioned on it.
    template <class... Args>
    Status each_row(const char* sql, const std::function<void(sqlite3_stmt*)>& row, const Args&... args) {
        sqlite3_stmt* stmt = prepare(sql);
        if (!stmt) return last_error(sql);
        int index = 0;
        (bind(stmt, ++index, args), ...);
        return step_rows(stmt, sql, row);
    }

private:
    explicit Database(sqlite3* db) : db_(db) {}
    sqlite3_stmt* prepare(const char* sql);
    Error last_error(const char* sql) const;
    Status step_to_end(sqlite3_stmt* stmt, const char* sql);
    Status step_rows(sqlite3_stmt* stmt, const char* sql, const std::function<void(sqlite3_stmt*)>& row);

    static void bind(sqlite3_stmt* s, int i, std::string_view v);
    static void bind(sqlite3_stmt* s, int i, const std::string& v) { bind(s, i, std::string_view(v)); }
    static void bind(sqlite3_stmt* s, int i, const char* v) { bind(s, i, std::string_view(v)); }
    static void bind(sqlite3_stmt* s, int i, std::int64_t v);
    static void bind(sqlite3_stmt* s, int i, int v) { bind(s, i, static_cast<std::int64_t>(v)); }
    static void bind(sqlite3_stmt* s, int i, bool v) { bind(s, i, static_cast<std::int64_t>(v ? 1 : 0)); }
    static void bind(sqlite3_stmt* s, int i, std::nullptr_t);
    static void bind(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v);
    static void bind(sqlite3_stmt* s, int i, const std::optional<std::string>& v);
    static void bind(sqlite3_stmt* s, int i, Blob v);

    sqlite3* db_ = nullptr;
    std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

Result<std::unique_ptr<Database>> Database::open(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string detail =
            "cannot open store " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return Error{errc::store_error, std::move(detail)};
    }
    sqlite3_busy_timeout(db, 5000);
    return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() {
    for (auto& [sql, stmt] : statements_)
        sqlite3_finalize(stmt);
    sqlite3_close(db_);
}

Status Database::exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        Error e{errc::store_error, message ? message : "sqlite error"};
        sqlite3_free(message);
        return e;
    }
    return {};
}

sqlite3_stmt* Database::prepare(const char* sql) {
    const auto it = statements_.find(sql);
    if (it != statements_.end()) {
        sqlite3_reset(it->second);
        sqlite3_clear_bindings(it->second);
        return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
    statements_.emplace(sql, stmt);
    return stmt;
}

Error Database::last_error(const char* sql) const {
    std::string text(sql);
    if (text.size() > 60) text = text.substr(0, 60) + "...";
    return Error{errc::store_error, std::string(sqlite3_errmsg(db_)) + " (in: " + text + ")"};
}

Status Database::step_to_end(sqlite3_stmt* stmt, const char* sql) {
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    Status result;
    if (rc != SQLITE_DONE) result = last_error(sql);
    sqlite3_reset(stmt);
    return result;
}

Status Database::step_rows(sqlite3_stmt* stmt, const char* sql,
                           const std::function<void(sqlite3_stmt*)>& row) {
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        row(stmt);
    Status result;
    if (rc != SQLITE_DONE) result = last_error(sql);
    sqlite3_reset(stmt);
    return result;
}

void Database::bind(sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC); // bound only while run() steps
}
void Database::bind(sqlite3_stmt* s, int i, std::int64_t v) {
    sqlite3_bind_int64(s, i, v);
}
void Database::bind(sqlite3_stmt* s, int i, std::nullptr_t) {
    sqlite3_bind_null(s, i);
}
void Database::bind(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v) {
    if (v)
        bind(s, i, *v);
    else
        bind(s, i, nullptr);
}
void Database::bind(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
    if (v)
        bind(s, i, std::string_view(*v));
    else
        bind(s, i, nullptr);
}
void Database::bind(sqlite3_stmt* s, int i, Blob v) {
    sqlite3_bind_blob(s, i, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_STATIC);
}

namespace {

std::string column_text(sqlite3_stmt* stmt, int column) {
    const auto* text = sqlite3_column_blob(stmt, column);
    const int size = sqlite3_column_bytes(stmt, column);
    return text ? std::string(static_cast<const char*>(text), static_cast<std::size_t>(size)) : std::string();
}

std::int64_t column_int(sqlite3_stmt* stmt, int column) {
    return sqlite3_column_int64(stmt, column);
}

bool column_is_null(sqlite3_stmt* stmt, int column) {
    return sqlite3_column_type(stmt, column) == SQLITE_NULL;
}

/// Store failures are logged (the reply has gone out already; the simulator keeps serving).
void report(const Status& s) {
    if (!s) std::fprintf(stderr, "enos-hub simulate: store: %s\n", s.error().message().c_str());
}

} // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    auto db = Database::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!db) return db.error();
    // WAL: the query command and the broker plugin read while the simulator writes.
    // synchronous=NORMAL: a crash of the machine may lose the last batches, never corrupt the file.
    if (auto s = (*db)->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s) return s.error();
    if (auto s = (*db)->exec(schema_sql); !s) return s.error();
    return std::unique_ptr<Store>(new Store(std::move(*db)));
}

Result<std::unique_ptr<Store>> Store::open_existing(const std::string& path, Access access) {
    auto db =
        Database::open(path, access == Access::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    if (!db) return db.error();
    return std::unique_ptr<Store>(new Store(std::move(*db)));
}

Store::Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}

Store::~Store() {
    stop();
}

void Store::start() {
    if (writer_.joinable()) return;
    writer_ = std::thread([this] { write_loop(); });
}

void Store::submit(Task task) {
    std::unique_lock<std::mutex> lock(mutex_);
    space_ready_.wait(lock, [this] { return queue_.size() < max_queued_tasks || stopping_; });
    queue_.push_back(Entry{std::move(task), nullptr});
    const bool wake = queue_.size() == 1 || queue_.size() == batch_size;
    lock.unlock();
    if (wake) work_ready_.notify_one();
}

void Store::submit_and_wait(Task task) {
    auto committed = std::make_shared<std::promise<void>>();
    auto done = committed->get_future();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(Entry{std::move(task), committed});
    }
    work_ready_.notify_one();
    done.wait();
}

void Store::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    space_ready_.notify_all();
    if (writer_.joinable()) writer_.join();
}

void Store::write_loop() {
    std::deque<Entry> batch;
    while (true) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_ready_.wait(lock, [this] { return !queue_.empty() || stopping_; });
            if (queue_.empty()) return;
            work_ready_.wait_for(lock, commit_interval, [this] {
                return queue_.size() >= batch_size || stopping_ || queue_.back().committed;
            });
            batch.swap(queue_);
        }
        space_ready_.notify_all();
        if (auto s = db_->exec("BEGIN"); !s) std::fprintf(stderr, "store: %s\n", s.error().message().c_str());
        for (Entry& e : batch)
            e.task(*db_);
        if (auto s = db_->exec("COMMIT"); !s)
            std::fprintf(stderr, "store: %s\n", s.error().message().c_str());
        for (Entry& e : batch)
            if (e.committed) e.committed->set_value();
        batch.clear();
    }
}

// ---- loading ---------------------------------------------------------------------------------------

Status Store::seed_once(const RegistrySeed& seed, std::int64_t now) {
    bool seeded = false;
    if (auto s = db_->each_row("SELECT value FROM meta WHERE key = 'seeded'",
                               [&](sqlite3_stmt*) { seeded = true; });
        !s)
        return s;
    if (seeded) return {};
    if (auto s = db_->exec("BEGIN"); !s) return s;
    for (const TopologyLink& link : seed.topology)
        report(db_->run("INSERT OR REPLACE INTO topology VALUES (?, ?, ?, ?, ?)", link.gateway.product_key,
                        link.gateway.device_key, link.sub_device.product_key, link.sub_device.device_key,
                        now));
    for (const DeviceValue& a : seed.attributes)
        report(db_->run("INSERT OR REPLACE INTO attributes VALUES (?, ?, ?, ?, ?)", a.product_key,
                        a.device_key, a.name, a.value, now));
    for (const DeviceValue& t : seed.tags)
        report(db_->run("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?, ?)", t.product_key, t.device_key,
                        t.name, t.value, now));
    report(db_->run("INSERT OR REPLACE INTO meta VALUES ('seeded', ?)", std::to_string(now)));
    return db_->exec("COMMIT");
}

Result<std::vector<StoredDevice>> Store::load_devices() {
    std::vector<StoredDevice> devices;
    const Status s = db_->each_row(
        "SELECT product_key, device_key, device_secret, enabled, deleted, origin, details FROM devices",
        [&](sqlite3_stmt* r) {
            StoredDevice& d = devices.emplace_back();
            d.product_key = column_text(r, 0);
            d.device_key = column_text(r, 1);
            if (!column_is_null(r, 2)) d.secret = column_text(r, 2);
            d.enabled = column_int(r, 3) != 0;
            d.deleted = column_int(r, 4) != 0;
            d.registered = column_text(r, 5) == "registered";
            if (!column_is_null(r, 6)) d.details = column_text(r, 6);
        });
    if (!s) return s.error();
    return devices;
}

Result<std::vector<TopologyLink>> Store::load_topology() {
    std::vector<TopologyLink> links;
    const Status s = db_->each_row("SELECT gateway_product_key, gateway_device_key, product_key, device_key "
                                   "FROM topology ORDER BY rowid",
                                   [&](sqlite3_stmt* r) {
                                       links.push_back(TopologyLink{{column_text(r, 0), column_text(r, 1)},
                                                                    {column_text(r, 2), column_text(r, 3)}});
                                   });
    if (!s) return s.error();
    return links;
}

namespace {

/// Rows of (product key, device key, name, value).
Result<std::vector<DeviceValue>> load_device_values(Database& db, const char* sql) {
    std::vector<DeviceValue> values;
    const Status s = db.each_row(sql, [&](sqlite3_stmt* r) {
        values.push_back(
            DeviceValue{column_text(r, 0), column_text(r, 1), column_text(r, 2), column_text(r, 3)});
    });
    if (!s) return s.error();
    return values;
}

} // namespace

Result<std::vector<DeviceValue>> Store::load_attributes() {
    return load_device_values(*db_, "SELECT product_key, device_key, name, value FROM attributes");
}

Result<std::vector<DeviceValue>> Store::load_tags() {
    return load_device_values(*db_, "SELECT product_key, device_key, tag_key, tag_value FROM tags");
}

Result<std::vector<StoredActivation>> Store::load_activations() {
    std::vector<StoredActivation> activations;
    const Status s = db_->each_row(
        "SELECT product_key, device_key, device_secret, activated FROM activations", [&](sqlite3_stmt* r) {
            activations.push_back(StoredActivation{column_text(r, 0), column_text(r, 1), column_text(r, 2),
                                                   column_int(r, 3) != 0});
        });
    if (!s) return s.error();
    return activations;
}

Status Store::clear_sessions() {
    return db_->exec("DELETE FROM sessions");
}

// ---- changes ---------------------------------------------------------------------------------------

void Store::save_device(StoredDevice device, std::int64_t updated_at) {
    submit([d = std::move(device), updated_at](Database& db) {
        report(db.run(
            "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(product_key, device_key) DO "
            "UPDATE SET enabled = excluded.enabled, deleted = excluded.deleted, updated_at = "
            "excluded.updated_at, device_secret = COALESCE(excluded.device_secret, device_secret), "
            "details = COALESCE(excluded.details, details), origin = excluded.origin",
            d.product_key, d.device_key, d.secret, d.enabled, d.deleted,
            d.registered ? "registered" : "registry", d.details, updated_at));
    });
}

void Store::save_activation(std::string product_key, std::string device_key, std::string secret,
                            bool activated) {
    submit([pk = std::move(product_key), dk = std::move(device_key), secret = std::move(secret),
            activated](Database& db) {
        report(db.run("INSERT OR REPLACE INTO activations VALUES (?, ?, ?, ?)", pk, dk, secret, activated));
    });
}

void Store::confirm_activation(std::string product_key, std::string device_key) {
    submit_and_wait([pk = std::move(product_key), dk = std::move(device_key)](Database& db) {
        report(
            db.run("UPDATE activations SET activated = 1 WHERE product_key = ? AND device_key = ?", pk, dk));
    });
}

void Store::add_sub_devices(DeviceRef gateway, std::vector<DeviceRef> sub_devices, std::int64_t added_at) {
    submit([gateway = std::move(gateway), subs = std::move(sub_devices), added_at](Database& db) {
        for (const DeviceRef& sub : subs)
            report(db.run("INSERT OR REPLACE INTO topology VALUES (?, ?, ?, ?, ?)", gateway.product_key,
                          gateway.device_key, sub.product_key, sub.device_key, added_at));
    });
}

void Store::remove_sub_devices(std::vector<DeviceRef> sub_devices) {
    submit([subs = std::move(sub_devices)](Database& db) {
        for (const DeviceRef& sub : subs)
            report(db.run("DELETE FROM topology WHERE product_key = ? AND device_key = ?", sub.product_key,
                          sub.device_key));
    });
}

void Store::open_session(DeviceRef gateway, DeviceRef sub_device, std::string asset_id,
                         std::int64_t logged_in_at) {
    submit([gateway = std::move(gateway), sub = std::move(sub_device), asset_id = std::move(asset_id),
            logged_in_at](Database& db) {
        report(db.run("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?)", gateway.product_key,
                      gateway.device_key, sub.product_key, sub.device_key, asset_id, logged_in_at));
    });
}

void Store::end_session(DeviceRef sub_device) {
    submit([sub = std::move(sub_device)](Database& db) {
        report(db.run("DELETE FROM sessions WHERE product_key = ? AND device_key = ?", sub.product_key,
                      sub.device_key));
    });
}

void Store::end_sessions_of_gateway(DeviceRef gateway) {
    submit([gateway = std::move(gateway)](Database& db) {
        report(db.run("DELETE FROM sessions WHERE gateway_product_key = ? AND gateway_device_key = ?",
                      gateway.product_key, gateway.device_key));
    });
}

void Store::set_attributes(DeviceRef device, std::vector<NamedText> attributes_json,
                           std::int64_t updated_at) {
    submit([device = std::move(device), rows = std::move(attributes_json), updated_at](Database& db) {
        for (const auto& [name, json] : rows)
            report(db.run("INSERT OR REPLACE INTO attributes VALUES (?, ?, ?, ?, ?)", device.product_key,
                          device.device_key, name, json, updated_at));
    });
}

void Store::delete_attributes(DeviceRef device, std::vector<std::string> names) {
    submit([device = std::move(device), names = std::move(names)](Database& db) {
        for (const std::string& name : names)
            report(db.run("DELETE FROM attributes WHERE product_key = ? AND device_key = ? AND name = ?",
                          device.product_key, device.device_key, name));
    });
}

void Store::set_tags(DeviceRef device, std::vector<NamedText> tags, std::int64_t updated_at) {
    submit([device = std::move(device), rows = std::move(tags), updated_at](Database& db) {
        for (const auto& [key, value] : rows)
            report(db.run("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?, ?)", device.product_key,
                          device.device_key, key, value, updated_at));
    });
}

void Store::delete_tags(DeviceRef device, std::vector<std::string> tag_keys) {
    submit([device = std::move(device), keys = std::move(tag_keys)](Database& db) {
        for (const std::string& key : keys)
            report(db.run("DELETE FROM tags WHERE product_key = ? AND device_key = ? AND tag_key = ?",
                          device.product_key, device.device_key, key));
    });
}

void Store::record_measurepoints(DeviceRef device, std::vector<NamedText> points_json, std::int64_t time,
                                 bool resumed, std::int64_t received_at, std::string request_id) {
    submit([device = std::move(device), rows = std::move(points_json), time, resumed, received_at,
            request_id = std::move(request_id)](Database& db) {
        for (const auto& [name, json] : rows)
            report(db.run(
                "INSERT INTO measurepoints(product_key, device_key, identifier, value, time, resumed, "
                "received_at, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                device.product_key, device.device_key, name, json, time, resumed, received_at, request_id));
    });
}

void Store::record_events(std::string product_key, std::vector<EventRecord> events, std::int64_t received_at,
                          std::string request_id) {
    submit([pk = std::move(product_key), events = std::move(events), received_at,
            request_id = std::move(request_id)](Database& db) {
        for (const EventRecord& e : events)
            report(db.run("INSERT INTO events(product_key, device_key, event_id, events, time, received_at, "
                          "request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          pk, e.device_key, e.event_id, e.params_json, e.time, received_at, request_id));
    });
}

void Store::record_ota_version(DeviceRef device, std::string version, std::int64_t reported_at,
                               std::string request_id) {
    submit([device = std::move(device), version = std::move(version), reported_at,
            request_id = std::move(request_id)](Database& db) {
        report(db.run("INSERT INTO ota_versions(product_key, device_key, version, reported_at, request_id) "
                      "VALUES (?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, version, reported_at, request_id));
    });
}

void Store::record_ota_progress(DeviceRef device, std::string step, std::optional<std::string> description,
                                std::int64_t reported_at, std::string request_id) {
    submit([device = std::move(device), step = std::move(step), description = std::move(description),
            reported_at, request_id = std::move(request_id)](Database& db) {
        report(db.run("INSERT INTO ota_progress(product_key, device_key, step, description, reported_at, "
                      "request_id) VALUES (?, ?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, step, description, reported_at, request_id));
    });
}

void Store::record_log(DeviceRef device, std::string logs_json, std::int64_t time, std::int64_t received_at,
                       std::string request_id) {
    submit([device = std::move(device), json = std::move(logs_json), time, received_at,
            request_id = std::move(request_id)](Database& db) {
        report(db.run("INSERT INTO logs(product_key, device_key, logs, time, received_at, request_id) VALUES "
                      "(?, ?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, json, time, received_at, request_id));
    });
}

void Store::record_network_status(DeviceRef device, std::string report_json, std::int64_t report_time,
                                  std::int64_t received_at, std::string request_id) {
    submit([device = std::move(device), json = std::move(report_json), report_time, received_at,
            request_id = std::move(request_id)](Database& db) {
        report(db.run("INSERT INTO network_status(product_key, device_key, report, report_time, received_at, "
                      "request_id) VALUES (?, ?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, json, report_time, received_at, request_id));
    });
}

void Store::record_connection_state(DeviceRef device, std::string report_json,
                                    std::optional<std::int64_t> report_time, std::int64_t received_at,
                                    std::string request_id) {
    submit([device = std::move(device), json = std::move(report_json), report_time, received_at,
            request_id = std::move(request_id)](Database& db) {
        report(db.run("INSERT INTO connection_states(product_key, device_key, report, report_time, "
                      "received_at, request_id) VALUES (?, ?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, json, report_time, received_at, request_id));
    });
}

void Store::record_raw_message(DeviceRef device, std::string topic, std::string payload,
                               std::optional<std::string> reply, std::int64_t received_at) {
    submit([device = std::move(device), topic = std::move(topic), payload = std::move(payload),
            reply = std::move(reply), received_at](Database& db) {
        report(db.run("INSERT INTO raw_messages(product_key, device_key, topic, payload, reply, received_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, topic, Blob{payload}, reply, received_at));
    });
}

void Store::record_connection(DeviceRef device, std::optional<std::string> client_id,
                              std::optional<std::int64_t> secure_mode, const char* event, std::int64_t at) {
    submit([device = std::move(device), client_id = std::move(client_id), secure_mode, event,
            at](Database& db) {
        report(db.run("INSERT INTO connections(product_key, device_key, client_id, secure_mode, event, at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      device.product_key, device.device_key, client_id, secure_mode, event, at));
    });
}

// ---- for the other processes -----------------------------------------------------------------------

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
