// The Activity page in a real browser: starts the runledger binary
// (RUNLEDGER_BIN) with a tokens file, seeds runs over HTTP as a worker would,
// drives Debian's chromium through playwright-core, and checks what a person
// would look at. Run: RUNLEDGER_BIN=build/dev/tools/runledger node --test activity.test.mjs

import assert from 'node:assert/strict';
import {execFileSync, spawn} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {after, before, test} from 'node:test';
import {fileURLToPath} from 'node:url';

import {chromium} from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
const BIN = process.env.RUNLEDGER_BIN;
const SERVER_START_MS = 20000;
const UI_WAIT_MS = 10000;
const XSS_IMG = '<img src=x onerror="window.__xss=(window.__xss||0)+1">';
const XSS_SCRIPT = '</script><script>window.__xss=(window.__xss||0)+1</script>';

const env = {
  dir: null, server: null, serverLog: '', base: null, tokens: {}, browser: null, runs: {},
  pageErrors: [], requests: [],
};

// --- server and HTTP helpers ------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const {port} = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function addToken(tokensFile, name, role, ...grants) {
  const args = ['token', 'add', '--tokens', tokensFile, '--name', name, '--role', role];
  for (const grant of grants) args.push('--datastore', grant);
  return execFileSync(BIN, args, {encoding: 'utf8'}).trim().split('\n').pop().trim();
}

async function waitFor(check, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (_) {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function api(method, urlPath, {token = env.tokens.worker, body, headers = {}} = {}) {
  const init = {method, headers: {Authorization: `Bearer ${token}`, ...headers}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${env.base}/v1${urlPath}`, init);
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${urlPath}: ${response.status} ${text}`);
  return json;
}

async function createRun(operation, datastore, extra = {}) {
  const run = await api('POST', '/runs', {body: {
    operation, datastore, triggered_by: {kind: 'user', id: 'alice'}, config: {mode: 'full'}, ...extra,
  }});
  return run.id;
}

function append(runId, type, data) {
  return api('POST', `/runs/${runId}/events`, {body: {type, data}});
}

async function seed() {
  const warehouse = {id: 'ds-warehouse', name: 'Warehouse'};
  const lake = {id: 'ds-lake', name: 'Data Lake'};
  const r = env.runs;

  r.success = await createRun('scan', lake, {total: 3, unit: 'tables'});
  await append(r.success, 'started', {worker: 'worker-1'});
  await append(r.success, 'logged', {level: 'warning', message: '2 rows skipped in orders', container: 'orders'});
  await append(r.success, 'progressed', {processed: 3, metrics: {records_scanned: 5000, anomalies_identified: 2}});
  await append(r.success, 'ended', {status: 'success', result: {anomalies: 2}});

  r.clean = await createRun('sync', warehouse, {containers: ['a', 'b']});
  await append(r.clean, 'started', {worker: 'worker-1'});
  await append(r.clean, 'progressed', {processed: 2, containers: [{name: 'a', status: 'done'}, {name: 'b', status: 'done'}]});
  await append(r.clean, 'ended', {status: 'success'});

  r.failure = await createRun('profile', warehouse, {containers: ['t1', 't2', 't3', 't4', 't5'], unit: 'tables'});
  await append(r.failure, 'started', {worker: 'worker-2'});
  await append(r.failure, 'progressed', {processed: 1, containers: [{name: 't1', status: 'done'}],
    metrics: {containers_profiled: 1}});
  await append(r.failure, 'ended', {status: 'failure', error: {message: 'connection reset by peer', code: 'E_CONN'}});

  r.aborted = await createRun('export', lake, {total: 8});
  await append(r.aborted, 'started', {worker: 'worker-3'});
  await append(r.aborted, 'ended', {status: 'aborted', aborted_by: {kind: 'system', id: 'stale-run-reaper'}});

  r.external = await createRun('external_scan', lake, {total: 1});
  await append(r.external, 'started', {worker: 'worker-3'});
  await append(r.external, 'ended', {status: 'success'});

  r.xss = await createRun('scan', {id: 'ds-lake', name: `Lake ${XSS_IMG}`}, {
    total: 2, unit: 'tables', config: {filter: XSS_IMG, note: XSS_SCRIPT},
    triggered_by: {kind: 'api', id: `bot ${XSS_IMG}`},
  });
  await append(r.xss, 'started', {worker: `w ${XSS_SCRIPT}`});
  await append(r.xss, 'logged', {level: 'error', message: `bad value ${XSS_IMG}`, container: XSS_SCRIPT});
  await append(r.xss, 'logged', {level: 'info', message: `line two ${XSS_SCRIPT}`});
  await append(r.xss, 'ended', {status: 'success'});

  r.promote = await createRun('promote', warehouse, {total: 1});
  r.materialize = await createRun('materialize', warehouse, {total: 6});
  r.queued = await createRun('scan', warehouse, {total: 10, unit: 'tables'});

  r.running = await createRun('profile', warehouse, {total: 14, unit: 'tables'});
  await append(r.running, 'started', {worker: 'worker-9'});
  await append(r.running, 'progressed', {processed: 4, metrics: {records_scanned: 1200, containers_profiled: 4}});
  await append(r.running, 'logged', {level: 'info', message: 'profiling table 5 of 14'});
}

// --- browser helpers --------------------------------------------------------

async function newPage() {
  const context = await env.browser.newContext({viewport: {width: 1440, height: 900}, acceptDownloads: true});
  const page = await context.newPage();
  page.setDefaultTimeout(UI_WAIT_MS);
  page.on('pageerror', (error) => env.pageErrors.push(String(error)));
  page.on('request', (req) => env.requests.push({page, method: req.method(), url: req.url()}));
  page.on('console', (message) => {
    // The browser logs each refused request (the bad token's 401, the
    // refused abort's 409); the page shows those itself.
    const expected = /^Failed to load resource: the server responded with a status of 40[19]/;
    if (message.type() === 'error' && !expected.test(message.text())) env.pageErrors.push(message.text());
  });
  page.on('dialog', (dialog) => {
    env.pageErrors.push(`unexpected native dialog: ${dialog.message()}`);
    dialog.dismiss();
  });
  return page;
}

async function signIn(page, token) {
  await page.goto(`${env.base}/`);
  await page.locator('#token-input').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.locator('#whoami').filter({hasText: 'Signed in as'}).waitFor();
  await page.locator('.live-ok').waitFor();
}

function row(page, runId) {
  return page.locator(`tr[data-run-id="${runId}"]`);
}

async function badgeText(page, runId) {
  return (await row(page, runId).locator('.badge').innerText()).trim();
}

async function buttonsOf(scope) {
  return scope.locator('.actions button').evaluateAll((nodes) => nodes.map((n) => n.textContent));
}

async function expectText(locator, expected) {
  await waitFor(async () => (await locator.innerText()).includes(expected), `"${expected}"`, UI_WAIT_MS);
}

// --- lifecycle --------------------------------------------------------------

before(async () => {
  assert.ok(BIN, 'set RUNLEDGER_BIN to the runledger binary');
  env.dir = mkdtempSync(path.join(os.tmpdir(), 'runledger-browser-'));
  mkdirSync(ARTIFACTS, {recursive: true});
  const tokensFile = path.join(env.dir, 'tokens.json');
  env.tokens.admin = addToken(tokensFile, 'admin', 'admin');
  env.tokens.worker = addToken(tokensFile, 'worker', 'worker');
  env.tokens.viewer = addToken(tokensFile, 'viewer', 'member', 'ds-warehouse=viewer');

  const port = await freePort();
  env.base = `http://127.0.0.1:${port}`;
  env.server = spawn(BIN, ['serve', '--data', path.join(env.dir, 'data'), '--listen', `127.0.0.1:${port}`,
    '--tokens', tokensFile], {stdio: ['ignore', 'pipe', 'pipe']});
  env.server.stdout.on('data', (chunk) => { env.serverLog += chunk; });
  env.server.stderr.on('data', (chunk) => { env.serverLog += chunk; });
  await waitFor(async () => (await fetch(`${env.base}/healthz`)).ok, 'the server to answer /healthz', SERVER_START_MS);
  await seed();

  env.browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (env.browser) await env.browser.close();
  if (env.server && env.server.exitCode === null) {
    const exited = new Promise((resolve) => env.server.once('exit', resolve));
    env.server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    if (env.server.exitCode === null) env.server.kill('SIGKILL');
  }
  if (env.dir) rmSync(env.dir, {recursive: true, force: true});
});

// --- tests ------------------------------------------------------------------

let admin;  // the admin's page, shared by the tests below, in order

test('the page asks for a token and signs in with it', async () => {
  admin = await newPage();
  await admin.goto(`${env.base}/`);
  await admin.locator('#token-panel').waitFor({state: 'visible'});
  await admin.locator('#token-input').fill('rl_not_a_token');
  await admin.getByRole('button', {name: 'Sign in'}).click();
  await expectText(admin.locator('#token-error'), 'not accepted');
  await admin.screenshot({path: path.join(ARTIFACTS, 'sign-in.png')});

  await admin.locator('#token-input').fill(env.tokens.admin);
  await admin.getByRole('button', {name: 'Sign in'}).click();
  await expectText(admin.locator('#whoami'), 'Signed in as admin (admin)');
  assert.equal(await admin.evaluate(() => sessionStorage.getItem('runledger.token')), env.tokens.admin);
  assert.ok(!admin.url().includes(env.tokens.admin), 'the token never appears in the URL');
});

test('the list shows every run newest first with its badge, warning and progress', async () => {
  const r = env.runs;
  await row(admin, r.running).waitFor();
  const order = await admin.locator('tr.run-row').evaluateAll((rows) => rows.map((tr) => tr.dataset.runId));
  const listed = await api('GET', '/runs', {token: env.tokens.admin});
  assert.deepEqual(order, listed.items.map((run) => run.id), 'the API order: newest first');
  assert.equal(order.length, 10);
  assert.equal(order[0], r.running);

  assert.equal(await badgeText(admin, r.queued), 'Queued');
  assert.equal(await badgeText(admin, r.running), 'Running');
  assert.equal(await badgeText(admin, r.success), 'Success');
  assert.equal(await badgeText(admin, r.failure), 'Failure');
  assert.equal(await badgeText(admin, r.aborted), 'Aborted');
  assert.equal(await badgeText(admin, r.promote), 'Running', 'a promote run starts running');
  for (const id of [r.queued, r.running]) {
    assert.equal(await row(admin, id).locator('.badge .spinner').count(), 1, 'active runs spin');
  }
  assert.equal(await row(admin, r.success).locator('.badge .spinner').count(), 0);

  // The warning indicator: only on the Success run that logged.
  const warning = row(admin, r.success).locator('.run-id .warning-indicator');
  assert.equal(await warning.count(), 1);
  await warning.hover();
  const tip = warning.locator('.tooltip');
  await tip.waitFor({state: 'visible'});
  assert.equal(await tip.innerText(), 'Completed with logs');
  for (const id of [r.clean, r.failure, r.running]) {
    assert.equal(await row(admin, id).locator('.warning-indicator').count(), 0);
  }

  // Progress: 4 / 14 while running, hidden while queued, frozen when ended.
  const bar = row(admin, r.running).locator('progress');
  assert.equal(await bar.evaluate((p) => [p.value, p.max].join('/')), '4/14');
  assert.equal((await row(admin, r.running).locator('.progress-text').innerText()).trim(), '4 / 14 tables');
  assert.equal(await row(admin, r.queued).locator('progress').count(), 0, 'no bar while queued');
  assert.equal((await row(admin, r.failure).locator('.progress-text').innerText()).trim(), '1 / 5 tables');

  // Operation, datastore, trigger, summary metrics.
  const cells = await row(admin, r.running).locator('td').allInnerTexts();
  assert.ok(cells.includes('Profile'));
  assert.ok(cells.includes('Warehouse'));
  assert.ok(cells.includes('alice (user)'));
  assert.match(await row(admin, r.running).innerText(), /Records scanned\s+1,200/);
  assert.match(await row(admin, r.aborted).innerText(), /Aborted by stale-run-reaper \(system\)/);

  // Counts per status.
  const count = (status) => admin.locator(`.count-${status} .count-number`);
  await expectText(count('running'), '2');
  assert.equal(await count('queued').innerText(), '2');
  assert.equal(await count('success').innerText(), '4');
  assert.equal(await count('failure').innerText(), '1');
  assert.equal(await count('aborted').innerText(), '1');

  await admin.screenshot({path: path.join(ARTIFACTS, 'activity-list.png'), fullPage: true});
});

test('action buttons follow the run state and operation type', async () => {
  const r = env.runs;
  assert.deepEqual(await buttonsOf(row(admin, r.queued)), ['Abort']);
  assert.deepEqual(await buttonsOf(row(admin, r.running)), ['Abort']);
  assert.deepEqual(await buttonsOf(row(admin, r.success)), ['Rerun', 'Delete']);
  assert.deepEqual(await buttonsOf(row(admin, r.failure)), ['Resume', 'Rerun', 'Delete']);
  assert.deepEqual(await buttonsOf(row(admin, r.aborted)), ['Rerun', 'Delete'], 'export cannot resume');
  assert.deepEqual(await buttonsOf(row(admin, r.external)), ['Delete'], 'external_scan cannot rerun');
  for (const button of await admin.locator('.actions button').all()) {
    assert.equal(await button.evaluate((b) => b.tagName), 'BUTTON');
  }
});

test('filters live in the URL, so a filtered view can be shared', async () => {
  const r = env.runs;
  await admin.locator('.count-failure').click();
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 1, 'one failure row', UI_WAIT_MS);
  assert.match(admin.url(), /#\/\?status=failure$/);
  assert.equal(await row(admin, r.failure).count(), 1);

  // A shared link opens the same view (the token is kept for this tab).
  await admin.goto(`${env.base}/#/?operation=scan&warning=true`);
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 2, 'two scan runs with warning', UI_WAIT_MS);
  assert.equal(await row(admin, r.success).count(), 1);
  assert.equal(await row(admin, r.xss).count(), 1);
  assert.equal(await admin.locator('#filter-operation').inputValue(), 'scan');
  assert.equal(await admin.locator('#filter-warning').inputValue(), 'true');
  assert.equal(await admin.locator('.count-success .count-number').innerText(), '2', 'counts follow the filters');

  await admin.locator('#filter-datastore').fill('ds-lake');
  await admin.locator('#filter-datastore').press('Enter');
  await waitFor(async () => /datastore=ds-lake/.test(admin.url()), 'datastore in the URL', UI_WAIT_MS);

  // Paging by cursor.
  await admin.goto(`${env.base}/#/?limit=25`);
  await admin.getByRole('button', {name: 'Clear filters'}).click();
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 10, 'all ten runs', UI_WAIT_MS);
  await admin.evaluate(() => { location.hash = '#/?status=success,failure,aborted'; });
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 6, 'six ended runs', UI_WAIT_MS);
  const page1 = await api('GET', '/runs?limit=4&status=success,failure,aborted', {token: env.tokens.admin});
  await admin.evaluate((cursor) => { location.hash = `#/?status=success,failure,aborted&cursor=${encodeURIComponent(cursor)}`; },
      page1.next_cursor);
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 2, 'the page after the cursor', UI_WAIT_MS);
  assert.ok(await admin.getByRole('button', {name: '← Newest runs'}).isVisible());
  await admin.getByRole('button', {name: '← Newest runs'}).click();
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 6, 'back to the first page', UI_WAIT_MS);
  await admin.getByRole('button', {name: 'Clear filters'}).click();
  await waitFor(async () => (await admin.locator('tr.run-row').count()) === 10, 'all ten runs', UI_WAIT_MS);
});

test('rows of active runs change live, without a reload, over one stream', async () => {
  const r = env.runs;
  await admin.evaluate(() => { window.__noReload = true; });
  const firstRequest = env.requests.length;
  await append(r.running, 'progressed', {processed: 7, metrics: {records_scanned: 2400}});
  await expectText(row(admin, r.running).locator('.progress-text'), '7 / 14 tables');
  assert.match(await row(admin, r.running).innerText(), /Records scanned\s+2,400/);

  await append(r.materialize, 'started', {worker: 'worker-4'});
  await waitFor(async () => (await badgeText(admin, r.materialize)) === 'Running', 'materialize to run', UI_WAIT_MS);

  // A run created now appears at the top.
  const fresh = await createRun('sync', {id: 'ds-warehouse', name: 'Warehouse'}, {total: 2});
  await row(admin, fresh).waitFor();
  assert.equal(await admin.locator('tr.run-row').first().getAttribute('data-run-id'), fresh);
  env.runs.fresh = fresh;
  await expectText(admin.locator('.count-queued .count-number'), '2');
  assert.equal(await admin.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  // The changes came over the one open stream: no new stream, no per-row polling.
  const made = env.requests.slice(firstRequest).filter((q) => q.page === admin).map((q) => new URL(q.url).pathname);
  assert.deepEqual(made.filter((p) => p !== '/v1/runs/counts'), [], 'only the counts were fetched again');
  const streams = env.requests.filter((q) => q.page === admin && new URL(q.url).pathname === '/v1/runs/live');
  const documents = env.requests.filter((q) => q.page === admin && new URL(q.url).pathname === '/' );
  assert.equal(streams.length, documents.length, 'one /v1/runs/live stream per page load');
});

test('Abort asks in the page, then the badge turns Aborted', async () => {
  const r = env.runs;
  await row(admin, r.queued).getByRole('button', {name: /^Abort/}).click();
  const dialog = admin.locator('#confirm-dialog');
  await dialog.waitFor({state: 'visible'});
  assert.match(await dialog.innerText(), /Abort run/);
  // Cancel leaves the run alone.
  await dialog.getByRole('button', {name: 'Cancel'}).click();
  await dialog.waitFor({state: 'hidden'});
  assert.equal(await badgeText(admin, r.queued), 'Queued');

  await row(admin, r.queued).getByRole('button', {name: /^Abort/}).click();
  await dialog.locator('#confirm-reason').fill('wrong table');
  await admin.screenshot({path: path.join(ARTIFACTS, 'confirm-abort.png')});
  await dialog.locator('.dialog-confirm').click();
  await waitFor(async () => (await badgeText(admin, r.queued)) === 'Aborted', 'the Aborted badge', UI_WAIT_MS);
  await expectText(row(admin, r.queued), 'Aborted by admin (user)');
  assert.deepEqual(await buttonsOf(row(admin, r.queued)), ['Resume', 'Rerun', 'Delete'], 'Abort is gone once aborted');
  const stored = await api('GET', `/runs/${r.queued}`, {token: env.tokens.admin});
  assert.equal(stored.status, 'aborted');
});

test('a refused action shows the API problem detail', async () => {
  const r = env.runs;
  await row(admin, r.fresh).getByRole('button', {name: /^Abort/}).click();
  const dialog = admin.locator('#confirm-dialog');
  await dialog.waitFor({state: 'visible'});
  // Meanwhile the platform stops the run; the dialog is still open.
  await append(r.fresh, 'ended', {status: 'aborted', aborted_by: {kind: 'system', id: 'ops'}});
  await waitFor(async () => (await badgeText(admin, r.fresh)) === 'Aborted', 'the live update', UI_WAIT_MS);
  await dialog.locator('.dialog-confirm').click();
  const error = dialog.locator('.dialog-error');
  await error.waitFor({state: 'visible'});
  assert.match(await error.innerText(), /abort/i);
  await dialog.getByRole('button', {name: 'Cancel'}).click();
});

test('an aborted run says who aborted it and why', async () => {
  const r = env.runs;
  await row(admin, r.queued).locator('a.run-link').click();
  await expectText(admin.locator('.run-title'), 'Aborted');
  await expectText(admin.locator('.facts'), 'Aborted by');
  await expectText(admin.locator('.facts'), 'admin (user)');
  await expectText(admin.locator('.timeline'), 'Aborted · Aborted by admin (user) · reason: wrong table');
  await expectText(admin.locator('.log-state'), 'Complete');
  await admin.getByRole('link', {name: '← Back to Activity'}).click();
  await row(admin, r.running).waitFor();
});

test('the detail view shows the timeline, metrics and a log that streams live', async () => {
  const r = env.runs;
  await row(admin, r.running).locator('a.run-link').click();
  await admin.locator('.run-view .run-title').waitFor();
  assert.match(admin.url(), new RegExp(`#/runs/${r.running}$`));
  await expectText(admin.locator('.run-title'), 'Running');
  const timeline = admin.locator('.timeline');
  await expectText(timeline, 'Created');
  await expectText(timeline, 'Triggered by alice (user)');
  await expectText(timeline, 'Started');
  await expectText(timeline, 'Worker worker-9');
  await expectText(timeline, '4 / 14 tables');
  await expectText(timeline, 'by worker');
  await expectText(admin.locator('.log'), 'profiling table 5 of 14');
  await expectText(admin.locator('.log-state'), 'Streaming live');
  await expectText(admin.locator('.facts'), '7 / 14 tables');
  assert.deepEqual(await buttonsOf(admin.locator('.run-header')), ['Abort']);

  await admin.evaluate(() => { window.__noReload = 'detail'; });
  await append(r.running, 'logged', {level: 'warning', message: 'table 8 has no primary key', container: 'orders'});
  await expectText(admin.locator('.log'), 'WARNING [orders] table 8 has no primary key');
  await append(r.running, 'progressed', {processed: 9});
  await append(r.running, 'progressed', {processed: 11, metrics: {records_scanned: 3600}});
  await expectText(admin.locator('.facts'), '11 / 14 tables');
  await expectText(admin.locator('.run-side'), '3,600');
  await expectText(timeline, 'Progressed ×2');
  await admin.screenshot({path: path.join(ARTIFACTS, 'run-detail-running.png'), fullPage: true});

  await append(r.running, 'progressed', {processed: 14});
  await append(r.running, 'ended', {status: 'success', metrics: {records_scanned: 4800}, result: {rows: 4800}});
  await expectText(admin.locator('.run-title'), 'Success');
  await admin.locator('.run-title .warning-indicator').waitFor();
  await expectText(admin.locator('.log-state'), 'Complete');
  await expectText(timeline, 'Ended');
  await expectText(admin.locator('.run-side'), '"rows": 4800');
  assert.deepEqual(await buttonsOf(admin.locator('.run-header')), ['Rerun', 'Delete']);
  assert.equal(await admin.evaluate(() => window.__noReload), 'detail', 'the page was not reloaded');

  // The download fetches the text log with the token in a header.
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.getByRole('button', {name: 'Download log'}).click(),
  ]);
  assert.equal(download.suggestedFilename(), `run-${r.running}.log`);
  const text = readFileSync(await download.path(), 'utf8');
  assert.match(text, /INFO profiling table 5 of 14\n/);
  assert.match(text, /WARNING \[orders\] table 8 has no primary key\n/);
  await admin.screenshot({path: path.join(ARTIFACTS, 'run-detail.png'), fullPage: true});
});

test('rerun links the runs both ways', async () => {
  const r = env.runs;
  await admin.goto(`${env.base}/#/runs/${r.failure}`);
  await expectText(admin.locator('.error-box'), 'connection reset by peer');
  await admin.locator('.run-header').getByRole('button', {name: /^Rerun/}).click();
  await admin.locator('#confirm-dialog .dialog-confirm').click();
  const link = admin.locator('.derived a');
  await link.waitFor();
  const newId = (await link.getAttribute('href')).split('/').pop();
  await link.click();
  await expectText(admin.locator('.facts'), 'Rerun of');
  await admin.locator('.facts a').click();
  await waitFor(async () => admin.url().endsWith(r.failure), 'back on the original run', UI_WAIT_MS);
  const stored = await api('GET', `/runs/${newId}`, {token: env.tokens.admin});
  assert.equal(stored.rerun_of, r.failure);
  assert.deepEqual(stored.triggered_by, {kind: 'user', id: 'admin'});
});

test('Delete from the detail view leaves the list without the run', async () => {
  const r = env.runs;
  await admin.goto(`${env.base}/#/runs/${r.external}`);
  await expectText(admin.locator('.run-title'), 'Success');
  assert.deepEqual(await buttonsOf(admin.locator('.run-header')), ['Delete']);
  await admin.locator('.run-header').getByRole('button', {name: /^Delete/}).click();
  await admin.locator('#confirm-dialog .dialog-confirm').click();
  await expectText(admin.locator('#notice'), 'was deleted');
  await row(admin, r.running).waitFor();
  assert.equal(await row(admin, r.external).count(), 0);
  await assert.rejects(api('GET', `/runs/${r.external}`, {token: env.tokens.admin}), /404/);
});

test('worker-written text is shown as text and never runs', async () => {
  const r = env.runs;
  await admin.goto(`${env.base}/#/runs/${r.xss}`);
  await expectText(admin.locator('.log'), 'line two');
  // JSON.stringify escapes the quotes; the markup is there as text.
  await expectText(admin.locator('pre.json'), '"filter": "<img src=x onerror=\\"window.__xss');
  await expectText(admin.locator('pre.json'), '"note": "</script><script>window.__xss');
  await expectText(admin.locator('.log'), `bad value ${XSS_IMG}`);
  await expectText(admin.locator('.facts'), `bot ${XSS_IMG} (api)`);
  await expectText(admin.locator('.facts'), `Lake ${XSS_IMG}`);
  assert.equal(await admin.locator('#view img, #view script').count(), 0, 'no element was made from data');
  await admin.goto(`${env.base}/#/`);
  await row(admin, r.xss).waitFor();
  await expectText(row(admin, r.xss), `Lake ${XSS_IMG}`);
  assert.equal(await admin.locator('#view img, #view script').count(), 0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await admin.evaluate(() => window.__xss), undefined, 'no injected code ran');
});

test('a member with viewer rights sees runs but no action buttons', async () => {
  const viewer = await newPage();
  await signIn(viewer, env.tokens.viewer);
  await expectText(viewer.locator('#whoami'), 'viewer (member)');
  await row(viewer, env.runs.clean).waitFor();
  assert.equal(await row(viewer, env.runs.success).count(), 0, 'runs of other datastores are not listed');
  assert.equal(await viewer.locator('.actions button').count(), 0);
  await viewer.goto(`${env.base}/#/runs/${env.runs.failure}`);
  await expectText(viewer.locator('.run-title'), 'Failure');
  assert.equal(await viewer.locator('.actions button').count(), 0);
  await viewer.context().close();
});

test('without --tokens the page works with no token (local mode)', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const local = spawn(BIN, ['serve', '--data', path.join(env.dir, 'local-data'), '--listen', `127.0.0.1:${port}`],
      {stdio: 'ignore'});
  try {
    await waitFor(async () => (await fetch(`${base}/healthz`)).ok, 'the local server', SERVER_START_MS);
    const id = (await (await fetch(`${base}/v1/runs`, {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({operation: 'sync', datastore: {id: 'ds-local'}, triggered_by: {kind: 'user', id: 'me'}})})).json()).id;
    const page = await newPage();
    await page.goto(`${base}/`);
    await expectText(page.locator('#whoami'), 'Local mode');
    assert.equal(await page.locator('#token-panel').isVisible(), false);
    await row(page, id).waitFor();
    await row(page, id).getByRole('button', {name: /^Abort/}).click();
    await page.locator('#confirm-dialog .dialog-confirm').click();
    await waitFor(async () => (await badgeText(page, id)) === 'Aborted', 'the abort in local mode', UI_WAIT_MS);
    await page.context().close();
  } finally {
    const exited = new Promise((resolve) => local.once('exit', resolve));
    local.kill('SIGTERM');
    await exited;
  }
});

test('the page made no console errors, broke no CSP rule and put no token in a URL', async () => {
  await admin.context().close();
  assert.deepEqual(env.pageErrors, []);
  for (const {url} of env.requests) {
    for (const token of Object.values(env.tokens)) assert.ok(!url.includes(token), `a token in ${url}`);
  }
});
