#include "store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <vector>

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

} // namespace

Result<std::unique_ptr<Database>> Database::open(const std::string& path, bool read_only) {
    sqlite3* db = nullptr;
    const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
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

Status create_schema(Database& db) {
    return db.exec(schema_sql);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    auto db = Database::open(path, false);
    if (!db) return db.error();
    // WAL: the query command and the broker plugin read while the simulator writes.
    // synchronous=NORMAL: a crash of the machine may lose the last batches, never corrupt the file.
    if (auto s = (*db)->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s) return s.error();
    if (auto s = create_schema(**db); !s) return s.error();
    return std::unique_ptr<Store>(new Store(std::move(*db)));
}

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

} // namespace enos::hub::sim
