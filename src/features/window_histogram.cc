#include "features/window_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fraudguard {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Adds (count, mean, m2) of another set of values into `into` (Chan et al.).
void Combine(double& count,
             double& mean,
             double& m2,
             double other_count,
             double other_mean,
             double other_m2) {
  if (other_count <= 0) {
    return;
  }
  if (count <= 0) {
    count = other_count;
    mean = other_mean;
    m2 = other_m2;
    return;
  }
  const double total = count + other_count;
  const double delta = other_mean - mean;
  mean += delta * other_count / total;
  m2 += other_m2 + delta * delta * count * other_count / total;
  count = total;
}

}  // namespace

int64_t WindowHistogram::Add(int64_t ts_ms, double amount) {
  const int64_t at_ms = empty() ? ts_ms : std::max(ts_ms, newest_ms());
  DropExpired(at_ms);
  if (size_ == kCapacity) {
    MergeClosestPair(at_ms);
  }
  summaries_[size_++] = Summary{at_ms, 0, 1, amount, 0.0};
  return at_ms;
}

void WindowHistogram::DropExpired(int64_t now_ms) {
  int expired = 0;
  while (expired < size_ && summaries_[expired].last_ms <= now_ms - kHorizonMs) {
    ++expired;
  }
  if (expired > 0) {
    std::copy(summaries_.begin() + expired, summaries_.begin() + size_, summaries_.begin());
    size_ = static_cast<uint8_t>(size_ - expired);
  }
}

void WindowHistogram::MergeClosestPair(int64_t now_ms) {
  // Pick the pair minimising merged_span / age, compared as cross products to avoid division.
  int best = 0;
  double best_span = 0;
  double best_age = 1;
  for (int i = 0; i + 1 < size_; ++i) {
    const Summary& older = summaries_[i];
    const Summary& newer = summaries_[i + 1];
    const double span = static_cast<double>(newer.last_ms - (older.last_ms - older.span_ms));
    const double age = static_cast<double>(std::max<int64_t>(now_ms - newer.last_ms, 1));
    if (i == 0 || span * best_age < best_span * age) {
      best = i;
      best_span = span;
      best_age = age;
    }
  }
  Summary& older = summaries_[best];
  const Summary& newer = summaries_[best + 1];
  double count = older.count;
  double mean = older.mean;
  double m2 = older.m2;
  Combine(count, mean, m2, newer.count, newer.mean, newer.m2);
  const int64_t first_ms = older.last_ms - older.span_ms;
  // Both ends lie within the horizon of the newest event, so the span fits in 32 bits.
  older.span_ms = static_cast<uint32_t>(std::min<int64_t>(newer.last_ms - first_ms, kHorizonMs));
  older.last_ms = newer.last_ms;
  older.count = static_cast<uint32_t>(count);
  older.mean = mean;
  older.m2 = m2;
  std::copy(summaries_.begin() + best + 2, summaries_.begin() + size_,
            summaries_.begin() + best + 1);
  --size_;
}

namespace {

// Running totals of a set of summaries, kept relative to a reference value near the data so
// that the variance needs no division per summary and suffers no catastrophic cancellation.
struct Totals {
  double count = 0;
  double shifted_sum = 0;     // Sum of (x - reference).
  double shifted_sum_sq = 0;  // Sum of (x - reference)^2.

  void Add(const WindowHistogram::Summary& s, double reference, double share) {
    const double count_share = s.count * share;
    const double shift = s.mean - reference;
    count += count_share;
    shifted_sum += count_share * shift;
    shifted_sum_sq += share * s.m2 + count_share * shift * shift;
  }

  WindowAggregate Finish(double reference) const {
    WindowAggregate result;
    result.count = count;
    if (count <= 0) {
      result.mean = kNaN;
      result.std = kNaN;
      return result;
    }
    const double shifted_mean = shifted_sum / count;
    result.mean = reference + shifted_mean;
    result.sum = reference * count + shifted_sum;
    result.std = std::sqrt(std::max(shifted_sum_sq / count - shifted_mean * shifted_mean, 0.0));
    return result;
  }
};

}  // namespace

void WindowHistogram::AggregateWindows(int64_t now_ms,
                                       const int64_t* windows_ms,
                                       size_t window_count,
                                       WindowAggregate* out) const {
  const double reference = size_ > 0 ? summaries_[size_ - 1].mean : 0.0;
  Totals totals;
  size_t w = 0;  // Windows before w are finished.
  for (int i = size_ - 1; i >= 0 && w < window_count; --i) {
    const Summary& s = summaries_[i];
    if (s.last_ms > now_ms) {
      continue;  // Newer than the windows' end (only when asked about the past).
    }
    // Windows starting at or after this summary's end are complete.
    while (w < window_count && s.last_ms <= now_ms - windows_ms[w]) {
      out[w++] = totals.Finish(reference);
    }
    // Windows starting inside this summary take a linear share of it (span_ms > 0 here).
    const int64_t first_ms = s.last_ms - s.span_ms;
    while (w < window_count && first_ms <= now_ms - windows_ms[w]) {
      Totals partial = totals;
      partial.Add(s, reference,
                  static_cast<double>(s.last_ms - (now_ms - windows_ms[w])) / s.span_ms);
      out[w++] = partial.Finish(reference);
    }
    totals.Add(s, reference, 1.0);
  }
  while (w < window_count) {
    out[w++] = totals.Finish(reference);
  }
}

WindowAggregate WindowHistogram::Aggregate(int64_t now_ms, int64_t window_ms) const {
  WindowAggregate result;
  AggregateWindows(now_ms, &window_ms, 1, &result);
  return result;
}

uint32_t WindowHistogram::StraddlingCount(int64_t now_ms, int64_t window_ms) const {
  const int64_t start_ms = now_ms - window_ms;
  for (int i = size_ - 1; i >= 0; --i) {
    const Summary& s = summaries_[i];
    if (s.last_ms <= start_ms) {
      return 0;
    }
    if (s.last_ms - s.span_ms <= start_ms) {
      return s.count;
    }
  }
  return 0;
}

bool WindowHistogram::Restore(const Summary* summaries, int count) {
  size_ = 0;
  if (count < 0 || count > kCapacity) {
    return false;
  }
  for (int i = 0; i < count; ++i) {
    const Summary& s = summaries[i];
    const bool ordered = i == 0 || summaries[i - 1].last_ms <= s.last_ms - s.span_ms;
    if (!ordered || s.count == 0 || s.span_ms > kHorizonMs || !std::isfinite(s.mean) ||
        !std::isfinite(s.m2) || s.m2 < 0) {
      return false;
    }
  }
  std::copy(summaries, summaries + count, summaries_.begin());
  size_ = static_cast<uint8_t>(count);
  return true;
}

}  // namespace fraudguard
