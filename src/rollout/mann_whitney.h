// The Mann-Whitney U test (Wilcoxon rank-sum) of two independent samples, as automated canary
// analysis uses it: is the canary's metric shifted from the baseline's, and by how much?
// Pure functions, unit-tested against hand-computed and textbook figures.
#pragma once

#include <vector>

namespace fraudguard::rollout {

struct MannWhitneyResult {
  double u = 0;        // U statistic of the canary sample (pairs where canary > baseline, ties 1/2)
  double z = 0;        // normal approximation, with tie and continuity correction
  double p_value = 1;  // two-sided; 1 when every value is tied (nothing to tell apart)
  // Hodges-Lehmann estimate of the shift canary - baseline (the median of all pairwise
  // differences), and its distribution-free confidence interval at the requested level.
  double shift = 0;
  double lower = 0;
  double upper = 0;
};

// Both samples must be non-empty. `confidence` in (0, 1), for example 0.98.
MannWhitneyResult MannWhitneyTest(const std::vector<double>& canary,
                                  const std::vector<double>& baseline,
                                  double confidence);

// The standard normal quantile: z with P(Z <= z) = p, for p in (0, 1).
double NormalQuantile(double p);

// Ratio of the means canary / baseline, the judge's effect size: 1 when both means are 0,
// +infinity when only the baseline's is 0.
double MeanRatio(const std::vector<double>& canary, const std::vector<double>& baseline);

}  // namespace fraudguard::rollout
