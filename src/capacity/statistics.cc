#include "capacity/statistics.h"

#include <cmath>

namespace fraudguard::capacity {
namespace {

// The continued fraction of the incomplete beta function, evaluated with the modified Lentz
// method; it converges quickly for x < (a + 1) / (a + b + 2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-15;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
  double fraction = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    // Even step.
    double term = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + term * d;
    d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
    c = 1.0 + term / c;
    c = std::abs(c) < kTiny ? kTiny : c;
    fraction *= d * c;
    // Odd step.
    term = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + term * d;
    d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
    c = 1.0 + term / c;
    c = std::abs(c) < kTiny ? kTiny : c;
    const double change = d * c;
    fraction *= change;
    if (std::abs(change - 1.0) < kEpsilon) {
      break;
    }
  }
  return fraction;
}

}  // namespace

double RegularisedIncompleteBeta(double a, double b, double x) {
  if (x <= 0) {
    return 0;
  }
  if (x >= 1) {
    return 1;
  }
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  // Use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges faster.
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return front * BetaContinuedFraction(a, b, x) / a;
  }
  return 1.0 - front * BetaContinuedFraction(b, a, 1.0 - x) / b;
}

double StudentTCdf(double t, double dof) {
  const double tail = 0.5 * RegularisedIncompleteBeta(dof / 2.0, 0.5, dof / (dof + t * t));
  return t >= 0 ? 1.0 - tail : tail;
}

double StudentTQuantile(double p, double dof) {
  if (p == 0.5) {
    return 0;
  }
  if (p < 0.5) {
    return -StudentTQuantile(1.0 - p, dof);
  }
  // The CDF is monotone: bracket the answer, then bisect to machine precision.
  double low = 0;
  double high = 1;
  while (StudentTCdf(high, dof) < p && high < 1e12) {
    high *= 2;
  }
  for (int i = 0; i < 200 && high - low > 1e-12 * high; ++i) {
    const double middle = 0.5 * (low + high);
    if (StudentTCdf(middle, dof) < p) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return 0.5 * (low + high);
}

}  // namespace fraudguard::capacity
