// Outgoing incident notifications: a webhook per target, in a generic JSON form or a form
// compatible with PagerDuty's Events API v2, sent when an incident opens, when its severity
// changes and when it is resolved.
//
// Every notification is first written to an outbox in SQLite (notifications.db); a delivery
// thread posts the due ones and retries a failure (no answer, or not 2xx) with exponential
// backoff: initial_backoff, doubling, at most max_backoff. After max_attempts it is marked
// undeliverable and kept, visible in GET /api/v1/notifications and in
// fraudguard_notifications{state="undeliverable"}; nothing is dropped.
//
//   targets:
//     - name: chat
//       kind: generic            # {"event": "opened", "incident": {...}}
//       url: http://127.0.0.1:9000/hooks/incidents
//     - name: pager
//       kind: pagerduty          # {"routing_key", "event_action", "dedup_key", "payload"}
//       url: http://127.0.0.1:9001/v2/enqueue
//       routing_key_file: /etc/fraudguard/pagerduty.key   # 32 characters, kept out of git
//   max_attempts: 8
//   initial_backoff: 1s
//   max_backoff: 5m
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "incidents/incident.h"
#include "telemetry/metrics.h"

struct sqlite3;

namespace fraudguard {

enum class NotifyKind : uint8_t { kGeneric, kPagerDuty };

struct NotifyTarget {
  std::string name;
  NotifyKind kind = NotifyKind::kGeneric;
  std::string url;  // http://host:port/path
  std::string routing_key;
};

struct NotifierConfig {
  std::vector<NotifyTarget> targets;
  int64_t max_attempts = 8;
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 5 * 60'000;
  int64_t request_timeout_ms = 5000;
};

Result<NotifierConfig> ParseNotifierConfig(const std::string& yaml, const std::string& source);
Result<NotifierConfig> LoadNotifierConfigFile(const std::string& path);

// What an incident event becomes for one kind of target.
std::string NotificationBody(NotifyKind kind,
                             const std::string& routing_key,
                             const std::string& event,
                             const Incident& incident,
                             int64_t now_ms);

struct OutboxEntry {
  int64_t id = 0;
  std::string target;
  std::string event;
  int64_t incident_id = 0;
  int64_t created_ms = 0;
  int64_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string state;  // pending, delivered, undeliverable
  std::string last_error;
};

class Notifier {
public:
  static Result<std::unique_ptr<Notifier>> Open(const std::string& path,
                                                NotifierConfig config,
                                                const Clock& clock);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Writes one outbox entry per target for `event` ("opened", "severity", "resolved").
  Status Enqueue(const std::string& event, const Incident& incident);
  // Posts every entry due now; returns how many were delivered. Thread-safe.
  int DeliverDue();
  // Runs DeliverDue on a thread of its own every `poll_ms`, and at once after Enqueue.
  void Start(int64_t poll_ms = 500);
  void Stop();

  // Entries in `state`, newest first, at most `limit`.
  Result<std::vector<OutboxEntry>> List(const std::string& state, size_t limit) const;
  Result<int64_t> Count(const std::string& state) const;
  void RegisterMetrics(MetricsRegistry& metrics);
  size_t target_count() const { return config_.targets.size(); }

private:
  Notifier(NotifierConfig config, const Clock& clock) : config_(std::move(config)), clock_(clock) {}
  int64_t BackoffMs(int64_t attempts) const;

  const NotifierConfig config_;
  const Clock& clock_;
  mutable std::mutex db_mutex_;
  sqlite3* db_ = nullptr;
  std::mutex deliver_mutex_;  // one delivery round at a time
  Counter* sent_ = nullptr;
  Counter* failures_ = nullptr;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool wake_now_ = false;
  std::thread thread_;
};

}  // namespace fraudguard
