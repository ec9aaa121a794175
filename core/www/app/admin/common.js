// Small helpers shared by the admin pages: building elements, forms with field errors,
// a keyset-paged table, and the list of units for pickers. Only the kit is used, so the
// admin pages work with any layout around them.
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { errorText as kitErrorText, showErrorText, confirmDialog } from "/kit/ui.js";
import { h } from "/kit/dom.js";
import { unitTree } from "/kit/pickers.js";
import "./messages.js";

export { confirmDialog };

// Elements are built with the kit's h() (/kit/dom.js).
export { h };

// One labelled form field: <label for=id>, the control, and [data-error-for=name].
// kind: "text" (default), "password", "number", "select" (options: [[value, label], ...]),
// "checkbox", "date", "textarea".
export function field({ id, name, label, kind = "text", value = "", options = [], required = false,
                        disabled = false, hint = "", autocomplete = "off", maxlength }) {
  const errId = `${id}-error`;
  let control;
  if (kind === "select") {
    control = h("select", { id, name, required, disabled, "aria-describedby": errId },
      options.map(([v, l]) => h("option", { value: v, selected: String(v) === String(value) }, l)));
  } else if (kind === "textarea") {
    control = h("textarea", { id, name, required, disabled, rows: 3, "aria-describedby": errId }, value);
  } else if (kind === "checkbox") {
    control = h("input", { id, name, type: "checkbox", checked: !!value, disabled, "aria-describedby": errId });
    return h("div", { class: "field field-check" },
      control, h("label", { for: id }, label),
      h("div", { class: "field-error", id: errId, "data-error-for": name, "aria-live": "polite" }));
  } else {
    control = h("input", { id, name, type: kind, value, required, disabled, autocomplete,
                           maxlength, "aria-describedby": errId });
  }
  return h("div", { class: "field" },
    h("label", { for: id }, label, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    control,
    hint ? h("div", { class: "field-hint" }, hint) : null,
    h("div", { class: "field-error", id: errId, "data-error-for": name, "aria-live": "polite" }));
}

// Clear every field error and the form-level error of a form.
export function clearErrors(form) {
  form.querySelectorAll("[data-error-for], [data-role=form-error]").forEach((e) => { e.textContent = ""; e.removeAttribute("title"); });
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

// Show an ApiError: next to its field when the form has one, else in the form's
// [data-role=form-error] (or as a toast-like line at the top of the form). The text is the
// kit's errorText in the active language (the field's own label for "{field}"); the server's
// English message stays available as the element's title.
export function showError(form, err) {
  clearErrors(form);
  const slot = err && err.field ? form.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`) : null;
  if (slot) {
    showErrorText(slot, err, { form });
    const ctl = form.querySelector(`[name="${CSS.escape(err.field)}"]`);
    if (ctl) { ctl.setAttribute("aria-invalid", "true"); ctl.focus(); }
    return;
  }
  let general = form.querySelector("[data-role=form-error]");
  if (!general) {
    general = h("div", { class: "form-error", "data-role": "form-error", role: "alert" });
    form.prepend(general);
  }
  showErrorText(general, err, { form });
}

// A human text for an error: the kit's errorText (error.<code> in the active language, the
// server's message in English), else the admin pages' own admin.err.<code>.
export function errorText(err, opts) {
  if (!err) return "";
  const text = kitErrorText(err, opts);
  if (err.code && !err.message) {
    const k = `admin.err.${err.code}`;
    const v = t(k);
    if (v !== k && text === String(err)) return v;
  }
  return text;
}

// A status line (polite live region) at the top of a page, for results and failures.
export function statusLine() {
  const el = h("p", { class: "admin-status", role: "status", "aria-live": "polite" });
  el.say = (text, kind = "info") => { el.textContent = text; el.dataset.kind = kind; };
  return el;
}

// Query string from an object, leaving out empty values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

// A table with keyset paging: columns [{label, render(item) -> node|string}], fetchPage(after)
// -> {items, next}. Returns {el, reload(), upsert(item), table}. The "more" button loads the next page.
export function pagedTable({ testid, caption, columns, fetchPage, empty }) {
  const tbody = h("tbody");
  const table = h("table", { class: "admin-table", "data-testid": testid },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
    tbody);
  const more = h("button", { type: "button", class: "more", "data-testid": `${testid}-more`, hidden: true },
    t("admin.more"));
  const note = h("p", { class: "admin-empty", hidden: true }, empty || t("admin.empty"));
  let next = null;
  let busy = false;
  const row = (item) => h("tr", { dataset: { id: item.id ?? "" } },
    columns.map((c) => h("td", { "data-label": c.label }, c.render(item))));
  // Show one created or changed row at once (a new one first), without reloading the pages.
  function upsert(item) {
    const old = tbody.querySelector(`tr[data-id="${CSS.escape(String(item.id))}"]`);
    if (old) old.replaceWith(row(item)); else tbody.prepend(row(item));
    note.hidden = true;
  }
  async function load(reset) {
    if (busy) return;
    busy = true;
    more.disabled = true;
    try {
      const page = await fetchPage(reset ? null : next);
      if (reset) tbody.replaceChildren();
      for (const item of page.items || []) tbody.append(row(item));
      next = page.next ?? null;
      more.hidden = next === null;
      note.hidden = tbody.children.length > 0;
    } finally {
      busy = false;
      more.disabled = false;
    }
  }
  more.addEventListener("click", () => load(false).catch((e) => more.replaceWith(h("p", { role: "alert" }, errorText(e)))));
  const el = h("div", { class: "table-wrap" }, table, note, more);
  return { el, table, upsert, reload: () => load(true) };
}

// Every unit visible to the caller (paged through with limit=500), for pickers and the tree.
export async function loadUnits(params = {}) {
  const all = [];
  let after = null;
  for (let i = 0; i < 100; i++) {
    const page = await api.get(`/api/units${qs({ ...params, limit: 500, after })}`);
    all.push(...page.items);
    if (page.next === null || page.next === undefined) break;
    after = page.next;
  }
  return all;
}

// Units as <option> pairs in tree order with indentation ("  甲一村"), for a <select>.
export function unitOptions(units, { blank } = {}) {
  const out = blank ? [["", blank]] : [];
  for (const u of unitTree(units))
    out.push([u.id, `${"\u3000".repeat(u.depth)}${u.name}${u.active === false ? ` (${t("admin.inactive")})` : ""}`]);
  return out;
}

export function sortUnits(list) {
  return [...list].sort((a, b) => (a.sort ?? 0) - (b.sort ?? 0) || a.id - b.id);
}

// The signed-in user's /api/me, fetched once per page render.
export async function me() {
  try { return await api.get("/api/me"); } catch { return null; }
}

// True when the pattern list grants perm. "*" never covers audit.* (三权分立).
export function holds(patterns, perm) {
  const area = perm.split(".")[0];
  return (patterns || []).some((p) => p === perm || p === `${area}.*` || (p === "*" && area !== "audit"));
}

// A page header: <h1> and an optional toolbar.
export function pageHeader(title, ...tools) {
  return h("div", { class: "admin-head" }, h("h1", { tabindex: "-1" }, title),
    tools.length ? h("div", { class: "admin-tools" }, tools) : null);
}

// Collapsible panel holding a form; open(title) shows it and focuses the first control.
export function formPanel(form) {
  const title = h("h2", {});
  const panel = h("section", { class: "admin-panel", hidden: true }, title, form);
  panel.open = (text) => {
    title.textContent = text;
    panel.hidden = false;
    const first = form.querySelector("input:not([disabled]), select:not([disabled]), textarea");
    if (first) first.focus();
  };
  panel.close = () => { panel.hidden = true; clearErrors(form); };
  return panel;
}

// Styles of the admin pages, added once (the core style.css covers the rest).
const CSS_TEXT = `
.admin-head{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem}
.admin-head h1{margin:.25rem 0;font-size:1.4rem}
.admin-tools,.admin-actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.admin-panel{border:1px solid #c8ccd1;border-radius:6px;padding:.75rem;margin:.75rem 0;background:#fafbfc}
.admin-panel h2{font-size:1.1rem;margin:0 0 .5rem}
.admin-form .field{display:flex;flex-direction:column;margin:.5rem 0;max-width:32rem}
.admin-form .field-check{flex-direction:row;align-items:center;gap:.5rem}
.admin-form input,.admin-form select,.admin-form textarea{font:inherit;padding:.4rem;min-height:2.2rem;max-width:100%;box-sizing:border-box}
.field-error,.form-error{color:#b3261e;font-size:.9rem;min-height:0}
.field-hint{color:#57606a;font-size:.85rem}
.req{color:#b3261e}
.admin-filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:.5rem 0}
.admin-filters .field{margin:0}
.table-wrap{overflow-x:auto}
.admin-table{border-collapse:collapse;width:100%}
.admin-table th,.admin-table td{border-bottom:1px solid #d8dee4;padding:.4rem;text-align:left;vertical-align:top}
.admin-table caption{text-align:left;font-weight:600;padding:.25rem 0}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;background:#eef1f4;font-size:.85rem}
.badge.ok{background:#dafbe1;color:#116329}.badge.bad{background:#ffebe9;color:#a40e26}.badge.off{background:#eaeef2;color:#57606a}
.admin-form .perm-field{border:1px solid #d8dee4;border-radius:4px;padding:.5rem;max-width:48rem}
.perm-area{border:0;border-top:1px solid #eaeef2;margin:.4rem 0 0;padding:.3rem 0 0;display:flex;flex-wrap:wrap;gap:.2rem 1rem}
.perm-area legend{font-weight:600;padding:0}
.perm-check{display:flex;align-items:center;gap:.35rem;min-height:2rem}
.chips{display:flex;flex-wrap:wrap;gap:.25rem;margin:0;padding:0;list-style:none}
.unit-tree,.unit-tree ul{list-style:none;margin:0;padding-left:1.1rem}
.unit-tree{padding-left:0}
.unit-node{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem;padding:.2rem 0}
.unit-node .inactive{color:#57606a;text-decoration:line-through}
.admin-status[data-kind=error]{color:#b3261e}
.secret{font-family:monospace;font-size:1.1rem;background:#fff8c5;padding:.1rem .4rem}
.admin-page button:focus-visible,.admin-page input:focus-visible,.admin-page select:focus-visible,.admin-page summary:focus-visible{outline:3px solid #0969da;outline-offset:2px}
@media (max-width:600px){
 .admin-table thead{display:none}
 .admin-table tr{display:block;border-bottom:1px solid #d8dee4;padding:.25rem 0}
 .admin-table td{display:flex;gap:.5rem;border:0;padding:.15rem .25rem}
 .admin-table td::before{content:attr(data-label);font-weight:600;min-width:5.5rem;flex:none}
}`;
export function adminStyles() {
  if (document.getElementById("yimen-admin-css")) return;
  document.head.append(h("style", { id: "yimen-admin-css" }, CSS_TEXT));
}

// Prepare el for an admin page: styles, a wrapper class, empty content.
export function startPage(el) {
  adminStyles();
  el.replaceChildren();
  el.classList.add("admin-page");
}
