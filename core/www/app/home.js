// Home: my to-dos across every subsystem (soonest due first, overdue marked) and the latest
// notifications, both live (a notification event refetches the to-dos; and every 60 s).
import { api } from "/kit/api.js";
import { t, fmtDateTime, fmtNumber } from "/kit/i18n.js";
import { h, safeLink } from "/kit/dom.js";
import { live } from "/kit/live.js";
import { errorText } from "/kit/ui.js";
import { noteItem } from "/kit/layout.js";
import { pick } from "/kit/i18n.js";
import { pluginManifest } from "/app/shell.js";

// "core" → 平台; a plugin → "source.<name>" from its messages, else its first menu label, else its name
function sourceLabel(src) {
  const k = "source." + src;
  if (t(k) !== k) return t(k);
  const p = (pluginManifest().plugins || []).find((x) => x.name === src);
  return p && p.nav && p.nav[0] ? pick(p.nav[0].label) : src;
}

function byDue(a, b) {
  if (a.due_at && b.due_at) return a.due_at < b.due_at ? -1 : a.due_at > b.due_at ? 1 : 0;
  if (a.due_at) return -1;
  if (b.due_at) return 1;
  return 0;
}

function todoItem(x) {
  const link = safeLink(x.link);
  return h("li", { class: "yi-todo" + (x.overdue ? " overdue" : ""), "data-testid": "todo", "data-id": x.id },
    h(link ? "a" : "span", { class: "yi-todo-title", href: link }, x.title),
    h("div", { class: "yi-todo-meta" },
      x.overdue ? h("span", { class: "yi-badge danger" }, t("home.overdue")) : null,
      x.due_at ? h("span", {}, t("home.due", { at: fmtDateTime(x.due_at) })) : h("span", {}, t("home.no_due")),
      h("span", { class: "yi-source" }, sourceLabel(x.source))));
}

export default async function render(el) {
  const todoHead = h("h2", { id: "home-todos-h" }, t("home.todos"));
  const todoSummary = h("p", { class: "yi-summary", "data-testid": "todo-summary", "aria-live": "polite" });
  const todos = h("ul", { class: "yi-list", "data-testid": "todos", "aria-labelledby": "home-todos-h" });
  const noteHead = h("h2", { id: "home-notes-h" }, t("home.notifications"));
  const notes = h("ul", { class: "yi-list yi-notes", "data-testid": "notifications", "aria-labelledby": "home-notes-h" });
  const readAll = h("button", { type: "button", class: "link", onclick: async () => {
    try { await api.post("/api/notifications/read-all", {}); loadNotes(); document.getElementById("app").refreshCount(); } catch (e) { notes.before(h("p", { class: "yi-error" }, errorText(e))); }
  } }, t("shell.read_all"));
  el.append(h("h1", { class: "sr-only" }, t("nav.home")),
    h("div", { class: "yi-grid" },
      h("section", { class: "card" }, todoHead, todoSummary, todos),
      h("section", { class: "card" }, h("div", { class: "yi-section-head" }, noteHead, readAll), notes)));

  async function loadTodos() {
    try {
      const r = await api.get("/api/me/todos?limit=100");
      const items = r.items.slice().sort(byDue);
      todos.replaceChildren(...items.map(todoItem));
      if (!items.length) todos.append(h("li", { class: "yi-empty" }, t("home.no_todos")));
      todoSummary.textContent = r.overdue ? t("home.todo_summary_overdue", { n: fmtNumber(r.total), o: fmtNumber(r.overdue) }) : t("home.todo_summary", { n: fmtNumber(r.total) });
    } catch (e) {
      todoSummary.textContent = errorText(e);
    }
  }

  async function loadNotes() {
    try {
      const r = await api.get("/api/notifications?limit=20");
      notes.replaceChildren(...r.items.map((n) => noteItem(n, () => document.getElementById("app").refreshCount())));
      if (!r.items.length) notes.append(h("li", { class: "yi-empty" }, t("home.no_notifications")));
    } catch (e) {
      notes.replaceChildren(h("li", { class: "yi-error" }, errorText(e)));
    }
  }

  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(loadTodos, 250); };
  const onNote = (n) => {
    if (n && n.id && !notes.querySelector(`[data-id="${n.id}"]`)) {
      const empty = notes.querySelector(".yi-empty");
      if (empty) empty.remove();
      notes.prepend(noteItem(n, () => document.getElementById("app").refreshCount()));
    }
    soon();
  };
  const onResync = () => { loadTodos(); loadNotes(); };
  const onRead = () => loadNotes();
  live.on("notification", onNote);
  live.on("resync", onResync);
  window.addEventListener("yimen:notifications-read", onRead);
  const every = setInterval(loadTodos, 60000);
  await Promise.all([loadTodos(), loadNotes()]);
  return () => {
    live.off("notification", onNote);
    live.off("resync", onResync);
    window.removeEventListener("yimen:notifications-read", onRead);
    clearInterval(every);
    clearTimeout(timer);
  };
}
