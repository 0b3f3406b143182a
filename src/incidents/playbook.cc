#include "incidents/playbook.h"

#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/json_writer.h"

namespace fraudguard {
namespace {

constexpr size_t kMaxPlaybooks = 64;
constexpr size_t kMaxListItems = 64;

// The same text as config/playbooks.yaml (a unit test keeps the two equal).
constexpr const char* kDefaultYaml =
    R"yaml(# Incident playbooks, matched to incidents by their alerts (see incidents/playbook.h).
playbooks:
  - name: fraud_api_outage
    title: Fraud API outage
    severity: SEV1
    triggers:
      - {alertname: FraudAPIHighErrorRate}
      - {alertname: FraudAPIOutageErrorRate}
      - {alertname: FraudAPIAvailabilityLow}
      - {alertname: FraudAPINoSuccessfulRequests}
    trigger_conditions:
      - "API availability < 95% for 5 minutes"
      - "Error rate > 50% for 2 minutes"
      - "Zero successful requests for 1 minute"
    immediate_actions:
      - auto_page_oncall_engineer
      - create_incident_war_room
      - notify_status_page
      - engage_backup_systems
    investigation_steps:
      - "Check service health dashboard"
      - "Verify database connectivity"
      - "Check Kubernetes cluster status"
      - "Review recent deployments"
      - "Analyze error logs and metrics"
    escalation_criteria:
      - "No progress within 15 minutes"
      - "Customer impact confirmed"
      - "Infrastructure-wide issues detected"
    recovery_procedures:
      - rollback_to_last_known_good_version
      - scale_up_healthy_replicas
      - redirect_traffic_to_backup_region
      - manual_database_failover_if_needed
)yaml";

class Parser {
public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Result<PlaybookSet> Parse(const YAML::Node& root) const {
    if (!root.IsMap() || !root["playbooks"] || !root["playbooks"].IsSequence()) {
      return Fail("playbooks", "expected a list of playbooks");
    }
    const YAML::Node list = root["playbooks"];
    if (list.size() > kMaxPlaybooks) {
      return Fail("playbooks", "at most " + std::to_string(kMaxPlaybooks) + " playbooks");
    }
    PlaybookSet set;
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string prefix = "playbooks[" + std::to_string(i) + "]";
      const YAML::Node node = list[i];
      if (!node.IsMap()) {
        return Fail(prefix, "expected a map");
      }
      Playbook playbook;
      for (const auto& item : node) {
        const std::string key = item.first.Scalar();
        const std::string path = prefix + "." + key;
        const YAML::Node value = item.second;
        if (key == "name" || key == "title" || key == "severity") {
          if (!value.IsScalar() || value.Scalar().empty() || value.Scalar().size() > 256) {
            return Fail(path, "expected a text of 1 to 256 characters");
          }
          if (key == "name") {
            playbook.name = value.Scalar();
          } else if (key == "title") {
            playbook.title = value.Scalar();
          } else if (!ParseSeverity(value.Scalar(), playbook.severity)) {
            return Fail(path, "expected SEV1, SEV2, SEV3 or SEV4");
          }
        } else if (key == "triggers") {
          if (auto status = ReadTriggers(value, path, playbook); !status) {
            return Error{status.error()};
          }
        } else if (key == "trigger_conditions" || key == "immediate_actions" ||
                   key == "investigation_steps" || key == "escalation_criteria" ||
                   key == "recovery_procedures") {
          std::vector<std::string>& out =
              key == "trigger_conditions"    ? playbook.trigger_conditions
              : key == "immediate_actions"   ? playbook.immediate_actions
              : key == "investigation_steps" ? playbook.investigation_steps
              : key == "escalation_criteria" ? playbook.escalation_criteria
                                             : playbook.recovery_procedures;
          if (auto status = ReadList(value, path, out); !status) {
            return Error{status.error()};
          }
        } else {
          return Fail(path, "unknown key");
        }
      }
      if (playbook.name.empty()) {
        return Fail(prefix + ".name", "missing");
      }
      if (playbook.triggers.empty()) {
        return Fail(prefix + ".triggers", "a playbook needs at least one trigger");
      }
      if (!names.insert(playbook.name).second) {
        return Fail(prefix + ".name", "'" + playbook.name + "' is defined twice");
      }
      if (playbook.title.empty()) {
        playbook.title = playbook.name;
      }
      set.playbooks.push_back(std::move(playbook));
    }
    return set;
  }

private:
  Error Fail(const std::string& key, const std::string& problem) const {
    return Error{source_ + ": key '" + key + "': " + problem};
  }

  Status ReadList(const YAML::Node& node,
                  const std::string& path,
                  std::vector<std::string>& out) const {
    if (!node.IsSequence() || node.size() > kMaxListItems) {
      return Fail(path, "expected a list of at most " + std::to_string(kMaxListItems) + " texts");
    }
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar() || node[i].Scalar().size() > 1024) {
        return Fail(path + "[" + std::to_string(i) + "]", "expected a text of at most 1024 bytes");
      }
      out.push_back(node[i].Scalar());
    }
    return OkStatus();
  }

  Status ReadTriggers(const YAML::Node& node, const std::string& path, Playbook& playbook) const {
    if (!node.IsSequence() || node.size() > kMaxListItems) {
      return Fail(path, "expected a list of label maps");
    }
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!node[i].IsMap() || node[i].size() == 0 || node[i].size() > kMaxLabelCount) {
        return Fail(item_path, "expected a map of labels, e.g. {alertname: FraudAPIHighErrorRate}");
      }
      std::map<std::string, std::string> labels;
      for (const auto& label : node[i]) {
        if (!label.second.IsScalar()) {
          return Fail(item_path + "." + label.first.Scalar(), "expected a label value");
        }
        labels[label.first.Scalar()] = label.second.Scalar();
      }
      playbook.triggers.push_back(std::move(labels));
    }
    return OkStatus();
  }

  std::string source_;
};

void AppendList(JsonWriter& json, std::string_view key, const std::vector<std::string>& items) {
  json.Key(key).BeginArray();
  for (const std::string& item : items) {
    json.String(item);
  }
  json.EndArray();
}

}  // namespace

bool Playbook::Matches(const std::string& alert_name,
                       const std::map<std::string, std::string>& labels) const {
  for (const auto& trigger : triggers) {
    bool all = true;
    for (const auto& [key, value] : trigger) {
      if (key == "alertname") {
        all = all && alert_name == value;
        continue;
      }
      auto found = labels.find(key);
      all = all && found != labels.end() && found->second == value;
    }
    if (all) {
      return true;
    }
  }
  return false;
}

const Playbook* PlaybookSet::Find(const std::string& name) const {
  for (const Playbook& playbook : playbooks) {
    if (playbook.name == name) {
      return &playbook;
    }
  }
  return nullptr;
}

const Playbook* PlaybookSet::Match(const std::string& alert_name,
                                   const std::map<std::string, std::string>& labels) const {
  for (const Playbook& playbook : playbooks) {
    if (playbook.Matches(alert_name, labels)) {
      return &playbook;
    }
  }
  return nullptr;
}

const char* DefaultPlaybooksYaml() {
  return kDefaultYaml;
}

PlaybookSet DefaultPlaybooks() {
  auto parsed = ParsePlaybooks(kDefaultYaml, "built-in playbooks");
  return parsed ? std::move(parsed).value() : PlaybookSet{};
}

Result<PlaybookSet> ParsePlaybooks(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return Error{source + ": not valid YAML: " + error.what()};
  }
  return Parser(source).Parse(root);
}

Result<PlaybookSet> LoadPlaybooksFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{path + ": cannot be read"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParsePlaybooks(text.str(), path);
}

void AppendPlaybookJson(const Playbook& playbook, std::string& out) {
  JsonWriter json(out);
  json.BeginObject()
      .Field("name", playbook.name)
      .Field("title", playbook.title)
      .Field("severity", SeverityName(playbook.severity));
  AppendList(json, "trigger_conditions", playbook.trigger_conditions);
  AppendList(json, "immediate_actions", playbook.immediate_actions);
  AppendList(json, "investigation_steps", playbook.investigation_steps);
  AppendList(json, "escalation_criteria", playbook.escalation_criteria);
  AppendList(json, "recovery_procedures", playbook.recovery_procedures);
  json.EndObject();
}

}  // namespace fraudguard
