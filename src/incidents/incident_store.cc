#include "incidents/incident_store.h"

#include <sqlite3.h>

#include "core/log.h"
#include "storage/sqlite_statement.h"

namespace fraudguard {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS incident_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY NOT NULL, state TEXT NOT NULL, opened_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, document TEXT NOT NULL);
INSERT OR IGNORE INTO incident_meta(key, value) VALUES ('schema_version', 1);
)sql";

std::string SqliteError(sqlite3* db, const std::string& what) {
  return what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

// A prepared statement that finalizes itself.
}  // namespace

Result<std::unique_ptr<IncidentStore>> IncidentStore::Open(const std::string& path) {
  std::unique_ptr<IncidentStore> store(new IncidentStore(path));
  const std::string where = "incident store '" + path + "'";
  if (sqlite3_open_v2(path.c_str(), &store->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return Error{SqliteError(store->db_, "opening " + where)};
  }
  sqlite3_busy_timeout(store->db_, 5000);
  char* message = nullptr;
  // FULL: a committed change survives even the machine stopping, not only the process.
  const std::string setup =
      std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") + kSchemaSql;
  if (sqlite3_exec(store->db_, setup.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = where + ": " + (message != nullptr ? message : "unknown error");
    sqlite3_free(message);
    return Error{std::move(error)};
  }
  SqliteStatement version(store->db_,
                          "SELECT value FROM incident_meta WHERE key = 'schema_version'");
  if (!version.ok() || sqlite3_step(version.get()) != SQLITE_ROW ||
      sqlite3_column_int64(version.get(), 0) != kSchemaVersion) {
    return Error{where + ": not an incident database of this version"};
  }
  return store;
}

IncidentStore::~IncidentStore() {
  sqlite3_close(db_);
}

Status IncidentStore::Save(const Incident& incident) {
  std::string document;
  AppendIncidentJson(incident, incident.updated_ms, document);
  std::lock_guard lock(mutex_);
  SqliteStatement upsert(
      db_,
      "INSERT OR REPLACE INTO incidents(id, state, opened_ms, updated_ms, document) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!upsert.ok()) {
    return Error{upsert.error()};
  }
  const std::string_view state = IncidentStateName(incident.state);
  sqlite3_bind_int64(upsert.get(), 1, incident.id);
  sqlite3_bind_text(upsert.get(), 2, state.data(), static_cast<int>(state.size()), SQLITE_STATIC);
  sqlite3_bind_int64(upsert.get(), 3, incident.opened_ms);
  sqlite3_bind_int64(upsert.get(), 4, incident.updated_ms);
  sqlite3_bind_text(upsert.get(), 5, document.data(), static_cast<int>(document.size()),
                    SQLITE_STATIC);
  if (sqlite3_step(upsert.get()) != SQLITE_DONE) {
    return Error{SqliteError(
        db_, "incident store '" + path_ + "': writing incident " + std::to_string(incident.id))};
  }
  return OkStatus();
}

Result<std::vector<Incident>> IncidentStore::LoadAll() const {
  std::lock_guard lock(mutex_);
  SqliteStatement select(db_, "SELECT id, document FROM incidents ORDER BY id");
  if (!select.ok()) {
    return Error{select.error()};
  }
  std::vector<Incident> incidents;
  int code = 0;
  while ((code = sqlite3_step(select.get())) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 1));
    const int bytes = sqlite3_column_bytes(select.get(), 1);
    auto incident = ParseIncidentJson(std::string_view(text != nullptr ? text : "", bytes));
    if (!incident) {
      return Error{"incident store '" + path_ + "': incident " +
                   std::to_string(sqlite3_column_int64(select.get(), 0)) + ": " + incident.error()};
    }
    incidents.push_back(std::move(incident).value());
  }
  if (code != SQLITE_DONE) {
    return Error{SqliteError(db_, "incident store '" + path_ + "': reading")};
  }
  return incidents;
}

Result<int64_t> IncidentStore::MaxId() const {
  std::lock_guard lock(mutex_);
  SqliteStatement select(db_, "SELECT COALESCE(MAX(id), 0) FROM incidents");
  if (!select.ok() || sqlite3_step(select.get()) != SQLITE_ROW) {
    return Error{SqliteError(db_, "incident store '" + path_ + "': reading the largest id")};
  }
  return sqlite3_column_int64(select.get(), 0);
}

}  // namespace fraudguard
