#include "capacity/manifest_check.h"

#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace fraudguard::capacity {
namespace {

// Collects the first problem found; checks stop adding once one is recorded.
class Checker {
public:
  explicit Checker(std::string document) : document_(std::move(document)) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  void Fail(const std::string& path, const std::string& problem) {
    if (error_.empty()) {
      error_ = document_ + ": " + path + ": " + problem;
    }
  }

  // Every key of `node` must be in `allowed`, and every key of `required` present.
  bool Map(const YAML::Node& node,
           const std::string& path,
           const std::set<std::string>& allowed,
           const std::set<std::string>& required = {}) {
    if (!node.IsMap()) {
      Fail(path, "expected a mapping");
      return false;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      if (!allowed.contains(key)) {
        Fail(path + "." + key, "unknown field");
        return false;
      }
    }
    for (const std::string& key : required) {
      if (!node[key]) {
        Fail(path + "." + key, "required field is missing");
        return false;
      }
    }
    return true;
  }

  bool String(const YAML::Node& node,
              const std::string& path,
              const std::set<std::string>& one_of = {}) {
    if (!node.IsScalar() || (node.Tag() == "?" && IsNumberOrBool(node.Scalar()))) {
      Fail(path, "expected a string");
      return false;
    }
    if (!one_of.empty() && !one_of.contains(node.Scalar())) {
      Fail(path, "'" + node.Scalar() + "' is not one of the allowed values");
      return false;
    }
    return true;
  }

  bool Int(const YAML::Node& node, const std::string& path, long low, long high) {
    long value = 0;
    if (!node.IsScalar() || node.Tag() != "?" || !YAML::convert<long>::decode(node, value)) {
      Fail(path, "expected an integer");
      return false;
    }
    if (value < low || value > high) {
      Fail(path, std::to_string(value) + " is outside " + std::to_string(low) + "-" +
                     std::to_string(high));
      return false;
    }
    return true;
  }

  // A Kubernetes quantity: a plain or quoted decimal, optionally with a suffix such as m or Ki.
  bool Quantity(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar() || node.Scalar().empty()) {
      Fail(path, "expected a quantity");
      return false;
    }
    const std::string& text = node.Scalar();
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
      ++digits;
    }
    static const std::set<std::string> kSuffixes = {"",  "m",  "k",  "M",  "G",
                                                    "T", "Ki", "Mi", "Gi", "Ti"};
    if (digits == 0 || !kSuffixes.contains(text.substr(digits))) {
      Fail(path, "'" + text + "' is not a quantity");
      return false;
    }
    return true;
  }

  bool Sequence(const YAML::Node& node, const std::string& path, size_t min_size = 1) {
    if (!node.IsSequence() || node.size() < min_size) {
      Fail(path, "expected a list of at least " + std::to_string(min_size));
      return false;
    }
    return true;
  }

  bool Cron(const YAML::Node& node, const std::string& path) {
    if (!String(node, path)) {
      return false;
    }
    size_t fields = 0;
    bool in_field = false;
    for (const char c : node.Scalar()) {
      if (c == ' ') {
        in_field = false;
      } else if (!in_field) {
        in_field = true;
        ++fields;
      }
    }
    if (fields != 5) {
      Fail(path, "'" + node.Scalar() + "' is not a 5-field cron expression");
      return false;
    }
    return true;
  }

private:
  static bool IsNumberOrBool(const std::string& text) {
    if (text == "true" || text == "false") {
      return true;
    }
    double value = 0;
    return YAML::convert<double>::decode(YAML::Node(text), value);
  }

  std::string document_;
  std::string error_;
};

void CheckMetadata(Checker& c, const YAML::Node& metadata) {
  if (c.Map(metadata, "metadata", {"name", "namespace", "labels", "annotations"}, {"name"})) {
    c.String(metadata["name"], "metadata.name");
    if (metadata["namespace"]) {
      c.String(metadata["namespace"], "metadata.namespace");
    }
  }
}

void CheckScaleTarget(Checker& c,
                      const YAML::Node& node,
                      const std::string& path,
                      bool kind_required) {
  std::set<std::string> required = {"name"};
  if (kind_required) {
    required.insert("kind");
  }
  if (c.Map(node, path, {"apiVersion", "kind", "name", "envSourceContainerName"}, required)) {
    c.String(node["name"], path + ".name");
  }
}

void CheckMetricTarget(Checker& c, const YAML::Node& target, const std::string& path) {
  if (!c.Map(target, path, {"type", "value", "averageValue", "averageUtilization"}, {"type"}) ||
      !c.String(target["type"], path + ".type", {"Utilization", "Value", "AverageValue"})) {
    return;
  }
  const std::string type = target["type"].Scalar();
  if (type == "Utilization") {
    if (!target["averageUtilization"]) {
      c.Fail(path + ".averageUtilization", "required for type Utilization");
      return;
    }
    c.Int(target["averageUtilization"], path + ".averageUtilization", 1, 1000);
  } else if (type == "AverageValue") {
    if (!target["averageValue"]) {
      c.Fail(path + ".averageValue", "required for type AverageValue");
      return;
    }
    c.Quantity(target["averageValue"], path + ".averageValue");
  } else {
    if (!target["value"]) {
      c.Fail(path + ".value", "required for type Value");
      return;
    }
    c.Quantity(target["value"], path + ".value");
  }
}

void CheckMetric(Checker& c, const YAML::Node& metric, const std::string& path) {
  static const std::set<std::string> kTypes = {"Resource", "Pods", "Object", "External",
                                               "ContainerResource"};
  if (!c.Map(metric, path, {"type", "resource", "pods", "object", "external", "containerResource"},
             {"type"}) ||
      !c.String(metric["type"], path + ".type", kTypes)) {
    return;
  }
  const std::string type = metric["type"].Scalar();
  if (type == "Resource") {
    const YAML::Node resource = metric["resource"];
    if (c.Map(resource, path + ".resource", {"name", "target"}, {"name", "target"}) &&
        c.String(resource["name"], path + ".resource.name")) {
      CheckMetricTarget(c, resource["target"], path + ".resource.target");
    }
  } else if (type == "Pods") {
    const YAML::Node pods = metric["pods"];
    if (c.Map(pods, path + ".pods", {"metric", "target"}, {"metric", "target"}) &&
        c.Map(pods["metric"], path + ".pods.metric", {"name", "selector"}, {"name"}) &&
        c.String(pods["metric"]["name"], path + ".pods.metric.name")) {
      CheckMetricTarget(c, pods["target"], path + ".pods.target");
    }
  } else {
    // TODO: Object, External and ContainerResource sources are valid HPA metrics but the
    // generator never writes them, so only their presence is checked.
    std::string key = type;
    key[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(key[0])));
    if (!metric[key]) {
      c.Fail(path + "." + key, "required for type " + type);
    }
  }
}

void CheckScalingRules(Checker& c, const YAML::Node& rules, const std::string& path) {
  if (!c.Map(rules, path,
             {"stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"})) {
    return;
  }
  if (rules["stabilizationWindowSeconds"]) {
    c.Int(rules["stabilizationWindowSeconds"], path + ".stabilizationWindowSeconds", 0, 3600);
  }
  if (rules["selectPolicy"]) {
    c.String(rules["selectPolicy"], path + ".selectPolicy", {"Max", "Min", "Disabled"});
  }
  if (rules["tolerance"]) {
    c.Quantity(rules["tolerance"], path + ".tolerance");
  }
  if (rules["policies"] && c.Sequence(rules["policies"], path + ".policies")) {
    for (size_t i = 0; i < rules["policies"].size(); ++i) {
      const YAML::Node policy = rules["policies"][i];
      const std::string at = path + ".policies[" + std::to_string(i) + "]";
      if (c.Map(policy, at, {"type", "value", "periodSeconds"},
                {"type", "value", "periodSeconds"}) &&
          c.String(policy["type"], at + ".type", {"Pods", "Percent"})) {
        c.Int(policy["value"], at + ".value", 1, 1000000);
        c.Int(policy["periodSeconds"], at + ".periodSeconds", 1, 1800);
      }
    }
  }
}

void CheckBehavior(Checker& c, const YAML::Node& behavior, const std::string& path) {
  if (c.Map(behavior, path, {"scaleUp", "scaleDown"})) {
    for (const char* direction : {"scaleUp", "scaleDown"}) {
      if (behavior[direction]) {
        CheckScalingRules(c, behavior[direction], path + "." + direction);
      }
    }
  }
}

void CheckHorizontalPodAutoscaler(Checker& c, const YAML::Node& spec) {
  if (!c.Map(spec, "spec", {"scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"},
             {"scaleTargetRef", "maxReplicas"})) {
    return;
  }
  CheckScaleTarget(c, spec["scaleTargetRef"], "spec.scaleTargetRef", true);
  if (spec["minReplicas"]) {
    c.Int(spec["minReplicas"], "spec.minReplicas", 1, 1000000);
  }
  if (c.Int(spec["maxReplicas"], "spec.maxReplicas", 1, 1000000) && spec["minReplicas"] &&
      !c.failed() && spec["minReplicas"].as<long>() > spec["maxReplicas"].as<long>()) {
    c.Fail("spec.minReplicas", "greater than spec.maxReplicas");
  }
  if (spec["metrics"] && c.Sequence(spec["metrics"], "spec.metrics")) {
    for (size_t i = 0; i < spec["metrics"].size(); ++i) {
      CheckMetric(c, spec["metrics"][i], "spec.metrics[" + std::to_string(i) + "]");
    }
  }
  if (spec["behavior"]) {
    CheckBehavior(c, spec["behavior"], "spec.behavior");
  }
}

void CheckScaledObject(Checker& c, const YAML::Node& spec) {
  if (!c.Map(spec, "spec",
             {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
              "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount", "fallback", "advanced",
              "triggers"},
             {"scaleTargetRef", "triggers"})) {
    return;
  }
  CheckScaleTarget(c, spec["scaleTargetRef"], "spec.scaleTargetRef", false);
  for (const char* key :
       {"minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod"}) {
    if (spec[key]) {
      c.Int(spec[key], std::string("spec.") + key, 0, 1000000);
    }
  }
  if (spec["advanced"] && c.Map(spec["advanced"], "spec.advanced",
                                {"horizontalPodAutoscalerConfig", "restoreToOriginalReplicaCount",
                                 "scalingModifiers"})) {
    const YAML::Node hpa = spec["advanced"]["horizontalPodAutoscalerConfig"];
    if (hpa && c.Map(hpa, "spec.advanced.horizontalPodAutoscalerConfig", {"name", "behavior"}) &&
        hpa["behavior"]) {
      CheckBehavior(c, hpa["behavior"], "spec.advanced.horizontalPodAutoscalerConfig.behavior");
    }
  }
  if (!c.Sequence(spec["triggers"], "spec.triggers")) {
    return;
  }
  for (size_t i = 0; i < spec["triggers"].size(); ++i) {
    const YAML::Node trigger = spec["triggers"][i];
    const std::string at = "spec.triggers[" + std::to_string(i) + "]";
    if (!c.Map(trigger, at,
               {"type", "name", "metadata", "metricType", "authenticationRef", "useCachedMetrics"},
               {"type", "metadata"}) ||
        !c.String(trigger["type"], at + ".type") ||
        !c.Map(trigger["metadata"], at + ".metadata",
               {"value", "serverAddress", "query", "threshold", "activationThreshold", "timezone",
                "start", "end", "desiredReplicas", "ignoreNullValues"})) {
      return;
    }
    if (trigger["metricType"]) {
      c.String(trigger["metricType"], at + ".metricType", {"Utilization", "AverageValue", "Value"});
    }
    const YAML::Node metadata = trigger["metadata"];
    // KEDA reads every metadata value as a string; an unquoted number is a type error there.
    for (const auto& entry : metadata) {
      c.String(entry.second, at + ".metadata." + entry.first.as<std::string>());
    }
    const std::string type = trigger["type"].Scalar();
    if (type == "cron") {
      if (c.Map(metadata, at + ".metadata", {"timezone", "start", "end", "desiredReplicas"},
                {"timezone", "start", "end", "desiredReplicas"}) &&
          c.Cron(metadata["start"], at + ".metadata.start") &&
          c.Cron(metadata["end"], at + ".metadata.end") &&
          metadata["start"].Scalar() == metadata["end"].Scalar()) {
        c.Fail(at + ".metadata.end", "must differ from start");
      }
    } else if (type == "prometheus") {
      c.Map(metadata, at + ".metadata",
            {"serverAddress", "query", "threshold", "activationThreshold", "ignoreNullValues"},
            {"serverAddress", "query", "threshold"});
    } else if (type == "cpu" || type == "memory") {
      c.Map(metadata, at + ".metadata", {"value"}, {"value"});
    }
  }
}

void CheckCronJob(Checker& c, const YAML::Node& spec) {
  if (!c.Map(spec, "spec",
             {"schedule", "timeZone", "concurrencyPolicy", "startingDeadlineSeconds",
              "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "suspend", "jobTemplate"},
             {"schedule", "jobTemplate"}) ||
      !c.Cron(spec["schedule"], "spec.schedule")) {
    return;
  }
  if (spec["concurrencyPolicy"]) {
    c.String(spec["concurrencyPolicy"], "spec.concurrencyPolicy", {"Allow", "Forbid", "Replace"});
  }
  const YAML::Node pod = spec["jobTemplate"]["spec"]["template"]["spec"];
  if (!pod) {
    c.Fail("spec.jobTemplate.spec.template.spec", "required field is missing");
    return;
  }
  if (c.Sequence(pod["containers"], "spec.jobTemplate.spec.template.spec.containers")) {
    for (size_t i = 0; i < pod["containers"].size(); ++i) {
      const std::string at =
          "spec.jobTemplate.spec.template.spec.containers[" + std::to_string(i) + "]";
      if (c.Map(pod["containers"][i], at, {"name", "image", "command", "args"},
                {"name", "image"})) {
        c.Sequence(pod["containers"][i]["command"], at + ".command");
      }
    }
  }
  if (pod["restartPolicy"]) {
    c.String(pod["restartPolicy"], "spec.jobTemplate.spec.template.spec.restartPolicy",
             {"OnFailure", "Never"});
  }
}

}  // namespace

Status CheckManifests(std::string_view yaml) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error{std::string("not valid YAML: ") + e.what()};
  }
  size_t checked = 0;
  for (size_t i = 0; i < documents.size(); ++i) {
    const YAML::Node& document = documents[i];
    if (document.IsNull()) {
      continue;
    }
    ++checked;
    const std::string kind =
        document["kind"] && document["kind"].IsScalar() ? document["kind"].Scalar() : "(no kind)";
    Checker c("document " + std::to_string(i + 1) + " (" + kind + ")");
    try {
      static const std::set<std::string> kTopLevel = {"apiVersion", "kind",    "metadata", "spec",
                                                      "rules",      "roleRef", "subjects"};
      if (!c.Map(document, "", kTopLevel, {"apiVersion", "kind", "metadata"})) {
        return Error{c.error()};
      }
      CheckMetadata(c, document["metadata"]);
      const std::string api = document["apiVersion"].Scalar();
      const auto expect_api = [&](const char* wanted) {
        if (api != wanted) {
          c.Fail("apiVersion", "'" + api + "' should be " + wanted);
        }
      };
      if (kind == "HorizontalPodAutoscaler") {
        expect_api("autoscaling/v2");
        if (c.Map(document, "", {"apiVersion", "kind", "metadata", "spec"}, {"spec"})) {
          CheckHorizontalPodAutoscaler(c, document["spec"]);
        }
      } else if (kind == "ScaledObject") {
        expect_api("keda.sh/v1alpha1");
        if (c.Map(document, "", {"apiVersion", "kind", "metadata", "spec"}, {"spec"})) {
          CheckScaledObject(c, document["spec"]);
        }
      } else if (kind == "CronJob") {
        expect_api("batch/v1");
        if (c.Map(document, "", {"apiVersion", "kind", "metadata", "spec"}, {"spec"})) {
          CheckCronJob(c, document["spec"]);
        }
      } else if (kind == "ServiceAccount") {
        expect_api("v1");
        c.Map(document, "", {"apiVersion", "kind", "metadata"});
      } else if (kind == "Role") {
        expect_api("rbac.authorization.k8s.io/v1");
        if (c.Map(document, "", {"apiVersion", "kind", "metadata", "rules"}, {"rules"})) {
          c.Sequence(document["rules"], "rules");
        }
      } else if (kind == "RoleBinding") {
        expect_api("rbac.authorization.k8s.io/v1");
        if (c.Map(document, "", {"apiVersion", "kind", "metadata", "roleRef", "subjects"},
                  {"roleRef", "subjects"})) {
          c.Map(document["roleRef"], "roleRef", {"apiGroup", "kind", "name"},
                {"apiGroup", "kind", "name"});
        }
      } else {
        c.Fail("kind", "'" + kind + "' is not a kind the generator writes");
      }
    } catch (const YAML::Exception& e) {
      c.Fail("(document)", std::string("unreadable: ") + e.what());
    }
    if (c.failed()) {
      return Error{c.error()};
    }
  }
  if (checked == 0) {
    return Error{"no documents"};
  }
  return OkStatus();
}

}  // namespace fraudguard::capacity
