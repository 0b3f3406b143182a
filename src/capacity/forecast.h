// Forecasting models for capacity planning, their backtests and the choice between them.
//
// Two models are fitted to every series:
// - linear: ordinary least squares on time, with 95 % prediction intervals from the
//   t-distribution (a new observation's interval, not the narrower one of the mean);
// - holt-winters: additive Holt-Winters with a daily and a weekly season where the series is
//   long enough to hold two of each, intervals from the one-step residuals.
// Each is backtested on the most recent part of the series and the one with the lowest RMSE
// is chosen; the report shows both scores and why.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "capacity/time_series.h"
#include "core/result.h"

namespace fraudguard::capacity {

inline constexpr double kIntervalCoverage = 0.95;

struct ForecastPoint {
  double timestamp = 0;  // Unix seconds
  double value = 0;      // point forecast
  double lower = 0;      // 95 % prediction interval
  double upper = 0;
};

struct LinearFit {
  double intercept = 0;         // value at x_mean
  double slope_per_second = 0;  // trend
  double x_mean = 0;            // mean timestamp; the fit is centred on it
  double sxx = 0;               // sum of squared deviations of the timestamps
  double residual_sd = 0;       // s = sqrt(SSE / (n - 2))
  double r_squared = 0;
  size_t n = 0;
};

Result<LinearFit> FitLinear(const TimeSeries& series);
std::vector<ForecastPoint> ForecastLinear(const LinearFit& fit,
                                          const std::vector<double>& timestamps);

struct HoltWintersFit {
  // Smoothing weights of the error-correction form: level, trend and the two seasons.
  double alpha = 0;
  double beta = 0;
  double gamma_daily = 0;
  double gamma_weekly = 0;
  size_t daily_period = 0;   // points per day; 0 when the daily season is not modelled
  size_t weekly_period = 0;  // points per week; 0 when the weekly season is not modelled
  // State after the last observation. daily[i] is the daily effect of the point i steps
  // after the last one, modulo the period (so daily[1] belongs to the next point); the same for
  // weekly.
  double level = 0;
  double trend = 0;  // per step
  std::vector<double> daily;
  std::vector<double> weekly;
  double residual_sd = 0;  // of the one-step forecast errors, corrected for fitted parameters
  double leverage = 0;     // parameters / points: the share of error from estimating the state
  double dof = 0;          // degrees of freedom of residual_sd
  double last_timestamp = 0;
  double step_seconds = 0;
  size_t n = 0;
};

// Needs a regular series (no gaps). Weights are chosen by a grid search on one-step errors.
Result<HoltWintersFit> FitHoltWinters(const TimeSeries& series);
std::vector<ForecastPoint> ForecastHoltWinters(const HoltWintersFit& fit, size_t steps);

enum class ModelKind { kLinear, kHoltWinters };
const char* ModelName(ModelKind kind);

// Fits `kind` to `history` and forecasts `steps` points at the series' step.
Result<std::vector<ForecastPoint>> FitAndForecast(ModelKind kind,
                                                  const TimeSeries& history,
                                                  size_t steps);

struct BacktestScore {
  double mape = 0;      // mean absolute percentage error, in percent (actuals of 0 skipped)
  double rmse = 0;      // root mean squared error, in the series' unit
  double coverage = 0;  // share of actuals inside the 95 % interval
  size_t points = 0;    // held-out points scored
  size_t folds = 0;     // forecast origins
  size_t horizon_steps = 0;
};

// Rolling-origin backtest: up to `max_folds` origins, each fitting on everything before it and
// forecasting the next `horizon_steps` points (shortened so each fit keeps half the series).
Result<BacktestScore> Backtest(ModelKind kind,
                               const TimeSeries& series,
                               size_t horizon_steps,
                               size_t max_folds = 3);

struct ModelResult {
  ModelKind kind = ModelKind::kLinear;
  bool available = false;
  std::string unavailable_reason;
  std::string parameters;  // a short human summary of the fitted model
  BacktestScore backtest;
  std::vector<ForecastPoint> forecast;
};

struct ForecastReport {
  double step_seconds = 0;
  size_t horizon_steps = 0;
  std::vector<ModelResult> models;  // linear first, then holt-winters
  size_t chosen = 0;                // index into models
  std::string choice_reason;
  LinearFit linear;  // the full-series linear fit, for its slope and R^2

  const ModelResult& Chosen() const { return models[chosen]; }
};

// Fits both models, backtests them, picks one and forecasts `horizon_seconds` past the last
// point. Refuses series shorter than kMinForecastPoints.
Result<ForecastReport> ForecastSeries(const TimeSeries& series, double horizon_seconds);

}  // namespace fraudguard::capacity
