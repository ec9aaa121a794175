// The live stream: one EventSource (GET /api/events) for the tab, shared by every page.
// live.on("notification", fn) / live.on("core.dispatch.receipt", fn): fn(data, event) with the parsed
// JSON of the event. live.off(type, fn). "resync" fires when the server says too much was missed
// (reload your lists); "open" and "error" report the connection. EventSource reconnects by itself
// and sends Last-Event-ID; when it gives up (a non-200 answer) we reconnect with ?last_event_id=.
import { api } from "/kit/api.js";

const handlers = new Map();
const attached = new Set();
let es = null;
let lastId = "";
let retry = null;
let stopped = true;

function emit(type, data, ev) {
  const set = handlers.get(type);
  if (!set) return;
  for (const fn of [...set]) {
    try { fn(data, ev); } catch (e) { console.error(e); }
  }
}

function onEvent(ev) {
  if (ev.lastEventId) lastId = ev.lastEventId;
  let data = null;
  try { data = ev.data ? JSON.parse(ev.data) : null; } catch { data = ev.data; }
  emit(ev.type, data, ev);
}

function attach(type) {
  if (!es || attached.has(type) || type === "open" || type === "error") return;
  es.addEventListener(type, onEvent);
  attached.add(type);
}

function connect() {
  if (es || stopped) return;
  const url = "/api/events" + (lastId ? "?last_event_id=" + encodeURIComponent(lastId) : "");
  es = new EventSource(url, { withCredentials: true });
  attached.clear();
  attach("resync");
  for (const type of handlers.keys()) attach(type);
  es.onopen = () => emit("open", null);
  es.onerror = () => {
    emit("error", null);
    if (es && es.readyState === EventSource.CLOSED) {
      es = null;
      clearTimeout(retry);
      // a closed stream: maybe signed out (the api call then dispatches yimen:signed-out)
      retry = setTimeout(() => {
        api.get("/api/notifications/unread-count").then(connect, (e) => { if (e.status !== 401) retry = setTimeout(connect, 5000); });
      }, 3000);
    }
  };
}

export const live = {
  on(type, fn) {
    if (!handlers.has(type)) handlers.set(type, new Set());
    handlers.get(type).add(fn);
    attach(type);
  },
  off(type, fn) {
    const set = handlers.get(type);
    if (set) set.delete(fn);
  },
  start() { stopped = false; connect(); },
  stop() {
    stopped = true;
    clearTimeout(retry);
    if (es) es.close();
    es = null;
    lastId = "";
  },
  get connected() { return !!es && es.readyState === EventSource.OPEN; },
  get lastEventId() { return lastId; },
};

export default live;
