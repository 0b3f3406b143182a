#include "incidents/incident_cli.h"

#include <simdjson.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "api/http_client.h"
#include "core/clock.h"
#include "core/file_write.h"
#include "core/json_writer.h"
#include "incidents/postmortem.h"

namespace fraudguard {
namespace {

Result<http::ClientResponse> Call(const IncidentCommandFlags& flags,
                                  const std::string& method,
                                  const std::string& path,
                                  const std::string& body) {
  auto address = http::ParseHttpUrl(flags.url);
  if (!address) {
    return Error{"--url: " + address.error()};
  }
  std::string key = flags.key;
  if (key.empty()) {
    const char* env = std::getenv("FRAUDGUARD_API_KEY");
    key = env != nullptr ? env : "";
  }
  std::vector<std::pair<std::string, std::string>> headers;
  if (!key.empty()) {
    headers.emplace_back("X-API-Key", key);
  }
  if (!body.empty()) {
    headers.emplace_back("Content-Type", "application/json");
  }
  http::Client client(address->first, address->second, 10000);
  auto response = client.Send(method, path, body, headers);
  if (!response) {
    return Error{method + " " + flags.url + path + ": " + response.error()};
  }
  if (response->status / 100 != 2) {
    return Error{method + " " + flags.url + path + " answered " + std::to_string(response->status) +
                 ": " + response->body};
  }
  return response;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string Row(const Incident& incident, int64_t now_ms) {
  char line[512];
  std::snprintf(line, sizeof(line), "%-5lld %-5s %-14s %-12s %-24s %-4s %s\n",
                static_cast<long long>(incident.id),
                std::string(SeverityName(incident.severity)).c_str(),
                std::string(IncidentStateName(incident.state)).c_str(),
                incident.service.substr(0, 12).c_str(), FormatUtc(incident.opened_ms).c_str(),
                incident.acknowledged_ms > 0 ? "yes"
                : incident.AckMissed(now_ms) ? "LATE"
                                             : "no",
                incident.title.substr(0, 80).c_str());
  return line;
}

}  // namespace

IncidentCommands::IncidentCommands(CLI::App& app) {
  CLI::App* incidents = app.add_subcommand("incidents", "Incidents of a running server");
  incidents->require_subcommand(1);
  const auto add_common = [this](CLI::App* command) {
    command->add_option("--url", flags_.url, "The server (default http://127.0.0.1:8080)");
    command->add_option("--key", flags_.key,
                        "API key: read role to look, admin to change (or FRAUDGUARD_API_KEY)");
  };
  list_ = incidents->add_subcommand("list", "Open incidents, newest first");
  add_common(list_);
  list_->add_flag("--all", flags_.all, "Resolved incidents too");
  list_->add_flag("--json", flags_.json, "The server's JSON instead of a table");
  show_ = incidents->add_subcommand("show", "One incident with its alerts and timeline (JSON)");
  add_common(show_);
  show_->add_option("id", flags_.id, "Incident id")->required();
  ack_ = incidents->add_subcommand("ack", "Acknowledge an incident");
  add_common(ack_);
  ack_->add_option("id", flags_.id, "Incident id")->required();
  ack_->add_option("--note", flags_.text, "A note for the timeline");
  state_ = incidents->add_subcommand("state", "Move an incident to another state");
  add_common(state_);
  state_->add_option("id", flags_.id, "Incident id")->required();
  state_->add_option("state", flags_.state, "INVESTIGATING, IDENTIFIED, MONITORING or RESOLVED")
      ->required()
      ->check(CLI::IsMember({"INVESTIGATING", "IDENTIFIED", "MONITORING", "RESOLVED"},
                            CLI::ignore_case));
  state_->add_option("--note", flags_.text, "A note for the timeline");
  resolve_ = incidents->add_subcommand("resolve", "Move an incident to RESOLVED");
  add_common(resolve_);
  resolve_->add_option("id", flags_.id, "Incident id")->required();
  resolve_->add_option("--note", flags_.text, "A note for the timeline");
  note_ = incidents->add_subcommand("note", "Add a note to an incident's timeline");
  add_common(note_);
  note_->add_option("id", flags_.id, "Incident id")->required();
  note_->add_option("text", flags_.text, "The note")->required();
  postmortem_ = incidents->add_subcommand("postmortem", "Write a Markdown postmortem draft");
  add_common(postmortem_);
  postmortem_->add_option("id", flags_.id, "Incident id")->required();
  postmortem_->add_option("-o,--output", flags_.output, "File to write, - for stdout");
}

bool IncidentCommands::parsed() const {
  return list_->parsed() || show_->parsed() || ack_->parsed() || state_->parsed() ||
         resolve_->parsed() || note_->parsed() || postmortem_->parsed();
}

int IncidentCommands::Run() const {
  const std::string path = "/api/v1/incidents/" + std::to_string(flags_.id);
  if (list_->parsed()) {
    auto response = Call(
        flags_, "GET",
        std::string("/api/v1/incidents?limit=1000&state=") + (flags_.all ? "all" : "open"), "");
    if (!response) {
      return Fail(response.error());
    }
    if (flags_.json) {
      std::printf("%s\n", response->body.c_str());
      return 0;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array items;
    if (parser.parse(response->body).get(root) || root["incidents"].get_array().get(items)) {
      return Fail("the server's answer has no incident list");
    }
    const int64_t now_ms = SystemClock::Instance().NowMillis();
    std::printf("%-5s %-5s %-14s %-12s %-24s %-4s %s\n", "ID", "SEV", "STATE", "SERVICE", "OPENED",
                "ACK", "TITLE");
    for (simdjson::dom::element item : items) {
      auto incident = ParseIncidentJson(simdjson::minify(item));
      if (!incident) {
        return Fail(incident.error());
      }
      std::printf("%s", Row(*incident, now_ms).c_str());
    }
    return 0;
  }
  if (show_->parsed()) {
    auto response = Call(flags_, "GET", path, "");
    if (!response) {
      return Fail(response.error());
    }
    std::printf("%s\n", response->body.c_str());
    return 0;
  }
  if (ack_->parsed() || state_->parsed() || resolve_->parsed() || note_->parsed()) {
    std::string body;
    JsonWriter json(body);
    json.BeginObject();
    if (resolve_->parsed()) {
      json.Field("state", "RESOLVED");
    } else if (state_->parsed()) {
      std::string state = flags_.state;
      for (char& c : state) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      json.Field("state", state);
    }
    if (!flags_.text.empty()) {
      json.Field(note_->parsed() ? "text" : "note", flags_.text);
    }
    json.EndObject();
    const std::string action = ack_->parsed()                             ? "/acknowledge"
                               : (state_->parsed() || resolve_->parsed()) ? "/state"
                                                                          : "/notes";
    auto response = Call(flags_, "POST", path + action, body);
    if (!response) {
      return Fail(response.error());
    }
    auto parsed = ParseIncidentResponse(response->body);
    if (!parsed) {
      return Fail(parsed.error());
    }
    std::printf("%s", Row(parsed->incident, SystemClock::Instance().NowMillis()).c_str());
    return 0;
  }
  auto response = Call(flags_, "GET", path, "");
  if (!response) {
    return Fail(response.error());
  }
  auto parsed = ParseIncidentResponse(response->body);
  if (!parsed) {
    return Fail(parsed.error());
  }
  const std::string markdown =
      PostmortemMarkdown(parsed->incident, parsed->has_playbook ? &parsed->playbook : nullptr,
                         SystemClock::Instance().NowMillis());
  if (flags_.output == "-") {
    std::printf("%s", markdown.c_str());
    return 0;
  }
  if (auto status = WriteFileReplacing(flags_.output, markdown); !status) {
    return Fail(status.error());
  }
  std::fprintf(stderr, "wrote %s\n", flags_.output.c_str());
  return 0;
}

}  // namespace fraudguard
