// Pieces both views draw: the status badge, the warning indicator, the
// progress bar, times, metrics, and the action buttons with their
// confirmation dialog. Everything a worker or user wrote reaches the page
// through textContent, never as markup.

import {ApiError, newIdempotencyKey, request} from './api.js';

export const STATUSES = ['queued', 'running', 'success', 'failure', 'aborted'];
export const OPERATIONS = ['sync', 'profile', 'scan', 'external_scan', 'export', 'materialize', 'promote'];
export const STATUS_LABELS = {
  queued: 'Queued', running: 'Running', success: 'Success', failure: 'Failure', aborted: 'Aborted',
};
const OPERATION_LABELS = {
  sync: 'Sync', profile: 'Profile', scan: 'Scan', external_scan: 'External Scan', export: 'Export',
  materialize: 'Materialize', promote: 'Promote',
};
const ACTION_LABELS = {abort: 'Abort', resume: 'Resume', rerun: 'Rerun', delete: 'Delete'};
const ACTION_EXPLANATIONS = {
  abort: 'The run stops and ends as Aborted, with you as the one who aborted it.',
  resume: 'A new run starts with the same configuration, covering only the containers this run did not finish.',
  rerun: 'A new run starts with the same configuration, over all containers.',
  delete: 'The run leaves the Activity list. Its events stay in the ledger for auditors.',
};

// el('div', {className: 'x', text: 'y', attrs: {role: 'z'}}, child, ...)
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

export function isActive(status) {
  return status === 'queued' || status === 'running';
}

export function operationLabel(operation) {
  return OPERATION_LABELS[operation] || String(operation);
}

export function badge(status) {
  const node = el('span', {className: `badge badge-${STATUSES.includes(status) ? status : 'unknown'}`});
  if (isActive(status)) node.append(el('span', {className: 'spinner', attrs: {'aria-hidden': 'true'}}));
  node.append(el('span', {className: 'badge-label', text: STATUS_LABELS[status] || status}));
  return node;
}

let tipCount = 0;
// The warning indicator of a Success run that recorded logs; its tooltip
// shows on hover and on keyboard focus.
export function warningIndicator() {
  const id = `tip-${++tipCount}`;
  const wrap = el('span', {className: 'warning-indicator', attrs: {tabindex: '0', 'aria-describedby': id}});
  wrap.append(el('span', {className: 'warning-icon', text: '!', attrs: {'aria-hidden': 'true'}}));
  wrap.append(el('span', {className: 'visually-hidden', text: 'Warning: '}));
  wrap.append(el('span', {className: 'tooltip', text: 'Completed with logs', attrs: {role: 'tooltip', id}}));
  return wrap;
}

function groupDigits(n) {
  return Number(n).toLocaleString('en-US');
}

// "4 / 14 tables" with a bar; nothing while queued (no worker yet).
export function progress(run) {
  const wrap = el('div', {className: `progress progress-${run.status}`});
  if (run.status === 'queued') {
    wrap.classList.add('progress-none');
    wrap.append(el('span', {className: 'visually-hidden', text: 'Not started'}));
    return wrap;
  }
  const p = run.progress || {};
  const unit = p.unit || 'containers';
  const bar = el('progress', {attrs: {'aria-label': 'Progress'}});
  let text;
  if (p.total !== null && p.total !== undefined) {
    bar.max = Math.max(p.total, 1);
    bar.value = p.total === 0 ? (isActive(run.status) ? 0 : 1) : p.processed;
    text = `${groupDigits(p.processed)} / ${groupDigits(p.total)} ${unit}`;
  } else {
    text = `${groupDigits(p.processed)} ${unit}`;
    if (!isActive(run.status)) bar.hidden = true;  // no total: nothing to measure against
  }
  wrap.append(bar, el('span', {className: 'progress-text', text}));
  return wrap;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

// Local time "YYYY-MM-DD HH:MM:SS" in a <time> whose title is the UTC value.
export function time(iso) {
  if (!iso) return el('span', {className: 'muted', text: '—'});
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el('span', {text: iso});
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return el('time', {text, attrs: {datetime: iso, title: `${iso} (UTC)`}});
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.floor(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  if (h > 0) return `${h} h ${pad(m)} m`;
  return `${m} m ${pad(total % 60)} s`;
}

// The duration; for a running run, a clock the page ticks every second.
export function duration(run) {
  if (run.duration_ms !== null && run.duration_ms !== undefined) {
    return el('span', {text: formatDuration(run.duration_ms)});
  }
  if (run.status === 'running' && run.started_at) {
    const node = el('span', {className: 'ticking'});
    node.dataset.since = run.started_at;
    node.textContent = formatDuration(Date.now() - Date.parse(run.started_at));
    return node;
  }
  return el('span', {className: 'muted', text: '—'});
}

export function tickClocks() {
  for (const node of document.querySelectorAll('.ticking')) {
    node.textContent = formatDuration(Date.now() - Date.parse(node.dataset.since));
  }
}

// "records_scanned" -> "Records scanned"
export function metricLabel(name) {
  const words = String(name).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// The summary metrics as label/value pairs; `limit` keeps the first few.
export function metrics(values, limit = Infinity) {
  const entries = Object.entries(values || {});
  if (entries.length === 0) return el('span', {className: 'muted', text: '—'});
  const list = el('dl', {className: 'metrics'});
  for (const [name, value] of entries.slice(0, limit)) {
    list.append(el('div', {className: 'metric'},
        el('dt', {text: metricLabel(name)}), el('dd', {text: groupDigits(value)})));
  }
  if (entries.length > limit) list.append(el('div', {className: 'metric muted', text: `+${entries.length - limit} more`}));
  return list;
}

// {kind: "user", id: "alice"} -> "alice (user)"
export function actorText(actor) {
  if (!actor || typeof actor !== 'object') return '—';
  return actor.kind ? `${actor.id} (${actor.kind})` : String(actor.id);
}

export function datastoreText(datastore) {
  if (!datastore) return '—';
  return datastore.name ? `${datastore.name}` : String(datastore.id);
}

export function shortId(id) {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

// Whether GET /v1/me lets the caller act on runs of this datastore (SPEC 5).
export function mayAct(me, run) {
  if (!me) return false;
  if (me.role === 'admin') return true;
  if (me.role !== 'member') return false;
  const grants = me.datastores || {};
  const ds = run.datastore && run.datastore.id;
  return grants[ds] === 'editor' || grants['*'] === 'editor';
}

// One <button> per action the run allows now and the caller may use;
// `onDone(action, result)` runs after a confirmed action succeeded.
export function actionButtons(run, me, onDone) {
  const wrap = el('div', {className: 'actions'});
  if (!mayAct(me, run) || run.deleted) return wrap;
  for (const action of run.actions || []) {
    if (!ACTION_LABELS[action]) continue;
    const button = el('button', {
      className: `action action-${action}`, text: ACTION_LABELS[action],
      attrs: {type: 'button', 'data-action': action, 'aria-label': `${ACTION_LABELS[action]} run ${run.id}`},
    });
    button.dataset.focusKey = `action-${action}`;
    button.addEventListener('click', () => confirmAction(run, action, onDone));
    wrap.append(button);
  }
  return wrap;
}

// Sends one action; resolves to the API's answer (null for delete's 204).
function sendAction(run, action, reason, key) {
  const body = reason ? {reason} : undefined;
  const headers = {'Idempotency-Key': key};
  const path = `/runs/${encodeURIComponent(run.id)}`;
  if (action === 'delete') return request('DELETE', path, {body, headers});
  return request('POST', `${path}/${action}`, {body, headers});
}

// Asks in the page's <dialog id="confirm-dialog">, then acts. The
// Idempotency-Key is made once per confirmation, so pressing Confirm again
// after a network error cannot act twice.
function confirmAction(run, action, onDone) {
  const dialog = document.getElementById('confirm-dialog');
  const title = dialog.querySelector('.dialog-title');
  const text = dialog.querySelector('.dialog-text');
  const reasonRow = dialog.querySelector('.dialog-reason');
  const reason = dialog.querySelector('#confirm-reason');
  const error = dialog.querySelector('.dialog-error');
  const ok = dialog.querySelector('.dialog-confirm');
  const cancel = dialog.querySelector('.dialog-cancel');
  const key = newIdempotencyKey();
  const opener = document.activeElement;

  title.textContent = `${ACTION_LABELS[action]} run ${shortId(run.id)}?`;
  text.textContent = ACTION_EXPLANATIONS[action];
  reasonRow.hidden = !(action === 'abort' || action === 'delete');
  reason.value = '';
  error.textContent = '';
  error.hidden = true;
  ok.textContent = ACTION_LABELS[action];
  ok.className = `dialog-confirm action-${action}`;
  ok.disabled = false;

  const controller = new AbortController();
  const finish = () => {
    controller.abort();
    if (dialog.open) dialog.close();
    if (opener && opener.isConnected) opener.focus();
  };
  ok.addEventListener('click', async () => {
    ok.disabled = true;
    error.hidden = true;
    try {
      const result = await sendAction(run, action, reasonRow.hidden ? '' : reason.value.trim(), key);
      finish();
      onDone(action, result);
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : `The request failed: ${e.message}`;
      error.hidden = false;
      ok.disabled = false;
    }
  }, {signal: controller.signal});
  cancel.addEventListener('click', finish, {signal: controller.signal});
  dialog.addEventListener('close', () => controller.abort(), {signal: controller.signal});
  dialog.showModal();
  (reasonRow.hidden ? cancel : reason).focus();
}

// Replaces node's children, keeping keyboard focus on the element with the
// same data-focus-key if the focused element was among them.
export function replaceChildrenKeepFocus(node, ...children) {
  const active = document.activeElement;
  const key = active && node.contains(active) ? active.dataset.focusKey : null;
  node.replaceChildren(...children);
  if (key) {
    const again = node.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

// Shows a short message in the page's status line (role="status").
export function notice(message, {error = false, link = null} = {}) {
  const line = document.getElementById('notice');
  line.replaceChildren(el('span', {text: message}));
  if (link) line.append(' ', el('a', {text: link.text, attrs: {href: link.href}}));
  line.className = error ? 'notice notice-error' : 'notice';
  line.hidden = false;
}

export function clearNotice() {
  const line = document.getElementById('notice');
  line.hidden = true;
  line.replaceChildren();
}
