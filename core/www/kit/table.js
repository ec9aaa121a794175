// <yi-table src="/api/users" limit="50" caption="用户" data-testid="user-table">
// table.columns = [{key: "username", label: "用户名"}, {label: "…", render: (row) => node|string}];
// table.params = {q: "张"} (filters added to the query; setting it reloads). Pages of `limit` rows are
// fetched with ?limit=&after=<next>; while the answer's `next` is not null a "更多" button
// ([data-testid=more]) loads the next page. table.fetcher = async (after, limit) => ({items, next})
// replaces the GET. Methods: reload(), more(). Events: "yi-loaded" {items, next, page}.
// Rows are <tr data-id=<row.id>>; an empty table shows [data-testid=empty].
import { api, qs, ApiError } from "/kit/api.js";
import { t, fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { errorText } from "/kit/ui.js";

class YiTable extends HTMLElement {
  static get observedAttributes() { return ["src", "limit"]; }

  constructor() {
    super();
    this._columns = [];
    this._params = {};
    this._items = [];
    this._next = null;
    this._seq = 0;
    this._queued = false;
  }

  get columns() { return this._columns; }
  set columns(v) { this._columns = v || []; this._queue(); }
  get params() { return this._params; }
  set params(v) { this._params = v || {}; this._queue(); }
  get fetcher() { return this._fetcher; }
  set fetcher(fn) { this._fetcher = fn; this._queue(); }
  get src() { return this.getAttribute("src"); }
  set src(v) { this.setAttribute("src", v); }
  get items() { return this._items.slice(); }
  get next() { return this._next; }

  attributeChangedCallback() { this._queue(); }
  connectedCallback() {
    if (!this._built) this._build();
    this._queue();
  }

  _build() {
    this._built = true;
    this.classList.add("yi-table");
    this._caption = this.getAttribute("caption");
    this._table = h("table", {});
    if (this._caption) this._table.append(h("caption", {}, this._caption));
    this._thead = h("thead", {});
    this._tbody = h("tbody", {});
    this._table.append(this._thead, this._tbody);
    this._status = h("p", { class: "yi-table-status", role: "status" });
    this._more = h("button", { type: "button", class: "yi-more", "data-testid": "more", hidden: true, onclick: () => this.more() }, t("kit.more"));
    this.replaceChildren(h("div", { class: "yi-table-wrap", tabindex: "0", role: "region", "aria-label": this._caption || t("kit.table") }, this._table), this._status, this._more);
  }

  _queue() {
    if (this._queued || !this.isConnected) return;
    this._queued = true;
    queueMicrotask(() => { this._queued = false; this.reload(); });
  }

  _head() {
    this._thead.replaceChildren(h("tr", {}, this._columns.map((c) => h("th", { scope: "col", class: c.class }, c.label || ""))));
  }

  async _page(after) {
    const limit = Number(this.getAttribute("limit")) || 50;
    if (this._fetcher) return this._fetcher(after, limit);
    const src = this.src;
    if (!src) return { items: [], next: null };
    const sep = src.includes("?") ? "&" : "?";
    return api.get(src + (qs(Object.assign({}, this._params, { limit, after })).replace(/^\?/, sep)));
  }

  async reload() {
    if (!this._built) this._build();
    this._head();
    this._items = [];
    this._next = null;
    this._tbody.replaceChildren();
    await this._load(null, true);
  }

  async more() {
    if (this._next === null || this._next === undefined) return;
    await this._load(this._next, false);
  }

  async _load(after, first) {
    if (!this.src && !this._fetcher) return;
    const my = ++this._seq;
    this._more.disabled = true;
    this.setAttribute("aria-busy", "true");
    this._status.textContent = t("kit.loading");
    try {
      const page = await this._page(after);
      if (my !== this._seq) return;
      const items = (page && page.items) || [];
      this._next = page && page.next !== undefined ? page.next : null;
      this._items.push(...items);
      for (const row of items) this._tbody.append(this._row(row));
      this._status.textContent = "";
      if (!this._items.length) this._tbody.append(h("tr", { "data-testid": "empty" }, h("td", { colspan: this._columns.length || 1, class: "yi-empty" }, this.getAttribute("empty") || t("kit.empty"))));
      this._more.hidden = this._next === null;
      this.dispatchEvent(new CustomEvent("yi-loaded", { detail: { items, next: this._next, page: first ? 1 : 0 } }));
    } catch (e) {
      if (my !== this._seq) return;
      this._status.textContent = errorText(e);
      this._status.classList.add("yi-error");
    } finally {
      if (my === this._seq) { this._more.disabled = false; this.removeAttribute("aria-busy"); }
    }
  }

  _row(row) {
    const tr = h("tr", { "data-id": row.id });
    for (const c of this._columns) {
      let v;
      if (c.render) v = c.render(row, tr);
      else {
        v = c.key ? row[c.key] : "";
        if (c.type === "datetime") v = fmtDateTime(v);
        else if (c.type === "bool") v = v ? t("kit.yes") : t("kit.no");
      }
      tr.append(h("td", { class: c.class, "data-label": c.label || "" }, v === null || v === undefined ? "" : v));
    }
    return tr;
  }

  // Replace or add one row without reloading (after an edit): update(row).
  update(row) {
    const old = this._tbody.querySelector(`tr[data-id="${CSS.escape(String(row.id))}"]`);
    const tr = this._row(row);
    const empty = this._tbody.querySelector("[data-testid=empty]");
    if (empty) empty.remove();
    if (old) old.replaceWith(tr); else this._tbody.prepend(tr);
    const i = this._items.findIndex((r) => r.id === row.id);
    if (i >= 0) this._items[i] = row; else this._items.unshift(row);
  }
}

if (!customElements.get("yi-table")) customElements.define("yi-table", YiTable);
export { YiTable, ApiError };
