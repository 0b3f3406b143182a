// A prepared SQLite statement that is finalized when it goes out of scope, for the stores that
// prepare a statement per call (incidents, notifications, SLI counts).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace fraudguard {

class SqliteStatement {
public:
  // Prepares `sql`; on failure ok() is false and error() names the statement and the reason.
  SqliteStatement(sqlite3* db, std::string_view sql) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement_, nullptr) !=
        SQLITE_OK) {
      error_ = "preparing '" + std::string(sql.substr(0, 60)) +
               "': " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
    }
  }
  ~SqliteStatement() { sqlite3_finalize(statement_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  sqlite3_stmt* get() const { return statement_; }
  bool ok() const { return statement_ != nullptr; }
  const std::string& error() const { return error_; }
  // Binds `text` (copied by SQLite) to parameter `index`, counted from 1.
  void BindText(int index, std::string_view text) const {
    sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
  }

private:
  sqlite3_stmt* statement_ = nullptr;
  std::string error_;
};

}  // namespace fraudguard
