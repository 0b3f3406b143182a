#include "sim/simulator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>
#include <type_traits>

#include "core/log.h"

namespace fraudguard {
namespace {

constexpr int64_t kDayMs = 86'400'000;
// Accounts younger than this count as young (see young_account_big_purchase_factor).
constexpr int64_t kYoungAccountDays = 90;
constexpr double kGridSize = 100;  // the world is a kGridSize x kGridSize square
// Above this many customer-terminal pairs (about 4 bytes each) the radius is reduced.
constexpr double kMaxNeighbourPairs = 3e8;
constexpr int64_t kMaxStartMs = 253'402'300'799'000;  // 9999-12-31T23:59:59Z

struct Country {
  std::string_view code;
  std::string_view currency;
  uint32_t ip_first_octet;
  double home_weight;   // share of customers living there
  double fraud_weight;  // share of foreign fraud coming from there
};

// Customers live in the first seven; fraud from abroad comes mostly from the others.
constexpr std::array<Country, 12> kCountries = {{
    {"US", "USD", 23, 0.45, 0.05},
    {"GB", "GBP", 81, 0.15, 0.05},
    {"DE", "EUR", 88, 0.12, 0.03},
    {"FR", "EUR", 90, 0.10, 0.03},
    {"CA", "CAD", 24, 0.08, 0.02},
    {"ES", "EUR", 83, 0.06, 0.02},
    {"NL", "EUR", 145, 0.04, 0.05},
    {"NG", "NGN", 41, 0, 0.20},
    {"RU", "RUB", 95, 0, 0.20},
    {"BR", "BRL", 177, 0, 0.15},
    {"RO", "RON", 86, 0, 0.10},
    {"VN", "VND", 14, 0, 0.10},
}};

struct Category {
  std::string_view name;
  double weight;
};

constexpr std::array<Category, 8> kCategories = {{
    {"grocery", 0.25},
    {"restaurant", 0.20},
    {"fuel", 0.10},
    {"retail", 0.18},
    {"online_retail", 0.10},
    {"electronics", 0.06},
    {"travel", 0.05},
    {"digital_goods", 0.06},
}};

enum Channel : uint8_t { kChannelNone, kChannelPos, kChannelWeb, kChannelMobile };
constexpr std::array<std::string_view, 4> kChannelNames = {"", "pos", "web", "mobile"};

template <typename Table, typename Weight>
int PickWeighted(Random& random, const Table& table, Weight weight) {
  double total = 0;
  for (const auto& entry : table) {
    total += weight(entry);
  }
  double point = random.Uniform() * total;
  for (size_t i = 0; i < table.size(); ++i) {
    point -= weight(table[i]);
    if (point < 0) {
      return static_cast<int>(i);
    }
  }
  return static_cast<int>(table.size()) - 1;
}

double RoundToCents(double amount) {
  return std::round(amount * 100) / 100;
}

void AssignNumber(std::string& out, std::string_view prefix, uint64_t number, int base = 10) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof(buffer), number, base).ptr;
  out.assign(prefix);
  out.append(buffer, end);
}

void AssignIp(std::string& out, uint32_t ip) {
  char buffer[16];
  char* cursor = buffer;
  for (int shift = 24; shift >= 0; shift -= 8) {
    cursor = std::to_chars(cursor, buffer + sizeof(buffer), (ip >> shift) & 0xff).ptr;
    if (shift > 0) {
      *cursor++ = '.';
    }
  }
  out.assign(buffer, cursor);
}

// Clamps one option into [low, high], counting and naming what it changed.
template <typename T>
void Clamp(T& value, T low, T high, const char* name, std::string& changed, int& count) {
  bool is_nan = false;  // NaN fails every comparison; it becomes `low`
  if constexpr (std::is_floating_point_v<T>) {
    is_nan = std::isnan(value);
  }
  if (is_nan || value < low || value > high) {
    value = is_nan ? low : std::clamp(value, low, high);
    changed += changed.empty() ? "" : ",";
    changed += name;
    ++count;
  }
}

// Applies every bound of SimulationOptions; returns the names of the options it changed.
std::string ClampOptions(SimulationOptions& o, int& count) {
  std::string changed;
  Clamp(o.customers, 1, 2'000'000, "customers", changed, count);
  Clamp(o.terminals, 1, 1'000'000, "terminals", changed, count);
  Clamp(o.days, 1, 36'500, "days", changed, count);
  Clamp<int64_t>(o.start_ms, 0, kMaxStartMs, "start_ms", changed, count);
  Clamp(o.radius, 0.0, kGridSize * 1.5, "radius", changed, count);
  const double covered =
      std::min(1.0, std::numbers::pi * o.radius * o.radius / (kGridSize * kGridSize));
  const double pairs = static_cast<double>(o.customers) * o.terminals * covered;
  if (pairs > kMaxNeighbourPairs) {
    // Keeps the expected customer-terminal pairs within the memory bound.
    const double max_radius =
        std::sqrt(kMaxNeighbourPairs * kGridSize * kGridSize /
                  (static_cast<double>(o.customers) * o.terminals * std::numbers::pi));
    Clamp(o.radius, 0.0, max_radius, "radius", changed, count);
  }
  Clamp(o.large_amount_threshold, 0.0, 1e12, "large_amount_threshold", changed, count);
  Clamp(o.compromised_terminals_per_day, 0, 1000, "compromised_terminals_per_day", changed, count);
  Clamp(o.terminal_compromise_days, 0, 3650, "terminal_compromise_days", changed, count);
  Clamp(o.leaked_cards_per_day, 0, 1000, "leaked_cards_per_day", changed, count);
  Clamp(o.leaked_card_days, 0, 3650, "leaked_card_days", changed, count);
  Clamp(o.leaked_card_fraud_share, 0.0, 1.0, "leaked_card_fraud_share", changed, count);
  Clamp(o.leaked_card_amount_factor, 0.0, 1000.0, "leaked_card_amount_factor", changed, count);
  Clamp(o.card_testing_per_day, 0.0, 1000.0, "card_testing_per_day", changed, count);
  Clamp(o.account_takeovers_per_day, 0.0, 1000.0, "account_takeovers_per_day", changed, count);
  Clamp(o.bust_out_accounts_per_day, 0.0, 1000.0, "bust_out_accounts_per_day", changed, count);
  Clamp(o.bust_out_mean_delay_days, 0.0, 60.0, "bust_out_mean_delay_days", changed, count);
  Clamp(o.big_purchase_rate, 0.0, 1.0, "big_purchase_rate", changed, count);
  Clamp(o.young_account_big_purchase_factor, 1.0, 100.0, "young_account_big_purchase_factor",
        changed, count);
  Clamp(o.incomplete_rate, 0.0, 1.0, "incomplete_rate", changed, count);
  Clamp(o.travel_rate, 0.0, 1.0, "travel_rate", changed, count);
  Clamp(o.young_account_share, 0.0, 1.0, "young_account_share", changed, count);
  Clamp(o.new_account_share, 0.0, 1.0 - o.young_account_share, "new_account_share", changed, count);
  return changed;
}

// Travel goes to one of the other countries customers live in.
int PickTravelCountry(Random& random, int home_country) {
  int country = home_country;
  while (country == home_country) {
    country = PickWeighted(random, kCountries, [](const Country& c) { return c.home_weight; });
  }
  return country;
}

// A fraudster's location: mostly abroad, sometimes the victim's own country (through a proxy).
int PickFraudCountry(Random& random, int home_country) {
  if (random.Bernoulli(0.3)) {
    return home_country;
  }
  return PickWeighted(random, kCountries, [](const Country& c) { return c.fraud_weight; });
}

uint32_t RandomIp(Random& random, int country) {
  return (kCountries[country].ip_first_octet << 24) | static_cast<uint32_t>(random.Below(1 << 24));
}

}  // namespace

struct Simulator::Account {
  float x = 0;
  float y = 0;
  double mean_amount = 0;
  double std_amount = 0;
  double mean_purchases_per_day = 0;
  // When the account was opened, in ms since start_ms (negative: before the simulated period).
  int64_t open_ms = std::numeric_limits<int64_t>::min();
  int home_country = 0;
  std::array<uint64_t, 2> devices = {0, 0};
  int device_count = 0;
  uint32_t home_ip = 0;
  std::vector<int32_t> terminals;  // within `radius`, ascending
};

struct Simulator::Terminal {
  float x = 0;
  float y = 0;
  uint8_t category = 0;
};

// One transaction of the day being generated, before it is formatted.
struct Simulator::Event {
  int32_t time_ms = 0;    // since midnight
  uint32_t sequence = 0;  // generation order; breaks ties in time deterministically
  int32_t account = 0;
  int32_t terminal = 0;
  double amount = 0;
  uint64_t device = 0;    // 0: none
  uint32_t ip = 0;        // 0: none
  int32_t age_days = -1;  // -1: unknown
  int8_t country = -1;    // index in kCountries; -1: none
  uint8_t channel = kChannelNone;
  uint8_t scenario = kScenarioGenuine;
  bool fraud = false;
  bool card_missing = false;
  // The request carried only transaction-level fields (amount, time, account age): no ids.
  bool ids_missing = false;
};

// A fraudster's account heading for a bust-out (scenario 6).
struct Simulator::BustOutPlan {
  int32_t account = 0;
  int bust_day = 0;
  std::array<int, 3> warm_up_days = {-1, -1, -1};  // days of the small paid purchases
  uint64_t device = 0;
  uint32_t ip = 0;
};

std::string_view ScenarioName(int scenario) {
  static constexpr std::array<std::string_view, kScenarioCount> kNames = {
      "genuine",          "large_amount", "compromised_terminal", "leaked_card", "card_testing",
      "account_takeover", "bust_out"};
  return scenario >= 0 && scenario < kScenarioCount ? kNames[static_cast<size_t>(scenario)]
                                                    : "other";
}

bool ParseSimulationProfile(const std::string& name, SimulationProfile& profile) {
  if (name == "handbook") {
    profile = SimulationProfile::kHandbook;
    return true;
  }
  if (name == "fraudguard") {
    profile = SimulationProfile::kFraudGuard;
    return true;
  }
  return false;
}

Status ValidateSimulationOptions(const SimulationOptions& options) {
  SimulationOptions copy = options;
  int count = 0;
  const std::string changed = ClampOptions(copy, count);
  if (count > 0) {
    return Error{"simulation options out of bounds: " + changed};
  }
  return OkStatus();
}

Simulator::Simulator(SimulationOptions options) : options_(options), random_(options.seed) {
  const std::string changed = ClampOptions(options_, clamped_options_);
  if (clamped_options_ > 0) {
    LogWarn("simulation_options_clamped").Field("options", changed);
  }
  extended_ = options_.profile == SimulationProfile::kFraudGuard;
  BuildWorld();
}

Simulator::~Simulator() = default;

void Simulator::BuildWorld() {
  accounts_.resize(static_cast<size_t>(options_.customers));
  for (Account& account : accounts_) {
    account.x = static_cast<float>(random_.Uniform(0, kGridSize));
    account.y = static_cast<float>(random_.Uniform(0, kGridSize));
    account.mean_amount = random_.Uniform(5, 100);
    account.std_amount = account.mean_amount / 2;
    account.mean_purchases_per_day = random_.Uniform(0, 4);
    if (!extended_) {
      continue;
    }
    const double age_kind = random_.Uniform();
    if (age_kind < options_.new_account_share) {
      account.open_ms = static_cast<int64_t>(random_.Below(options_.days * kDayMs));
    } else if (age_kind < options_.new_account_share + options_.young_account_share) {
      account.open_ms = -static_cast<int64_t>(random_.Below(90 * kDayMs));
    } else {
      const double age_days = 90 + std::min(7300.0 - 90, random_.Exponential(900));
      account.open_ms = -static_cast<int64_t>(age_days * kDayMs);
    }
    account.home_country =
        PickWeighted(random_, kCountries, [](const Country& c) { return c.home_weight; });
    account.device_count = random_.Bernoulli(0.4) ? 2 : 1;
    account.devices = {random_.NextU64() | 1, random_.NextU64() | 1};
    account.home_ip = (kCountries[account.home_country].ip_first_octet << 24) |
                      static_cast<uint32_t>(random_.Below(1 << 24));
  }

  terminals_.resize(static_cast<size_t>(options_.terminals));
  for (Terminal& terminal : terminals_) {
    terminal.x = static_cast<float>(random_.Uniform(0, kGridSize));
    terminal.y = static_cast<float>(random_.Uniform(0, kGridSize));
    if (extended_) {
      terminal.category = static_cast<uint8_t>(
          PickWeighted(random_, kCategories, [](const Category& c) { return c.weight; }));
    }
  }

  // Buckets terminals into square cells no smaller than the radius, so that a customer's
  // neighbours lie in the 3x3 cells around its own.
  const double radius = options_.radius;
  const double cell_size = std::max(radius, 1.0);
  const int cells = static_cast<int>(std::ceil(kGridSize / cell_size));
  auto cell_of = [&](float coordinate) {
    return std::clamp(static_cast<int>(coordinate / cell_size), 0, cells - 1);
  };
  std::vector<std::vector<int32_t>> buckets(static_cast<size_t>(cells) * cells);
  for (size_t t = 0; t < terminals_.size(); ++t) {
    buckets[cell_of(terminals_[t].x) * cells + cell_of(terminals_[t].y)].push_back(
        static_cast<int32_t>(t));
  }
  for (Account& account : accounts_) {
    const int cx = cell_of(account.x);
    const int cy = cell_of(account.y);
    for (int i = std::max(cx - 1, 0); i <= std::min(cx + 1, cells - 1); ++i) {
      for (int j = std::max(cy - 1, 0); j <= std::min(cy + 1, cells - 1); ++j) {
        for (int32_t t : buckets[i * cells + j]) {
          const double dx = account.x - terminals_[t].x;
          const double dy = account.y - terminals_[t].y;
          if (std::sqrt(dx * dx + dy * dy) < radius) {
            account.terminals.push_back(t);
          }
        }
      }
    }
    std::sort(account.terminals.begin(), account.terminals.end());
  }

  terminal_compromised_until_.assign(terminals_.size(), 0);
  card_leaked_until_.assign(accounts_.size(), 0);
  LogInfo("simulation_world_built")
      .Field("profile", extended_ ? "fraudguard" : "handbook")
      .Field("customers", options_.customers)
      .Field("terminals", options_.terminals)
      .Field("days", options_.days)
      .Field("seed", options_.seed);
}

bool Simulator::Next(LabelledTransaction& out) {
  while (day_position_ >= day_events_.size()) {
    if (current_day_ + 1 >= options_.days) {
      current_day_ = options_.days;
      day_events_.clear();
      day_position_ = 0;
      return false;
    }
    GenerateDay(++current_day_);
    day_position_ = 0;
  }
  Emit(day_events_[day_position_++], out);
  ++generated_;
  return true;
}

double Simulator::progress() const {
  if (current_day_ < 0) {
    return 0;
  }
  if (current_day_ >= options_.days) {
    return 1;
  }
  const double within_day =
      day_events_.empty() ? 1.0 : static_cast<double>(day_position_) / day_events_.size();
  return (current_day_ + within_day) / options_.days;
}

void Simulator::GenerateDay(int day) {
  day_events_.clear();
  StartDayCompromises(day);
  AddGenuinePurchases(day);
  if (extended_) {
    AddCardTesting(day);
    AddAccountTakeovers(day);
    AddBustOuts(day);
    // Incomplete requests are drawn after the labels, so both classes lack fields alike.
    for (Event& event : day_events_) {
      if (!random_.Bernoulli(options_.incomplete_rate)) {
        continue;
      }
      const double kind = random_.Uniform();
      if (kind < 0.5 || kind >= 0.75) {  // no device and IP (half), or nothing (a quarter)
        event.device = 0;
        event.ip = 0;
      }
      if (kind >= 0.5) {  // no card (a quarter), or nothing
        event.card_missing = true;
      }
      if (kind >= 0.75) {  // nothing: no customer, merchant or place either
        event.ids_missing = true;
      }
    }
  }
  for (size_t i = 0; i < day_events_.size(); ++i) {
    day_events_[i].sequence = static_cast<uint32_t>(i);
  }
  std::sort(day_events_.begin(), day_events_.end(), [](const Event& a, const Event& b) {
    return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.sequence < b.sequence;
  });
}

void Simulator::StartDayCompromises(int day) {
  // Distinct picks among the first `population`; when more are asked for, all are picked.
  auto compromise = [&](std::vector<int>& until, size_t population, int per_day, int duration) {
    const size_t picks = std::min(static_cast<size_t>(per_day), population);
    std::vector<size_t> chosen;
    while (chosen.size() < picks) {
      const size_t pick = random_.Below(population);
      if (std::find(chosen.begin(), chosen.end(), pick) == chosen.end()) {
        chosen.push_back(pick);
        until[pick] = std::max(until[pick], day + duration);
      }
    }
  };
  compromise(terminal_compromised_until_, terminals_.size(), options_.compromised_terminals_per_day,
             options_.terminal_compromise_days);
  // Only the original customers' cards leak, never a bust-out fraudster's.
  card_leaked_until_.resize(accounts_.size(), 0);
  compromise(card_leaked_until_, static_cast<size_t>(options_.customers),
             options_.leaked_cards_per_day, options_.leaked_card_days);
}

void Simulator::AddGenuinePurchases(int day) {
  const int64_t day_start_ms = day * kDayMs;
  for (int32_t a = 0; a < options_.customers; ++a) {
    const Account& account = accounts_[a];
    if (account.open_ms >= day_start_ms + kDayMs) {
      continue;  // not opened yet
    }
    const int purchases = random_.Poisson(account.mean_purchases_per_day);
    for (int p = 0; p < purchases; ++p) {
      // As in the handbook: times around noon, those falling outside the day dropped.
      const auto seconds = static_cast<int64_t>(random_.Normal(43200, 20000));
      if (seconds <= 0 || seconds >= 86400) {
        continue;
      }
      double amount = random_.Normal(account.mean_amount, account.std_amount);
      if (amount < 0) {
        amount = random_.Uniform(0, account.mean_amount * 2);
      }
      amount = RoundToCents(amount);
      if (account.terminals.empty()) {
        continue;
      }
      Event event;
      event.time_ms = static_cast<int32_t>(seconds * 1000);
      event.account = a;
      event.terminal = account.terminals[random_.Below(account.terminals.size())];
      if (extended_) {
        event.time_ms += static_cast<int32_t>(random_.Below(1000));
        if (account.open_ms > day_start_ms + event.time_ms) {
          continue;  // opened later today
        }
        // New customers furnish their first months: big tickets come more often then.
        const bool young_account =
            day_start_ms + event.time_ms - account.open_ms < kYoungAccountDays * kDayMs;
        const double big_purchase_rate =
            options_.big_purchase_rate *
            (young_account ? options_.young_account_big_purchase_factor : 1.0);
        if (random_.Bernoulli(std::min(1.0, big_purchase_rate))) {
          amount = RoundToCents(std::min(20000.0, std::exp(random_.Normal(std::log(350), 0.6))));
        }
        const double channel = random_.Uniform();
        event.channel = channel < 0.6 ? kChannelPos : channel < 0.85 ? kChannelWeb : kChannelMobile;
        event.country = static_cast<int8_t>(account.home_country);
        event.ip = account.home_ip;
        if (random_.Bernoulli(options_.travel_rate)) {
          event.country = static_cast<int8_t>(PickTravelCountry(random_, account.home_country));
          event.ip =
              (kCountries[event.country].ip_first_octet << 24) | (account.home_ip & 0xffffff);
        }
        const bool second_device = event.channel == kChannelWeb && account.device_count == 2;
        event.device = account.devices[second_device ? 1 : 0];
        event.age_days =
            static_cast<int32_t>((day_start_ms + event.time_ms - account.open_ms) / kDayMs);
      } else if (amount > options_.large_amount_threshold) {
        event.fraud = true;
        event.scenario = kScenarioLargeAmount;
      }
      // Later scenarios win over earlier ones, as in the handbook.
      if (terminal_compromised_until_[event.terminal] > day) {
        event.fraud = true;
        event.scenario = kScenarioCompromisedTerminal;
      }
      if (card_leaked_until_[a] > day && random_.Bernoulli(options_.leaked_card_fraud_share)) {
        amount = RoundToCents(amount * options_.leaked_card_amount_factor);
        event.fraud = true;
        event.scenario = kScenarioLeakedCard;
      }
      event.amount = amount;
      day_events_.push_back(event);
    }
  }
}

void Simulator::AddCardTesting(int day) {
  const int64_t day_start_ms = day * kDayMs;
  const int bursts = random_.Poisson(options_.card_testing_per_day);
  for (int b = 0; b < bursts; ++b) {
    const auto victim = static_cast<int32_t>(random_.Below(options_.customers));
    const Account& account = accounts_[victim];
    const int country = PickFraudCountry(random_, account.home_country);
    const uint64_t device = random_.NextU64() | 1;
    const uint32_t ip = RandomIp(random_, country);
    auto time_ms = static_cast<int64_t>(random_.Below(kDayMs - 30 * 60 * 1000));
    const auto attempts = random_.Between(5, 20);
    for (int64_t i = 0; i < attempts; ++i) {
      time_ms += random_.Between(5'000, 90'000);
      if (time_ms >= kDayMs || account.open_ms > day_start_ms + time_ms) {
        continue;
      }
      Event event;
      event.time_ms = static_cast<int32_t>(time_ms);
      event.account = victim;
      event.terminal = static_cast<int32_t>(random_.Below(terminals_.size()));
      event.amount = RoundToCents(random_.Uniform(0.5, 5));
      event.device = device;
      event.ip = ip;
      event.country = static_cast<int8_t>(country);
      event.channel = kChannelWeb;
      event.age_days = static_cast<int32_t>((day_start_ms + time_ms - account.open_ms) / kDayMs);
      event.fraud = true;
      event.scenario = kScenarioCardTesting;
      day_events_.push_back(event);
    }
  }
}

void Simulator::AddAccountTakeovers(int day) {
  const int64_t day_start_ms = day * kDayMs;
  const int takeovers = random_.Poisson(options_.account_takeovers_per_day);
  for (int k = 0; k < takeovers; ++k) {
    const auto victim = static_cast<int32_t>(random_.Below(options_.customers));
    const Account& account = accounts_[victim];
    // A new device in another country than the customer's.
    int country = account.home_country;
    while (country == account.home_country) {
      country = PickFraudCountry(random_, account.home_country);
    }
    const uint64_t device = random_.NextU64() | 1;
    const uint32_t ip = RandomIp(random_, country);
    auto time_ms = static_cast<int64_t>(random_.Below(kDayMs));
    const auto purchases = random_.Between(3, 8);
    for (int64_t i = 0; i < purchases; ++i) {
      time_ms += random_.Between(2, 60) * 60'000;
      if (time_ms >= kDayMs || account.open_ms > day_start_ms + time_ms) {
        continue;
      }
      Event event;
      event.time_ms = static_cast<int32_t>(time_ms);
      event.account = victim;
      event.terminal = static_cast<int32_t>(random_.Below(terminals_.size()));
      event.amount = RoundToCents(random_.LogUniform(200, 2500));
      event.device = device;
      event.ip = ip;
      event.country = static_cast<int8_t>(country);
      event.channel = random_.Bernoulli(0.5) ? kChannelWeb : kChannelMobile;
      event.age_days = static_cast<int32_t>((day_start_ms + time_ms - account.open_ms) / kDayMs);
      event.fraud = true;
      event.scenario = kScenarioAccountTakeover;
      day_events_.push_back(event);
    }
  }
}

void Simulator::AddBustOuts(int day) {
  const int64_t day_start_ms = day * kDayMs;
  const int openings = random_.Poisson(options_.bust_out_accounts_per_day);
  for (int k = 0; k < openings; ++k) {
    Account account;
    account.x = static_cast<float>(random_.Uniform(0, kGridSize));
    account.y = static_cast<float>(random_.Uniform(0, kGridSize));
    account.open_ms = day_start_ms + static_cast<int64_t>(random_.Below(kDayMs * 3 / 4));
    account.home_country =
        PickWeighted(random_, kCountries, [](const Country& c) { return c.home_weight; });
    BustOutPlan plan;
    plan.account = static_cast<int32_t>(accounts_.size());
    const double delay = std::min(60.0, random_.Exponential(options_.bust_out_mean_delay_days));
    plan.bust_day = day + static_cast<int>(delay);
    const auto warm_ups = random_.Between(0, 3);
    for (int64_t w = 0; w < warm_ups; ++w) {
      plan.warm_up_days[w] = static_cast<int>(random_.Between(day, plan.bust_day));
    }
    // Posing as a local: a fresh device, an IP in the claimed home country.
    plan.device = random_.NextU64() | 1;
    plan.ip = RandomIp(random_, account.home_country);
    accounts_.push_back(std::move(account));
    bust_out_plans_.push_back(plan);
  }

  for (const BustOutPlan& plan : bust_out_plans_) {
    const Account& account = accounts_[plan.account];
    const int64_t earliest_ms = std::max<int64_t>(0, account.open_ms - day_start_ms);
    auto add = [&](int64_t time_ms, double amount, bool fraud) {
      Event event;
      event.time_ms = static_cast<int32_t>(time_ms);
      event.account = plan.account;
      event.terminal = static_cast<int32_t>(random_.Below(terminals_.size()));
      event.amount = RoundToCents(amount);
      event.device = plan.device;
      event.ip = plan.ip;
      event.country = static_cast<int8_t>(account.home_country);
      event.channel = random_.Bernoulli(0.5) ? kChannelWeb : kChannelMobile;
      event.age_days = static_cast<int32_t>((day_start_ms + time_ms - account.open_ms) / kDayMs);
      event.fraud = fraud;
      event.scenario = fraud ? kScenarioBustOut : kScenarioGenuine;
      day_events_.push_back(event);
    };
    for (int warm_up_day : plan.warm_up_days) {
      if (warm_up_day == day) {
        add(random_.Between(earliest_ms, kDayMs - 1), random_.Uniform(5, 60), false);
      }
    }
    if (plan.bust_day == day) {
      auto time_ms = random_.Between(earliest_ms, kDayMs - 1);
      const auto purchases = random_.Between(3, 8);
      for (int64_t i = 0; i < purchases && time_ms < kDayMs; ++i) {
        add(time_ms, random_.LogUniform(300, 5000), true);
        time_ms += random_.Between(1, 40) * 60'000;
      }
    }
  }
  std::erase_if(bust_out_plans_, [day](const BustOutPlan& plan) { return plan.bust_day <= day; });
}

void Simulator::Emit(const Event& event, LabelledTransaction& out) {
  Transaction& txn = out.txn;
  const int64_t day_ms = static_cast<int64_t>(current_day_) * kDayMs;
  txn.timestamp_ms = options_.start_ms + day_ms + event.time_ms;
  txn.amount = event.amount;
  out.fraud = event.fraud;
  out.scenario = event.scenario;
  if (!extended_) {
    // The handbook's own identifiers: plain numbers, the customer standing for the card.
    AssignNumber(txn.transaction_id, "", generated_);
    AssignNumber(txn.card_id, "", static_cast<uint64_t>(event.account));
    txn.customer_id = txn.card_id;
    AssignNumber(txn.merchant_id, "", static_cast<uint64_t>(event.terminal));
    txn.currency.clear();
    txn.merchant_category.clear();
    txn.country.clear();
    txn.device_id.clear();
    txn.ip.clear();
    txn.channel.clear();
    txn.user_age_days = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  AssignNumber(txn.transaction_id, "tx", generated_);
  if (event.card_missing) {
    txn.card_id.clear();
  } else {
    AssignNumber(txn.card_id, "c", static_cast<uint64_t>(event.account));
  }
  if (event.ids_missing) {
    txn.customer_id.clear();
    txn.merchant_id.clear();
    txn.merchant_category.clear();
    txn.country.clear();
    txn.currency.clear();
    txn.device_id.clear();
    txn.ip.clear();
    txn.channel.clear();
    txn.user_age_days = event.age_days >= 0 ? static_cast<double>(event.age_days)
                                            : std::numeric_limits<double>::quiet_NaN();
    return;
  }
  AssignNumber(txn.customer_id, "u", static_cast<uint64_t>(event.account));
  AssignNumber(txn.merchant_id, "m", static_cast<uint64_t>(event.terminal));
  txn.merchant_category.assign(kCategories[terminals_[event.terminal].category].name);
  if (event.country >= 0) {
    txn.country.assign(kCountries[event.country].code);
    txn.currency.assign(kCountries[event.country].currency);
  } else {
    txn.country.clear();
    txn.currency.clear();
  }
  if (event.device != 0) {
    AssignNumber(txn.device_id, "d", event.device, 16);
  } else {
    txn.device_id.clear();
  }
  if (event.ip != 0) {
    AssignIp(txn.ip, event.ip);
  } else {
    txn.ip.clear();
  }
  txn.channel.assign(kChannelNames[event.channel]);
  txn.user_age_days = event.age_days >= 0 ? static_cast<double>(event.age_days)
                                          : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace fraudguard
