#include "store.hpp"
#include "store_database.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

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

/// Store failures are logged (the reply has gone out already; the simulator keeps serving).
void report(const Status& s) {
    if (!s) std::fprintf(stderr, "enos-hub simulate: store: %s\n", s.error().message().c_str());
}

/// The store holds issued device secrets: it is created with mode 0600 (SQLite gives its WAL and
/// journal files the database file's mode), and one left looser by an older hub is tightened.
Status make_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Error{errc::store_error, "cannot create store " + path + ": " + std::strerror(errno)};
    const bool tightened = ::fchmod(fd, 0600) == 0;
    const int err = errno;
    ::close(fd);
    if (!tightened)
        return Error{errc::store_error, "cannot make store " + path + " private: " + std::strerror(err)};
    for (const char* suffix : {"-wal", "-shm", "-journal"})
        if (::chmod((path + suffix).c_str(), 0600) != 0 && errno != ENOENT)
            return Error{errc::store_error,
                         "cannot make " + path + suffix + " private: " + std::strerror(errno)};
    return {};
}

} // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    if (auto s = make_private(path); !s) return s.error();
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

void Store::save_device(StoredDevice device, std::int64_t updated_at, bool wait) {
    auto task = [d = std::move(device), updated_at](Database& db) {
        report(db.run(
            "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(product_key, device_key) DO "
            "UPDATE SET enabled = excluded.enabled, deleted = excluded.deleted, updated_at = "
            "excluded.updated_at, device_secret = COALESCE(excluded.device_secret, device_secret), "
            "details = COALESCE(excluded.details, details), origin = excluded.origin",
            d.product_key, d.device_key, d.secret, d.enabled, d.deleted,
            d.registered ? "registered" : "registry", d.details, updated_at));
    };
    if (wait)
        submit_and_wait(std::move(task));
    else
        submit(std::move(task));
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

} // namespace enos::hub::sim
