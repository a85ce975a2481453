// The client side of the runledger HTTP API (SPEC section 4): the token,
// JSON requests with problem details, and Server-Sent Events read with
// fetch() so the Authorization header can be sent. A token never goes into
// a URL.

const TOKEN_KEY = 'runledger.token';
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
// A single SSE frame larger than this is a broken stream, not data to keep.
const FRAME_MAX_CHARS = 4 * 1024 * 1024;
// The server sends a comment at least every 15 s; silence this long means
// the connection died without closing, so the reader reconnects.
const STREAM_IDLE_MS = 45000;

export class ApiError extends Error {
  // problem: the RFC 9457 body when the server sent one.
  constructor(status, problem, fallback) {
    super((problem && (problem.detail || problem.title)) || fallback || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || null;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Called with the ApiError of every 401, so the page can ask for a token.
let unauthorizedListener = null;
export function onUnauthorized(listener) {
  unauthorizedListener = listener;
}

function authHeaders(extra) {
  const headers = new Headers(extra || {});
  const token = getToken();
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return headers;
}

async function errorOf(response) {
  let problem = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      problem = await response.json();
    } catch (_) {
      problem = null;
    }
  }
  const error = new ApiError(response.status, problem, response.statusText);
  if (response.status === 401 && unauthorizedListener) unauthorizedListener(error);
  return error;
}

// Sends a request to /v1<path>. `query` is an object of parameters (empty
// values left out); `body` is sent as JSON. Resolves to the parsed JSON body
// (null for 204), rejects with ApiError.
export async function request(method, path, {query, body, headers, signal, accept} = {}) {
  const url = new URL(`/v1${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  const init = {method, headers: authHeaders(headers), signal, cache: 'no-store'};
  init.headers.set('Accept', accept || 'application/json');
  if (body !== undefined) {
    init.headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  if (accept && !accept.includes('json')) return response.blob();
  return response.json();
}

export function get(path, query, signal) {
  return request('GET', path, {query, signal});
}

// A UUID for Idempotency-Key. crypto.randomUUID exists only in secure
// contexts (https, or http on a loopback host); fall back to
// getRandomValues elsewhere.
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Splits an SSE byte stream into messages (the WHATWG "event stream"
// grammar: lines end in CRLF, LF or CR; a blank line dispatches; lines
// starting with ':' are comments).
class SseParser {
  constructor(onMessage) {
    this.onMessage_ = onMessage;
    this.buffer_ = '';
    this.data_ = [];
    this.id_ = null;
    this.event_ = '';
  }

  push(text) {
    this.buffer_ += text;
    if (this.buffer_.length > FRAME_MAX_CHARS) throw new Error('event stream frame too large');
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer_);
      if (!match) return;
      // A lone CR at the end may be the first half of CRLF: wait for more.
      if (match[0] === '\r' && match.index === this.buffer_.length - 1) return;
      const line = this.buffer_.slice(0, match.index);
      this.buffer_ = this.buffer_.slice(match.index + match[0].length);
      this.line_(line);
    }
  }

  line_(line) {
    if (line === '') {
      if (this.data_.length > 0) {
        this.onMessage_({id: this.id_, event: this.event_ || 'message', data: this.data_.join('\n')});
      }
      this.data_ = [];
      this.event_ = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data_.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id_ = value;
    else if (field === 'event') this.event_ = value;
  }
}

// Reads an SSE stream at /v1<path> with fetch(), reconnecting with
// Last-Event-ID after a drop. Callbacks:
//   onMessage({id, event, data})  for each message;
//   onOpen({reconnect})           once the response headers arrived;
//   onEnd()                       when the server closed the stream; return
//                                  true to reconnect, false to stop;
//   onError(error)                on a failed attempt (before the retry).
// Returns {close()}. A 401/403/404 answer stops the stream for good.
export function openEventStream(path, {query, lastEventId, onMessage, onOpen, onEnd, onError} = {}) {
  let controller = null;
  let closed = false;
  let lastId = lastEventId || null;
  let delayMs = RECONNECT_MIN_MS;
  let attempts = 0;
  let timer = null;

  const url = new URL(`/v1${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }

  async function connect() {
    timer = null;
    if (closed) return;
    controller = new AbortController();
    const headers = authHeaders({Accept: 'text/event-stream'});
    if (lastId) headers.set('Last-Event-ID', lastId);
    const reconnect = attempts++ > 0;
    let endedCleanly = false;
    try {
      const response = await fetch(url, {headers, signal: controller.signal, cache: 'no-store'});
      if (!response.ok) {
        const error = await errorOf(response);
        if ([401, 403, 404].includes(response.status)) {
          closed = true;
          if (onError) onError(error);
          return;
        }
        throw error;
      }
      delayMs = RECONNECT_MIN_MS;
      if (onOpen) onOpen({reconnect});
      const parser = new SseParser((message) => {
        if (message.id !== null) lastId = message.id;
        if (onMessage) onMessage(message);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const stalled = () => controller.abort(new Error('the stream went silent'));
      let idle = setTimeout(stalled, STREAM_IDLE_MS);
      try {
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          clearTimeout(idle);
          idle = setTimeout(stalled, STREAM_IDLE_MS);
          parser.push(value);
        }
      } finally {
        clearTimeout(idle);
      }
      endedCleanly = true;
    } catch (error) {
      if (closed) return;
      if (onError) onError(error);
    }
    if (closed) return;
    if (endedCleanly && onEnd && !onEnd()) {
      closed = true;
      return;
    }
    timer = setTimeout(connect, delayMs);
    delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS);
  }

  connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (controller) controller.abort();
    },
    get lastEventId() {
      return lastId;
    },
  };
}

// Fetches `path` with Accept `type` and the token, and saves the body as a
// file through a Blob URL (the token stays in the header).
export async function download(path, type, filename) {
  const blob = await request('GET', path, {accept: type});
  const href = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = href;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}
