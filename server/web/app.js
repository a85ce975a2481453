// The Activity page: signs in, keeps ONE live stream of run changes
// (GET /v1/runs/live) for the whole page, and routes between the list
// (#/?status=...) and a run's detail view (#/runs/<id>). The filters live in
// the hash so a view can be shared by its URL.

import {get, getToken, onUnauthorized, openEventStream, setToken} from './api.js';
import {ListView} from './list_view.js';
import {RunView} from './run_view.js';
import {clearNotice, notice, tickClocks} from './ui.js';

const LIVE_OPEN_WAIT_MS = 2000;

const page = {
  me: null,
  view: null,       // the mounted ListView or RunView
  live: null,       // the one /runs/live stream
  listHash: '#/',   // where "Back to Activity" leads
  flash: null,      // a notice to show after the next change of view
};

function byId(id) {
  return document.getElementById(id);
}

function setLiveState(text, ok) {
  const node = byId('live-state');
  node.textContent = text;
  node.className = ok ? 'live-state live-ok' : 'live-state live-down';
}

// Starts the page-wide live stream; resolves once it is open (or after a
// short wait, so a slow stream never keeps the page empty).
function startLive() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, LIVE_OPEN_WAIT_MS);
    page.live = openEventStream('/runs/live', {
      onOpen({reconnect}) {
        setLiveState('Live', true);
        clearTimeout(timer);
        resolve();
        // Without a Last-Event-ID the server cannot replay what we missed.
        if (reconnect && !page.live.lastEventId && page.view) page.view.refresh();
      },
      onMessage(message) {
        let run;
        try {
          run = JSON.parse(message.data);
        } catch (_) {
          return;
        }
        if (page.view && run && run.id) page.view.onRunChange(run);
      },
      onEnd() {
        setLiveState('Reconnecting…', false);
        return true;
      },
      onError() {
        setLiveState('Reconnecting…', false);
      },
    });
  });
}

function stopLive() {
  if (page.live) page.live.close();
  page.live = null;
  setLiveState('', false);
}

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const match = /^\/runs\/([^/?]+)/.exec(hash);
  if (match) return {name: 'run', id: decodeURIComponent(match[1])};
  const query = hash.indexOf('?');
  return {name: 'list', params: new URLSearchParams(query < 0 ? '' : hash.slice(query + 1))};
}

// Replaces the mounted view; focus moves to the new content.
function mount(makeView) {
  if (page.view) page.view.destroy();
  clearNotice();
  if (page.flash) notice(page.flash);
  page.flash = null;
  page.view = makeView(byId('view'));
  byId('main').focus({preventScroll: true});
  window.scrollTo(0, 0);
}

function route() {
  if (!page.me) return;
  const where = parseHash();
  if (where.name === 'list') {
    page.listHash = location.hash || '#/';
    document.title = 'Activity — runledger';
    if (!(page.view instanceof ListView)) mount((root) => new ListView(root, page));
    page.view.update(where.params);
    return;
  }
  if (page.view instanceof RunView && page.view.id === where.id) return;
  mount((root) => new RunView(root, page, where.id));
}

function showSession(me) {
  const who = byId('whoami');
  const local = me.name === 'local' && !getToken();
  who.textContent = local ? 'Local mode (admin, no token needed)' : `Signed in as ${me.name} (${me.role})`;
  byId('change-token').hidden = local;
}

function askForToken(message) {
  stopLive();
  if (page.view) page.view.destroy();
  page.view = null;
  page.me = null;
  byId('view').replaceChildren();
  byId('whoami').textContent = '';
  byId('change-token').hidden = true;
  byId('token-panel').hidden = false;
  const error = byId('token-error');
  error.textContent = message || '';
  error.hidden = !message;
  byId('token-input').focus();
}

async function signIn() {
  try {
    page.me = await get('/me');
  } catch (e) {
    if (e.status === 401) {
      askForToken(getToken() ? 'That token was not accepted.' : '');
      return;
    }
    notice(`Cannot reach the server: ${e.message}`, {error: true});
    return;
  }
  byId('token-panel').hidden = true;
  showSession(page.me);
  await startLive();
  route();
}

function boot() {
  onUnauthorized(() => {
    if (page.me) {
      setToken('');
      askForToken('Your token is no longer accepted. Enter a token to continue.');
    }
  });
  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(byId('token-input').value.trim());
    byId('token-input').value = '';
    signIn();
  });
  byId('change-token').addEventListener('click', () => {
    setToken('');
    askForToken('');
  });
  window.addEventListener('hashchange', route);
  setInterval(tickClocks, 1000);
  signIn();
}

boot();
