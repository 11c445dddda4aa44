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

// Runs `sql` (parameters ?1 = product key, ?2 = device key) and hands its one row to `read`.
// Opened per lookup: logins are rare next to messages, and a fresh handle never sees a stale
// snapshot. The broker is single-threaded, so a short busy timeout bounds any stall.
template <class Read>
bool ActivationStore::lookup(const char* sql, const std::string& product_key, const std::string& device_key,
                             std::string& error, Read&& read) const {
    struct stat st {};
    if (path_.empty() || ::stat(path_.c_str(), &st) != 0) return false;

    sqlite3* raw = nullptr;
    const int open_rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, CloseDb> db(raw);
    if (open_rc != SQLITE_OK) {
        error = "cannot open " + path_ + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(open_rc));
        return false;
    }
    sqlite3_busy_timeout(db.get(), 500);

    sqlite3_stmt* raw_stmt = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &raw_stmt, nullptr) != SQLITE_OK) {
        const std::string msg = sqlite3_errmsg(db.get());
        // The simulator creates the tables when it starts; before that nothing is there.
        if (msg.find("no such table") == std::string::npos) error = "cannot query " + path_ + ": " + msg;
        return false;
    }
    std::unique_ptr<sqlite3_stmt, FinalizeStmt> stmt(raw_stmt);
    sqlite3_bind_text(stmt.get(), 1, product_key.data(), static_cast<int>(product_key.size()), SQLITE_STATIC);
    sqlite3_bind_text(stmt.get(), 2, device_key.data(), static_cast<int>(device_key.size()), SQLITE_STATIC);

    const int step = sqlite3_step(stmt.get());
    if (step == SQLITE_DONE) return false;
    if (step != SQLITE_ROW) {
        error = "cannot read " + path_ + ": " + sqlite3_errmsg(db.get());
        return false;
    }
    read(stmt.get());
    return true;
}

namespace {

std::string text_column(sqlite3_stmt* stmt, int column) {
    const auto* text = sqlite3_column_text(stmt, column);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
}

} // namespace

std::optional<Activation> ActivationStore::find(const std::string& product_key, const std::string& device_key,
                                                std::string& error) const {
    Activation a;
    const bool found = lookup(
        "SELECT device_secret, activated FROM activations WHERE product_key = ?1 AND device_key = ?2",
        product_key, device_key, error, [&](sqlite3_stmt* row) {
            a.device_secret = text_column(row, 0);
            a.activated = sqlite3_column_int(row, 1) != 0;
        });
    if (!found) return std::nullopt;
    return a;
}

std::optional<Device> ActivationStore::find_registered(const std::string& product_key,
                                                       const std::string& device_key, std::string& error) const {
    Device d;
    bool deleted = false;
    const bool found = lookup("SELECT device_secret, enabled, deleted FROM devices WHERE product_key = ?1 AND "
                              "device_key = ?2 AND origin = 'registered'",
                              product_key, device_key, error, [&](sqlite3_stmt* row) {
                                  d.product_key = product_key;
                                  d.device_key = device_key;
                                  d.device_secret = text_column(row, 0);
                                  d.enabled = sqlite3_column_int(row, 1) != 0;
                                  deleted = sqlite3_column_int(row, 2) != 0;
                              });
    if (!found || deleted) return std::nullopt;
    return d;
}

} // namespace enos::hub::plugin
