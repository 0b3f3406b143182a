// Kubernetes autoscaling manifests for FraudGuard: metric-based scaling (CPU 70 %, memory 80 %,
// decisions per second per replica) and schedule-based floors (business hours, peak hours,
// weekend low).
//
// With KEDA (the default) everything is one ScaledObject: KEDA creates and owns the
// HorizontalPodAutoscaler, so a second HPA on the same Deployment would fight it. Without KEDA
// the output is an autoscaling/v2 HorizontalPodAutoscaler plus CronJobs that raise and lower its
// minReplicas at the schedule boundaries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace fraudguard::capacity {

// A weekly schedule that holds at least `replicas` for `duration_minutes` from each start.
struct ScalingSchedule {
  std::string name;
  int minute = 0;
  int hour = 0;
  std::vector<int> days;  // 0 = Sunday ... 6 = Saturday, sorted, no repeats
  int duration_minutes = 0;
  int replicas = 0;
};

// Parses "name|M H * * DAYS|DURATION|REPLICAS", e.g. "peak_hours|0 14 * * 1-5|4h|40". Days
// take cron's forms (*, 1-5, 0,6, 6-7); 7 means Sunday, as in cron.
Result<ScalingSchedule> ParseSchedule(std::string_view text);
// The specification's schedules: business hours, peak hours and weekend low.
std::vector<ScalingSchedule> DefaultSchedules();
// The schedule's start and end as 5-field cron expressions (days normalised to 0-6).
std::string StartCron(const ScalingSchedule& schedule);
std::string EndCron(const ScalingSchedule& schedule);

struct ManifestOptions {
  std::string name = "fraudguard";  // the Deployment, and the prefix of every object
  std::string kubernetes_namespace = "default";
  int min_replicas = 5;
  int max_replicas = 100;
  int cpu_utilisation = 70;
  int memory_utilisation = 80;
  double rps_per_replica = 1000;  // target decisions per second per replica
  // Scale up only above 1.2 x the target and down only below 0.8 x, as the HPA's per-direction
  // tolerance (Kubernetes 1.33+); with `cluster_tolerance` the field is left out and the
  // cluster's default of 0.1 applies.
  double scale_up_threshold = 1.2;
  double scale_down_threshold = 0.8;
  bool cluster_tolerance = false;
  bool keda = true;
  std::string timezone = "UTC";
  std::string prometheus_address = "http://prometheus.monitoring.svc:9090";
  std::string rps_query = "sum(rate(fraudguard_decisions_total[2m]))";
  std::string rps_metric = "fraudguard_decisions_per_second";  // via prometheus-adapter
  std::string kubectl_image = "registry.k8s.io/kubectl:v1.32.4";
  std::vector<ScalingSchedule> schedules = DefaultSchedules();
};

Status ValidateManifestOptions(const ManifestOptions& options);
// Multi-document YAML; the options must pass ValidateManifestOptions.
Result<std::string> RenderManifests(const ManifestOptions& options);

// Minimum floor per minute of the week (Sunday 00:00 = 0) from the schedules and the base.
std::vector<int> WeeklyFloor(const std::vector<ScalingSchedule>& schedules, int base_replicas);

}  // namespace fraudguard::capacity
