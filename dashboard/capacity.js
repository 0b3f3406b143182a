// The Capacity view: the request-rate forecast of GET /api/v1/capacity as an SVG chart (history,
// forecast, its 95 % interval and the capacity of the recommended replicas) and the
// recommendation in words. Uses api(), element(), text(), $() and svgElements() of app.js,
// loaded before it.
// Read only while the view is open; the server computes the forecast at most twice a minute.
'use strict';

const CAPACITY_POLL_MS = 5000;
const capacityState = { loading: false, last: null };

function formatRate(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 1) return value.toFixed(1);
  return value.toPrecision(2);
}

function formatDay(ms) {
  return new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
}

// A chart of the history, the forecast and its band in a 900x260 SVG. The capacity line is drawn
// where it falls inside the chart, else named at its top edge.
function drawCapacityChart(svg, view) {
  const width = 900, height = 260, left = 56, right = 12, top = 12, bottom = 22;
  const { nodes, make } = svgElements();
  const history = view.history || [];
  const forecast = view.forecast || [];
  const points = history.concat(forecast);
  make('line', { class: 'axis', x1: left, y1: height - bottom, x2: width - right, y2: height - bottom });
  if (points.length === 0) {
    make('text', { x: left + 8, y: height / 2 }, 'no request history yet');
    svg.replaceChildren(...nodes);
    return;
  }
  const t0 = points[0].timestamp_ms;
  const t1 = points[points.length - 1].timestamp_ms;
  const r = view.recommendation;
  const capacity = r ? r.replicas * r.replica_requests_per_second : null;
  let highest = Math.max(...history.map((p) => p.value), ...forecast.map((p) => p.upper));
  if (!(highest > 0)) highest = 1;
  // The capacity line is drawn when it is near the traffic; far above, it would flatten it.
  const maxValue = (capacity !== null && capacity <= 3 * highest ? Math.max(highest, capacity) : highest) * 1.12;
  const x = (t) => left + (t1 > t0 ? (t - t0) / (t1 - t0) : 0) * (width - left - right);
  const y = (v) => height - bottom - (Math.max(v, 0) / maxValue) * (height - bottom - top);
  const path = (list, key) => list.map((p, i) => `${i ? 'L' : 'M'}${x(p.timestamp_ms).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');

  if (forecast.length > 0) {
    const band = forecast.map((p) => `${x(p.timestamp_ms).toFixed(1)},${y(p.upper).toFixed(1)}`)
      .concat(forecast.slice().reverse().map((p) => `${x(p.timestamp_ms).toFixed(1)},${y(p.lower).toFixed(1)}`));
    make('polygon', { class: 'band', points: band.join(' '), 'data-testid': 'capacity-band' });
    make('line', { class: 'now', x1: x(forecast[0].timestamp_ms), x2: x(forecast[0].timestamp_ms), y1: top, y2: height - bottom });
  }
  make('path', { class: 'line', d: path(history, 'value'), 'data-testid': 'capacity-history' });
  if (forecast.length > 0) make('path', { class: 'forecast', d: path(forecast, 'value'), 'data-testid': 'capacity-forecast' });

  if (r) {
    const label = `capacity of ${r.replicas} replica${r.replicas === 1 ? '' : 's'}: ${formatRate(capacity)} req/s`;
    if (capacity <= maxValue) {
      const target = capacity * r.target_utilisation;
      make('line', { class: 'capacity', x1: left, x2: width - right, y1: y(capacity), y2: y(capacity), 'data-testid': 'capacity-line' });
      make('text', { class: 'capacity-label', x: left + 4, y: y(capacity) - 4 }, label);
      make('line', { class: 'objective', x1: left, x2: width - right, y1: y(target), y2: y(target) });
      make('text', { class: 'capacity-label', x: width - right - 150, y: y(target) - 4 },
        `${(r.target_utilisation * 100).toFixed(0)} % of it: ${formatRate(target)} req/s`);
    } else {
      make('text', { class: 'capacity-label', x: left + 4, y: top + 10, 'data-testid': 'capacity-line' }, `${label} (above the chart)`);
    }
  }
  make('text', { x: 2, y: top + 8 }, formatRate(maxValue));
  make('text', { x: 2, y: height - bottom }, '0');
  make('text', { x: left, y: height - 6 }, formatDay(t0));
  if (forecast.length > 0) make('text', { x: x(forecast[0].timestamp_ms) + 4, y: height - 6 }, 'forecast →');
  make('text', { x: width - right - 80, y: height - 6 }, formatDay(t1));
  svg.replaceChildren(...nodes);
}

function renderCapacity(view) {
  capacityState.last = view;
  const status = $('capacity-status');
  status.dataset.status = view.status;
  const summary = $('capacity-summary');
  if (view.status === 'insufficient_history') {
    text(status, `Not enough history to forecast: the SLI store holds ${view.history_points} hourly ` +
      `point${view.history_points === 1 ? '' : 's'} of scoring traffic, the forecast needs ${view.min_history_points}.`);
    summary.hidden = true;
  } else {
    const m = view.model;
    text(status, `Forecast of the next ${Math.round(view.horizon_seconds / 86400 * 10) / 10} days from ` +
      `${view.history_points} hours of history: ${m.name} (backtest RMSE ${formatRate(m.backtest.rmse)} req/s, ` +
      `95 % interval coverage ${(m.backtest.coverage * 100).toFixed(0)} %).`);
    summary.hidden = false;
    const r = view.recommendation;
    const replicas = $('capacity-replicas');
    if (r) {
      text(replicas, String(r.replicas));
      replicas.dataset.value = String(r.replicas);
      text($('capacity-peak'), `${formatRate(r.forecast_peak_upper)} req/s`);
      text($('capacity-utilisation'), `${(r.peak_utilisation * 100).toFixed(0)} % (target ${(r.target_utilisation * 100).toFixed(0)} %)`);
      const rps = $('capacity-replica-rps');
      text(rps, `${formatRate(r.replica_requests_per_second)} req/s`);
      rps.dataset.value = String(r.replica_requests_per_second);
      const target = `${(r.target_utilisation * 100).toFixed(0)} %`;
      const today = `the capacity of today's ${r.current_replicas} replica${r.current_replicas === 1 ? '' : 's'}`;
      text($('capacity-recommendation'), (r.action_required
        ? `Scale to ${r.replicas} replicas: the upper end of the 95 % interval passes ${target} of ${today} ` +
          `on ${formatTime(r.first_breach_time_ms)}.`
        : `${r.replicas} replica${r.replicas === 1 ? ' suffices' : 's suffice'}: the upper end of the 95 % interval stays ` +
          `under ${target} of ${today}.`) +
        ` Its peak: ${formatRate(r.forecast_peak_upper)} req/s on ${formatTime(r.forecast_peak_time_ms)}.`);
      text($('capacity-source'), `Per-replica capacity from ${r.replica_capacity_source}.`);
    } else {
      text(replicas, '–');
      delete replicas.dataset.value;
      for (const id of ['capacity-peak', 'capacity-utilisation', 'capacity-replica-rps']) text($(id), '–');
      text($('capacity-recommendation'), `No recommendation: ${view.recommendation_unavailable}`);
      text($('capacity-source'), '');
    }
  }
  text($('capacity-generated'), `computed ${formatTime(view.generated_at_ms)} (kept ${view.cache_seconds} s)`);
  drawCapacityChart($('chart-capacity'), view);
}

async function refreshCapacity() {
  if ($('view-capacity').hidden || capacityState.loading) return;
  capacityState.loading = true;
  try {
    renderCapacity(await api(`/api/v1/capacity?horizon=${$('capacity-horizon').value}`));
    $('capacity-error').hidden = true;
  } catch (error) {
    const box = $('capacity-error');
    box.hidden = false;
    text(box, `Capacity forecast failed: ${error.message}`);
  } finally {
    capacityState.loading = false;
  }
}

$('capacity-horizon').addEventListener('change', refreshCapacity);
document.querySelector('nav button[data-view=capacity]').addEventListener('click', refreshCapacity);
setInterval(refreshCapacity, CAPACITY_POLL_MS);
