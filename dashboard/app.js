// FraudGuard operations dashboard: reads the same JSON and Prometheus endpoints a script would,
// every POLL_MS, and shows how old the data is. No library, no request off this server.
'use strict';

const POLL_MS = 5000;
const STALE_MS = 30000;          // the dashboard objective: data never older than 30 s
const HISTORY_MS = 3600 * 1000;  // the last hour of polls, kept in this tab only
// The day and week charts move by a step of 15 min or 1 h: read them again every third poll,
// which keeps them well inside the 30 s freshness objective and spares the server.
const STORED_REFRESH_MS = 15000;
const LATENCY_OBJECTIVE_S = { p95: 0.05, p99: 0.1 };
const SCORING_ROUTES = ['/api/v1/fraud/analyze', '/api/v1/fraud/analyze/batch'];
const RISK_LEVELS = ['low', 'medium', 'high'];
const ACTIONS = ['approve', 'review', 'decline'];
const KEY_STORAGE = 'fraudguard.apiKey';
// The chart ranges: the last hour from this tab's polls, a day and a week from the server's
// stored per-minute counts (GET /api/v1/history).
const RANGES = {
  '1h': { title: 'Last hour', spanMs: HISTORY_MS, left: '-60 min' },
  '24h': { title: 'Last 24 hours', spanMs: 24 * 3600 * 1000, left: '-24 h' },
  '7d': { title: 'Last 7 days', spanMs: 7 * 24 * 3600 * 1000, left: '-7 days' },
};

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || '',
  lastSuccessMs: 0,
  history: [],           // {t, transactions, errors, requests, buckets} per poll
  incidents: [],
  selectedIncident: null,
  needsKey: false,
  lastPollMs: 0,
  pollMs: [],            // duration of each poll, for the page's own query-time figure
  range: '1h',           // the traffic charts' range, a key of RANGES
  storedLoadedMs: 0,     // when /api/v1/history was last asked for the chosen day or week
};
// For tests and the curious: the durations of the last hour's polls, in ms.
window.dashboardPollDurations = () => state.pollMs.slice();

const $ = (id) => document.getElementById(id);

function text(el, value) { el.textContent = value; }

function element(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'class') el.className = value; else el.setAttribute(name, value);
  }
  for (const child of children) {
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// ---- fetching -------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, body) {
    super(`${status} ${body && body.error ? body.error + ': ' + body.message : ''}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.key) headers['X-API-Key'] = state.key;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method: options.method || 'GET', headers, body: options.body, cache: 'no-store',
  });
  const type = response.headers.get('Content-Type') || '';
  const body = type.startsWith('application/json') ? await response.json() : await response.text();
  if (response.status === 401) {
    state.needsKey = true;
    showKeyForm(body && body.message);
  }
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}

// ---- Prometheus text format -----------------------------------------------------------------

// Returns {name: [{labels, value}]} for every sample of the exposition text.
function parseMetrics(textBody) {
  const samples = {};
  for (const line of textBody.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let label;
    while ((label = labelPattern.exec(match[3] || '')) !== null) {
      labels[label[1]] = label[2].replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    }
    (samples[match[1]] = samples[match[1]] || []).push({ labels, value: Number(match[4]) });
  }
  return samples;
}

function sum(samples, filter) {
  return (samples || []).filter((s) => !filter || filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

// Cumulative bucket counts of the scoring routes' latency histogram, by upper bound.
function scoringBuckets(metrics) {
  const buckets = new Map();
  for (const s of metrics.http_request_duration_seconds_bucket || []) {
    if (!SCORING_ROUTES.includes(s.labels.route)) continue;
    const bound = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(bound, (buckets.get(bound) || 0) + s.value);
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]);
}

// Prometheus-style quantile over cumulative buckets: linear inside the bucket that holds it.
function quantile(q, buckets) {
  if (buckets.length === 0) return null;
  const total = buckets[buckets.length - 1][1];
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket <= 0 ? bound : lowerBound + (bound - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

function bucketDelta(now, before) {
  const old = new Map(before);
  return now.map(([bound, count]) => [bound, count - (old.get(bound) || 0)]);
}

// ---- formatting -----------------------------------------------------------------------------

function formatMs(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
}

function formatPercent(ratio, digits = 2) {
  return ratio === null || ratio === undefined || Number.isNaN(ratio) ? '–' : `${(ratio * 100).toFixed(digits)} %`;
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return 'not exhausting';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function formatTime(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–';
}

// ---- panels ---------------------------------------------------------------------------------

function renderTraffic(metrics) {
  const now = Date.now();
  const requests = metrics.http_requests_total || [];
  const point = {
    t: now,
    transactions: sum(metrics.transaction_volume_total),
    requests: sum(requests),
    errors: sum(requests, (l) => l.status && l.status.startsWith('5')),
    buckets: scoringBuckets(metrics),
  };
  const previous = state.history[state.history.length - 1];
  state.history.push(point);
  while (state.history.length > 0 && state.history[0].t < now - HISTORY_MS) state.history.shift();

  // Rates and percentiles over the last minute of polls (all since start until a minute passed).
  const windowStart = state.history.find((p) => p.t >= now - 60000 - POLL_MS) || point;
  const seconds = (point.t - windowStart.t) / 1000;
  const tps = seconds > 0 ? (point.transactions - windowStart.transactions) / seconds : null;
  point.tps = previous ? (point.transactions - previous.transactions) / ((point.t - previous.t) / 1000) : null;
  const windowBuckets = windowStart === point ? point.buckets : bucketDelta(point.buckets, windowStart.buckets);
  const p50 = quantile(0.5, windowBuckets);
  const p95 = quantile(0.95, windowBuckets);
  const p99 = quantile(0.99, windowBuckets);
  point.p95 = p95;
  const windowRequests = windowStart === point ? point.requests : point.requests - windowStart.requests;
  const windowErrors = windowStart === point ? point.errors : point.errors - windowStart.errors;

  text($('tps'), tps === null ? '–' : tps.toFixed(1));
  text($('transactions-total'), String(point.transactions));
  text($('latency-p50'), formatMs(p50));
  text($('latency-p95'), formatMs(p95));
  text($('latency-p99'), formatMs(p99));
  $('latency-p95').classList.toggle('over', p95 !== null && p95 > LATENCY_OBJECTIVE_S.p95);
  $('latency-p99').classList.toggle('over', p99 !== null && p99 > LATENCY_OBJECTIVE_S.p99);
  text($('error-rate'), windowRequests > 0 ? formatPercent(windowErrors / windowRequests) : '–');
  text($('latency-window'), windowStart === point
    ? 'Percentiles of the scoring routes since the server started (a minute of polls not yet seen).'
    : `Rates and percentiles of the scoring routes over the last ${Math.round(seconds)} s.`);

  const decisions = metrics.fraudguard_decisions_total || [];
  fillRows($('decisions').querySelector('tbody'), RISK_LEVELS.map((level) => {
    const cells = ACTIONS.map((action) => {
      const count = sum(decisions, (l) => l.risk_level === level && l.action === action);
      return element('td', { class: 'num', 'data-risk-level': level, 'data-action': action }, count);
    });
    const total = sum(decisions, (l) => l.risk_level === level);
    return element('tr', {}, element('td', {}, level), ...cells, element('td', { class: 'num' }, total));
  }));

  if (state.range === '1h') drawLiveCharts();
}

// Quiet hours have rates well under 1/s: keep two significant digits there.
const rateLabel = (v) => (v >= 10 ? v.toFixed(0) : v.toPrecision(2));

function drawLiveCharts() {
  const span = { end: Date.now(), spanMs: HISTORY_MS, left: RANGES['1h'].left, empty: 'waiting for two polls' };
  drawChart($('chart-tps'), state.history.map((p) => [p.t, p.tps]), null, rateLabel, span);
  drawChart($('chart-latency'), state.history.map((p) => [p.t, p.p95 === null || p.p95 === undefined ? null : p.p95 * 1000]),
    LATENCY_OBJECTIVE_S.p95 * 1000, (v) => v.toFixed(1), span);
}

// The day and week charts: one point per step of the server's answer (requests per second of
// the scoring routes, and their p95 from the stored latency buckets).
function drawStoredCharts(history) {
  const spec = RANGES[history.range];
  const span = { end: history.generated_at_ms, spanMs: spec.spanMs, left: spec.left, empty: 'no stored traffic' };
  const points = history.points;
  drawChart($('chart-tps'), points.map((p) => [p.start_ms, p.requests_per_second]), null, rateLabel, span);
  drawChart($('chart-latency'), points.map((p) => [p.start_ms, p.latency_p95_seconds === null ? null : p.latency_p95_seconds * 1000]),
    LATENCY_OBJECTIVE_S.p95 * 1000, (v) => v.toFixed(1), span);
  const total = history.total;
  const step = history.step_seconds >= 3600 ? `${history.step_seconds / 3600} h` : `${history.step_seconds / 60} min`;
  text($('history-summary'), `${Math.round(total.requests)} requests · error ratio ${formatPercent(total.error_ratio)} · ` +
    `p95 ${formatMs(total.latency_p95_seconds)} · one point per ${step}`);
}

async function loadStoredHistory(force = false) {
  const range = state.range;
  if (range === '1h' || (!force && Date.now() - state.storedLoadedMs < STORED_REFRESH_MS)) return;
  state.storedLoadedMs = Date.now();
  const history = await api(`/api/v1/history?range=${range}&routes=scoring`);
  if (state.range !== range) return;  // switched again while it loaded
  drawStoredCharts(history);
}

function selectRange(range) {
  state.range = range;
  for (const button of document.querySelectorAll('.ranges button')) {
    button.classList.toggle('active', button.dataset.range === range);
  }
  text($('chart-title'), RANGES[range].title);
  text($('chart-source'), range === '1h' ? '(kept in this browser tab since it was opened)'
    : '(from the server\'s stored per-minute counts)');
  text($('chart-tps-caption'), range === '1h' ? 'Transactions/s' : 'Scoring requests/s');
  text($('history-summary'), range === '1h' ? '' : 'loading…');
  if (range === '1h') drawLiveCharts(); else loadStoredHistory(true).catch(showError);
}

// The elements of one SVG chart: `make(tag, attrs, text)` creates one and keeps it in `nodes`,
// which the chart then puts in its <svg> at once.
function svgElements() {
  const nodes = [];
  const make = (tag, attrs, content) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (content !== undefined) node.textContent = content;
    nodes.push(node);
    return node;
  };
  return { nodes, make };
}

// A line chart of [time, value] points (null values leave a gap) in a 600x160 SVG, over the
// `span` {end, spanMs, left, empty} of time.
function drawChart(svg, points, objective, label, span) {
  const width = 600, height = 160, left = 44, bottom = 18, top = 8;
  const values = points.filter((p) => p[1] !== null && Number.isFinite(p[1]));
  const { nodes, make } = svgElements();
  make('line', { class: 'axis', x1: left, y1: height - bottom, x2: width, y2: height - bottom });
  if (values.length === 0) {
    make('text', { x: left + 8, y: height / 2 }, span.empty);
    svg.replaceChildren(...nodes);
    return;
  }
  const t0 = span.end - span.spanMs;
  const maxValue = Math.max(objective || 0, ...values.map((p) => p[1])) * 1.1 || 1;
  const x = (t) => left + ((t - t0) / span.spanMs) * (width - left);
  const y = (v) => height - bottom - (v / maxValue) * (height - bottom - top);
  if (objective) make('line', { class: 'objective', x1: left, x2: width, y1: y(objective), y2: y(objective) });
  let path = '';
  let pen = 'M';
  const present = (i) => i >= 0 && i < points.length && points[i][1] !== null && Number.isFinite(points[i][1]);
  points.forEach(([t, v], i) => {
    if (!present(i)) { pen = 'M'; return; }
    path += `${pen}${x(t).toFixed(1)},${y(v).toFixed(1)} `;
    pen = 'L';
    // A point with no neighbour draws no line: mark it.
    if (!present(i - 1) && !present(i + 1)) make('circle', { class: 'dot', cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5 });
  });
  make('path', { class: 'line', d: path });
  make('text', { x: 2, y: top + 8 }, label(maxValue));
  make('text', { x: 2, y: height - bottom }, '0');
  make('text', { x: left, y: height - 4 }, span.left);
  make('text', { x: width - 30, y: height - 4 }, 'now');
  svg.replaceChildren(...nodes);
}

function renderHealth(health) {
  const badge = $('service-status');
  text(badge, health.status);
  badge.className = `badge ${health.status === 'ok' ? 'ok' : 'degraded'}`;
  text($('versions'), `v${health.version} · model ${health.model_version} · up ${formatDuration(health.uptime_seconds)}`);
}

function renderDetection(metrics, rollout) {
  if (rollout) {
    text($('active-model'), rollout.active_model || '–');
    text($('candidate-model'), rollout.candidate_model || 'none');
    text($('rollout-phase'), rollout.phase + (rollout.phase === 'canary' ? ` (${rollout.canary_percent} %)` : ''));
  }
  // The active model's drift: a replaced model keeps its series, marked unknown (NaN), and a
  // new one reads NaN until its window holds enough scored transactions.
  const activeModel = rollout ? rollout.active_model : null;
  const ofActive = (series) => (series || []).filter((s) => !activeModel || s.labels.model_name === activeModel);
  const drift = ofActive(metrics.model_drift_score)[0];
  const observed = ofActive(metrics.fraudguard_drift_observations)[0];
  const driftTile = $('drift-score');
  const driftKnown = drift !== undefined && Number.isFinite(drift.value);
  text(driftTile, drift === undefined ? '–'
    : driftKnown ? drift.value.toFixed(3)
      : `too few scored yet (${observed ? observed.value : 0} in the window)`);
  driftTile.classList.toggle('small', drift !== undefined && !driftKnown);
  const rows = [];
  const windowLabels = sum(metrics.fraudguard_accuracy_window_labels);
  for (const [name, title] of [['fraud_model_accuracy', 'accuracy'], ['fraud_detection_rate', 'detection rate'],
    ['false_positive_rate', 'false positive rate']]) {
    for (const s of metrics[name] || []) {
      rows.push(element('tr', {}, element('td', {}, title), element('td', { class: 'num' }, windowLabels),
        element('td', { class: 'num' }, windowLabels > 0 ? formatPercent(s.value) : 'no labels yet')));
    }
  }
  fillRows($('accuracy').querySelector('tbody'), rows);
  fillRows($('feature-drift').querySelector('tbody'), ofActive(metrics.fraudguard_feature_drift_psi).map((s) =>
    element('tr', {}, element('td', {}, s.labels.feature || s.labels.distribution || JSON.stringify(s.labels)),
      element('td', { class: 'num' }, Number.isFinite(s.value) ? s.value.toFixed(3) : '–'))));
}

function renderSlo(slo) {
  const deploys = $('deploys');
  text(deploys, slo.deployments_allowed ? 'allowed' : 'HALTED');
  deploys.className = `value small ${slo.deployments_allowed ? '' : 'over'}`;
  fillRows($('slos').querySelector('tbody'), slo.slos.map((s) => element('tr', { 'data-slo': s.name },
    element('td', {}, s.name),
    element('td', {}, `${(s.target * 100).toFixed(2)} % over ${s.window}`),
    element('td', {}, element('span', { class: `status ${s.status}` }, s.status)),
    element('td', { class: 'num' }, `${s.utilisation_percent.toFixed(1)} %`),
    element('td', {}, Object.entries(s.burn_rates).map(([w, r]) => `${w}: ${r.toFixed(2)}`).join(', ')),
    element('td', {}, formatDuration(s.time_to_exhaustion_seconds) + (s.halt_deployments ? ' · halts deploys' : '')))));
}

function renderAlerts(alerts) {
  fillRows($('alerts').querySelector('tbody'), alerts.alerts.map((a) => element('tr', {},
    element('td', {}, a.name + (a.labels && a.labels.slo ? ` (${a.labels.slo})` : '')),
    element('td', {}, element('span', { class: `status ${a.state === 'firing' ? 'CRITICAL' : a.state === 'pending' ? 'WARNING' : 'HEALTHY'}` }, a.state)),
    element('td', { class: 'num' }, a.value === null ? '–' : Number(a.value).toPrecision(3)),
    element('td', {}, (a.labels && a.labels.severity) || ''))));
}

function renderIncidents(list) {
  state.incidents = list.incidents;
  const open = list.incidents.filter((i) => i.state !== 'RESOLVED').length;
  text($('open-count'), open ? `(${open} open)` : '');
  fillRows($('incidents').querySelector('tbody'), list.incidents.map((i) => {
    const row = element('tr', { class: 'selectable', 'data-incident-id': i.id },
      element('td', {}, i.id),
      element('td', {}, i.severity),
      element('td', {}, element('span', { class: `status ${i.state === 'RESOLVED' ? 'HEALTHY' : 'CRITICAL'}` }, i.state)),
      element('td', {}, i.title),
      element('td', {}, i.service),
      element('td', {}, formatTime(i.opened_ms)),
      element('td', {}, i.acknowledged_ms ? `${i.acknowledged_by} at ${formatTime(i.acknowledged_ms)}` : (i.ack_missed ? 'missed' : 'no')));
    if (i.id === state.selectedIncident) row.classList.add('selected');
    row.addEventListener('click', () => selectIncident(i.id));
    return row;
  }));
  if (state.selectedIncident !== null) loadIncident(state.selectedIncident).catch(showError);
}

async function selectIncident(id) {
  state.selectedIncident = id;
  for (const row of $('incidents').querySelectorAll('tr[data-incident-id]')) {
    row.classList.toggle('selected', Number(row.dataset.incidentId) === id);
  }
  text($('action-message'), '');
  await loadIncident(id).catch(showError);
}

async function loadIncident(id) {
  const detail = await api(`/api/v1/incidents/${id}`);
  const incident = detail.incident;
  $('incident-detail').hidden = false;
  $('incident-detail').dataset.incidentId = incident.id;
  text($('incident-title'), `#${incident.id} ${incident.title}`);
  text($('incident-summary'), `${incident.severity} · ${incident.state} · ${incident.service} · ` +
    (incident.acknowledged_ms ? `acknowledged by ${incident.acknowledged_by}` : 'not acknowledged'));
  $('acknowledge-button').disabled = incident.acknowledged_ms > 0 || incident.state === 'RESOLVED';
  $('resolve-button').disabled = incident.state === 'RESOLVED';
  fillRows($('incident-timeline'), incident.timeline.map((entry) =>
    element('li', {}, `${formatTime(entry.at_ms)} ${entry.kind} by ${entry.actor}: ${entry.text}`)));
  const playbook = $('incident-playbook');
  if (!detail.playbook) {
    playbook.replaceChildren(element('p', { class: 'muted' }, 'No playbook for this incident.'));
  } else {
    const book = detail.playbook;
    const parts = [element('p', {}, `${book.title} (${book.name}, ${book.severity})`)];
    for (const [key, title] of [['immediate_actions', 'Immediate actions'], ['investigation_steps', 'Investigation'],
      ['escalation_criteria', 'Escalate when'], ['recovery_procedures', 'Recovery']]) {
      if (!book[key] || book[key].length === 0) continue;
      parts.push(element('h4', {}, title), element('ol', {}, ...book[key].map((step) => element('li', {}, step))));
    }
    playbook.replaceChildren(...parts);
  }
}

async function incidentAction(action, body) {
  const id = state.selectedIncident;
  if (id === null) return;
  try {
    await api(`/api/v1/incidents/${id}/${action}`, { method: 'POST', body: JSON.stringify(body) });
    text($('action-message'), action === 'acknowledge' ? 'acknowledged' : 'resolved');
    await poll();
  } catch (error) {
    text($('action-message'), error.status === 403 ? 'this key lacks the admin role' : error.message);
  }
}

// ---- refresh loop ---------------------------------------------------------------------------

function showError(error) {
  const box = $('errors');
  box.hidden = false;
  text(box, `Last poll failed: ${error.message}`);
}

function showKeyForm(message) {
  $('key-form').hidden = false;
  text($('key-message'), message || '');
}

// ---- at a glance ----------------------------------------------------------------------------
// The strip under the header answers the on-call engineer's first three questions: is the
// service healthy, what is burning, and what to do first (the playbook's first immediate
// action for the most severe open incident). Red: an SLO critical or exhausted, an alert
// firing or an incident open; amber: an SLO in warning or an alert pending; green otherwise.
async function renderVerdict(slo, alerts, incidents) {
  let level = 'ok';
  const raise = (to) => { if (to === 'crit' || (to === 'warn' && level === 'ok')) level = to; };
  const problems = [];
  const open = incidents.incidents.filter((i) => i.state !== 'RESOLVED')
    .sort((a, b) => a.severity.localeCompare(b.severity) || a.opened_ms - b.opened_ms);
  for (const i of open) {
    raise('crit');
    problems.push(`Incident #${i.id} ${i.severity} ${i.state}: ${i.title}`);
  }
  for (const s of slo.slos) {
    if (s.status === 'HEALTHY') continue;
    raise(s.status === 'WARNING' ? 'warn' : 'crit');
    problems.push(`SLO ${s.name} ${s.status}: ${s.utilisation_percent.toFixed(0)} % of the budget used` +
      (s.time_to_exhaustion_seconds > 0 ? `, exhausted in ${formatDuration(s.time_to_exhaustion_seconds)}` : ''));
  }
  for (const a of alerts.alerts) {
    if (a.state !== 'firing' && a.state !== 'pending') continue;
    raise(a.state === 'firing' ? 'crit' : 'warn');
    problems.push(`Alert ${a.name}${a.labels && a.labels.slo ? ` (${a.labels.slo})` : ''} ${a.state}`);
  }
  if (!slo.deployments_allowed) problems.push('Deployments are halted by the error budget policy');
  let action = '';
  if (open.length > 0) {
    const detail = await api(`/api/v1/incidents/${open[0].id}`);
    const steps = detail.playbook ? detail.playbook.immediate_actions || [] : [];
    action = steps.length > 0 ? `First step (${detail.playbook.title}): ${steps[0]}`
      : `Open incident #${open[0].id} in the Incidents tab: it has no playbook.`;
  }
  const verdict = $('verdict');
  verdict.dataset.level = level;
  text($('verdict-headline'), level === 'ok' ? 'Healthy: every SLO within budget, no alert firing, no open incident.'
    : level === 'warn' ? 'Attention: something is moving towards its limit.' : 'Action needed.');
  fillRows($('verdict-problems'), problems.map((p) => element('li', {}, p)));
  $('verdict-action').hidden = action === '';
  text($('verdict-action'), action);
}

async function poll() {
  const pollStarted = Date.now();
  const results = await Promise.allSettled([
    fetch('/metrics', { cache: 'no-store' }).then((r) => r.text()),
    api('/api/v1/health'),
    api('/api/v1/rollout'),
    api('/api/v1/slo'),
    api('/api/v1/alerts'),
    api('/api/v1/incidents?state=all&limit=50'),
    loadStoredHistory(),
  ]);
  const [metrics, health, rollout, slo, alerts, incidents] = results;  // the last one draws itself
  const failures = results.filter((r) => r.status === 'rejected' && r.reason.status !== 503)
    .map((r) => r.reason.message);
  if (metrics.status === 'fulfilled') {
    const parsed = parseMetrics(metrics.value);
    renderTraffic(parsed);
    renderDetection(parsed, rollout.status === 'fulfilled' ? rollout.value : null);
  }
  if (health.status === 'fulfilled') renderHealth(health.value);
  if (slo.status === 'fulfilled') renderSlo(slo.value);
  if (alerts.status === 'fulfilled') renderAlerts(alerts.value);
  if (incidents.status === 'fulfilled') renderIncidents(incidents.value);
  if (slo.status === 'fulfilled' && alerts.status === 'fulfilled' && incidents.status === 'fulfilled') {
    await renderVerdict(slo.value, alerts.value, incidents.value).catch(showError);
  }
  // How long the slowest of the poll's reads took (the dashboard objective: under 500 ms p95).
  state.lastPollMs = Date.now() - pollStarted;
  state.pollMs.push(state.lastPollMs);
  if (state.pollMs.length > HISTORY_MS / POLL_MS) state.pollMs.shift();
  if (failures.length === 0 && metrics.status === 'fulfilled') {
    state.lastSuccessMs = Date.now();
    $('errors').hidden = true;
    if (!state.needsKey) $('key-form').hidden = true;
  } else {
    showError(new Error(failures.join('; ')));
  }
  document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  updateAge();
}

function updateAge() {
  const age = $('data-age');
  if (!state.lastSuccessMs) return;
  const seconds = Math.round((Date.now() - state.lastSuccessMs) / 1000);
  text(age, `data ${seconds} s old (refresh every ${POLL_MS / 1000} s, last took ${state.lastPollMs} ms)`);
  age.classList.toggle('stale', Date.now() - state.lastSuccessMs > STALE_MS);
}

function showView(name) {
  for (const button of document.querySelectorAll('nav button')) {
    button.classList.toggle('active', button.dataset.view === name);
  }
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== `view-${name}`;
}

function start() {
  for (const button of document.querySelectorAll('nav button')) {
    button.addEventListener('click', () => showView(button.dataset.view));
  }
  for (const button of document.querySelectorAll('.ranges button')) {
    button.addEventListener('click', () => selectRange(button.dataset.range));
  }
  $('key-button').addEventListener('click', () => showKeyForm(''));
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.key = $('key-input').value.trim();
    sessionStorage.setItem(KEY_STORAGE, state.key);
    state.needsKey = false;
    $('key-form').hidden = true;
    poll();
  });
  $('acknowledge-button').addEventListener('click', () => incidentAction('acknowledge', {}));
  $('resolve-button').addEventListener('click', () => incidentAction('state', { state: 'RESOLVED', note: 'resolved from the dashboard' }));
  poll();
  setInterval(poll, POLL_MS);
  setInterval(updateAge, 1000);
}

start();
