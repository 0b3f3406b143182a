// Incident playbooks: what to do for a kind of incident, attached to an incident when one of its
// alerts matches a playbook's trigger. config/playbooks.yaml ships the specification's fraud API
// outage playbook; the same text is built in (a unit test keeps the two equal).
//
//   playbooks:
//     - name: fraud_api_outage
//       title: Fraud API outage
//       severity: SEV1                       # what the playbook is written for
//       triggers:                            # an alert matches a trigger when it carries every
//         - {alertname: FraudAPIHighErrorRate}  #   label of it (alertname is the alert's name)
//       trigger_conditions: [..]             # text for people
//       immediate_actions: [..]
//       investigation_steps: [..]
//       escalation_criteria: [..]
//       recovery_procedures: [..]
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "incidents/incident.h"

namespace fraudguard {

struct Playbook {
  std::string name;
  std::string title;
  Severity severity = Severity::kSev1;
  std::vector<std::map<std::string, std::string>> triggers;
  std::vector<std::string> trigger_conditions;
  std::vector<std::string> immediate_actions;
  std::vector<std::string> investigation_steps;
  std::vector<std::string> escalation_criteria;
  std::vector<std::string> recovery_procedures;

  // Whether the alert (its name and labels) matches one of the triggers.
  bool Matches(const std::string& alert_name,
               const std::map<std::string, std::string>& labels) const;
};

struct PlaybookSet {
  std::vector<Playbook> playbooks;
  const Playbook* Find(const std::string& name) const;
  // The first playbook whose trigger the alert matches, or null.
  const Playbook* Match(const std::string& alert_name,
                        const std::map<std::string, std::string>& labels) const;
};

PlaybookSet DefaultPlaybooks();
Result<PlaybookSet> ParsePlaybooks(const std::string& yaml, const std::string& source);
Result<PlaybookSet> LoadPlaybooksFile(const std::string& path);
const char* DefaultPlaybooksYaml();

// The playbook as JSON, for GET /api/v1/incidents/{id}.
void AppendPlaybookJson(const Playbook& playbook, std::string& out);

}  // namespace fraudguard
