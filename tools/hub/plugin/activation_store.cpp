#include "activation_store.hpp"

#include <sqlite3.h>

#include <memory>
#include <sys/stat.h>

namespace enos::hub::plugin {

namespace {

struct CloseDb {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct FinalizeStmt {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

} // namespace

std::optional<Activation> ActivationStore::find(const std::string& product_key, const std::string& device_key,
                                                std::string& error) const {
    struct stat st {};
    if (path_.empty() || ::stat(path_.c_str(), &st) != 0) return std::nullopt;

    // Opened per lookup: logins are rare next to messages, and a fresh handle never sees a stale
    // snapshot. The broker is single-threaded, so a short busy timeout bounds any stall.
    sqlite3* raw = nullptr;
    const int open_rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, CloseDb> db(raw);
    if (open_rc != SQLITE_OK) {
        error = "cannot open " + path_ + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(open_rc));
        return std::nullopt;
    }
    sqlite3_busy_timeout(db.get(), 500);

    sqlite3_stmt* raw_stmt = nullptr;
    const char* sql =
        "SELECT device_secret, activated FROM activations WHERE product_key = ?1 AND device_key = ?2";
    if (sqlite3_prepare_v2(db.get(), sql, -1, &raw_stmt, nullptr) != SQLITE_OK) {
        const std::string msg = sqlite3_errmsg(db.get());
        // The simulator creates the table when it starts; before that nothing is activated.
        if (msg.find("no such table") == std::string::npos) error = "cannot query " + path_ + ": " + msg;
        return std::nullopt;
    }
    std::unique_ptr<sqlite3_stmt, FinalizeStmt> stmt(raw_stmt);
    sqlite3_bind_text(stmt.get(), 1, product_key.data(), static_cast<int>(product_key.size()), SQLITE_STATIC);
    sqlite3_bind_text(stmt.get(), 2, device_key.data(), static_cast<int>(device_key.size()), SQLITE_STATIC);

    const int step = sqlite3_step(stmt.get());
    if (step == SQLITE_DONE) return std::nullopt;
    if (step != SQLITE_ROW) {
        error = "cannot read " + path_ + ": " + sqlite3_errmsg(db.get());
        return std::nullopt;
    }
    Activation a;
    if (const auto* text = sqlite3_column_text(stmt.get(), 0))
        a.device_secret.assign(reinterpret_cast<const char*>(text),
                               static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), 0)));
    a.activated = sqlite3_column_int(stmt.get(), 1) != 0;
    return a;
}

} // namespace enos::hub::plugin
