#include "capacity/capacity_view.h"

#include <cmath>

#include "capacity/forecast.h"
#include "capacity/sli_history.h"
#include "core/json_writer.h"

namespace fraudguard::capacity {
namespace {

int64_t Millis(double unix_seconds) {
  return static_cast<int64_t>(std::llround(unix_seconds * 1000));
}

// The part every answer shares: what was forecast, from which routes, and how fresh it is.
void WriteHeader(const TimeSeries& history,
                 const CapacityViewSettings& settings,
                 int64_t now_ms,
                 JsonWriter& json) {
  json.Field("generated_at_ms", now_ms);
  json.Field("cache_seconds", static_cast<double>(settings.cache_millis) / 1000);
  json.Field("resource", ResourceName(Resource::kRequests));
  json.Field("unit", ResourceUnit(Resource::kRequests));
  json.Key("routes").BeginArray();
  for (const std::string& route : settings.routes) {
    json.String(route);
  }
  json.EndArray();
  json.Field("step_seconds", kViewStepSeconds);
  json.Field("history_points", history.size());
  json.Field("min_history_points", kMinForecastPoints);
  json.Key("history").BeginArray();
  for (size_t i = 0; i < history.size(); ++i) {
    json.BeginObject()
        .Field("timestamp_ms", Millis(history.timestamps[i]))
        .Field("value", history.values[i])
        .EndObject();
  }
  json.EndArray();
}

void WriteBacktest(const BacktestScore& score, JsonWriter& json) {
  json.Key("backtest")
      .BeginObject()
      .Field("rmse", score.rmse)
      .Field("mape_percent", score.mape)
      .Field("coverage", score.coverage)
      .Field("points", score.points)
      .Field("folds", score.folds)
      .Field("horizon_steps", score.horizon_steps)
      .EndObject();
}

void WriteRecommendation(const Recommendation& r, JsonWriter& json) {
  const double recommended_capacity = r.recommended_replicas * r.replica.requests_per_second;
  json.Key("recommendation")
      .BeginObject()
      .Field("replicas", r.recommended_replicas)
      .Field("current_replicas", r.current_replicas)
      .Field("replica_requests_per_second", r.replica.requests_per_second)
      .Field("replica_capacity_source", r.replica.source)
      .Field("target_utilisation", r.target_utilisation)
      // The busiest the recommended replicas get at the upper end of the interval.
      .Field("peak_utilisation", r.forecast_peak_upper / recommended_capacity)
      .Field("current_peak_utilisation", r.forecast_peak_upper / r.current_capacity)
      .Field("current_capacity", r.current_capacity)
      .Field("recommended_capacity", r.recommended_capacity)
      .Field("forecast_peak_upper", r.forecast_peak_upper)
      .Field("forecast_peak_time_ms", Millis(r.forecast_peak_time))
      .Field("action_required", r.action_required);
  if (r.first_breach_time > 0) {
    json.Field("first_breach_time_ms", Millis(r.first_breach_time));
  } else {
    json.Key("first_breach_time_ms").Null();
  }
  json.EndObject();
}

}  // namespace

Status AppendCapacityViewJson(const TimeSeries& history,
                              double horizon_seconds,
                              const CapacityViewSettings& settings,
                              int64_t now_ms,
                              std::string& out) {
  std::string body;
  JsonWriter json(body);
  json.BeginObject();
  if (history.size() < kMinForecastPoints) {
    json.Field("status", "insufficient_history");
    WriteHeader(history, settings, now_ms, json);
    json.Field("message", "the forecast needs " + std::to_string(kMinForecastPoints) +
                              " hourly points of request history; the SLI store holds " +
                              std::to_string(history.size()));
    json.Key("forecast").BeginArray().EndArray();
    json.Key("recommendation").Null();
    json.EndObject();
    out += body;
    return OkStatus();
  }

  auto report = ForecastSeries(history, horizon_seconds);
  if (!report) {
    return Error{"forecast: " + report.error()};
  }
  const ModelResult& chosen = report->Chosen();
  json.Field("status", "ok");
  WriteHeader(history, settings, now_ms, json);
  json.Field("horizon_seconds", horizon_seconds);
  json.Field("horizon_steps", report->horizon_steps);
  json.Field("interval", kIntervalCoverage);
  json.Key("forecast").BeginArray();
  for (const ForecastPoint& point : chosen.forecast) {
    json.BeginObject()
        .Field("timestamp_ms", Millis(point.timestamp))
        .Field("value", point.value)
        .Field("lower", point.lower)
        .Field("upper", point.upper)
        .EndObject();
  }
  json.EndArray();
  json.Key("model").BeginObject();
  json.Field("name", ModelName(chosen.kind));
  json.Field("parameters", chosen.parameters);
  json.Field("choice_reason", report->choice_reason);
  WriteBacktest(chosen.backtest, json);
  json.EndObject();
  json.Key("models").BeginArray();
  for (const ModelResult& model : report->models) {
    json.BeginObject().Field("name", ModelName(model.kind)).Field("available", model.available);
    if (model.available) {
      WriteBacktest(model.backtest, json);
    } else {
      json.Field("reason", model.unavailable_reason);
    }
    json.EndObject();
  }
  json.EndArray();

  if (settings.replica.requests_per_second > 0) {
    RecommendationInput input;
    input.resource = Resource::kRequests;
    input.current_replicas = settings.current_replicas;
    input.replica = settings.replica;
    input.target_utilisation = settings.target_utilisation;
    auto recommendation = Recommend(chosen.forecast, input);
    if (!recommendation) {
      return Error{"recommendation: " + recommendation.error()};
    }
    WriteRecommendation(*recommendation, json);
  } else {
    json.Key("recommendation").Null();
    json.Field("recommendation_unavailable", settings.replica_unknown_reason);
  }
  json.EndObject();
  out += body;
  return OkStatus();
}

CapacityView::CapacityView(const SliRecorder& store,
                           CapacityViewSettings settings,
                           const Clock& clock)
    : store_(store), settings_(std::move(settings)), clock_(clock) {}

Result<CapacityAnswer> CapacityView::Answer(double horizon_seconds) {
  const auto hours = static_cast<int64_t>(std::llround(horizon_seconds / kViewStepSeconds));
  if (hours < 1 || static_cast<double>(hours) * kViewStepSeconds != horizon_seconds ||
      horizon_seconds > kMaxViewHorizonSeconds) {
    return Error{"the horizon must be whole hours from 1 h to 30 d"};
  }
  const std::lock_guard lock(mutex_);
  const int64_t now_ms = clock_.NowMillis();
  if (const auto it = cache_.find(hours);
      it != cache_.end() && now_ms - it->second.computed_ms < settings_.cache_millis &&
      now_ms >= it->second.computed_ms) {
    return CapacityAnswer{it->second.body, false};
  }

  SliHistoryRequest request;
  request.routes = settings_.routes;
  request.step_seconds = kViewStepSeconds;
  // Whole hours only: the hour in progress would look like a drop in traffic.
  request.end =
      std::floor(static_cast<double>(now_ms) / 1000 / kViewStepSeconds) * kViewStepSeconds;
  request.start = request.end - kViewHistorySeconds;
  auto history = ReadSliRequestRate(store_, request);
  if (!history) {
    return Error{"reading the SLI store: " + history.error()};
  }
  auto body = std::make_shared<std::string>();
  if (Status written = AppendCapacityViewJson(*history, horizon_seconds, settings_, now_ms, *body);
      !written) {
    return Error{written.error()};
  }

  // Drop what has expired, then the oldest, to stay within the bound.
  std::erase_if(cache_, [&](const auto& item) {
    return now_ms - item.second.computed_ms >= settings_.cache_millis;
  });
  while (cache_.size() >= kMaxCachedHorizons) {
    auto oldest = cache_.begin();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->second.computed_ms < oldest->second.computed_ms) {
        oldest = it;
      }
    }
    cache_.erase(oldest);
  }
  cache_[hours] = Cached{now_ms, body};
  return CapacityAnswer{std::move(body), true};
}

}  // namespace fraudguard::capacity
