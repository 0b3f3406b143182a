#include "incidents/notifier.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "api/http_client.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "storage/sqlite_statement.h"

namespace fraudguard {
namespace {

constexpr size_t kMaxTargets = 16;
constexpr int kMaxDeliveriesPerRound = 64;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, url TEXT NOT NULL,
  event TEXT NOT NULL, incident_id INTEGER NOT NULL, body TEXT NOT NULL,
  created_ms INTEGER NOT NULL, attempts INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL,
  state TEXT NOT NULL, last_error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_ms);
)sql";

std::string Column(sqlite3_stmt* statement, int index) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, index));
  return text != nullptr ? text : "";
}

// "250ms", "1s", "5m", "1h".
bool ParseDurationMs(const std::string& text, int64_t& ms) {
  const bool millis = text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0;
  if (text.size() < 2) {
    return false;
  }
  const size_t digits = text.size() - (millis ? 2 : 1);
  int64_t count = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (text[i] < '0' || text[i] > '9' || count > 1'000'000) {
      return false;
    }
    count = count * 10 + (text[i] - '0');
  }
  const char unit = text.back();
  ms = millis        ? count
       : unit == 's' ? count * 1000
       : unit == 'm' ? count * 60'000
       : unit == 'h' ? count * 3'600'000
                     : -1;
  return ms >= 0;
}

// "http://host:port/path" into its parts; false unless plain http.
bool SplitUrl(const std::string& url, std::string& host, uint16_t& port, std::string& path) {
  auto address = http::ParseHttpUrl(url);
  if (!address) {
    return false;
  }
  host = address->first;
  port = address->second;
  const size_t slash = url.find('/', 7);  // after "http://"
  path = slash == std::string::npos ? "/" : url.substr(slash);
  return true;
}

std::string Rfc3339(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string_view PagerDutySeverity(Severity severity) {
  switch (severity) {
    case Severity::kSev1:
      return "critical";
    case Severity::kSev2:
      return "error";
    case Severity::kSev3:
      return "warning";
    case Severity::kSev4:
      return "info";
  }
  return "info";
}

}  // namespace

Result<NotifierConfig> ParseNotifierConfig(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return Error{source + ": not valid YAML: " + error.what()};
  }
  const auto fail = [&source](const std::string& key, const std::string& problem) {
    return Error{source + ": key '" + key + "': " + problem};
  };
  NotifierConfig config;
  if (!root.IsMap()) {
    return fail("(top level)", "expected a map with 'targets'");
  }
  for (const auto& item : root) {
    const std::string key = item.first.Scalar();
    const YAML::Node value = item.second;
    if (key == "max_attempts") {
      try {
        config.max_attempts = value.as<int64_t>();
      } catch (const YAML::Exception&) {
        config.max_attempts = 0;
      }
      if (config.max_attempts < 1 || config.max_attempts > 100) {
        return fail(key, "expected a whole number from 1 to 100");
      }
    } else if (key == "initial_backoff" || key == "max_backoff") {
      int64_t ms = 0;
      if (!value.IsScalar() || !ParseDurationMs(value.Scalar(), ms) || ms < 100 ||
          ms > 24 * 3'600'000) {
        return fail(key, "expected a duration such as 1s or 5m");
      }
      (key == "initial_backoff" ? config.initial_backoff_ms : config.max_backoff_ms) = ms;
    } else if (key == "targets") {
      if (!value.IsSequence() || value.size() > kMaxTargets) {
        return fail(key, "expected a list of at most " + std::to_string(kMaxTargets) + " targets");
      }
      std::set<std::string> names;
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string prefix = "targets[" + std::to_string(i) + "]";
        if (!value[i].IsMap()) {
          return fail(prefix, "expected a map");
        }
        NotifyTarget target;
        std::string kind = "generic";
        std::string key_file;
        for (const auto& field : value[i]) {
          const std::string name = field.first.Scalar();
          if (!field.second.IsScalar() || field.second.Scalar().size() > 1024) {
            return fail(prefix + "." + name, "expected a text");
          }
          if (name == "name") {
            target.name = field.second.Scalar();
          } else if (name == "kind") {
            kind = field.second.Scalar();
          } else if (name == "url") {
            target.url = field.second.Scalar();
          } else if (name == "routing_key_file") {
            key_file = field.second.Scalar();
          } else {
            return fail(prefix + "." + name, "unknown key");
          }
        }
        if (target.name.empty() || !names.insert(target.name).second) {
          return fail(prefix + ".name", "each target needs a name of its own");
        }
        if (kind != "generic" && kind != "pagerduty") {
          return fail(prefix + ".kind", "expected generic or pagerduty");
        }
        target.kind = kind == "pagerduty" ? NotifyKind::kPagerDuty : NotifyKind::kGeneric;
        std::string host;
        uint16_t port = 0;
        std::string path;
        if (!SplitUrl(target.url, host, port, path)) {
          return fail(prefix + ".url", "expected http://host:port/path");
        }
        if (target.kind == NotifyKind::kPagerDuty) {
          std::ifstream in(key_file);
          std::getline(in, target.routing_key);
          if (target.routing_key.size() != 32) {
            return fail(prefix + ".routing_key_file",
                        "must name a file holding the 32-character routing key");
          }
        }
        config.targets.push_back(std::move(target));
      }
    } else {
      return fail(key, "unknown key");
    }
  }
  if (config.max_backoff_ms < config.initial_backoff_ms) {
    return fail("max_backoff", "must not be shorter than initial_backoff");
  }
  return config;
}

Result<NotifierConfig> LoadNotifierConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{path + ": cannot be read"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseNotifierConfig(text.str(), path);
}

std::string NotificationBody(NotifyKind kind,
                             const std::string& routing_key,
                             const std::string& event,
                             const Incident& incident,
                             int64_t now_ms) {
  std::string body;
  if (kind == NotifyKind::kGeneric) {
    body = "{\"event\":";
    AppendJsonString(body, event);
    body += ",\"incident\":";
    AppendIncidentJson(incident, now_ms, body);
    body += "}";
    return body;
  }
  JsonWriter json(body);
  json.BeginObject()
      .Field("routing_key", routing_key)
      .Field("event_action", event == "resolved" ? "resolve" : "trigger")
      .Field("dedup_key", "fraudguard-incident-" + std::to_string(incident.id))
      .Key("payload")
      .BeginObject()
      .Field("summary",
             std::string(SeverityName(incident.severity)) + " " + incident.title.substr(0, 1000))
      .Field("source", "fraudguard")
      .Field("severity", PagerDutySeverity(incident.severity))
      .Field("timestamp", Rfc3339(incident.opened_ms))
      .Field("component", incident.service)
      .Key("custom_details")
      .BeginObject()
      .Field("incident_id", incident.id)
      .Field("event", event)
      .Field("state", IncidentStateName(incident.state))
      .Field("score", incident.Score())
      .Field("playbook", incident.playbook)
      .EndObject()
      .EndObject()
      .EndObject();
  return body;
}

Result<std::unique_ptr<Notifier>> Notifier::Open(const std::string& path,
                                                 NotifierConfig config,
                                                 const Clock& clock) {
  std::unique_ptr<Notifier> notifier(new Notifier(std::move(config), clock));
  const std::string where = "notification outbox '" + path + "'";
  if (sqlite3_open_v2(path.c_str(), &notifier->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return Error{"opening " + where + ": " + sqlite3_errmsg(notifier->db_)};
  }
  sqlite3_busy_timeout(notifier->db_, 5000);
  char* message = nullptr;
  const std::string setup =
      std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") + kSchemaSql;
  if (sqlite3_exec(notifier->db_, setup.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = where + ": " + (message != nullptr ? message : "unknown error");
    sqlite3_free(message);
    return Error{std::move(error)};
  }
  return notifier;
}

Notifier::~Notifier() {
  Stop();
  sqlite3_close(db_);
}

int64_t Notifier::BackoffMs(int64_t attempts) const {
  int64_t backoff = config_.initial_backoff_ms;
  for (int64_t i = 1; i < attempts && backoff < config_.max_backoff_ms; ++i) {
    backoff *= 2;
  }
  return std::min(backoff, config_.max_backoff_ms);
}

Status Notifier::Enqueue(const std::string& event, const Incident& incident) {
  const int64_t now_ms = clock_.NowMillis();
  {
    std::lock_guard lock(db_mutex_);
    for (const NotifyTarget& target : config_.targets) {
      SqliteStatement insert(
          db_,
          "INSERT INTO outbox(target, url, event, incident_id, body, created_ms, "
          "attempts, next_attempt_ms, state, last_error) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?6, 'pending', '')");
      if (!insert.ok()) {
        return Error{insert.error()};
      }
      insert.BindText(1, target.name);
      insert.BindText(2, target.url);
      insert.BindText(3, event);
      sqlite3_bind_int64(insert.get(), 4, incident.id);
      insert.BindText(5,
                      NotificationBody(target.kind, target.routing_key, event, incident, now_ms));
      sqlite3_bind_int64(insert.get(), 6, now_ms);
      if (sqlite3_step(insert.get()) != SQLITE_DONE) {
        return Error{std::string("writing the notification outbox: ") + sqlite3_errmsg(db_)};
      }
    }
  }
  {
    std::lock_guard lock(wake_mutex_);
    wake_now_ = true;
  }
  wake_.notify_all();
  return OkStatus();
}

int Notifier::DeliverDue() {
  std::lock_guard deliver_lock(deliver_mutex_);
  const int64_t now_ms = clock_.NowMillis();
  struct Due {
    int64_t id;
    std::string url;
    std::string body;
    int64_t attempts;
  };
  std::vector<Due> due;
  {
    std::lock_guard lock(db_mutex_);
    SqliteStatement select(db_,
                           "SELECT id, url, body, attempts FROM outbox WHERE state = 'pending' AND "
                           "next_attempt_ms <= ?1 ORDER BY id LIMIT ?2");
    if (!select.ok()) {
      return 0;
    }
    sqlite3_bind_int64(select.get(), 1, now_ms);
    sqlite3_bind_int(select.get(), 2, kMaxDeliveriesPerRound);
    while (sqlite3_step(select.get()) == SQLITE_ROW) {
      due.push_back({sqlite3_column_int64(select.get(), 0), Column(select.get(), 1),
                     Column(select.get(), 2), sqlite3_column_int64(select.get(), 3)});
    }
  }
  int delivered = 0;
  for (const Due& entry : due) {
    std::string host;
    uint16_t port = 0;
    std::string path;
    std::string error;
    if (!SplitUrl(entry.url, host, port, path)) {
      error = "the url is not http://host:port/path";
    } else {
      http::Client client(host, port, config_.request_timeout_ms);
      auto response = client.Send("POST", path, entry.body, {{"Content-Type", "application/json"}});
      if (!response) {
        error = response.error();
      } else if (response->status / 100 != 2) {
        error = "answered " + std::to_string(response->status);
      }
    }
    const int64_t attempts = entry.attempts + 1;
    const bool ok = error.empty();
    const bool give_up = !ok && attempts >= config_.max_attempts;
    if (ok) {
      ++delivered;
      if (sent_ != nullptr) {
        sent_->Increment();
      }
    } else {
      if (failures_ != nullptr) {
        failures_->Increment();
      }
      (give_up ? LogError("notification_undeliverable") : LogWarn("notification_failed"))
          .Field("id", entry.id)
          .Field("url", entry.url)
          .Field("attempts", attempts)
          .Field("error", error);
    }
    std::lock_guard lock(db_mutex_);
    SqliteStatement update(db_,
                           "UPDATE outbox SET attempts = ?2, next_attempt_ms = ?3, state = ?4, "
                           "last_error = ?5 WHERE id = ?1");
    if (!update.ok()) {
      continue;
    }
    sqlite3_bind_int64(update.get(), 1, entry.id);
    sqlite3_bind_int64(update.get(), 2, attempts);
    sqlite3_bind_int64(update.get(), 3, ok ? now_ms : now_ms + BackoffMs(attempts));
    update.BindText(4, ok ? "delivered" : give_up ? "undeliverable" : "pending");
    update.BindText(5, error.substr(0, 512));
    (void)sqlite3_step(update.get());
  }
  return delivered;
}

void Notifier::Start(int64_t poll_ms) {
  thread_ = std::thread([this, poll_ms] {
    std::unique_lock lock(wake_mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(poll_ms),
                     [this] { return stopping_ || wake_now_; });
      wake_now_ = false;
      if (stopping_) {
        break;
      }
      lock.unlock();
      DeliverDue();
      lock.lock();
    }
  });
}

void Notifier::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

Result<std::vector<OutboxEntry>> Notifier::List(const std::string& state, size_t limit) const {
  std::lock_guard lock(db_mutex_);
  SqliteStatement select(
      db_,
      "SELECT id, target, event, incident_id, created_ms, attempts, next_attempt_ms, "
      "state, last_error FROM outbox WHERE state = ?1 ORDER BY id DESC LIMIT ?2");
  if (!select.ok()) {
    return Error{select.error()};
  }
  select.BindText(1, state);
  sqlite3_bind_int64(select.get(), 2, static_cast<int64_t>(limit));
  std::vector<OutboxEntry> entries;
  while (sqlite3_step(select.get()) == SQLITE_ROW) {
    OutboxEntry entry;
    entry.id = sqlite3_column_int64(select.get(), 0);
    entry.target = Column(select.get(), 1);
    entry.event = Column(select.get(), 2);
    entry.incident_id = sqlite3_column_int64(select.get(), 3);
    entry.created_ms = sqlite3_column_int64(select.get(), 4);
    entry.attempts = sqlite3_column_int64(select.get(), 5);
    entry.next_attempt_ms = sqlite3_column_int64(select.get(), 6);
    entry.state = Column(select.get(), 7);
    entry.last_error = Column(select.get(), 8);
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<int64_t> Notifier::Count(const std::string& state) const {
  std::lock_guard lock(db_mutex_);
  SqliteStatement select(db_, "SELECT COUNT(*) FROM outbox WHERE state = ?1");
  if (!select.ok()) {
    return Error{select.error()};
  }
  select.BindText(1, state);
  if (sqlite3_step(select.get()) != SQLITE_ROW) {
    return Error{std::string("reading the outbox: ") + sqlite3_errmsg(db_)};
  }
  return sqlite3_column_int64(select.get(), 0);
}

void Notifier::RegisterMetrics(MetricsRegistry& metrics) {
  auto& states = metrics.AddGauge(
      "fraudguard_notifications",
      "Incident notifications in the outbox by state: pending (retrying) and undeliverable.",
      {"state"});
  sent_ = &metrics
               .AddCounter("fraudguard_notifications_sent_total",
                           "Incident notifications delivered (answered 2xx).")
               .WithLabels({});
  failures_ = &metrics
                   .AddCounter("fraudguard_notification_failures_total",
                               "Failed notification attempts (each is retried with backoff).")
                   .WithLabels({});
  metrics.AddCollector([this, &states] {
    for (const char* state : {"pending", "undeliverable"}) {
      auto count = Count(state);
      states.WithLabels({state}).Set(count ? static_cast<double>(*count) : -1.0);
    }
  });
}

}  // namespace fraudguard
