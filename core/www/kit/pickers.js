// <yi-unit-picker control-id="unit-parent" value="5" kind="township" label="上级单位"> — a searchable select
// of the units in the user's scope (GET /api/units, every page), indented as a tree. The inner <select>
// gets the id control-id (so <label for> and tests find it); a search box above filters it.
// .value is the unit id (number) or null; "change" fires when it changes.
//
// <yi-user-picker control-id="x-user" src="/api/users" label="人员"> — type to search (GET src?q=&limit=20,
// default /api/users; /api/contacts works too), pick with the mouse or arrows + Enter. .value is the user id;
// .user is the picked object; "change" fires.
import { api, qs } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h, uid } from "/kit/dom.js";

let unitsPromise = null;

// Every unit in scope, fetched once per page load (invalidateUnits() after a change).
export function loadUnits() {
  if (!unitsPromise) {
    unitsPromise = (async () => {
      const all = [];
      let after = null;
      for (let i = 0; i < 40; i++) {
        const page = await api.get("/api/units" + qs({ limit: 500, after, active: "true" }));
        all.push(...page.items);
        if (page.next === null || page.next === undefined) break;
        after = page.next;
      }
      return all;
    })();
    unitsPromise.catch(() => { unitsPromise = null; });
  }
  return unitsPromise;
}

export function invalidateUnits() { unitsPromise = null; }

// Units ordered as a tree (depth-first, by sort then id), each with .depth.
export function unitTree(units) {
  const byParent = new Map();
  const ids = new Set(units.map((u) => u.id));
  for (const u of units) {
    const p = u.parent_id !== null && ids.has(u.parent_id) ? u.parent_id : 0;
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(u);
  }
  const out = [];
  const walk = (p, depth) => {
    const list = (byParent.get(p) || []).sort((a, b) => (a.sort || 0) - (b.sort || 0) || a.id - b.id);
    for (const u of list) { out.push(Object.assign({ depth }, u)); walk(u.id, depth + 1); }
  };
  walk(0, 0);
  return out;
}

class YiUnitPicker extends HTMLElement {
  constructor() { super(); this._value = null; }

  get value() { return this._select && this._select.value !== "" ? Number(this._select.value) : this._value; }
  set value(v) {
    this._value = v === "" || v === null || v === undefined ? null : Number(v);
    if (this._select) this._select.value = this._value === null ? "" : String(this._value);
  }

  focus() { if (this._select) this._select.focus(); }

  connectedCallback() {
    if (this._built) return;
    this._built = true;
    this.classList.add("yi-unit-picker");
    if (this.hasAttribute("value")) this._value = Number(this.getAttribute("value")) || null;
    const id = this.getAttribute("control-id") || uid("unit");
    const label = this.getAttribute("label");
    this._filter = h("input", { type: "search", class: "yi-picker-filter", "aria-label": t("kit.unit_filter"),
      placeholder: t("kit.unit_filter"), "aria-controls": id });
    this._select = h("select", { id, name: this.getAttribute("name"), required: this.hasAttribute("required"),
      "aria-label": label || null, "aria-describedby": this.getAttribute("aria-describedby") });
    this._select.addEventListener("change", (e) => { e.stopPropagation(); this._value = this.value; this.dispatchEvent(new Event("change", { bubbles: true })); });
    this._filter.addEventListener("input", () => this._options());
    this._filter.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); this._select.focus(); } });
    this.replaceChildren(this._filter, this._select);
    this._select.append(h("option", { value: "" }, t("kit.loading")));
    this.load();
  }

  async load() {
    try {
      let units = await loadUnits();
      const kind = this.getAttribute("kind");
      if (kind) units = units.filter((u) => kind.split(",").includes(u.kind));
      this._units = unitTree(units);
      this._options();
      this.dispatchEvent(new CustomEvent("yi-loaded", { detail: { units: this._units } }));
    } catch (e) {
      this._select.replaceChildren(h("option", { value: "" }, t("kit.load_failed")));
    }
  }

  _options() {
    if (!this._units) return;
    const q = this._filter.value.trim().toLowerCase();
    const keep = this.value;
    const opts = [h("option", { value: "" }, this.getAttribute("blank-label") || t("kit.choose_unit"))];
    for (const u of this._units) {
      const match = !q || (u.name || "").toLowerCase().includes(q) || (u.short_name || "").toLowerCase().includes(q);
      if (match || u.id === keep) opts.push(h("option", { value: u.id }, (q ? "" : "\u3000".repeat(u.depth)) + u.name));
    }
    this._select.replaceChildren(...opts);
    if (keep !== null) this._select.value = String(keep);
    if (q && this._select.value === "" && opts.length > 1) {
      // a search picks the first match, so typing + Enter is enough
      this._select.value = opts[1].value;
      this._value = this.value;
      this.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
}

class YiUserPicker extends HTMLElement {
  constructor() { super(); this._value = null; this.user = null; this._items = []; this._active = -1; }

  get value() { return this._value; }
  set value(v) {
    this._value = v === "" || v === null || v === undefined ? null : Number(v);
    if (this._value === null && this._input) this._input.value = "";
    if (this._value !== null && this._input && (!this.user || this.user.id !== this._value)) {
      this._input.value = "#" + this._value;
      api.get("/api/users/" + this._value, { quiet: true }).then((u) => { if (this._value === u.id) { this.user = u; this._input.value = label(u); } }, () => {});
    }
  }

  focus() { if (this._input) this._input.focus(); }

  connectedCallback() {
    if (this._built) return;
    this._built = true;
    this.classList.add("yi-user-picker");
    const id = this.getAttribute("control-id") || uid("user");
    const listId = id + "-list";
    this._input = h("input", { id, type: "search", role: "combobox", autocomplete: "off", "aria-autocomplete": "list",
      "aria-expanded": "false", "aria-controls": listId, "aria-label": this.getAttribute("label"),
      "aria-describedby": this.getAttribute("aria-describedby"), required: this.hasAttribute("required"),
      placeholder: t("kit.user_search") });
    this._list = h("ul", { id: listId, role: "listbox", class: "yi-listbox", hidden: true });
    this._input.addEventListener("input", () => { this._value = null; this.user = null; clearTimeout(this._timer); this._timer = setTimeout(() => this._search(), 200); });
    this._input.addEventListener("keydown", (e) => this._key(e));
    this._input.addEventListener("blur", () => setTimeout(() => this._close(), 150));
    this.replaceChildren(this._input, this._list);
    if (this.hasAttribute("value")) this.value = this.getAttribute("value");
  }

  async _search() {
    const q = this._input.value.trim();
    if (!q) { this._close(); return; }
    const src = this.getAttribute("src") || "/api/users";
    try {
      const page = await api.get(src + qs({ q, limit: 20 }));
      if (this._input.value.trim() !== q) return;
      this._items = page.items || [];
      this._active = this._items.length ? 0 : -1;
      this._draw();
    } catch { this._items = []; this._draw(); }
  }

  _draw() {
    const id = this._input.id;
    this._list.replaceChildren(...(this._items.length ? this._items.map((u, i) =>
      h("li", { id: `${id}-opt-${i}`, role: "option", "aria-selected": i === this._active ? "true" : "false",
        onmousedown: (e) => { e.preventDefault(); this._pick(i); } }, label(u))) : [h("li", { class: "yi-empty" }, t("kit.no_match"))]));
    this._list.hidden = false;
    this._input.setAttribute("aria-expanded", "true");
    if (this._active >= 0) this._input.setAttribute("aria-activedescendant", `${id}-opt-${this._active}`);
  }

  _close() { this._list.hidden = true; this._input.setAttribute("aria-expanded", "false"); this._input.removeAttribute("aria-activedescendant"); }

  _key(e) {
    if (this._list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = this._items.length;
      if (!n) return;
      this._active = (this._active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      this._draw();
    } else if (e.key === "Enter" && this._active >= 0) {
      e.preventDefault();
      this._pick(this._active);
    } else if (e.key === "Escape") this._close();
  }

  _pick(i) {
    const u = this._items[i];
    if (!u) return;
    this.user = u;
    this._value = u.id;
    this._input.value = label(u);
    this._close();
    this.dispatchEvent(new Event("change", { bubbles: true }));
  }
}

function label(u) {
  const name = u.display_name || u.name || u.username || "#" + u.id;
  const extra = u.username ? u.username : u.unit_name || "";
  return extra && extra !== name ? `${name}（${extra}）` : name;
}

if (!customElements.get("yi-unit-picker")) customElements.define("yi-unit-picker", YiUnitPicker);
if (!customElements.get("yi-user-picker")) customElements.define("yi-user-picker", YiUserPicker);
export { YiUnitPicker, YiUserPicker };
