// The SQLite connection under Store: a cache of prepared statements, parameter binding and column
// reads. Only the Store's own source files include this; everything else goes through Store's
// methods.
#pragma once

#include "common.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

/// Column reads for each_row callbacks.
std::string column_text(sqlite3_stmt* stmt, int column);
std::int64_t column_int(sqlite3_stmt* stmt, int column);
bool column_is_null(sqlite3_stmt* stmt, int column);

} // namespace enos::hub::sim
