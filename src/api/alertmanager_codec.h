// The body of POST /api/v1/alerts/alertmanager: Alertmanager's webhook payload, version "4".
// The whole payload is checked before any alert is taken, so a malformed one creates nothing.
//
//   {"version":"4", "groupKey":"{}:{alertname=\"X\"}", "status":"firing", "receiver":"...",
//    "groupLabels":{}, "commonLabels":{}, "commonAnnotations":{}, "externalURL":"...",
//    "truncatedAlerts":0,
//    "alerts":[{"status":"firing", "labels":{"alertname":"X",...}, "annotations":{...},
//               "startsAt":"2026-12-04T06:05:36.5Z", "endsAt":"0001-01-01T00:00:00Z",
//               "generatorURL":"...", "fingerprint":"c6e0f4e0e6a1d2b3"}]}
//
// Fields not listed are ignored (newer Alertmanagers may add some); the listed ones must have
// their types. Each alert needs labels.alertname and a fingerprint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/transaction_codec.h"
#include "incidents/incident_engine.h"

namespace fraudguard {

inline constexpr size_t kMaxWebhookAlerts = 1000;
inline constexpr size_t kMaxWebhookBodyBytes = 4 * 1024 * 1024;

struct AlertmanagerWebhook {
  std::string group_key;
  std::string status;
  std::string receiver;
  uint64_t truncated_alerts = 0;
  std::vector<AlertEvent> alerts;  // group_key, source and actor filled in
};

bool DecodeAlertmanagerWebhook(std::string_view body,
                               AlertmanagerWebhook& out,
                               RequestError& error);

// "2026-12-04T06:05:36.123Z" or with an offset ("+01:00") into milliseconds since the epoch;
// Alertmanager's zero time "0001-01-01T00:00:00Z" gives 0. False when malformed.
bool ParseRfc3339Millis(std::string_view text, int64_t& ms);

}  // namespace fraudguard
