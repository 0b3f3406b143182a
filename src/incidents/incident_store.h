// Durable incidents: one SQLite row per incident holding its JSON document (the same document
// the API serves). Every change is written, in its own transaction with synchronous=FULL, before
// the caller is answered, so a kill -9 loses nothing that was acknowledged.
//
// Table `incidents` (id, state, opened_ms, updated_ms, document), and `incident_meta` (schema
// version).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "incidents/incident.h"

struct sqlite3;

namespace fraudguard {

class IncidentStore {
public:
  static Result<std::unique_ptr<IncidentStore>> Open(const std::string& path);
  ~IncidentStore();
  IncidentStore(const IncidentStore&) = delete;
  IncidentStore& operator=(const IncidentStore&) = delete;

  // Inserts or replaces the incident (its id must be set). Thread-safe.
  Status Save(const Incident& incident);
  // Every stored incident, oldest first.
  Result<std::vector<Incident>> LoadAll() const;
  // The largest id stored, 0 when empty.
  Result<int64_t> MaxId() const;

private:
  explicit IncidentStore(std::string path) : path_(std::move(path)) {}
  const std::string path_;
  mutable std::mutex mutex_;
  sqlite3* db_ = nullptr;
};

}  // namespace fraudguard
