// One run's detail view (#/runs/<id>): its state, the timeline of its
// events, the runs made from it, and its log, which streams live while the
// run is active and is frozen once it ended.

import {download, get, openEventStream} from './api.js';
import {
  actionButtons, actorText, badge, datastoreText, duration, el, isActive, metrics, notice,
  operationLabel, progress, replaceChildrenKeepFocus, shortId, time, warningIndicator, STATUS_LABELS,
} from './ui.js';

const EVENTS_PAGE = 1000;
const TIMELINE_EVENTS_MAX = 10000;  // beyond this the timeline says it is cut
const LOG_LINES_MAX = 10000;        // older lines leave the page (the download has all)
const DERIVED_RUNS_MAX = 50;
const CONTAINERS_SHOWN_MAX = 500;

const EVENT_TITLES = {
  created: 'Created', started: 'Started', progressed: 'Progressed', logged: 'Logged', ended: 'Ended',
  deleted: 'Deleted',
};

function section(title, ...children) {
  return el('section', {className: 'panel'}, el('h2', {text: title}), ...children);
}

function runLink(id) {
  return el('a', {className: 'mono', text: shortId(id), attrs: {href: `#/runs/${encodeURIComponent(id)}`, title: id}});
}

function jsonBlock(value) {
  return el('pre', {className: 'json', text: JSON.stringify(value, null, 2)});
}

function fact(list, label, value) {
  list.append(el('div', {className: 'fact'}, el('dt', {text: label}),
      el('dd', {}, typeof value === 'string' ? document.createTextNode(value) : value)));
}

// "4 / 14 tables": a progressed event carries `total` only when it grew,
// so the timeline keeps the run's total and unit as it reads the events.
function progressText(data, scale) {
  if (data.total !== undefined) scale.total = data.total;
  const total = scale.total !== null ? ` / ${scale.total}` : '';
  return `${data.processed}${total} ${scale.unit}`;
}

// What a timeline entry says about its event, as plain text.
function eventDetail(event, scale) {
  const d = event.data || {};
  switch (event.type) {
    case 'created': {
      scale.total = d.total !== undefined ? d.total : d.containers ? d.containers.length : null;
      scale.unit = d.unit || 'containers';
      const parts = [`Triggered by ${actorText(d.triggered_by)}`];
      if (d.rerun_of) parts.push(`rerun of ${shortId(d.rerun_of)}`);
      if (d.resumed_from) parts.push(`resumed from ${shortId(d.resumed_from)}`);
      return parts.join(' · ');
    }
    case 'started': return `Worker ${d.worker}`;
    case 'progressed': return progressText(d, scale);
    case 'logged': {
      const where = d.container ? ` [${d.container}]` : '';
      return `${String(d.level || 'info').toUpperCase()}${where} ${d.message}`;
    }
    case 'ended': {
      const status = STATUS_LABELS[d.status] || d.status;
      if (d.status === 'aborted') {
        return `${status} · Aborted by ${actorText(d.aborted_by)}${d.reason ? ` · reason: ${d.reason}` : ''}`;
      }
      if (d.status === 'failure' && d.error) return `${status} · ${d.error.message}`;
      return status;
    }
    case 'deleted': return d.reason ? `Reason: ${d.reason}` : '';
    default: return '';
  }
}

export class RunView {
  constructor(root, page, id) {
    this.page_ = page;
    this.id = id;
    this.run_ = null;
    this.lastSeq_ = 0;          // timeline holds events up to this seq
    this.timelineCount_ = 0;
    this.progressGroup_ = null; // the timeline entry that absorbs consecutive progress events
    this.scale_ = {total: null, unit: 'containers'};  // progress total and unit as of the last event read
    this.logMaxSeq_ = 0;
    this.logs_ = null;
    this.fetchingEvents_ = false;
    this.controller_ = new AbortController();
    this.root_ = el('section', {className: 'run-view'});
    this.root_.append(el('p', {className: 'muted', text: 'Loading run…'}));
    root.append(this.root_);
    this.load_();
  }

  destroy() {
    this.controller_.abort();
    if (this.logs_) this.logs_.close();
    this.root_.remove();
  }

  refresh() {
    if (!this.run_) return this.load_();
    get(`/runs/${encodeURIComponent(this.id)}`, {}, this.controller_.signal)
        .then((run) => this.onRunChange(run), () => {});
    this.loadDerived_();
  }

  async load_() {
    let run;
    try {
      run = await get(`/runs/${encodeURIComponent(this.id)}`, {}, this.controller_.signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      const text = e.status === 404 ? 'There is no run with this id, or it was deleted.' : `Could not load the run: ${e.message}`;
      this.root_.replaceChildren(this.backLink_(), el('h1', {text: 'Run not found'}), el('p', {text}));
      return;
    }
    this.build_();
    this.draw_(run);
    document.title = `Run ${shortId(run.id)} — runledger`;
    this.fetchEvents_();
    this.loadDerived_();
    this.startLogs_();
  }

  // A run's new state from the live stream (any run: runs made from this
  // one are added to its list).
  onRunChange(run) {
    if (run.id !== this.id) {
      if (run.rerun_of === this.id || run.resumed_from === this.id) this.loadDerived_();
      return;
    }
    if (!this.run_ || run.version < this.run_.version) return;
    if (run.deleted) {
      this.markDeleted_();
      return;
    }
    const changed = run.version > this.run_.version;
    this.draw_(run);
    if (changed) this.fetchEvents_();
  }

  backLink_() {
    return el('a', {className: 'back', text: '← Back to Activity', attrs: {href: this.page_.listHash}});
  }

  build_() {
    this.title_ = el('h1', {className: 'run-title'});
    this.actions_ = el('div', {className: 'run-actions'});
    this.banner_ = el('p', {className: 'banner', attrs: {role: 'status'}});
    this.banner_.hidden = true;
    this.facts_ = el('dl', {className: 'facts'});
    this.metrics_ = el('div');
    this.outcome_ = el('div');
    this.derived_ = el('div', {}, el('p', {className: 'muted', text: 'None.'}));
    this.config_ = el('div');
    this.containers_ = el('div');
    this.timeline_ = el('ol', {className: 'timeline', attrs: {'aria-label': 'Events'}});
    this.timelineNote_ = el('p', {className: 'muted'});
    this.timelineNote_.hidden = true;
    this.logState_ = el('span', {className: 'log-state', attrs: {role: 'status'}});
    this.log_ = el('div', {className: 'log', attrs: {role: 'log', 'aria-label': 'Log', tabindex: '0'}});
    this.logEmpty_ = el('p', {className: 'muted log-empty', text: 'No log entries.'});
    const downloadButton = el('button', {className: 'secondary', text: 'Download log', attrs: {type: 'button'}});
    downloadButton.addEventListener('click', () => this.download_(), {signal: this.controller_.signal});

    this.root_.replaceChildren(
        this.backLink_(),
        el('header', {className: 'run-header'}, this.title_, this.actions_),
        this.banner_,
        el('div', {className: 'run-grid'},
            section('Details', this.facts_),
            el('div', {className: 'run-side'},
                section('Summary metrics', this.metrics_), el('div', {}, this.outcome_),
                section('Runs made from this run', this.derived_))),
        el('section', {className: 'panel log-panel'},
            el('div', {className: 'log-head'}, el('h2', {text: 'Log'}), this.logState_, downloadButton),
            this.logEmpty_, this.log_),
        section('Timeline', this.timeline_, this.timelineNote_),
        section('Configuration', this.config_),
        this.containers_);
  }

  draw_(run) {
    const first = !this.run_;
    this.run_ = run;
    const title = [el('span', {text: 'Run '}), el('span', {className: 'mono', text: run.id})];
    if (run.warning) title.push(warningIndicator());
    title.push(badge(run.status));
    if (first || this.titleKey_ !== `${run.status}|${run.warning}`) {
      this.titleKey_ = `${run.status}|${run.warning}`;
      this.title_.replaceChildren(...title);
    }
    replaceChildrenKeepFocus(this.actions_, actionButtons(run, this.page_.me, (a, r) => this.acted_(a, r)));

    const facts = el('dl', {className: 'facts'});
    fact(facts, 'Operation', operationLabel(run.operation));
    const ds = run.datastore || {};
    fact(facts, 'Datastore', ds.name ? `${ds.name} (${ds.id})` : datastoreText(ds));
    fact(facts, 'Triggered by', actorText(run.triggered_by));
    if (run.aborted_by) fact(facts, 'Aborted by', actorText(run.aborted_by));
    fact(facts, 'Worker', run.worker || '—');
    fact(facts, 'Created at', time(run.created_at));
    fact(facts, 'Started at', time(run.started_at));
    fact(facts, 'Ended at', time(run.ended_at));
    fact(facts, 'Duration', duration(run));
    fact(facts, 'Progress', run.status === 'queued' ? 'Waiting for a worker' : progress(run));
    if (run.rerun_of) fact(facts, 'Rerun of', runLink(run.rerun_of));
    if (run.resumed_from) fact(facts, 'Resumed from', runLink(run.resumed_from));
    fact(facts, 'Log entries', String(run.log_count));
    this.facts_.replaceWith(facts);
    this.facts_ = facts;

    this.metrics_.replaceChildren(metrics(run.metrics));
    this.outcome_.replaceChildren();
    if (run.error) {
      const error = el('div', {className: 'error-box', attrs: {role: 'note'}},
          el('p', {className: 'error-message', text: run.error.message}));
      if (run.error.code) error.append(el('p', {className: 'muted', text: `Code: ${run.error.code}`}));
      this.outcome_.append(section('Error', error));
    }
    if (run.result) this.outcome_.append(section('Result', jsonBlock(run.result)));
    this.config_.replaceChildren(Object.keys(run.config || {}).length ? jsonBlock(run.config)
        : el('p', {className: 'muted', text: 'No configuration.'}));
    this.drawContainers_(run);
  }

  drawContainers_(run) {
    const entries = Object.entries(run.containers || {});
    if (!entries.length) return this.containers_.replaceChildren();
    const table = el('table', {className: 'containers'},
        el('thead', {}, el('tr', {}, el('th', {text: 'Container', attrs: {scope: 'col'}}),
            el('th', {text: 'Status', attrs: {scope: 'col'}}))));
    const body = el('tbody');
    for (const [name, status] of entries.slice(0, CONTAINERS_SHOWN_MAX)) {
      body.append(el('tr', {}, el('td', {className: 'mono', text: name}),
          el('td', {}, el('span', {className: `container-status container-${status}`, text: status}))));
    }
    table.append(body);
    const panel = section(`Containers (${entries.length})`, table);
    if (entries.length > CONTAINERS_SHOWN_MAX) {
      panel.append(el('p', {className: 'muted', text: `The first ${CONTAINERS_SHOWN_MAX} are shown.`}));
    }
    this.containers_.replaceChildren(panel);
  }

  markDeleted_() {
    this.banner_.textContent = 'This run was deleted. Its events stay in the ledger for auditors.';
    this.banner_.hidden = false;
    this.actions_.replaceChildren();
    if (this.logs_) this.logs_.close();
  }

  acted_(action, result) {
    if (action === 'delete') {
      this.page_.flash = `Run ${shortId(this.id)} was deleted.`;
      location.hash = this.page_.listHash;
    } else if (action === 'abort') {
      notice(`Run ${shortId(this.id)} was aborted.`);
      this.onRunChange(result);
    } else {
      const verb = action === 'rerun' ? 'Rerun' : 'Resumed run';
      notice(`${verb} created:`, {link: {text: `run ${shortId(result.id)}`, href: `#/runs/${result.id}`}});
      this.loadDerived_();
    }
  }

  // Appends the events after the last one shown (called again when the
  // live stream says the run changed).
  async fetchEvents_() {
    if (this.fetchingEvents_) {
      this.eventsAgain_ = true;
      return;
    }
    this.fetchingEvents_ = true;
    try {
      do {
        this.eventsAgain_ = false;
        for (;;) {
          if (this.timelineCount_ >= TIMELINE_EVENTS_MAX) {
            this.timelineNote_.textContent = `The timeline shows the first ${TIMELINE_EVENTS_MAX} events.`;
            this.timelineNote_.hidden = false;
            return;
          }
          const page = await get(`/runs/${encodeURIComponent(this.id)}/events`,
              {after_seq: this.lastSeq_, limit: EVENTS_PAGE}, this.controller_.signal);
          for (const event of page.items) this.addEvent_(event);
          if (page.next_after_seq === null || !page.items.length) break;
        }
      } while (this.eventsAgain_);
    } catch (e) {
      if (e.name !== 'AbortError' && e.status !== 404) notice(`Could not load the timeline: ${e.message}`, {error: true});
    } finally {
      this.fetchingEvents_ = false;
    }
  }

  addEvent_(event) {
    if (event.seq <= this.lastSeq_) return;
    this.lastSeq_ = event.seq;
    this.timelineCount_++;
    const status = event.type === 'ended' ? (event.data || {}).status : '';
    if (event.type === 'progressed' && this.progressGroup_) {
      const group = this.progressGroup_;
      group.count++;
      group.head.replaceChildren(...this.eventHead_(event, `Progressed ×${group.count}`));
      group.detail.textContent = `${progressText(event.data || {}, this.scale_)} (latest)`;
      return;
    }
    const head = el('div', {className: 'tl-head'}, ...this.eventHead_(event, EVENT_TITLES[event.type] || event.type));
    const detail = el('div', {className: 'tl-detail', text: eventDetail(event, this.scale_)});
    const item = el('li', {className: `tl-item tl-${event.type}${status ? ` tl-${status}` : ''}`},
        el('span', {className: 'tl-dot', attrs: {'aria-hidden': 'true'}}), el('div', {className: 'tl-body'}, head, detail));
    this.timeline_.append(item);
    this.progressGroup_ = event.type === 'progressed' ? {count: 1, head, detail} : null;
  }

  eventHead_(event, title) {
    return [el('strong', {text: title}), el('span', {className: 'muted', text: ' · '}), time(event.recorded_at),
      el('span', {className: 'muted', text: ` · by ${event.principal}`})];
  }

  async loadDerived_() {
    let reruns;
    let resumes;
    try {
      [reruns, resumes] = await Promise.all([
        get('/runs', {rerun_of: this.id, limit: DERIVED_RUNS_MAX}, this.controller_.signal),
        get('/runs', {resumed_from: this.id, limit: DERIVED_RUNS_MAX}, this.controller_.signal),
      ]);
    } catch (_) {
      return;
    }
    const items = [
      ...reruns.items.map((run) => ({run, how: 'Rerun'})),
      ...resumes.items.map((run) => ({run, how: 'Resumed'})),
    ];
    if (!items.length) return this.derived_.replaceChildren(el('p', {className: 'muted', text: 'None.'}));
    const list = el('ul', {className: 'derived'});
    for (const {run, how} of items) {
      list.append(el('li', {}, el('span', {className: 'derived-how', text: `${how} `}), runLink(run.id), ' ',
          badge(run.status), ' ', time(run.created_at)));
    }
    this.derived_.replaceChildren(list);
  }

  startLogs_(lastEventId) {
    this.logState_.textContent = isActive(this.run_.status) ? 'Streaming live…' : 'Loading…';
    this.logs_ = openEventStream(`/runs/${encodeURIComponent(this.id)}/logs`, {
      lastEventId,
      onMessage: (message) => {
        try {
          this.addLogLine_(JSON.parse(message.data));
        } catch (_) {
          // A frame that is not an event is skipped.
        }
      },
      onOpen: () => {
        if (isActive(this.run_.status)) this.logState_.textContent = 'Streaming live…';
      },
      // The server closes the stream when the run ends; check before reopening.
      onEnd: () => {
        this.afterLogEnd_();
        return false;
      },
      onError: (e) => {
        if (e.name !== 'AbortError') this.logState_.textContent = 'Reconnecting…';
      },
    });
  }

  async afterLogEnd_() {
    let run = this.run_;
    try {
      run = await get(`/runs/${encodeURIComponent(this.id)}`, {}, this.controller_.signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 404) return this.markDeleted_();
    }
    if (isActive(run.status)) {
      this.startLogs_(this.logMaxSeq_ ? String(this.logMaxSeq_) : undefined);
      return;
    }
    this.onRunChange(run);
    this.logState_.textContent = `Complete · the run ended (${STATUS_LABELS[run.status] || run.status})`;
  }

  addLogLine_(event) {
    if (!event || event.seq <= this.logMaxSeq_) return;
    this.logMaxSeq_ = event.seq;
    const d = event.data || {};
    const level = ['debug', 'info', 'warning', 'error'].includes(d.level) ? d.level : 'info';
    const follow = this.log_.scrollTop + this.log_.clientHeight >= this.log_.scrollHeight - 4;
    const line = el('div', {className: `log-line log-${level}`},
        el('span', {className: 'log-time', text: event.recorded_at}), ' ',
        el('span', {className: 'log-level', text: level.toUpperCase()}), ' ');
    if (d.container) line.append(el('span', {className: 'log-container', text: `[${d.container}]`}), ' ');
    line.append(el('span', {className: 'log-message', text: d.message}));
    line.dataset.seq = String(event.seq);
    this.log_.append(line);
    this.logEmpty_.hidden = true;
    while (this.log_.childElementCount > LOG_LINES_MAX) this.log_.firstElementChild.remove();
    if (follow) this.log_.scrollTop = this.log_.scrollHeight;
  }

  async download_() {
    try {
      await download(`/runs/${encodeURIComponent(this.id)}/logs`, 'text/plain', `run-${this.id}.log`);
    } catch (e) {
      notice(`Could not download the log: ${e.message}`, {error: true});
    }
  }
}
