#include "capacity/manifests.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "capacity/time_series.h"

namespace fraudguard::capacity {
namespace {

constexpr int kMinutesPerDay = 24 * 60;
constexpr int kMinutesPerWeek = 7 * kMinutesPerDay;

bool ParseInt(std::string_view text, int& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

Result<std::vector<int>> ParseDays(std::string_view field) {
  std::set<int> days;
  if (field == "*") {
    return std::vector<int>{0, 1, 2, 3, 4, 5, 6};
  }
  for (const std::string_view item : Split(field, ',')) {
    const size_t dash = item.find('-');
    int first = 0;
    int last = 0;
    if (dash == std::string_view::npos) {
      if (!ParseInt(item, first)) {
        return Error{"day '" + std::string(item) + "' is not a number 0-7"};
      }
      last = first;
    } else if (!ParseInt(item.substr(0, dash), first) || !ParseInt(item.substr(dash + 1), last)) {
      return Error{"day range '" + std::string(item) + "' is not N-M"};
    }
    if (first < 0 || last > 7 || first > last) {
      return Error{"day range '" + std::string(item) + "' must lie within 0-7, low to high"};
    }
    for (int day = first; day <= last; ++day) {
      days.insert(day % 7);  // cron's 7 is Sunday, which robfig/cron (KEDA, CronJob) spells 0
    }
  }
  return std::vector<int>(days.begin(), days.end());
}

// 1,2,3,4,5 -> "1-5"; 0,6 -> "0,6".
std::string FormatDays(const std::vector<int>& days) {
  if (days.size() == 7) {
    return "*";
  }
  std::string out;
  for (size_t i = 0; i < days.size();) {
    size_t j = i;
    while (j + 1 < days.size() && days[j + 1] == days[j] + 1) {
      ++j;
    }
    if (!out.empty()) {
      out += ",";
    }
    out += std::to_string(days[i]);
    if (j >= i + 2) {
      out += "-" + std::to_string(days[j]);
    } else if (j == i + 1) {
      out += "," + std::to_string(days[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string Cron(int minute, int hour, const std::vector<int>& days) {
  return std::to_string(minute) + " " + std::to_string(hour) + " * * " + FormatDays(days);
}

// A double-quoted YAML scalar.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string Plain(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

// Lower-case letters, digits and dashes: a valid Kubernetes object name part.
std::string DnsName(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') {
    out.pop_back();
  }
  return out;
}

bool IsDnsLabel(std::string_view text) {
  return !text.empty() && text.size() <= 52 && DnsName(text) == text;
}

std::string Labels(const ManifestOptions& options, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  return pad + "labels:\n" + pad + "  app.kubernetes.io/name: " + options.name + "\n" + pad +
         "  app.kubernetes.io/managed-by: fraudguard-capacity\n";
}

std::string Metadata(const ManifestOptions& options, const std::string& name) {
  return "metadata:\n  name: " + name + "\n  namespace: " + options.kubernetes_namespace + "\n" +
         Labels(options, 2);
}

// The HPA `behavior` block, indented by `indent`. Scale-up reacts at once (double or +4 pods per
// 15 s); scale-down waits out a 5 minute stabilisation window and sheds at most 10 % (or one
// pod) a minute,
// so a dip between two peaks does not drop replicas that are needed again minutes later.
std::string Behavior(const ManifestOptions& options, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  std::string out = pad + "behavior:\n";
  out += pad + "  scaleUp:\n";
  out += pad + "    stabilizationWindowSeconds: 0\n";
  if (!options.cluster_tolerance) {
    out +=
        pad + "    # Scale up only above " + Plain(options.scale_up_threshold) + " x the target.\n";
    out += pad + "    tolerance: " + Plain(options.scale_up_threshold - 1.0) + "\n";
  }
  out += pad + "    selectPolicy: Max\n";
  out += pad + "    policies:\n";
  out += pad + "      - type: Percent\n" + pad + "        value: 100\n" + pad +
         "        periodSeconds: 15\n";
  out += pad + "      - type: Pods\n" + pad + "        value: 4\n" + pad +
         "        periodSeconds: 15\n";
  out += pad + "  scaleDown:\n";
  out += pad + "    stabilizationWindowSeconds: 300\n";
  if (!options.cluster_tolerance) {
    out += pad + "    # Scale down only below " + Plain(options.scale_down_threshold) +
           " x the target.\n";
    out += pad + "    tolerance: " + Plain(1.0 - options.scale_down_threshold) + "\n";
  }
  out += pad + "    selectPolicy: Max\n";
  out += pad + "    policies:\n";
  out += pad + "      - type: Percent\n" + pad + "        value: 10\n" + pad +
         "        periodSeconds: 60\n";
  // Below ten replicas 10 % rounds to nothing; one pod a minute keeps scale-down possible.
  out += pad + "      - type: Pods\n" + pad + "        value: 1\n" + pad +
         "        periodSeconds: 60\n";
  return out;
}

std::string HorizontalPodAutoscaler(const ManifestOptions& options) {
  std::string out = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n";
  out += Metadata(options, options.name);
  out += "spec:\n";
  out += "  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: " +
         options.name + "\n";
  out += "  minReplicas: " + std::to_string(options.min_replicas) + "\n";
  out += "  maxReplicas: " + std::to_string(options.max_replicas) + "\n";
  out += "  metrics:\n";
  const auto resource = [&](const char* name, int utilisation) {
    out += "    - type: Resource\n      resource:\n        name: " + std::string(name) +
           "\n        target:\n          type: Utilization\n          averageUtilization: " +
           std::to_string(utilisation) + "\n";
  };
  resource("cpu", options.cpu_utilisation);
  resource("memory", options.memory_utilisation);
  out += "    # Decisions per second per pod, served to the HPA by prometheus-adapter from\n";
  out += "    # " + options.rps_query + ".\n";
  out += "    - type: Pods\n      pods:\n        metric:\n          name: " + options.rps_metric +
         "\n        target:\n          type: AverageValue\n          averageValue: " +
         Quote(Plain(options.rps_per_replica)) + "\n";
  out += Behavior(options, 2);
  return out;
}

std::string ScaledObject(const ManifestOptions& options) {
  std::string out = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\n";
  out += Metadata(options, options.name);
  out += "spec:\n";
  out += "  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: " +
         options.name + "\n";
  out += "  minReplicaCount: " + std::to_string(options.min_replicas) + "\n";
  out += "  maxReplicaCount: " + std::to_string(options.max_replicas) + "\n";
  out += "  pollingInterval: 30\n  cooldownPeriod: 300\n";
  out += "  advanced:\n    horizontalPodAutoscalerConfig:\n      name: " + options.name + "\n";
  out += Behavior(options, 6);
  out += "  triggers:\n";
  out += "    - type: cpu\n      metricType: Utilization\n      metadata:\n        value: " +
         Quote(std::to_string(options.cpu_utilisation)) + "\n";
  out += "    - type: memory\n      metricType: Utilization\n      metadata:\n        value: " +
         Quote(std::to_string(options.memory_utilisation)) + "\n";
  out +=
      "    - type: prometheus\n      name: decisions-per-second\n      metricType: "
      "AverageValue\n      metadata:\n        serverAddress: " +
      Quote(options.prometheus_address) + "\n        query: " + Quote(options.rps_query) +
      "\n        threshold: " + Quote(Plain(options.rps_per_replica)) + "\n";
  for (const ScalingSchedule& schedule : options.schedules) {
    out += "    - type: cron\n      name: " + DnsName(schedule.name) + "\n      metadata:\n";
    out += "        timezone: " + Quote(options.timezone) + "\n";
    out += "        start: " + Quote(StartCron(schedule)) + "\n";
    out += "        end: " + Quote(EndCron(schedule)) + "\n";
    out += "        desiredReplicas: " + Quote(std::to_string(schedule.replicas)) + "\n";
  }
  return out;
}

// RBAC for the schedule CronJobs: read and patch this one HPA, nothing else.
std::string ScheduleRbac(const ManifestOptions& options, const std::string& account) {
  std::string out = "apiVersion: v1\nkind: ServiceAccount\n" + Metadata(options, account);
  out += "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n" + Metadata(options, account);
  out +=
      "rules:\n  - apiGroups: [\"autoscaling\"]\n    resources: [\"horizontalpodautoscalers\"]\n"
      "    resourceNames: [" +
      Quote(options.name) + "]\n    verbs: [\"get\", \"patch\"]\n";
  out += "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n" +
         Metadata(options, account);
  out += "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: " + account + "\n";
  out += "subjects:\n  - kind: ServiceAccount\n    name: " + account +
         "\n    namespace: " + options.kubernetes_namespace + "\n";
  return out;
}

std::string CronJob(const ManifestOptions& options,
                    const std::string& account,
                    const std::string& name,
                    const std::string& schedule,
                    int min_replicas,
                    const std::string& why) {
  std::string out =
      "# " + why + "\napiVersion: batch/v1\nkind: CronJob\n" + Metadata(options, name);
  out +=
      "spec:\n  schedule: " + Quote(schedule) + "\n  timeZone: " + Quote(options.timezone) + "\n";
  out += "  concurrencyPolicy: Replace\n  startingDeadlineSeconds: 300\n";
  out += "  successfulJobsHistoryLimit: 1\n  failedJobsHistoryLimit: 3\n";
  out += "  jobTemplate:\n    spec:\n      backoffLimit: 3\n      template:\n        spec:\n";
  out += "          serviceAccountName: " + account + "\n          restartPolicy: OnFailure\n";
  out += "          containers:\n            - name: set-min-replicas\n              image: " +
         options.kubectl_image + "\n";
  out += "              command: [\"kubectl\", \"patch\", \"hpa\", " + Quote(options.name) +
         ", \"--namespace\", " + Quote(options.kubernetes_namespace) +
         ", \"--type=merge\", \"--patch\", " +
         Quote("{\"spec\":{\"minReplicas\":" + std::to_string(min_replicas) + "}}") + "]\n";
  return out;
}

// One CronJob per change of the weekly floor, grouped by time of day and floor so that, for
// example, the five weekday 09:00 starts are one job.
std::string ScheduleCronJobs(const ManifestOptions& options) {
  const std::string account = options.name + "-scaling-schedule";
  std::string out = ScheduleRbac(options, account);
  const std::vector<int> floor = WeeklyFloor(options.schedules, options.min_replicas);
  std::map<std::pair<int, int>, std::vector<int>> changes;  // (minute of day, floor) -> days
  for (int minute = 0; minute < kMinutesPerWeek; ++minute) {
    const int previous =
        floor[static_cast<size_t>((minute + kMinutesPerWeek - 1) % kMinutesPerWeek)];
    if (floor[static_cast<size_t>(minute)] != previous) {
      changes[{minute % kMinutesPerDay, floor[static_cast<size_t>(minute)]}].push_back(
          minute / kMinutesPerDay);
    }
  }
  for (const auto& [key, days] : changes) {
    const auto [minute_of_day, replicas] = key;
    char clock[24];
    std::snprintf(clock, sizeof(clock), "%02d%02d", minute_of_day / 60, minute_of_day % 60);
    const std::string name = options.name + "-min-" + std::to_string(replicas) + "-at-" + clock;
    const std::string cron = Cron(minute_of_day % 60, minute_of_day / 60, days);
    out += "---\n" + CronJob(options, account, name, cron, replicas,
                             "At " + cron + " (" + options.timezone + ") the floor becomes " +
                                 std::to_string(replicas) + " replicas.");
  }
  return out;
}

}  // namespace

Result<ScalingSchedule> ParseSchedule(std::string_view text) {
  const std::vector<std::string_view> parts = Split(text, '|');
  const std::string where = "--schedule '" + std::string(text) + "': ";
  if (parts.size() != 4) {
    return Error{where + "expected name|cron|duration|replicas"};
  }
  ScalingSchedule schedule;
  schedule.name = std::string(parts[0]);
  if (DnsName(schedule.name).empty() || schedule.name.size() > 40) {
    return Error{where + "the name must hold letters or digits, at most 40 characters"};
  }
  std::vector<std::string_view> fields;
  for (const std::string_view field : Split(parts[1], ' ')) {
    if (!field.empty()) {
      fields.push_back(field);
    }
  }
  if (fields.size() != 5) {
    return Error{where + "the cron expression needs 5 fields, got " +
                 std::to_string(fields.size())};
  }
  if (!ParseInt(fields[0], schedule.minute) || schedule.minute < 0 || schedule.minute > 59) {
    return Error{where + "the minute must be a number 0-59"};
  }
  if (!ParseInt(fields[1], schedule.hour) || schedule.hour < 0 || schedule.hour > 23) {
    return Error{where + "the hour must be a number 0-23"};
  }
  if (fields[2] != "*" || fields[3] != "*") {
    // TODO: day-of-month and month schedules (month-end peaks) need a calendar, not a week.
    return Error{where + "only weekly schedules are supported: day of month and month must be *"};
  }
  auto days = ParseDays(fields[4]);
  if (!days) {
    return Error{where + days.error()};
  }
  schedule.days = std::move(*days);
  auto duration = ParseDurationSeconds(parts[2]);
  if (!duration) {
    return Error{where + duration.error()};
  }
  const double minutes = *duration / 60;
  if (minutes != std::floor(minutes) || minutes < 1 || minutes >= kMinutesPerWeek) {
    return Error{where + "the duration must be whole minutes, under a week"};
  }
  schedule.duration_minutes = static_cast<int>(minutes);
  if (schedule.duration_minutes % kMinutesPerDay == 0) {
    return Error{where + "a whole number of days would make start and end the same cron time"};
  }
  if (!ParseInt(parts[3], schedule.replicas) || schedule.replicas < 1) {
    return Error{where + "replicas must be a positive whole number"};
  }
  return schedule;
}

std::vector<ScalingSchedule> DefaultSchedules() {
  std::vector<ScalingSchedule> schedules;
  for (const char* text : {"business_hours|0 9 * * 1-5|9h|20", "peak_hours|0 14 * * 1-5|4h|40",
                           "weekend_low|0 22 * * 6-7|10h|8"}) {
    schedules.push_back(*ParseSchedule(text));
  }
  return schedules;
}

std::string StartCron(const ScalingSchedule& schedule) {
  return Cron(schedule.minute, schedule.hour, schedule.days);
}

std::string EndCron(const ScalingSchedule& schedule) {
  const int end = schedule.hour * 60 + schedule.minute + schedule.duration_minutes;
  const int shift = end / kMinutesPerDay;
  std::vector<int> days;
  for (const int day : schedule.days) {
    days.push_back((day + shift) % 7);
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  return Cron(end % 60, (end / 60) % 24, days);
}

std::vector<int> WeeklyFloor(const std::vector<ScalingSchedule>& schedules, int base_replicas) {
  std::vector<int> floor(kMinutesPerWeek, base_replicas);
  for (const ScalingSchedule& schedule : schedules) {
    for (const int day : schedule.days) {
      const int start = day * kMinutesPerDay + schedule.hour * 60 + schedule.minute;
      for (int m = 0; m < schedule.duration_minutes; ++m) {
        int& slot = floor[static_cast<size_t>((start + m) % kMinutesPerWeek)];
        slot = std::max(slot, schedule.replicas);
      }
    }
  }
  return floor;
}

Status ValidateManifestOptions(const ManifestOptions& options) {
  if (!IsDnsLabel(options.name)) {
    return Error{"--name '" + options.name +
                 "' must be lower-case letters, digits and dashes, at most 52 characters"};
  }
  if (!IsDnsLabel(options.kubernetes_namespace)) {
    return Error{"--namespace '" + options.kubernetes_namespace + "' is not a valid name"};
  }
  if (options.min_replicas < 1 || options.max_replicas < options.min_replicas ||
      options.max_replicas > 10000) {
    return Error{"replicas: need 1 <= --min-replicas <= --max-replicas <= 10000"};
  }
  for (const ScalingSchedule& schedule : options.schedules) {
    if (schedule.replicas > options.max_replicas) {
      return Error{"schedule '" + schedule.name + "' asks for " +
                   std::to_string(schedule.replicas) + " replicas, above --max-replicas " +
                   std::to_string(options.max_replicas)};
    }
  }
  if (options.cpu_utilisation < 1 || options.cpu_utilisation > 100 ||
      options.memory_utilisation < 1 || options.memory_utilisation > 100) {
    return Error{"utilisation targets must be 1-100 %"};
  }
  if (!(options.rps_per_replica > 0)) {
    return Error{"--rps-target must be positive"};
  }
  if (!(options.scale_up_threshold > 1 && options.scale_up_threshold < 2) ||
      !(options.scale_down_threshold > 0 && options.scale_down_threshold < 1)) {
    return Error{"thresholds: need 1 < scale-up < 2 and 0 < scale-down < 1"};
  }
  if (options.timezone.empty() || options.timezone.size() > 64 ||
      options.timezone.find_first_of("\"\\\n") != std::string::npos) {
    return Error{"--timezone must be an IANA zone name such as UTC or Europe/Berlin"};
  }
  for (const std::string* text : {&options.prometheus_address, &options.rps_query,
                                  &options.rps_metric, &options.kubectl_image}) {
    if (text->empty() || text->size() > 1024 || text->find('\n') != std::string::npos) {
      return Error{"Prometheus address, query, metric and image must be one non-empty line"};
    }
  }
  return OkStatus();
}

Result<std::string> RenderManifests(const ManifestOptions& options) {
  if (auto status = ValidateManifestOptions(options); !status) {
    return Error{status.error()};
  }
  std::string out = "# FraudGuard autoscaling, written by `fraudguard capacity manifests`.\n";
  if (options.keda) {
    out += "# KEDA creates and owns the HorizontalPodAutoscaler '" + options.name +
           "' from this ScaledObject.\n";
    out += ScaledObject(options);
  } else {
    out += HorizontalPodAutoscaler(options);
    if (!options.schedules.empty()) {
      out += "---\n" + ScheduleCronJobs(options);
    }
  }
  return out;
}

}  // namespace fraudguard::capacity
