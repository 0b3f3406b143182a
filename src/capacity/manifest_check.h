// An offline schema check of generated autoscaling manifests, for machines without a
// Kubernetes API server (kubectl's client-side dry run still asks the server for its types).
// It checks every field against the autoscaling/v2 HorizontalPodAutoscaler field set, KEDA's
// ScaledObject fields and the batch/v1 CronJob and RBAC fields the generator uses: unknown
// fields, wrong types, missing required fields and out-of-range values are errors naming the
// document and the field path.
#pragma once

#include <string_view>

#include "core/result.h"

namespace fraudguard::capacity {

Status CheckManifests(std::string_view yaml);

}  // namespace fraudguard::capacity
