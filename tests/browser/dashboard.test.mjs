// The dashboard in a real browser against the real server: starts `fraudguard serve` on a port
// the kernel picks (with an API keys file and a temporary data directory), drives Debian's
// chromium through playwright-core, and checks that the page loads, asks for the key, shows
// the same numbers as the API after scoring traffic (live, and in the 24-hour chart from the
// stored history), picks up a new incident without a reload and acknowledges it through the
// page. Writes a screenshot of each view and the measured figures to the artifact directory.
// The capacity view is checked on two days of request history written into the server's SLI
// store. Bounded: every wait has a deadline and the whole test
// stops itself after TEST_DEADLINE_MS.
//
// Usage: node dashboard.test.mjs <fraudguard binary> <repository root> <artifact directory>
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [binary, repo, artifacts] = process.argv.slice(2);
if (!binary || !repo || !artifacts) {
  console.error('usage: node dashboard.test.mjs <fraudguard binary> <repository root> <artifact dir>');
  process.exit(2);
}
const CHROMIUM = '/usr/bin/chromium';
const TEST_DEADLINE_MS = 120000;
const WAIT_MS = 20000;           // longest wait for one thing to show up (four polls)
const LOAD_BOUND_MS = 10000;     // generous: the machines are noisy; the figure is reported
const TRANSACTIONS = 24;
const CAPACITY_HOURS = 48;

mkdirSync(artifacts, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'fraudguard-dashboard-'));
let server = null;
let browser = null;

const deadline = setTimeout(() => {
  console.error(`FAIL: the test did not finish within ${TEST_DEADLINE_MS} ms`);
  cleanup();
  process.exit(1);
}, TEST_DEADLINE_MS);

function cleanup() {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}

async function waitFor(what, check, timeoutMs = WAIT_MS) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

function newKey(keysFile, name, roles) {
  return execFileSync(binary, ['keys', 'add', '--file', keysFile, '--name', name, '--roles', roles])
    .toString().trim();
}

async function startServer() {
  const keysFile = join(work, 'keys.yaml');
  const adminKey = newKey(keysFile, 'dashboard-admin', 'read,score,admin');
  // A small per-replica figure, so that the capacity view's few seeded requests need replicas.
  const configFile = join(work, 'serve.yaml');
  writeFileSync(configFile, 'capacity:\n  replica_requests_per_second: 0.01\n');
  const portFile = join(work, 'port');
  const logFile = join(work, 'server.log');
  server = spawn(binary, ['serve', '--port', '0', '--port-file', portFile, '--data-dir', join(work, 'data'),
    '--model', join(repo, 'models/default.json'), '--rules', join(repo, 'config/rules.yaml'),
    '--keys', keysFile, '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs = [];
  server.stderr.on('data', (chunk) => logs.push(chunk));
  server.on('exit', () => writeFileSync(logFile, Buffer.concat(logs)));
  const port = await waitFor('the server to write its port', () => {
    if (server.exitCode !== null) throw new Error(`server exited ${server.exitCode}: ${Buffer.concat(logs)}`);
    const text = existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '';
    return /^\d+$/.test(text) ? Number(text) : null;
  });
  return { base: `http://127.0.0.1:${port}`, adminKey };
}

// SIGTERM, then SIGKILL after 10 s; returns the exit code (null when killed by a signal).
async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return server && server.exitCode;
  const exited = new Promise((resolve) => server.once('exit', (code) => resolve(code)));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 10000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

function parseMetric(text, name, labels = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

// Two days of hourly scoring traffic in the running server's SLI store, written with Debian's
// sqlite3 as minute rows of the store's own schema (every request in the fastest latency
// bucket), so that the capacity view has a forecast to show.
function seedCapacityHistory() {
  const thisHour = Math.floor(Date.now() / 3600000);
  const rows = [];
  for (let hoursAgo = 1; hoursAgo <= CAPACITY_HOURS; ++hoursAgo) {
    const requests = 100 + Math.round(40 * Math.sin((2 * Math.PI * hoursAgo) / 24));
    const bucket = Buffer.alloc(8);
    bucket.writeBigUInt64LE(BigInt(requests));
    rows.push(`(${(thisHour - hoursAgo) * 60 + 5}, '/api/v1/fraud/analyze', ${requests}, 0, X'${bucket.toString('hex')}')`);
  }
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(work, 'data', 'sli.db'),
    `INSERT INTO sli_minutes (minute, route, total, bad, buckets) VALUES ${rows.join(', ')};`]);
}

async function main() {
  const { base, adminKey } = await startServer();
  const api = async (path, options = {}) => {
    const response = await fetch(base + path, {
      method: options.method || 'GET',
      headers: { 'X-API-Key': adminKey, 'Content-Type': 'application/json' },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const type = response.headers.get('content-type') || '';
    return { status: response.status, headers: response.headers,
      body: type.startsWith('application/json') ? await response.json() : await response.text() };
  };

  // The files themselves: content types, caching headers, and the JSON 404 for an unknown one.
  const page0 = await api('/dashboard');
  assert.equal(page0.status, 200);
  assert.equal(page0.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page0.headers.get('cache-control'), 'no-cache');
  const script = await api('/dashboard/app.js');
  assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(script.headers.get('cache-control'), /max-age=\d+/);
  const style = await api('/dashboard/style.css');
  assert.equal(style.headers.get('content-type'), 'text/css; charset=utf-8');
  const missing = await api('/dashboard/missing.js');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'not_found');
  assert.equal(missing.body.field, 'path');
  const wrongMethod = await api('/dashboard', { method: 'POST', body: {} });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.body.error, 'method_not_allowed');

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-background-networking'] });
  // The load time, measured in a tab of its own: the main tab fakes the clock, which hides the
  // browser's navigation timing.
  const probe = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const probePage = await probe.newPage();
  const started = Date.now();
  await probePage.goto(base + '/dashboard', { waitUntil: 'load' });
  const wallLoadMs = Date.now() - started;
  const navigation = await probePage.evaluate(() => {
    const entry = performance.getEntriesByType('navigation')[0];
    return { load_ms: entry.loadEventEnd - entry.startTime, dom_ms: entry.domContentLoadedEventEnd - entry.startTime };
  });
  await probe.close();
  assert.ok(navigation.load_ms < LOAD_BOUND_MS, `page load took ${navigation.load_ms} ms`);

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const offServer = [];
  page.on('request', (request) => { if (!request.url().startsWith(base)) offServer.push(request.url()); });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // The page's clock runs at the real pace, but the test can jump it forward to see old data.
  await page.clock.install();
  await page.goto(base + '/dashboard', { waitUntil: 'load' });

  // With keys configured the API answers 401 and the page asks for a key.
  await page.waitForSelector('#key-form:not([hidden])', { timeout: WAIT_MS });
  await page.fill('#key-input', adminKey);
  await page.click('#key-form button[type=submit]');
  const firstDataStart = Date.now();
  await page.waitForFunction(() => /data \d+ s old/.test(document.getElementById('data-age').textContent),
    null, { timeout: WAIT_MS });
  const firstDataMs = Date.now() - firstDataStart;

  // A new server has no request history: the Capacity tab says so instead of forecasting.
  await page.click('nav button[data-view=capacity]');
  await page.waitForSelector('#capacity-status[data-status=insufficient_history]', { timeout: WAIT_MS });
  assert.match(await page.textContent('#capacity-status'), /holds 0 hourly points .* needs 30/);
  assert.equal(await page.locator('#capacity-summary:not([hidden])').count(), 0);
  await page.click('nav button[data-view=traffic]');

  // Scoring traffic, a mix of amounts so that several risk levels appear.
  for (let i = 0; i < TRANSACTIONS; ++i) {
    const amount = i % 3 === 0 ? 9000 + i : 15 + i;
    const scored = await api('/api/v1/fraud/analyze', { method: 'POST',
      body: { transaction_id: `dash-${i}`, amount, card_id: `c-${i % 5}`, user_age_days: i % 3 === 0 ? 1 : 500 } });
    assert.equal(scored.status, 200, JSON.stringify(scored.body));
  }
  const metrics = (await api('/metrics')).body;
  const expectedTotal = parseMetric(metrics, 'transaction_volume_total');
  assert.equal(expectedTotal, TRANSACTIONS);
  await waitFor('the page to show the scored transactions', async () =>
    (await page.textContent('#transactions-total')) === String(expectedTotal));
  for (const level of ['low', 'medium', 'high']) {
    for (const action of ['approve', 'review', 'decline']) {
      const expected = parseMetric(metrics, 'fraudguard_decisions_total', { risk_level: level, action });
      const shown = await page.textContent(`#decisions td[data-risk-level="${level}"][data-action="${action}"]`);
      assert.equal(Number(shown), expected, `decisions ${level}/${action}`);
    }
  }
  assert.notEqual(await page.textContent('#latency-p95'), '–', 'p95 shown after traffic');
  assert.equal(await page.textContent('#error-rate'), '0.00 %');
  await page.screenshot({ path: join(artifacts, 'dashboard-traffic.png'), fullPage: true });

  // The day range draws the server's stored history, with the same figures as the API.
  await page.click('.ranges button[data-range="24h"]');
  const day = await waitFor('the 24-hour history', async () => {
    const history = (await api('/api/v1/history?range=24h&routes=scoring')).body;
    const summary = await page.textContent('#history-summary');
    return summary.startsWith(`${Math.round(history.total.requests)} requests`) ? { history, summary } : null;
  });
  assert.equal(day.history.total.requests, TRANSACTIONS);
  const p95 = day.history.total.latency_p95_seconds;
  assert.ok(day.summary.includes(`p95 ${(p95 * 1000).toFixed(p95 < 0.01 ? 2 : 1)} ms`), day.summary);
  assert.ok(day.summary.includes('one point per 15 min'), day.summary);
  assert.equal(await page.textContent('#chart-title'), 'Last 24 hours');
  const line = await page.getAttribute('#chart-tps path.line', 'd');
  assert.equal(line.trim().split(' ').length, day.history.points.length, 'one chart point per step');
  await page.screenshot({ path: join(artifacts, 'dashboard-traffic-24h.png'), fullPage: true });
  await page.click('.ranges button[data-range="1h"]');
  assert.equal(await page.textContent('#chart-title'), 'Last hour');

  await page.click('nav button[data-view=detection]');
  const rollout = (await api('/api/v1/rollout')).body;
  await waitFor('the active model', async () => (await page.textContent('#active-model')) === rollout.active_model);
  assert.equal(await page.textContent('#candidate-model'), rollout.candidate_model || 'none');
  const drift = parseMetric(metrics, 'model_drift_score', { model_name: rollout.active_model });
  assert.ok(metrics.includes('model_drift_score'), 'the server exports model_drift_score');
  // The server has scored a few dozen transactions, too few for a drift figure: the page says
  // so plainly with the window's count, instead of printing NaN.
  const driftText = await page.textContent('#drift-score');
  if (Number.isFinite(drift)) {
    assert.equal(driftText, drift.toFixed(3), 'drift score matches /metrics');
  } else {
    const observed = parseMetric(metrics, 'fraudguard_drift_observations', { model_name: rollout.active_model });
    assert.match(driftText, /^too few scored yet \((\d+) in the window\)$/, `drift tile: ${driftText}`);
    assert.equal(Number(driftText.match(/\((\d+)/)[1]), observed, 'the window count matches /metrics');
  }
  assert.ok(!(await page.textContent('#feature-drift')).includes('NaN'), 'no NaN in the feature drift table');
  await page.screenshot({ path: join(artifacts, 'dashboard-detection.png'), fullPage: true });

  await page.click('nav button[data-view=slo]');
  const slo = (await api('/api/v1/slo')).body;
  await waitFor('the SLO rows', async () =>
    (await page.locator('#slos tbody tr').count()) === slo.slos.length && slo.slos.length > 0);
  for (const s of slo.slos) {
    const status = await page.textContent(`#slos tr[data-slo="${s.name}"] .status`);
    assert.equal(status, s.status, `status of ${s.name}`);
  }
  assert.equal(await page.textContent('#deploys'), slo.deployments_allowed ? 'allowed' : 'HALTED');
  await page.screenshot({ path: join(artifacts, 'dashboard-slo.png'), fullPage: true });

  // The strip under the header gives the verdict the API implies, before any incident: red for
  // a critical or exhausted SLO or a firing alert, amber for a warning or a pending alert.
  const alertsNow = (await api('/api/v1/alerts')).body.alerts;
  const expectedLevel = slo.slos.some((s) => s.status === 'CRITICAL' || s.status === 'EXHAUSTED') ||
      alertsNow.some((a) => a.state === 'firing') ? 'crit'
    : slo.slos.some((s) => s.status === 'WARNING') || alertsNow.some((a) => a.state === 'pending') ? 'warn' : 'ok';
  await waitFor(`the verdict ${expectedLevel}`, async () =>
    (await page.getAttribute('#verdict', 'data-level')) === expectedLevel);

  // A new incident appears without a reload, and the page acknowledges it.
  await page.click('nav button[data-view=incidents]');
  const created = await api('/api/v1/incidents', { method: 'POST',
    body: { title: 'Dashboard browser test', service: 'fraud-api', severity: 'SEV3', note: 'opened by the test' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.incident.id;
  const appearStart = Date.now();
  const row = `#incidents tr[data-incident-id="${id}"]`;
  await page.waitForSelector(row, { timeout: WAIT_MS });
  const incidentAppearMs = Date.now() - appearStart;
  // The verdict turns red, names the incident and says what to do first.
  await waitFor('the red verdict', async () => (await page.getAttribute('#verdict', 'data-level')) === 'crit');
  const opened = (await api(`/api/v1/incidents/${id}`)).body;
  assert.match(await page.textContent('#verdict-problems'),
    new RegExp(`Incident #${id} SEV3 ${opened.incident.state}: Dashboard browser test`));
  const firstStep = opened.playbook && opened.playbook.immediate_actions.length > 0
    ? opened.playbook.immediate_actions[0] : `#${id}`;
  assert.ok((await page.textContent('#verdict-action')).includes(firstStep), await page.textContent('#verdict-action'));
  await page.click(row);
  await page.waitForSelector(`#incident-detail[data-incident-id="${id}"]`, { timeout: WAIT_MS });
  assert.match(await page.textContent('#incident-timeline'), /opened by the test/);
  await page.click('#acknowledge-button');
  await waitFor('the acknowledgement', async () => (await page.textContent('#action-message')) === 'acknowledged');
  const after = (await api(`/api/v1/incidents/${id}`)).body.incident;
  assert.ok(after.acknowledged_ms > 0, 'the API shows the incident acknowledged');
  assert.equal(after.acknowledged_by, 'dashboard-admin');
  await waitFor('the acknowledged row', async () => /dashboard-admin/.test(await page.textContent(row)));
  await page.screenshot({ path: join(artifacts, 'dashboard-incidents.png'), fullPage: true });

  // Resolving through the page moves the incident to RESOLVED in the API.
  await page.click('#resolve-button');
  await waitFor('the resolution', async () => (await page.textContent('#action-message')) === 'resolved');
  const resolved = (await api(`/api/v1/incidents/${id}`)).body.incident;
  assert.equal(resolved.state, 'RESOLVED');
  await waitFor('the resolved row', async () => /RESOLVED/.test(await page.textContent(row)));
  await waitFor('the verdict without the incident', async () =>
    !(await page.textContent('#verdict-problems')).includes(`#${id}`));

  // Seeded only now, so that the traffic checks above see the test's own requests alone.
  seedCapacityHistory();
  // With the history seeded, the capacity view shows the recommendation of the API over a chart
  // with its interval. Another horizon than the one read before is not in the server's cache.
  await page.click('nav button[data-view=capacity]');
  await page.selectOption('#capacity-horizon', '2d');
  const capacity = (await api('/api/v1/capacity?horizon=2d')).body;
  assert.equal(capacity.status, 'ok', JSON.stringify(capacity).slice(0, 300));
  assert.equal(capacity.history_points, CAPACITY_HOURS);
  await page.waitForSelector('#capacity-replicas[data-value]', { timeout: WAIT_MS });
  assert.equal(Number(await page.getAttribute('#capacity-replicas', 'data-value')), capacity.recommendation.replicas);
  assert.equal(Number(await page.getAttribute('#capacity-replica-rps', 'data-value')),
    capacity.recommendation.replica_requests_per_second);
  assert.match(await page.textContent('#capacity-source'), /config capacity\.replica_requests_per_second/);
  assert.match(await page.textContent('#capacity-status'), new RegExp(`${capacity.model.name}`));
  for (const part of ['capacity-history', 'capacity-forecast', 'capacity-band', 'capacity-line']) {
    assert.equal(await page.locator(`#chart-capacity [data-testid=${part}]`).count(), 1, part);
  }
  await page.screenshot({ path: join(artifacts, 'dashboard-capacity.png'), fullPage: true });

  // How long the page's polls took in the browser, each the slowest of its six reads
  // (objective: queries under 500 ms at p95).
  const queryMs = (await page.evaluate(() => window.dashboardPollDurations())).sort((a, b) => a - b);
  assert.ok(queryMs.length >= 2, 'the page polled the API');
  const queryP95 = queryMs[Math.min(queryMs.length - 1, Math.floor(queryMs.length * 0.95))];

  // With the server gone, the data grows old: past 30 s the age is marked stale and the failed
  // poll is shown.
  assert.equal(await stopServer(), 0, 'the server stops cleanly on SIGTERM');
  assert.equal(await page.locator('#data-age.stale').count(), 0);
  await page.clock.fastForward('00:35');
  await page.waitForSelector('#data-age.stale', { timeout: WAIT_MS });
  await page.waitForSelector('#errors:not([hidden])', { timeout: WAIT_MS });
  assert.match(await page.textContent('#data-age'), /data 3\d s old/);

  assert.deepEqual(offServer, [], 'the page requested nothing off the server');
  assert.deepEqual(pageErrors, [], 'no script errors');

  const figures = { load_ms: Math.round(navigation.load_ms), dom_content_loaded_ms: Math.round(navigation.dom_ms),
    wall_goto_ms: wallLoadMs, first_data_after_key_ms: firstDataMs, incident_shown_after_ms: incidentAppearMs,
    polls: queryMs.length, poll_p95_ms: queryP95, poll_max_ms: queryMs[queryMs.length - 1] };
  writeFileSync(join(artifacts, 'dashboard-figures.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log('dashboard figures:', JSON.stringify(figures));
}

try {
  await main();
  console.log('PASS: dashboard browser test');
} catch (error) {
  console.error('FAIL:', error.stack || error);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopServer();
  clearTimeout(deadline);
  cleanup();
}
