#include "rollout/mann_whitney.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace fraudguard::rollout {
namespace {

double Mean(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// P(Z > |z|) * 2.
double TwoSidedP(double z) {
  return std::erfc(std::fabs(z) / std::sqrt(2.0));
}

}  // namespace

double NormalQuantile(double p) {
  // Bisection on the normal CDF: slow by numerical standards but exact to 1e-12 and plain to
  // read; the judge calls it once per metric.
  double low = -40;
  double high = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (low + high) / 2;
    const double cdf = 0.5 * std::erfc(-mid / std::sqrt(2.0));
    (cdf < p ? low : high) = mid;
  }
  return (low + high) / 2;
}

MannWhitneyResult MannWhitneyTest(const std::vector<double>& canary,
                                  const std::vector<double>& baseline,
                                  double confidence) {
  MannWhitneyResult result;
  const size_t n1 = canary.size();
  const size_t n2 = baseline.size();
  if (n1 == 0 || n2 == 0) {
    return result;
  }
  // Ranks of the pooled sample; tied values share the mean of their ranks.
  struct Value {
    double value;
    bool from_canary;
  };
  std::vector<Value> pooled;
  pooled.reserve(n1 + n2);
  for (const double v : canary) {
    pooled.push_back({v, true});
  }
  for (const double v : baseline) {
    pooled.push_back({v, false});
  }
  std::sort(pooled.begin(), pooled.end(),
            [](const Value& a, const Value& b) { return a.value < b.value; });
  const double n = static_cast<double>(n1 + n2);
  double canary_rank_sum = 0;
  double tie_term = 0;  // sum of t^3 - t over groups of t tied values
  for (size_t i = 0; i < pooled.size();) {
    size_t j = i;
    while (j < pooled.size() && pooled[j].value == pooled[i].value) {
      ++j;
    }
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (pooled[k].from_canary) {
        canary_rank_sum += mean_rank;
      }
    }
    const auto t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double m1 = static_cast<double>(n1);
  const double m2 = static_cast<double>(n2);
  result.u = canary_rank_sum - m1 * (m1 + 1) / 2;
  const double mean_u = m1 * m2 / 2;
  const double variance = m1 * m2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance > 0) {
    const double deviation = result.u - mean_u;
    // The continuity correction moves U half a step toward the mean.
    const double corrected =
        deviation > 0 ? deviation - 0.5 : (deviation < 0 ? deviation + 0.5 : 0.0);
    result.z = corrected / std::sqrt(variance);
    result.p_value = TwoSidedP(result.z);
  }

  // Hodges-Lehmann shift and its interval from the ordered pairwise differences.
  std::vector<double> differences;
  differences.reserve(n1 * n2);
  for (const double c : canary) {
    for (const double b : baseline) {
      differences.push_back(c - b);
    }
  }
  std::sort(differences.begin(), differences.end());
  const size_t count = differences.size();
  result.shift = count % 2 == 1 ? differences[count / 2]
                                : (differences[count / 2 - 1] + differences[count / 2]) / 2;
  const double z = NormalQuantile(1 - (1 - confidence) / 2);
  // The k-th smallest and k-th largest differences bound the interval (k counted from 1), with
  // k the lower critical value of U at the normal approximation.
  const double k = std::floor(mean_u - z * std::sqrt(std::max(variance, 0.0)));
  const auto rank = static_cast<size_t>(std::clamp(k, 1.0, static_cast<double>((count + 1) / 2)));
  result.lower = differences[rank - 1];
  result.upper = differences[count - rank];
  return result;
}

double MeanRatio(const std::vector<double>& canary, const std::vector<double>& baseline) {
  const double canary_mean = canary.empty() ? 0 : Mean(canary);
  const double baseline_mean = baseline.empty() ? 0 : Mean(baseline);
  if (baseline_mean == 0) {
    return canary_mean == 0 ? 1.0 : std::numeric_limits<double>::infinity();
  }
  return canary_mean / baseline_mean;
}

}  // namespace fraudguard::rollout
