#include "store_database.hpp"

#include <sqlite3.h>

namespace enos::hub::sim {

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

} // namespace enos::hub::sim
