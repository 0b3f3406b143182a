// Small statistical helpers for the forecasting models.
#pragma once

namespace fraudguard::capacity {

// Regularised incomplete beta function I_x(a, b), for 0 <= x <= 1 and a, b > 0.
double RegularisedIncompleteBeta(double a, double b, double x);
// P(T <= t) for Student's t distribution with `dof` degrees of freedom.
double StudentTCdf(double t, double dof);
// The t with P(T <= t) = p, for 0 < p < 1; 0.975 gives the two-sided 95 % multiplier.
double StudentTQuantile(double p, double dof);

}  // namespace fraudguard::capacity
