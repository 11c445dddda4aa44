// The simulator's SQLite store (RUNDIR/hub.db, WAL mode so readers never block the writer). The
// simulator keeps its working state in memory and mirrors every change here through one writer thread
// that commits in batches: whatever queued up while the previous transaction committed goes into the
// next one, so a burst of measure points costs one commit per batch, not one per row.
#pragma once

#include "common.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace enos::hub::sim {

/// Bytes to store as a BLOB rather than as text.
struct Blob {
    std::string_view bytes;
};

/// One SQLite connection with a cache of prepared statements (keyed by the SQL text's address, so
/// pass string literals or other long-lived texts).
class Database {
public:
    static Result<std::unique_ptr<Database>> open(const std::string& path, bool read_only);
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

    sqlite3* handle() { return db_; }

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

/// Column helpers for each_row callbacks.
std::string column_text(sqlite3_stmt* stmt, int column);
std::int64_t column_int(sqlite3_stmt* stmt, int column);
bool column_is_null(sqlite3_stmt* stmt, int column);

/// Creates the tables (idempotent); the schema is documented in tools/hub/README.md.
Status create_schema(Database& db);

class Store {
public:
    using Task = std::function<void(Database&)>;

    /// Opens (creating if needed) the store, switches it to WAL and creates the schema.
    static Result<std::unique_ptr<Store>> open(const std::string& path);
    ~Store();

    /// Direct access for loading state before start(); afterwards only tasks may touch it.
    Database& database() { return *db_; }

    void start();
    /// Queues a change; it is committed with the next batch. Blocks only when the queue is full.
    void submit(Task task);
    /// Queues a change and waits until its batch is committed (used where another process must see
    /// the row before the simulator answers, e.g. activations read by the broker plugin).
    void submit_and_wait(Task task);
    /// Commits everything queued and stops the writer.
    void stop();

private:
    explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
    void write_loop();

    struct Entry {
        Task task;
        std::shared_ptr<std::promise<void>> committed;
    };

    std::unique_ptr<Database> db_;
    std::mutex mutex_;
    std::condition_variable work_ready_, space_ready_;
    std::deque<Entry> queue_;
    bool stopping_ = false;
    std::thread writer_;
};

} // namespace enos::hub::sim
