// `fraudguard incidents list|show|ack|state|resolve|note|postmortem`: the incidents of a running
// server (--url), read with a read key and changed with an admin key (--key or
// FRAUDGUARD_API_KEY).
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace fraudguard {

struct IncidentCommandFlags {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
  bool json = false;
  bool all = false;  // list: resolved incidents too
  int64_t id = 0;
  std::string text;          // note text, or the note of ack/state/resolve
  std::string state;         // state: INVESTIGATING, IDENTIFIED, MONITORING or RESOLVED
  std::string output = "-";  // postmortem: file to write
};

class IncidentCommands {
public:
  explicit IncidentCommands(CLI::App& app);
  bool parsed() const;
  int Run() const;

private:
  IncidentCommandFlags flags_;
  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* ack_ = nullptr;
  CLI::App* state_ = nullptr;
  CLI::App* resolve_ = nullptr;
  CLI::App* note_ = nullptr;
  CLI::App* postmortem_ = nullptr;
};

}  // namespace fraudguard
