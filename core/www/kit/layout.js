// <yi-layout> — the shell around every page: a header with the navigation ([data-testid=nav],
// links a[data-nav=<id>]), the global search box (→ "#/search?q="), the bell ([data-testid=bell] with
// [data-testid=bell-count], live over SSE), the language switch ([data-testid=lang-switch]), the user
// menu (name → "#/account", [data-testid=logout]) and the main area (layout.main).
// layout.setNav([{id, label, href, group}]); layout.setUser(user); layout.startBell(); layout.stopBell().
// Events (bubbling): "yi-logout" when the user asks to sign out.
import { api, qs } from "/kit/api.js";
import { t, lang, setLang, fmtDateTime, fmtNumber } from "/kit/i18n.js";
import { h, safeLink } from "/kit/dom.js";
import { live } from "/kit/live.js";
import { errorText } from "/kit/ui.js";

const BELL = '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/></svg>';

class YiLayout extends HTMLElement {
  constructor() {
    super();
    this._nav = [];
    this._unread = 0;
    this._onNotification = (n) => this._notified(n);
    this._onResync = () => this.refreshCount();
    this._onRoute = () => this._markCurrent();
    this._onLang = () => this._texts();
  }

  connectedCallback() {
    if (this._built) return;
    this._built = true;
    this.classList.add("yi-layout");
    this._skip = h("a", { class: "yi-skip", href: "#main", onclick: (e) => { e.preventDefault(); this.main.focus(); } });
    this._brand = h("a", { class: "yi-brand", href: "#/" });
    this._menuBtn = h("button", { type: "button", class: "yi-menu-btn", "aria-expanded": "false", "aria-controls": "yi-nav", "data-testid": "menu",
      onclick: () => this._toggleMenu() });
    this._navList = h("ul", {});
    this._navEl = h("nav", { id: "yi-nav", class: "yi-nav", "data-testid": "nav" }, this._navList);
    this._searchInput = h("input", { type: "search", id: "yi-search-q", name: "q", enterkeyhint: "search", "data-testid": "search-input" });
    this._searchLabel = h("label", { for: "yi-search-q", class: "sr-only" });
    this._searchBtn = h("button", { type: "submit", "data-testid": "search-submit" });
    this._search = h("form", { class: "yi-search", role: "search", onsubmit: (e) => {
      e.preventDefault();
      const q = this._searchInput.value.trim();
      this._closeMenu();
      location.hash = "#/search" + qs({ q });
    } }, this._searchLabel, this._searchInput, this._searchBtn);
    this._count = h("span", { class: "yi-bell-count", "data-testid": "bell-count", hidden: true }, "0");
    this._bell = h("button", { type: "button", class: "yi-bell", "data-testid": "bell", "aria-expanded": "false", "aria-controls": "yi-bell-panel",
      onclick: () => this._togglePanel() });
    this._bell.innerHTML = BELL;
    this._bell.append(this._count);
    this._panel = h("div", { id: "yi-bell-panel", class: "yi-panel", "data-testid": "bell-panel", hidden: true, role: "region" });
    this._lang = h("button", { type: "button", class: "yi-lang", "data-testid": "lang-switch",
      onclick: () => setLang(lang() === "zh-CN" ? "en" : "zh-CN") });
    this._userLink = h("a", { class: "yi-user", href: "#/account", "data-testid": "user-menu" });
    this._logout = h("button", { type: "button", class: "yi-logout", "data-testid": "logout",
      onclick: () => this.dispatchEvent(new CustomEvent("yi-logout", { bubbles: true })) });
    this._collapsible = h("div", { class: "yi-collapse", id: "yi-collapse" }, this._navEl, this._search);
    const tools = h("div", { class: "yi-tools" }, this._bell, this._lang, this._userLink, this._logout);
    this._header = h("header", { class: "yi-header" }, this._skip, this._brand, this._menuBtn, tools, this._collapsible, this._panel);
    this.main = h("main", { id: "main", class: "yi-main", tabindex: "-1" });
    this.replaceChildren(this._header, this.main);
    this._menuBtn.setAttribute("aria-controls", "yi-collapse");
    this._panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { this._closePanel(); this._bell.focus(); } });
    document.addEventListener("click", this._outside = (e) => {
      if (!this._panel.hidden && !this._panel.contains(e.target) && !this._bell.contains(e.target)) this._closePanel();
    });
    window.addEventListener("yimen:route", this._onRoute);
    window.addEventListener("yimen:lang", this._onLang);
    this._texts();
  }

  disconnectedCallback() {
    this.stopBell();
    document.removeEventListener("click", this._outside);
    window.removeEventListener("yimen:route", this._onRoute);
    window.removeEventListener("yimen:lang", this._onLang);
    this._built = false;
  }

  _texts() {
    this._skip.textContent = t("shell.skip");
    this._brand.textContent = t("app.name");
    this._menuBtn.textContent = t("shell.menu");
    this._navEl.setAttribute("aria-label", t("shell.nav"));
    this._searchLabel.textContent = t("shell.search");
    this._searchInput.placeholder = t("shell.search_placeholder");
    this._searchBtn.textContent = t("shell.search");
    this._lang.textContent = lang() === "zh-CN" ? "English" : "中文";
    this._lang.setAttribute("aria-label", t("shell.lang_switch"));
    this._lang.setAttribute("lang", lang() === "zh-CN" ? "en" : "zh-CN");
    this._logout.textContent = t("shell.logout");
    this._panel.setAttribute("aria-label", t("shell.notifications"));
    this._userLink.textContent = this._user ? (this._user.display_name || this._user.username) : t("shell.account");
    this._userLink.title = t("shell.account");
    this._drawCount();
    this._drawNav();
  }

  setUser(user) { this._user = user; this._texts(); }

  // items: [{id, label (text or {"zh-CN","en"} resolved by the caller), href}]
  setNav(items) { this._nav = items || []; this._drawNav(); }

  _drawNav() {
    if (!this._navList) return;
    this._navList.replaceChildren(...this._nav.map((n, i) => h("li", { class: n.group && n.group !== (this._nav[i - 1] || {}).group ? "group-start" : null },
      h("a", { href: n.href, "data-nav": n.id, onclick: () => this._closeMenu() }, typeof n.label === "function" ? n.label() : n.label))));
    this._markCurrent();
  }

  _markCurrent() {
    if (!this._navList) return;
    const hash = location.hash || "#/";
    let best = null;
    for (const a of this._navList.querySelectorAll("a")) {
      a.removeAttribute("aria-current");
      const href = a.getAttribute("href");
      if (hash === href || hash.startsWith(href === "#/" ? "#/\u0000" : href + "/") || hash.startsWith(href + "?")) {
        if (!best || href.length > best.getAttribute("href").length) best = a;
      }
    }
    if (best) best.setAttribute("aria-current", "page");
    if (!hash.startsWith("#/search")) this._searchInput.value = "";
  }

  _toggleMenu() {
    const open = this._menuBtn.getAttribute("aria-expanded") !== "true";
    this._menuBtn.setAttribute("aria-expanded", String(open));
    this.classList.toggle("menu-open", open);
  }

  _closeMenu() { this._menuBtn.setAttribute("aria-expanded", "false"); this.classList.remove("menu-open"); }

  // ---- the bell ----
  startBell() {
    live.on("notification", this._onNotification);
    live.on("resync", this._onResync);
    live.on("open", this._onResync);
    this.refreshCount();
  }

  stopBell() {
    live.off("notification", this._onNotification);
    live.off("resync", this._onResync);
    live.off("open", this._onResync);
  }

  async refreshCount() {
    try {
      const r = await api.get("/api/notifications/unread-count");
      this.unread = r.unread;
    } catch { /* keep the last count */ }
  }

  get unread() { return this._unread; }
  set unread(n) { this._unread = Math.max(0, Number(n) || 0); this._drawCount(); }

  _drawCount() {
    if (!this._count) return;
    const n = this._unread;
    this._count.textContent = n > 99 ? "99+" : String(n);
    this._count.hidden = n === 0;
    this._bell.setAttribute("aria-label", n ? t("shell.bell_unread", { n: fmtNumber(n) }) : t("shell.bell"));
  }

  _notified(n) {
    if (n && !n.read) this.unread = this._unread + 1;
    if (!this._panel.hidden) this._loadPanel();
    clearTimeout(this._countTimer);
    this._countTimer = setTimeout(() => this.refreshCount(), 300);
  }

  _togglePanel() { if (this._panel.hidden) this._openPanel(); else this._closePanel(); }

  _openPanel() {
    this._panel.hidden = false;
    this._bell.setAttribute("aria-expanded", "true");
    this._loadPanel();
  }

  _closePanel() { this._panel.hidden = true; this._bell.setAttribute("aria-expanded", "false"); }

  async _loadPanel() {
    const head = h("div", { class: "yi-panel-head" }, h("h2", {}, t("shell.notifications")),
      h("button", { type: "button", class: "link", "data-testid": "read-all", onclick: async () => {
        try { await api.post("/api/notifications/read-all", {}); this.unread = 0; this._loadPanel(); window.dispatchEvent(new CustomEvent("yimen:notifications-read")); }
        catch (e) { this._panel.append(h("p", { class: "yi-error" }, errorText(e))); }
      } }, t("shell.read_all")));
    try {
      const r = await api.get("/api/notifications?limit=10");
      this.unread = r.unread;
      const list = h("ul", { class: "yi-notes", "data-testid": "bell-list" }, r.items.map((n) => noteItem(n, async () => {
        await markRead(n);
        this._closePanel();
        this.refreshCount();
      })));
      if (!r.items.length) list.append(h("li", { class: "yi-empty" }, t("home.no_notifications")));
      this._panel.replaceChildren(head, list, h("a", { href: "#/", class: "yi-panel-all", onclick: () => this._closePanel() }, t("shell.all_notifications")));
    } catch (e) {
      this._panel.replaceChildren(head, h("p", { class: "yi-error" }, errorText(e)));
    }
  }
}

async function markRead(n) {
  if (n.read) return;
  try { await api.post(`/api/notifications/${n.id}/read`, {}); n.read = true; } catch { /* ignore */ }
  window.dispatchEvent(new CustomEvent("yimen:notifications-read", { detail: { id: n.id } }));
}

// One notification as a list item ([data-testid=notification], class "unread"); activating it marks it
// read and follows its link. Shared by the bell and the home page.
export function noteItem(n, after) {
  const link = safeLink(n.link);
  const title = h(link ? "a" : "span", { class: "yi-note-title", href: link || null }, n.title);
  const li = h("li", { class: "yi-note sev-" + (n.severity || "info") + (n.read ? "" : " unread"), "data-testid": "notification", "data-id": n.id },
    h("div", { class: "yi-note-top" }, title, h("time", { datetime: n.created_at }, fmtDateTime(n.created_at))),
    n.body ? h("div", { class: "yi-note-body" }, n.body) : null,
    n.read ? null : h("button", { type: "button", class: "link yi-mark", "data-testid": "mark-read", onclick: async (e) => {
      e.stopPropagation();
      await markRead(n);
      li.classList.remove("unread");
      e.target.remove();
      if (after) after(n, false);
    } }, t("shell.mark_read")));
  if (link) title.addEventListener("click", async () => { await markRead(n); if (after) after(n, true); });
  if (!n.read) li.prepend(h("span", { class: "sr-only" }, t("shell.unread") + " "));
  return li;
}

if (!customElements.get("yi-layout")) customElements.define("yi-layout", YiLayout);
export { YiLayout };
