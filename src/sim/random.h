// A small, fast and portable pseudo-random generator for the simulator. The standard library's
// distributions may differ between implementations; these do not, so a seed gives the same data
// on every platform.
#pragma once

#include <cmath>
#include <cstdint>

namespace fraudguard {

// SplitMix64 step: spreads a seed into well-mixed state words.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna) with the usual distributions on top.
class Random {
public:
  explicit Random(uint64_t seed = 1) { Seed(seed); }

  void Seed(uint64_t seed) {
    uint64_t state = seed;
    for (uint64_t& word : s_) {
      word = SplitMix64(state);
    }
    has_spare_normal_ = false;
  }

  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }
  // Uniform integer in [0, n); n must be positive and below 2^53 (bias below n / 2^53).
  uint64_t Below(uint64_t n) {
    const auto value = static_cast<uint64_t>(Uniform() * static_cast<double>(n));
    return value < n ? value : n - 1;
  }
  // Uniform integer in [low, high].
  int64_t Between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(Below(static_cast<uint64_t>(high - low) + 1));
  }
  bool Bernoulli(double p) { return Uniform() < p; }

  // Standard normal by the Marsaglia polar method; keeps the second value for the next call.
  double Normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    double u, v, s;
    do {
      u = Uniform(-1.0, 1.0);
      v = Uniform(-1.0, 1.0);
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_normal_ = v * factor;
    has_spare_normal_ = true;
    return u * factor;
  }
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }

  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }
  // Log-uniform in [low, high]: as many draws in 100..1000 as in 1000..10000.
  double LogUniform(double low, double high) {
    return std::exp(Uniform(std::log(low), std::log(high)));
  }

  // Poisson by Knuth's product of uniforms for small means, a rounded normal for large ones
  // (where the two are indistinguishable for simulation purposes).
  int Poisson(double mean) {
    if (mean <= 0) {
      return 0;
    }
    if (mean > 30) {
      const double value = std::round(Normal(mean, std::sqrt(mean)));
      return value < 0 ? 0 : static_cast<int>(value);
    }
    const double limit = std::exp(-mean);
    double product = Uniform();
    int count = 0;
    while (product > limit) {
      ++count;
      product *= Uniform();
    }
    return count;
  }

private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
  double spare_normal_ = 0;
  bool has_spare_normal_ = false;
};

}  // namespace fraudguard
