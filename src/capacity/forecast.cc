#include "capacity/forecast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "capacity/statistics.h"

namespace fraudguard::capacity {
namespace {

constexpr double kSecondsPerDay = 86400;
constexpr double kSecondsPerWeek = 7 * kSecondsPerDay;
// Forecasts further out than this many steps are refused: the interval is meaningless and the
// output would be huge.
constexpr size_t kMaxHorizonSteps = 20000;
// Holt-Winters must beat the line's backtest RMSE by more than 1 % to be chosen: on a tie the
// model with two parameters is easier to trust and to explain.
constexpr double kSimplerModelMargin = 0.99;

std::string Format(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), format, a, b, c, d);
  return buffer;
}

// Points per season when `season_seconds` is a whole number (within 1 %) of steps of at least 2.
size_t SeasonPeriod(double season_seconds, double step_seconds) {
  if (!(step_seconds > 0)) {
    return 0;
  }
  const double ratio = season_seconds / step_seconds;
  const double whole = std::round(ratio);
  if (whole < 2 || std::abs(ratio - whole) > 0.01 * whole) {
    return 0;
  }
  return static_cast<size_t>(whole);
}

struct HoltWintersWeights {
  double alpha = 0;
  double beta = 0;
  double gamma_daily = 0;
  double gamma_weekly = 0;
};

struct HoltWintersState {
  double level = 0;
  double trend = 0;
  std::vector<double> daily;  // indexed by point index modulo the period
  std::vector<double> weekly;
};

// Runs the error-correction recursions over `values` from `start`; returns the sum of squared
// one-step errors and leaves the final state in `state`.
double RunHoltWinters(const std::vector<double>& values,
                      const HoltWintersWeights& weights,
                      HoltWintersState& state) {
  const size_t daily_period = state.daily.size();
  const size_t weekly_period = state.weekly.size();
  double sse = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    double* daily = daily_period > 0 ? &state.daily[i % daily_period] : nullptr;
    double* weekly = weekly_period > 0 ? &state.weekly[i % weekly_period] : nullptr;
    const double predicted =
        state.level + state.trend + (daily ? *daily : 0.0) + (weekly ? *weekly : 0.0);
    const double error = values[i] - predicted;
    sse += error * error;
    state.level += state.trend + weights.alpha * error;
    state.trend += weights.beta * error;
    if (daily) {
      *daily += weights.gamma_daily * error;
    }
    if (weekly) {
      *weekly += weights.gamma_weekly * error;
    }
  }
  return sse;
}

// Initial state from a classical decomposition of the whole series: a least-squares line, then
// the mean residual at each phase of the day and of the week. Using the whole series gives each
// seasonal effect every cycle's worth of data instead of only the first one or two.
HoltWintersState InitialState(const std::vector<double>& values,
                              size_t daily_period,
                              size_t weekly_period) {
  const size_t n = values.size();
  const double x_mean = (static_cast<double>(n) - 1) / 2;
  double y_mean = 0;
  for (const double v : values) {
    y_mean += v;
  }
  y_mean /= static_cast<double>(n);
  double sxy = 0;
  double sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dx = static_cast<double>(i) - x_mean;
    sxy += dx * (values[i] - y_mean);
    sxx += dx * dx;
  }
  const double slope = sxx > 0 ? sxy / sxx : 0;
  const double intercept = y_mean - slope * x_mean;  // fitted value at index 0
  std::vector<double> residuals(n);
  for (size_t i = 0; i < n; ++i) {
    residuals[i] = values[i] - intercept - slope * static_cast<double>(i);
  }
  const auto phase_means = [&](size_t period) {
    std::vector<double> sums(period, 0.0);
    std::vector<double> counts(period, 0.0);
    for (size_t i = 0; i < n; ++i) {
      sums[i % period] += residuals[i];
      counts[i % period] += 1;
    }
    double overall = 0;
    for (size_t j = 0; j < period; ++j) {
      sums[j] = counts[j] > 0 ? sums[j] / counts[j] : 0;
      overall += sums[j];
    }
    overall /= static_cast<double>(period);
    for (double& s : sums) {
      s -= overall;  // seasonal effects sum to zero; the level carries the mean
    }
    return sums;
  };
  HoltWintersState state;
  if (daily_period > 0) {
    state.daily = phase_means(daily_period);
    for (size_t i = 0; i < n; ++i) {
      residuals[i] -= state.daily[i % daily_period];
    }
  }
  if (weekly_period > 0) {
    state.weekly = phase_means(weekly_period);
  }
  // The first prediction is level + trend, which should be the line's value at index 0.
  state.level = intercept - slope;
  state.trend = slope;
  return state;
}

std::vector<double> FutureTimestamps(const TimeSeries& history, size_t steps) {
  const double step = history.StepSeconds();
  std::vector<double> timestamps(steps);
  for (size_t k = 0; k < steps; ++k) {
    timestamps[k] = history.timestamps.back() + step * static_cast<double>(k + 1);
  }
  return timestamps;
}

TimeSeries Prefix(const TimeSeries& series, size_t count) {
  TimeSeries prefix;
  prefix.timestamps.assign(series.timestamps.begin(),
                           series.timestamps.begin() + static_cast<std::ptrdiff_t>(count));
  prefix.values.assign(series.values.begin(),
                       series.values.begin() + static_cast<std::ptrdiff_t>(count));
  return prefix;
}

std::string DescribeHoltWinters(const HoltWintersFit& fit) {
  std::string seasons;
  if (fit.daily_period > 0) {
    seasons += "daily (" + std::to_string(fit.daily_period) + " points)";
  }
  if (fit.weekly_period > 0) {
    seasons += std::string(seasons.empty() ? "" : " and ") + "weekly (" +
               std::to_string(fit.weekly_period) + " points)";
  }
  if (seasons.empty()) {
    seasons = "none (too short for two days)";
  }
  return "seasons " + seasons +
         Format("; alpha %.3g, beta %.3g, gamma daily %.3g, gamma weekly %.3g", fit.alpha, fit.beta,
                fit.gamma_daily, fit.gamma_weekly);
}

}  // namespace

const char* ModelName(ModelKind kind) {
  return kind == ModelKind::kLinear ? "linear" : "holt-winters";
}

Result<LinearFit> FitLinear(const TimeSeries& series) {
  const size_t n = series.size();
  if (n < 3) {
    return Error{"a linear fit needs at least 3 points, got " + std::to_string(n)};
  }
  LinearFit fit;
  fit.n = n;
  double y_mean = 0;
  for (size_t i = 0; i < n; ++i) {
    fit.x_mean += series.timestamps[i];
    y_mean += series.values[i];
  }
  fit.x_mean /= static_cast<double>(n);
  y_mean /= static_cast<double>(n);
  double sxy = 0;
  double syy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dx = series.timestamps[i] - fit.x_mean;
    const double dy = series.values[i] - y_mean;
    fit.sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (!(fit.sxx > 0)) {
    return Error{"all timestamps are equal"};
  }
  fit.slope_per_second = sxy / fit.sxx;
  fit.intercept = y_mean;
  double sse = 0;
  for (size_t i = 0; i < n; ++i) {
    const double predicted =
        fit.intercept + fit.slope_per_second * (series.timestamps[i] - fit.x_mean);
    sse += (series.values[i] - predicted) * (series.values[i] - predicted);
  }
  fit.residual_sd = std::sqrt(sse / static_cast<double>(n - 2));
  fit.r_squared = syy > 0 ? 1.0 - sse / syy : 1.0;
  return fit;
}

std::vector<ForecastPoint> ForecastLinear(const LinearFit& fit,
                                          const std::vector<double>& timestamps) {
  const double t = StudentTQuantile(0.5 + kIntervalCoverage / 2, static_cast<double>(fit.n - 2));
  std::vector<ForecastPoint> points;
  points.reserve(timestamps.size());
  for (const double x : timestamps) {
    const double dx = x - fit.x_mean;
    // A new observation's interval: the leading 1 is the observation's own noise; the rest is
    // the uncertainty of the fitted line at x.
    const double half_width =
        t * fit.residual_sd * std::sqrt(1.0 + 1.0 / static_cast<double>(fit.n) + dx * dx / fit.sxx);
    const double value = fit.intercept + fit.slope_per_second * dx;
    points.push_back({x, value, value - half_width, value + half_width});
  }
  return points;
}

Result<HoltWintersFit> FitHoltWinters(const TimeSeries& series) {
  const size_t n = series.size();
  if (n < 10) {
    return Error{"Holt-Winters needs at least 10 points, got " + std::to_string(n)};
  }
  if (!series.IsRegular()) {
    // TODO: fill short gaps by interpolation so series with a few missing scrapes qualify.
    return Error{"Holt-Winters needs evenly spaced points; this series has gaps or jitter"};
  }
  const double step = series.StepSeconds();
  size_t daily_period = SeasonPeriod(kSecondsPerDay, step);
  size_t weekly_period = SeasonPeriod(kSecondsPerWeek, step);
  if (n < 2 * daily_period) {
    daily_period = 0;
  }
  if (n < 2 * weekly_period) {
    weekly_period = 0;
  }
  const size_t parameters = 2 + daily_period + weekly_period;
  if (n <= parameters + 4) {
    // Too few points per fitted state value; fall back to the seasons the data can carry.
    weekly_period = 0;
  }
  const size_t fitted = 2 + daily_period + weekly_period;
  const HoltWintersState initial = InitialState(series.values, daily_period, weekly_period);

  // Grid search of the smoothing weights on the sum of squared one-step errors.
  static constexpr double kAlphas[] = {0.01, 0.03, 0.1, 0.2, 0.4, 0.7};
  static constexpr double kBetas[] = {0.0, 0.001, 0.01};
  static constexpr double kGammas[] = {0.0, 0.05, 0.15, 0.3};
  static constexpr double kNoGamma[] = {0.0};
  const auto gammas_for = [](size_t period) {
    return period > 0 ? std::vector<double>(std::begin(kGammas), std::end(kGammas))
                      : std::vector<double>(std::begin(kNoGamma), std::end(kNoGamma));
  };
  HoltWintersWeights best;
  double best_sse = std::numeric_limits<double>::infinity();
  for (const double alpha : kAlphas) {
    for (const double beta : kBetas) {
      if (beta > alpha) {
        continue;
      }
      for (const double gamma_daily : gammas_for(daily_period)) {
        for (const double gamma_weekly : gammas_for(weekly_period)) {
          HoltWintersState state = initial;
          const HoltWintersWeights weights{alpha, beta, gamma_daily, gamma_weekly};
          const double sse = RunHoltWinters(series.values, weights, state);
          if (sse < best_sse) {
            best_sse = sse;
            best = weights;
          }
        }
      }
    }
  }
  HoltWintersState state = initial;
  const double sse = RunHoltWinters(series.values, best, state);

  HoltWintersFit fit;
  fit.alpha = best.alpha;
  fit.beta = best.beta;
  fit.gamma_daily = best.gamma_daily;
  fit.gamma_weekly = best.gamma_weekly;
  fit.daily_period = daily_period;
  fit.weekly_period = weekly_period;
  fit.level = state.level;
  fit.trend = state.trend;
  // Rotate the seasons so that index k is k steps after the last point.
  const auto rotate = [n](const std::vector<double>& by_index) {
    std::vector<double> rotated(by_index.size());
    for (size_t k = 0; k < by_index.size(); ++k) {
      rotated[k] = by_index[(n - 1 + k) % by_index.size()];
    }
    return rotated;
  };
  fit.daily = rotate(state.daily);
  fit.weekly = rotate(state.weekly);
  fit.dof = static_cast<double>(n - fitted);
  fit.residual_sd = std::sqrt(sse / fit.dof);
  fit.leverage = static_cast<double>(fitted) / static_cast<double>(n);
  fit.last_timestamp = series.timestamps.back();
  fit.step_seconds = step;
  fit.n = n;
  return fit;
}

std::vector<ForecastPoint> ForecastHoltWinters(const HoltWintersFit& fit, size_t steps) {
  const double t = StudentTQuantile(0.5 + kIntervalCoverage / 2, fit.dof);
  std::vector<ForecastPoint> points;
  points.reserve(steps);
  // Variance of the h-step error in units of the one-step variance: 1 for the new
  // observation, the leverage for the estimated state, and the sum of c_j^2 for the errors of
  // the steps in between that the recursions carry forward.
  double carried = 0;
  for (size_t h = 1; h <= steps; ++h) {
    if (h > 1) {
      const size_t j = h - 1;
      double c = fit.alpha + fit.beta * static_cast<double>(j);
      if (fit.daily_period > 0 && j % fit.daily_period == 0) {
        c += fit.gamma_daily;
      }
      if (fit.weekly_period > 0 && j % fit.weekly_period == 0) {
        c += fit.gamma_weekly;
      }
      carried += c * c;
    }
    double value = fit.level + static_cast<double>(h) * fit.trend;
    if (fit.daily_period > 0) {
      value += fit.daily[h % fit.daily_period];
    }
    if (fit.weekly_period > 0) {
      value += fit.weekly[h % fit.weekly_period];
    }
    const double half_width = t * fit.residual_sd * std::sqrt(1.0 + fit.leverage + carried);
    const double timestamp = fit.last_timestamp + fit.step_seconds * static_cast<double>(h);
    points.push_back({timestamp, value, value - half_width, value + half_width});
  }
  return points;
}

Result<std::vector<ForecastPoint>> FitAndForecast(ModelKind kind,
                                                  const TimeSeries& history,
                                                  size_t steps) {
  if (kind == ModelKind::kLinear) {
    auto fit = FitLinear(history);
    if (!fit) {
      return Error{fit.error()};
    }
    return ForecastLinear(*fit, FutureTimestamps(history, steps));
  }
  auto fit = FitHoltWinters(history);
  if (!fit) {
    return Error{fit.error()};
  }
  return ForecastHoltWinters(*fit, steps);
}

Result<BacktestScore> Backtest(ModelKind kind,
                               const TimeSeries& series,
                               size_t horizon_steps,
                               size_t max_folds) {
  const size_t n = series.size();
  // Each fit keeps at least half of the series, so the origins are comparable.
  const size_t horizon = std::min(horizon_steps, n / (2 * std::max<size_t>(max_folds, 1)));
  if (horizon == 0 || max_folds == 0) {
    return Error{"series too short to backtest"};
  }
  BacktestScore score;
  score.horizon_steps = horizon;
  double squared = 0;
  double percentage = 0;
  size_t percentage_points = 0;
  size_t inside = 0;
  for (size_t fold = max_folds; fold >= 1; --fold) {
    const size_t origin = n - fold * horizon;
    auto forecast = FitAndForecast(kind, Prefix(series, origin), horizon);
    if (!forecast) {
      return Error{forecast.error()};
    }
    for (size_t k = 0; k < horizon; ++k) {
      const double actual = series.values[origin + k];
      const ForecastPoint& point = (*forecast)[k];
      const double error = actual - point.value;
      squared += error * error;
      if (std::abs(actual) > 1e-12) {
        percentage += std::abs(error / actual);
        ++percentage_points;
      }
      if (actual >= point.lower && actual <= point.upper) {
        ++inside;
      }
      ++score.points;
    }
    ++score.folds;
  }
  score.rmse = std::sqrt(squared / static_cast<double>(score.points));
  score.mape = percentage_points > 0 ? 100.0 * percentage / static_cast<double>(percentage_points)
                                     : std::numeric_limits<double>::quiet_NaN();
  score.coverage = static_cast<double>(inside) / static_cast<double>(score.points);
  return score;
}

Result<ForecastReport> ForecastSeries(const TimeSeries& series, double horizon_seconds) {
  if (auto status = RequireForecastable(series); !status) {
    return Error{status.error()};
  }
  ForecastReport report;
  report.step_seconds = series.StepSeconds();
  if (!(horizon_seconds >= report.step_seconds)) {
    return Error{"the horizon must be at least one step of the series (" +
                 Format("%g", report.step_seconds) + " s)"};
  }
  const double steps = std::floor(horizon_seconds / report.step_seconds + 1e-9);
  if (steps > static_cast<double>(kMaxHorizonSteps)) {
    return Error{"the horizon is " + Format("%.0f", steps) + " steps of the series; at most " +
                 std::to_string(kMaxHorizonSteps) + " are forecast"};
  }
  report.horizon_steps = static_cast<size_t>(steps);
  auto linear = FitLinear(series);
  if (!linear) {
    return Error{linear.error()};
  }
  report.linear = *linear;

  for (const ModelKind kind : {ModelKind::kLinear, ModelKind::kHoltWinters}) {
    ModelResult model;
    model.kind = kind;
    Result<std::vector<ForecastPoint>> forecast = Error{""};
    if (kind == ModelKind::kLinear) {
      forecast = ForecastLinear(*linear, FutureTimestamps(series, report.horizon_steps));
      model.parameters =
          Format("slope %.6g per day, R^2 %.3f, residual sd %.4g",
                 linear->slope_per_second * kSecondsPerDay, linear->r_squared, linear->residual_sd);
    } else if (auto fit = FitHoltWinters(series); fit) {
      forecast = ForecastHoltWinters(*fit, report.horizon_steps);
      model.parameters = DescribeHoltWinters(*fit);
    } else {
      forecast = Error{fit.error()};
    }
    auto backtest = forecast ? Backtest(kind, series, report.horizon_steps)
                             : Result<BacktestScore>(Error{forecast.error()});
    if (forecast && backtest) {
      model.available = true;
      model.forecast = std::move(*forecast);
      model.backtest = *backtest;
    } else {
      model.parameters.clear();
      model.unavailable_reason = forecast ? backtest.error() : forecast.error();
    }
    report.models.push_back(std::move(model));
  }

  // Choose on backtest RMSE: it is in the series' unit and punishes the large misses that
  // matter for capacity.
  const ModelResult& linear_model = report.models[0];
  const ModelResult& seasonal_model = report.models[1];
  if (!linear_model.available && !seasonal_model.available) {
    return Error{"no model could be fitted: " + linear_model.unavailable_reason};
  }
  if (!seasonal_model.available) {
    report.chosen = 0;
    report.choice_reason =
        "linear: holt-winters is not applicable (" + seasonal_model.unavailable_reason + ")";
  } else if (!linear_model.available) {
    report.chosen = 1;
    report.choice_reason =
        "holt-winters: linear is not applicable (" + linear_model.unavailable_reason + ")";
  } else if (seasonal_model.backtest.rmse < kSimplerModelMargin * linear_model.backtest.rmse) {
    report.chosen = 1;
    report.choice_reason =
        "holt-winters: lower backtest RMSE (" +
        Format("%.4g vs %.4g", seasonal_model.backtest.rmse, linear_model.backtest.rmse) +
        " for linear)";
  } else {
    report.chosen = 0;
    report.choice_reason =
        linear_model.backtest.rmse <= seasonal_model.backtest.rmse
            ? "linear: lower backtest RMSE (" +
                  Format("%.4g vs %.4g", linear_model.backtest.rmse, seasonal_model.backtest.rmse) +
                  " for holt-winters)"
            : "linear: backtest RMSE within 1 % of holt-winters (" +
                  Format("%.4g vs %.4g", linear_model.backtest.rmse, seasonal_model.backtest.rmse) +
                  "); the simpler model is kept";
  }
  return report;
}

}  // namespace fraudguard::capacity
