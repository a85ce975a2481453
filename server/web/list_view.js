// The Activity list (GET /v1/runs): counts per status that double as the
// status filter, the other filters, one row per run, cursor paging. The
// filters and cursor are read from and written to the URL hash. Rows change
// in place when the page-wide live stream reports a run.

import {get} from './api.js';
import {
  OPERATIONS, STATUSES, STATUS_LABELS, actionButtons, actorText, badge, datastoreText, duration, el,
  metrics, notice, operationLabel, progress, replaceChildrenKeepFocus, shortId, time, warningIndicator,
} from './ui.js';

const PAGE_SIZES = ['25', '50', '100'];
const DEFAULT_LIMIT = '50';
const COUNTS_REFRESH_MS = 500;
const SUMMARY_METRICS_MAX = 3;

// Each column: its header, which run fields it shows (its cell is redrawn
// only when they change), and how to draw it.
const COLUMNS = [
  {name: 'Run', key: (r) => [r.id, r.warning], draw: drawRunId},
  {name: 'Status', key: (r) => [r.status], draw: (r) => badge(r.status)},
  {name: 'Operation', key: (r) => [r.operation], draw: (r) => el('span', {text: operationLabel(r.operation)})},
  {name: 'Datastore', cls: 'col-datastore', key: (r) => [r.datastore], draw: drawDatastore},
  {name: 'Progress', key: (r) => [r.status, r.progress], draw: progress},
  {name: 'Triggered by', cls: 'col-actor', key: (r) => [r.status, r.triggered_by, r.aborted_by], draw: drawActor},
  {name: 'Started at', key: (r) => [r.started_at], draw: (r) => time(r.started_at)},
  {name: 'Duration', key: (r) => [r.status, r.duration_ms, r.started_at], draw: duration},
  {name: 'Summary', key: (r) => [r.metrics, r.log_count], draw: drawSummary},
];

function drawRunId(run) {
  const link = el('a', {
    className: 'run-link mono', text: shortId(run.id),
    attrs: {href: `#/runs/${encodeURIComponent(run.id)}`, title: run.id, 'aria-label': `Run ${run.id}`},
  });
  link.dataset.focusKey = 'link';
  const wrap = el('span', {className: 'run-id'}, link);
  if (run.warning) wrap.append(warningIndicator());
  return wrap;
}

function drawDatastore(run) {
  const ds = run.datastore || {};
  return el('span', {text: datastoreText(ds), attrs: {title: ds.name ? `id ${ds.id}` : null}});
}

function drawActor(run) {
  if (run.status === 'aborted' && run.aborted_by) {
    return el('span', {}, el('span', {className: 'label-inline', text: 'Aborted by '}),
        el('span', {text: actorText(run.aborted_by)}));
  }
  return el('span', {text: actorText(run.triggered_by)});
}

function drawSummary(run) {
  const wrap = el('div', {className: 'summary'}, metrics(run.metrics, SUMMARY_METRICS_MAX));
  if (run.log_count > 0) {
    wrap.append(el('div', {className: 'muted', text: `${run.log_count} log ${run.log_count === 1 ? 'entry' : 'entries'}`}));
  }
  return wrap;
}

// The list's filters as read from the URL.
function filtersOf(params) {
  const list = (name, allowed) => (params.get(name) || '').split(',').filter((v) => allowed.includes(v));
  const warning = params.get('warning');
  const limit = params.get('limit');
  return {
    status: list('status', STATUSES),
    operation: list('operation', OPERATIONS),
    datastore: params.get('datastore') || '',
    warning: warning === 'true' || warning === 'false' ? warning : '',
    limit: PAGE_SIZES.includes(limit) ? limit : DEFAULT_LIMIT,
    cursor: params.get('cursor') || '',
  };
}

function hashOf(f) {
  const params = new URLSearchParams();
  if (f.status.length) params.set('status', f.status.join(','));
  if (f.operation.length) params.set('operation', f.operation.join(','));
  if (f.datastore) params.set('datastore', f.datastore);
  if (f.warning) params.set('warning', f.warning);
  if (f.limit !== DEFAULT_LIMIT) params.set('limit', f.limit);
  if (f.cursor) params.set('cursor', f.cursor);
  const query = params.toString();
  return query ? `#/?${query}` : '#/';
}

// Whether a run reported live belongs in the list under these filters.
function matches(run, f) {
  return (!f.status.length || f.status.includes(run.status)) &&
      (!f.operation.length || f.operation.includes(run.operation)) &&
      (!f.datastore || (run.datastore && run.datastore.id === f.datastore)) &&
      (!f.warning || String(run.warning) === f.warning);
}

// Newest created_at first, ties by id descending (SPEC: GET /runs).
function newerFirst(a, b) {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class ListView {
  constructor(root, page) {
    this.page_ = page;
    this.filters_ = filtersOf(new URLSearchParams());
    this.rows_ = new Map();  // run id -> {run, tr, cells: [{td, key}]}
    this.loads_ = 0;         // drops answers to superseded loads
    this.countsTimer_ = null;
    this.controller_ = new AbortController();
    this.build_(root);
  }

  destroy() {
    this.controller_.abort();
    clearTimeout(this.countsTimer_);
    this.root_.remove();
  }

  update(params) {
    this.filters_ = filtersOf(params);
    this.syncControls_();
    this.refresh();
  }

  async refresh() {
    const load = ++this.loads_;
    const f = this.filters_;
    const query = {
      status: f.status.join(','), operation: f.operation.join(','), datastore: f.datastore,
      warning: f.warning, limit: f.limit, cursor: f.cursor,
    };
    this.body_.setAttribute('aria-busy', 'true');
    this.refreshCounts_();
    let page;
    try {
      page = await get('/runs', query, this.controller_.signal);
    } catch (e) {
      if (load !== this.loads_ || e.name === 'AbortError') return;
      this.body_.removeAttribute('aria-busy');
      this.showEmpty_(`Could not load runs: ${e.message}`);
      return;
    }
    if (load !== this.loads_) return;
    this.body_.removeAttribute('aria-busy');
    this.rows_.clear();
    this.body_.replaceChildren();
    for (const run of page.items) this.addRow_(run, null);
    this.nextCursor_ = page.next_cursor;
    this.updateFooter_();
  }

  // A run's new state from the live stream.
  onRunChange(run) {
    this.scheduleCounts_();
    const row = this.rows_.get(run.id);
    if (row) {
      if (run.version < row.run.version) return;  // an older state arriving late
      if (run.deleted) {
        row.tr.remove();
        this.rows_.delete(run.id);
        this.updateFooter_();
        return;
      }
      this.drawRow_(row, run);
      return;
    }
    // A run the list does not show: add it when it is new and belongs on
    // this (first) page; changes of runs on other pages are not shown here.
    if (run.deleted || this.filters_.cursor || !matches(run, this.filters_)) return;
    let before = null;
    for (const other of this.rows_.values()) {
      if (newerFirst(run, other.run) < 0) {
        before = other.tr;
        break;
      }
    }
    if (!before && this.nextCursor_) return;  // it belongs on a later page
    this.addRow_(run, before);
    this.updateFooter_();
  }

  addRow_(run, before) {
    const tr = el('tr', {className: 'run-row'});
    tr.dataset.runId = run.id;
    const row = {run: null, tr, cells: COLUMNS.map((c) => ({td: el('td', {className: c.cls}), key: null})), actions: el('td')};
    for (const cell of row.cells) tr.append(cell.td);
    tr.append(row.actions);
    this.drawRow_(row, run);
    if (before) {
      this.body_.insertBefore(tr, before);
      // Keep the map in display order.
      const entries = [...this.rows_.entries()];
      const index = entries.findIndex(([, r]) => r.tr === before);
      entries.splice(index, 0, [run.id, row]);
      this.rows_ = new Map(entries);
    } else {
      this.body_.append(tr);
      this.rows_.set(run.id, row);
    }
  }

  drawRow_(row, run) {
    row.run = run;
    row.tr.className = `run-row run-row-${run.status}`;
    COLUMNS.forEach((column, i) => {
      const cell = row.cells[i];
      const key = JSON.stringify(column.key(run));
      if (key === cell.key) return;
      cell.key = key;
      replaceChildrenKeepFocus(cell.td, column.draw(run));
    });
    const actionsKey = JSON.stringify([run.actions, run.deleted]);
    if (actionsKey !== row.actionsKey) {
      row.actionsKey = actionsKey;
      replaceChildrenKeepFocus(row.actions, actionButtons(run, this.page_.me, (a, r) => this.acted_(run, a, r)));
    }
  }

  acted_(run, action, result) {
    if (action === 'delete') {
      notice(`Run ${shortId(run.id)} was deleted.`);
      this.onRunChange({...run, deleted: true, version: run.version + 1});
    } else if (action === 'abort') {
      notice(`Run ${shortId(run.id)} was aborted.`);
      this.onRunChange(result);
    } else {
      const verb = action === 'rerun' ? 'Rerun' : 'Resumed run';
      notice(`${verb} created:`, {link: {text: `run ${shortId(result.id)}`, href: `#/runs/${result.id}`}});
      this.onRunChange(result);
    }
  }

  scheduleCounts_() {
    if (this.countsTimer_) return;
    this.countsTimer_ = setTimeout(() => {
      this.countsTimer_ = null;
      this.refreshCounts_();
    }, COUNTS_REFRESH_MS);
  }

  async refreshCounts_() {
    const f = this.filters_;
    let counts;
    try {
      counts = await get('/runs/counts', {
        operation: f.operation.join(','), datastore: f.datastore, warning: f.warning,
      }, this.controller_.signal);
    } catch (_) {
      return;
    }
    let all = 0;
    for (const status of STATUSES) {
      const n = counts[status] || 0;
      all += n;
      this.countEls_[status].textContent = n.toLocaleString('en-US');
    }
    this.countEls_.all.textContent = all.toLocaleString('en-US');
  }

  // Goes to the view these filters describe (a new history entry).
  go_(changes) {
    const f = {...this.filters_, cursor: '', ...changes};
    location.hash = hashOf(f);
  }

  showEmpty_(message) {
    this.body_.replaceChildren(el('tr', {className: 'empty-row'},
        el('td', {text: message, attrs: {colspan: COLUMNS.length + 1}})));
    this.nextCursor_ = null;
    this.updateFooter_(true);
  }

  updateFooter_(keepBody) {
    if (!keepBody && this.rows_.size === 0) {
      this.showEmpty_('No runs match these filters.');
      return;
    }
    if (this.rows_.size > 0) this.body_.querySelector('.empty-row')?.remove();
    this.shown_.textContent = this.rows_.size ? `Showing ${this.rows_.size} run${this.rows_.size === 1 ? '' : 's'}` : '';
    this.newest_.hidden = !this.filters_.cursor;
    this.older_.hidden = !this.nextCursor_;
  }

  syncControls_() {
    const f = this.filters_;
    for (const status of [...STATUSES, 'all']) {
      const on = status === 'all' ? f.status.length === 0 : f.status.includes(status);
      this.countButtons_[status].setAttribute('aria-pressed', String(on));
    }
    this.operation_.value = f.operation.length === 1 ? f.operation[0] : f.operation.length ? 'multiple' : '';
    this.multipleOption_.hidden = f.operation.length < 2;
    this.multipleOption_.textContent = f.operation.map(operationLabel).join(', ');
    this.datastore_.value = f.datastore;
    this.warning_.value = f.warning;
    this.limit_.value = f.limit;
  }

  build_(root) {
    const sig = {signal: this.controller_.signal};
    this.root_ = el('section', {className: 'list-view', attrs: {'aria-labelledby': 'list-title'}});
    this.root_.append(el('h1', {text: 'Activity', attrs: {id: 'list-title'}}));

    // Counts per status; each toggles that status in the filter.
    const counts = el('div', {className: 'counts', attrs: {role: 'group', 'aria-label': 'Filter by status'}});
    this.countButtons_ = {};
    this.countEls_ = {};
    for (const status of ['all', ...STATUSES]) {
      const number = el('span', {className: 'count-number', text: '…'});
      const button = el('button', {
        className: `count count-${status}`, attrs: {type: 'button', 'aria-pressed': 'false'},
      }, el('span', {className: 'count-label', text: status === 'all' ? 'All' : STATUS_LABELS[status]}), number);
      button.dataset.status = status;
      button.addEventListener('click', () => {
        if (status === 'all') return this.go_({status: []});
        const now = new Set(this.filters_.status);
        if (now.has(status)) now.delete(status); else now.add(status);
        this.go_({status: STATUSES.filter((s) => now.has(s))});
      }, sig);
      this.countButtons_[status] = button;
      this.countEls_[status] = number;
      counts.append(button);
    }
    this.root_.append(counts);

    const filters = el('form', {className: 'filters', attrs: {'aria-label': 'Filters'}});
    filters.addEventListener('submit', (event) => {
      event.preventDefault();
      this.go_({datastore: this.datastore_.value.trim()});
    }, sig);
    this.operation_ = el('select', {attrs: {id: 'filter-operation', name: 'operation'}},
        el('option', {text: 'All operations', attrs: {value: ''}}),
        ...OPERATIONS.map((op) => el('option', {text: operationLabel(op), attrs: {value: op}})));
    this.multipleOption_ = el('option', {attrs: {value: 'multiple', disabled: ''}});
    this.operation_.append(this.multipleOption_);
    this.operation_.addEventListener('change', () => {
      this.go_({operation: this.operation_.value ? [this.operation_.value] : []});
    }, sig);
    this.datastore_ = el('input', {
      attrs: {id: 'filter-datastore', name: 'datastore', type: 'search', placeholder: 'datastore id', spellcheck: 'false'},
    });
    this.datastore_.addEventListener('change', () => this.go_({datastore: this.datastore_.value.trim()}), sig);
    this.warning_ = el('select', {attrs: {id: 'filter-warning', name: 'warning'}},
        el('option', {text: 'Any', attrs: {value: ''}}),
        el('option', {text: 'Completed with logs', attrs: {value: 'true'}}),
        el('option', {text: 'Without warning', attrs: {value: 'false'}}));
    this.warning_.addEventListener('change', () => this.go_({warning: this.warning_.value}), sig);
    this.limit_ = el('select', {attrs: {id: 'filter-limit', name: 'limit'}},
        ...PAGE_SIZES.map((n) => el('option', {text: n, attrs: {value: n}})));
    this.limit_.addEventListener('change', () => this.go_({limit: this.limit_.value}), sig);
    const clear = el('button', {className: 'secondary', text: 'Clear filters', attrs: {type: 'button'}});
    clear.addEventListener('click', () => {
      location.hash = hashOf(filtersOf(new URLSearchParams()));
    }, sig);
    const field = (label, control) => el('div', {className: 'field'},
        el('label', {text: label, attrs: {for: control.id}}), control);
    filters.append(field('Operation', this.operation_), field('Datastore', this.datastore_),
        field('Warning', this.warning_), field('Rows per page', this.limit_), clear);
    this.root_.append(filters);

    const table = el('table', {className: 'runs'});
    table.append(el('caption', {className: 'visually-hidden', text: 'Runs, newest first'}));
    const head = el('tr');
    for (const column of COLUMNS) head.append(el('th', {text: column.name, attrs: {scope: 'col'}}));
    head.append(el('th', {text: 'Actions', attrs: {scope: 'col'}}));
    table.append(el('thead', {}, head));
    this.body_ = el('tbody');
    table.append(this.body_);
    this.root_.append(el('div', {className: 'table-wrap'}, table));

    this.shown_ = el('span', {className: 'muted'});
    this.newest_ = el('button', {className: 'secondary', text: '← Newest runs', attrs: {type: 'button'}});
    this.newest_.addEventListener('click', () => this.go_({cursor: ''}), sig);
    this.older_ = el('button', {className: 'secondary', text: 'Older runs →', attrs: {type: 'button'}});
    this.older_.addEventListener('click', () => this.go_({cursor: this.nextCursor_}), sig);
    this.root_.append(el('nav', {className: 'pager', attrs: {'aria-label': 'Pages'}},
        this.newest_, this.shown_, this.older_));
    root.append(this.root_);
  }
}
