// The documents plugin's pages (公文): the boxes, the draft form, an outgoing document with its
// flow actions, flow log, versions and receipt board, and an incoming record (收文) with its steps.
// One module, three views chosen by the query of the hash (docs/api/documents.md):
//   #/p/documents/documents?box=drafts   the boxes (tabs), default the first the user may see
//   #/p/documents/documents?new=1        a new draft;   ?edit=<id>  edit a draft
//   #/p/documents/documents?doc=<id>     an outgoing document
//   #/p/documents/documents?incoming=<id> an incoming record
//   #/p/documents/documents?annotate=<id>&file=<file id>|body&page=<n>  annotating a page (annotate.js)
import { api } from "/kit/api.js";
import { t, fmtDate, fmtDateTime, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, confirmDialog, errorText, showErrorText } from "/kit/ui.js";
import { can, me } from "/kit/session.js";
import { navigate } from "/kit/router.js";
import { unitTree } from "/kit/pickers.js";
import "/kit/table.js";
import "/kit/form.js";
import "/kit/timeline.js";
import "/kit/board.js";
import { annotStyle, annotateView, attachmentsSection, diffModal, retentionControl, exportBar } from "/ui/documents/annotate.js";

const BASE = "#/p/documents/documents";
const TYPES = ["决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示", "批复", "议案", "函", "纪要"];
const SECRECY = ["非密", "秘密", "机密", "绝密"];
const LISTS = ["main_to", "copy_to"];
// box → who sees its tab, and whether its rows are incoming records
const BOXES = [
  ["drafts", ["documents.draft"]], ["review", ["documents.review"]], ["countersign", ["documents.countersign"]],
  ["signoff", ["documents.signoff"]], ["dispatch", ["documents.send"]], ["sent", ["documents.read", "documents.send"]],
  ["to_receive", ["documents.receive"]], ["incoming", ["documents.receive", "documents.instruct"]],
  ["handle", ["documents.handle"]], ["circulating", null], ["archived", ["documents.read", "documents.send"]],
  ["archived_incoming", ["documents.receive", "documents.read"]],
];
const INCOMING_BOXES = new Set(["incoming", "handle", "circulating", "archived_incoming"]);

const STYLE = `
.doc-tabs { display: flex; flex-wrap: wrap; gap: .25rem; margin: .5rem 0; }
.doc-tabs [role=tab] { border-radius: 999px; }
.doc-tabs [role=tab][aria-selected=true] { background: var(--accent, #1f5fa8); color: #fff; }
.doc-bar { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .5rem 0; }
.doc-actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }
.doc-body { white-space: pre-wrap; overflow-wrap: anywhere; }
.doc-units { max-height: 22rem; overflow: auto; border: 1px solid var(--line); border-radius: var(--radius); padding: .25rem .5rem; }
.doc-unit { display: flex; flex-wrap: wrap; gap: .25rem .75rem; align-items: center; padding: .15rem 0; }
.doc-unit-name { flex: 1 1 8rem; min-width: 0; overflow-wrap: anywhere; }
.doc-unit label { white-space: nowrap; }
.doc-title { overflow-wrap: anywhere; }
`;

function style() { return h("style", {}, STYLE); }
const stateLabel = (s) => t("documents.state." + s);
const badge = (s) => h("span", { class: "yi-badge", "data-testid": "documents-state", "data-state": s }, stateLabel(s));
const today = () => { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; };
const anyOf = (perms) => !perms || perms.some((p) => can(p));

export default async function render(el, params) {
  el.append(style());
  if (params.annotate) return annotateView(el, Number(params.annotate), params.file === "body" ? "body" : Number(params.file),
    Number(params.page) || 1);
  if (params.new || params.edit) return draftView(el, params.edit ? Number(params.edit) : null);
  if (params.doc) return docView(el, Number(params.doc));
  if (params.incoming) return incomingView(el, Number(params.incoming));
  return boxesView(el, params);
}

// ---------------------------------------------------------------- the boxes

function boxesView(el, params) {
  const boxes = BOXES.filter(([, perms]) => anyOf(perms)).map(([b]) => b);
  let box = boxes.includes(params.box) ? params.box : boxes[0];
  const table = h("yi-table", { limit: "20", "data-testid": "documents-table", id: "documents-panel", role: "tabpanel" });
  const tabs = h("div", { class: "doc-tabs", role: "tablist", "aria-label": t("documents.boxes"), "data-testid": "documents-tabs" },
    boxes.map((b) => h("button", { type: "button", role: "tab", id: "documents-tab-" + b, "data-testid": "documents-tab-" + b,
      "data-box": b, "aria-controls": "documents-panel", onclick: () => select(b) }, t("documents.box." + b))));
  tabs.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    const i = boxes.indexOf(box) + (e.key === "ArrowRight" ? 1 : -1);
    const b = boxes[(i + boxes.length) % boxes.length];
    select(b);
    tabs.querySelector(`[data-box="${b}"]`).focus();
  });
  const exporter = exportBar() || null;
  const typeFilter = h("select", { id: "documents-filter-type", onchange: () => load() },
    h("option", { value: "" }, t("documents.all")), TYPES.map((x) => h("option", { value: x }, x)));
  const urgFilter = h("select", { id: "documents-filter-urgency", onchange: () => load() },
    h("option", { value: "*" }, t("documents.all")), h("option", { value: "特急" }, "特急"), h("option", { value: "加急" }, "加急"),
    h("option", { value: "" }, t("documents.urgency_none")));

  function columns() {
    const inc = INCOMING_BOXES.has(box);
    const cols = [
      { label: t("documents.f.title"), render: (d) => {
        const href = inc && d.incoming ? `${BASE}?incoming=${d.incoming.id}` : `${BASE}?doc=${d.id}`;
        const title = d.elements && d.elements.title || "";
        return box === "to_receive" ? h("span", { class: "doc-title" }, title)
          : h("a", { href, class: "doc-title", "data-testid": "documents-open" }, title);
      } },
      { label: t("documents.number"), render: (d) => d.number || "—" },
      { label: t("documents.f.doc_type"), render: (d) => d.elements && d.elements.doc_type || "" },
      { label: t("documents.f.urgency"), render: (d) => d.elements && d.elements.urgency || "" },
      { label: inc ? t("documents.register_no") : t("documents.unit"), render: (d) => inc && d.incoming
        ? `${d.incoming.year}-${String(d.incoming.serial).padStart(4, "0")}` : (d.unit && d.unit.name) || "" },
      { label: t("documents.state"), render: (d) => badge(inc && d.incoming ? d.incoming.state : d.state) },
      { key: "updated_at", label: t("documents.updated_at"), type: "datetime" },
    ];
    if (box === "to_receive") cols.push({ label: t("documents.actions"), render: (d) => h("span", { class: "row-actions" },
      h("button", { type: "button", "data-testid": "documents-sign", "aria-label": `${t("documents.sign")} ${d.elements.title}`,
        onclick: (e) => sign(d, e.currentTarget) }, t("documents.sign")),
      h("button", { type: "button", "data-testid": "documents-register", "aria-label": `${t("documents.register")} ${d.elements.title}`,
        onclick: () => register(d) }, t("documents.register"))) });
    return cols;
  }
  function load() {
    table.setAttribute("caption", t("documents.box." + box));
    table.setAttribute("empty", t("documents.empty"));
    table.src = "/api/documents";
    table.columns = columns();
    const p = { box, type: typeFilter.value || null };
    if (urgFilter.value !== "*") p.urgency = urgFilter.value;
    table.params = p;
  }
  function select(b) {
    box = b;
    if (exporter) exporter.hidden = b !== "archived";
    for (const tab of tabs.querySelectorAll("[role=tab]")) {
      const on = tab.dataset.box === b;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    }
    table.setAttribute("aria-labelledby", "documents-tab-" + b);
    history.replaceState(null, "", `${BASE}?box=${b}`);
    load();
  }
  async function sign(d, btn) {
    btn.disabled = true;
    try {
      await api.post(`/api/dispatches/${d.dispatch_id}/sign`, d.for_unit ? { unit_id: d.for_unit } : {});
      toast(t("documents.signed_ok", { title: d.elements.title }), "ok");
      btn.textContent = t("documents.signed_done");
      btn.dataset.done = "true";
    } catch (e) {
      btn.disabled = false;
      toast(errorText(e), "error");
    }
  }
  async function register(d) {
    try {
      const rec = await api.post("/api/documents/incoming", { dispatch_id: d.dispatch_id, unit_id: d.for_unit });
      toast(t("documents.registered_ok", { no: rec.register_no }), "ok");
      navigate(`${BASE}?incoming=${rec.id}`);
    } catch (e) { toast(errorText(e), "error"); }
  }

  el.append(
    h("h1", {}, t("documents.title")),
    h("div", { class: "doc-bar" },
      can("documents.draft") ? h("button", { type: "button", class: "primary", "data-testid": "documents-new", onclick: () => navigate(`${BASE}?new=1`) },
        t("documents.new")) : "",
      h("div", { class: "field" }, h("label", { for: "documents-filter-type" }, t("documents.f.doc_type")), typeFilter),
      h("div", { class: "field" }, h("label", { for: "documents-filter-urgency" }, t("documents.f.urgency")), urgFilter)),
    tabs, exporter || "", table);
  if (box) select(box); else table.replaceChildren(h("p", {}, t("documents.no_boxes")));
}

// ---------------------------------------------------------------- the draft form (GB/T 9704 elements)

function draftFields() {
  const opt = (xs) => xs.map((x) => ({ value: x, label: x }));
  return [
    { name: "doc_type", label: t("documents.f.doc_type"), type: "select", required: true, options: opt(TYPES) },
    { name: "title", label: t("documents.f.title"), required: true, maxlength: 200 },
    { name: "issuer_organ", label: t("documents.f.issuer_organ"), required: true, maxlength: 200 },
    { name: "org_code", label: t("documents.f.org_code"), required: true, maxlength: 30, help: t("documents.h.org_code") },
    { name: "urgency", label: t("documents.f.urgency"), type: "select", options: opt(["特急", "加急"]), blankLabel: t("documents.urgency_none") },
    { name: "secrecy", label: t("documents.f.secrecy"), type: "select", options: opt(SECRECY), blankLabel: "非密" },
    { name: "secrecy_period", label: t("documents.f.secrecy_period"), maxlength: 20 },
    { name: "copy_no", label: t("documents.f.copy_no"), maxlength: 6, inputmode: "numeric" },
    { name: "main_to", label: t("documents.f.main_to"), type: "textarea", rows: 2, help: t("documents.h.list") },
    { name: "body", label: t("documents.f.body"), type: "textarea", rows: 12, required: true },
    { name: "attachment_notes", label: t("documents.f.attachment_notes"), type: "textarea", rows: 2 },
    { name: "signature_organ", label: t("documents.f.signature_organ"), maxlength: 200 },
    { name: "doc_date", label: t("documents.f.doc_date"), type: "date", required: true },
    { name: "seal", label: t("documents.f.seal"), type: "checkbox" },
    { name: "notes", label: t("documents.f.notes"), type: "textarea", rows: 2 },
    { name: "copy_to", label: t("documents.f.copy_to"), type: "textarea", rows: 2, help: t("documents.h.list") },
    { name: "printer_organ", label: t("documents.f.printer_organ"), maxlength: 200 },
    { name: "print_date", label: t("documents.f.print_date"), type: "date" },
  ];
}

async function draftView(el, id) {
  const back = h("a", { href: id ? `${BASE}?doc=${id}` : `${BASE}?box=drafts`, "data-testid": "documents-back" }, t("documents.back"));
  el.append(back, h("h1", {}, id ? t("documents.edit") : t("documents.new")));
  let doc = null;
  if (id) {
    try { doc = await api.get(`/api/documents/${id}`); } catch (e) { el.append(h("p", { role: "alert" }, errorText(e))); return; }
  }
  const form = h("yi-form", { prefix: "doc", "submit-label": t("documents.save"), "submit-testid": "doc-save",
    "cancel-label": t("documents.cancel"), "data-testid": "doc-form" });
  form.fields = draftFields().map((f) => (id && !f.required && f.type !== "checkbox" ? Object.assign({ empty: "null" }, f) : f));
  const init = doc ? Object.assign({}, doc.elements) : { doc_type: "通知", doc_date: today(), seal: true, issuer_organ: me()?.units?.[0]?.name };
  for (const k of LISTS) if (Array.isArray(init[k])) init[k] = init[k].join("\n");
  form.values = init;
  form.action = (v) => {
    for (const k of LISTS) if (typeof v[k] === "string") v[k] = v[k].split(/\n+/).map((s) => s.trim()).filter(Boolean);
    return id ? api.patch(`/api/documents/${id}`, v) : api.post("/api/documents", v);
  };
  form.addEventListener("yi-saved", (e) => {
    toast(t("documents.saved", { title: e.detail.elements.title }), "ok");
    navigate(`${BASE}?doc=${e.detail.id}`);
  });
  form.addEventListener("yi-cancel", () => navigate(back.getAttribute("href")));
  el.append(h("div", { class: "card" }, form));
}

// ---------------------------------------------------------------- an outgoing document

// A step in a modal: fields → POST path; resolves with the answer or null.
function step(title, path, fields, testid, extra = {}) {
  const form = h("yi-form", { prefix: "act", "submit-label": title, "submit-testid": testid,
    "cancel-label": t("documents.cancel"), "data-testid": "doc-step-form" });
  form.fields = fields;
  form.action = (v) => api.post(path, Object.assign(v, extra));
  return modal(title, form);
}

function elementsList(e) {
  const rows = [];
  const add = (k, v) => { if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && !v.length)) rows.push(h("dt", {}, t("documents.f." + k)), h("dd", { "data-el": k }, v)); };
  for (const k of ["doc_type", "issuer_organ", "org_code", "urgency", "secrecy", "secrecy_period", "copy_no"]) add(k, e[k]);
  add("main_to", (e.main_to || []).join("、"));
  add("doc_date", e.doc_date ? fmtDate(e.doc_date) : "");
  add("signature_organ", e.signature_organ);
  add("attachment_notes", e.attachment_notes);
  add("notes", e.notes);
  add("copy_to", (e.copy_to || []).join("、"));
  add("printer_organ", e.printer_organ);
  add("print_date", e.print_date ? fmtDate(e.print_date) : "");
  if (e.seal !== undefined) add("seal", e.seal ? t("documents.yes") : t("documents.no"));
  return h("dl", { class: "yi-dl", "data-testid": "doc-elements" }, rows);
}

async function docView(el, id) {
  el.append(h("a", { href: BASE, "data-testid": "documents-back" }, t("documents.back")));
  const main = h("div", { "data-testid": "doc-view" });
  el.append(main);
  async function draw() {
    let doc;
    try { doc = await api.get(`/api/documents/${id}`); }
    catch (e) { main.replaceChildren(h("p", { role: "alert" }, errorText(e))); return; }
    const e = doc.elements || {};
    const actions = h("div", { class: "doc-actions", "data-testid": "doc-actions" });
    const after = (ok, msg) => { if (ok) { toast(msg, "ok"); draw(); } };
    const btn = (testid, label, fn, primary) => actions.append(h("button", { type: "button", class: primary ? "primary" : "",
      "data-testid": testid, onclick: fn }, label));
    const comment = (req) => ({ name: "comment", label: t("documents.comment"), type: "textarea", rows: 3, required: !!req });
    const ret = (path, extra) => async () => after(await step(t("documents.return"), path, [comment(true)], "doc-return-save",
      Object.assign({ decision: "return" }, extra)), t("documents.returned_ok"));
    const p = `/api/documents/${id}`;
    const dispatchPanel = h("div", { "data-testid": "doc-dispatch-panel" });
    switch (doc.state) {
      case "draft":
        if (can("documents.draft")) {
          btn("doc-edit", t("documents.edit"), () => navigate(`${BASE}?edit=${id}`));
          btn("doc-submit", t("documents.submit"), async () => after(await step(t("documents.submit"), p + "/submit",
            [comment(false)], "doc-submit-save"), t("documents.submitted_ok")), true);
        }
        break;
      case "reviewing":
        if (can("documents.review")) {
          btn("doc-review-pass", t("documents.review_pass"), async () => after(await reviewPass(p, doc), t("documents.reviewed_ok")), true);
          btn("doc-review-return", t("documents.return"), ret(p + "/review"));
        }
        break;
      case "countersigning":
        if (can("documents.countersign")) {
          btn("doc-countersign-agree", t("documents.agree"), async () => after(await step(t("documents.agree"), p + "/countersign",
            [comment(false)], "doc-countersign-save", { decision: "agree" }), t("documents.countersigned_ok")), true);
          btn("doc-countersign-return", t("documents.return"), ret(p + "/countersign"));
        }
        break;
      case "signing":
        if (can("documents.signoff")) {
          btn("doc-signoff", t("documents.signoff"), async () => after(await step(t("documents.signoff"), p + "/signoff",
            [comment(false)], "doc-signoff-save", { decision: "approve" }), t("documents.signed_off_ok")), true);
          btn("doc-signoff-return", t("documents.return"), ret(p + "/signoff"));
        }
        break;
      case "signed":
        if (can("documents.send")) btn("doc-dispatch", t("documents.dispatch"), () => dispatchForm(dispatchPanel, doc, draw), true);
        if (can("documents.signoff")) btn("doc-void", t("documents.void_number"), async () => after(await step(t("documents.void_number"),
          p + "/void-number", [{ name: "reason", label: t("documents.reason"), required: true }], "doc-void-save"), t("documents.voided_ok")));
        break;
      case "dispatched":
        if (can("documents.send")) btn("doc-archive", t("documents.archive"), async () => after(await step(t("documents.archive"),
          p + "/archive", [comment(false)], "doc-archive-save"), t("documents.archived_ok")));
        break;
    }
    const flow = h("yi-timeline", { "data-testid": "doc-flow" });
    const versions = h("ul", { "data-testid": "doc-versions" });
    main.replaceChildren(
      h("h1", { class: "doc-title", "data-testid": "doc-title" }, e.title || ""),
      h("p", {}, badge(doc.state), " ", h("span", { "data-testid": "doc-number" }, doc.number || t("documents.no_number")),
        doc.signer ? ` · ${t("documents.signer")}：${doc.signer}` : "", ` · ${doc.unit ? doc.unit.name : ""}`),
      actions, retentionControl(id, doc), dispatchPanel,
      doc.dispatch_id ? h("section", { class: "card" }, h("h2", {}, t("documents.board")),
        h("yi-board", { "dispatch-id": String(doc.dispatch_id), "data-testid": "doc-board" })) : "",
      h("div", { class: "yi-grid" },
        h("section", { class: "card" }, h("h2", {}, t("documents.elements")), elementsList(e),
          h("h3", {}, t("documents.f.body")), h("div", { class: "doc-body", "data-testid": "doc-body" }, e.body || "")),
        h("section", { class: "card" }, h("h2", {}, t("documents.flow")), flow,
          h("h2", {}, t("documents.versions")), versions)),
      attachmentsSection(id, doc, draw), annotStyle());
    api.get(p + "/flow").then((r) => {
      flow.items = r.items.map((x) => ({ at: x.at, kind: x.action, title: t("documents.action." + x.action),
        by: [x.user && x.user.name, x.unit && x.unit.name].filter(Boolean).join(" · "), body: x.comment || "" }));
    }).catch((err) => flow.replaceChildren(h("p", { role: "alert" }, errorText(err))));
    api.get(p + "/versions").then((r) => {
      versions.replaceChildren(...r.items.map((v) => h("li", { "data-testid": "doc-version" },
        h("button", { type: "button", class: "link", "aria-label": t("documents.version_open", { v: v.version }),
          onclick: () => showVersion(id, v.version) }, t("documents.version_n", { v: v.version })),
        ` ${fmtDateTime(v.saved_at)} `,
        v.version > 1 ? h("button", { type: "button", class: "link", "data-testid": "doc-version-diff", "data-version": v.version,
          onclick: () => diffModal(id, v.version - 1, v.version) }, t("documents.diff_prev")) : "")));
    }).catch((err) => versions.replaceChildren(h("li", { role: "alert" }, errorText(err))));
  }
  await draw();
}

async function showVersion(id, v) {
  try {
    const r = await api.get(`/api/documents/${id}/versions/${v}`);
    await modal(t("documents.version_n", { v }), h("div", {}, elementsList(r.elements || {}),
      h("h3", {}, t("documents.f.body")), h("div", { class: "doc-body" }, (r.elements || {}).body || "")),
      { buttons: [{ label: t("documents.close"), value: true, primary: true, testid: "modal-ok" }] });
  } catch (e) { toast(errorText(e), "error"); }
}

// The unit tree of GET /api/documents/units (whoever may dispatch or review; units.read not needed);
// on a refusal, the server's error.
async function unitsOrError() {
  try { return unitTree((await api.get("/api/documents/units")).items); } catch (e) { return e; }
}

async function reviewPass(path, doc) {
  const units = await unitsOrError();
  const form = h("yi-form", { prefix: "review", "submit-label": t("documents.review_pass"), "submit-testid": "doc-review-save",
    "cancel-label": t("documents.cancel") });
  form.fields = [{ name: "comment", label: t("documents.comment"), type: "textarea", rows: 3 }];
  let sel = null;
  if (Array.isArray(units)) {
    sel = h("select", { id: "review-countersign-units", multiple: true, size: "6" },
      units.filter((u) => u.id !== doc.unit_id).map((u) => h("option", { value: u.id }, "\u3000".repeat(u.depth) + u.name)));
  }
  const wrap = h("div", {}, sel ? h("div", { class: "field" }, h("label", { for: "review-countersign-units" }, t("documents.countersign_units")),
    sel, h("div", { class: "field-hint" }, t("documents.h.countersign"))) : "", form);
  form.action = (v) => api.post(path + "/review", Object.assign(v, { decision: "pass",
    countersign_units: sel ? [...sel.selectedOptions].map((o) => Number(o.value)) : [] }));
  return modal(t("documents.review_pass"), wrap, { buttons: [] }); // the form's yi-saved/yi-cancel bubble to wrap
}

// 分发: the recipient units as a tree, 主送 / 抄送 per unit; "all townships" is one click.
async function dispatchForm(panel, doc, done) {
  panel.replaceChildren(h("p", {}, t("documents.loading")));
  const units = await unitsOrError();
  if (!Array.isArray(units)) { panel.replaceChildren(h("p", { role: "alert" }, errorText(units))); return; }
  const list = units.filter((u) => u.id !== doc.unit_id && u.active !== false);
  const boxes = new Map(); // id → {main, copy, unit}
  const count = h("span", { "data-testid": "doc-dispatch-count", "aria-live": "polite" });
  const recount = () => {
    const m = [...boxes.values()].filter((b) => b.main.checked).length;
    const c = [...boxes.values()].filter((b) => b.copy.checked && !b.main.checked).length;
    count.textContent = t("documents.dispatch_count", { main: fmtNumber(m), copy: fmtNumber(c) });
  };
  const rows = list.map((u) => {
    const main = h("input", { type: "checkbox", id: `dispatch-main-${u.id}`, "data-unit": u.id, "data-kind": u.kind, onchange: recount });
    const copy = h("input", { type: "checkbox", id: `dispatch-copy-${u.id}`, "data-unit": u.id, onchange: recount });
    boxes.set(u.id, { main, copy, unit: u });
    return h("div", { class: "doc-unit", "data-testid": "doc-dispatch-unit", style: `padding-left:${u.depth}em` },
      h("span", { class: "doc-unit-name", id: `dispatch-name-${u.id}` }, u.name),
      h("label", { for: main.id, "aria-label": `${t("documents.main")} ${u.name}` }, main, " ", t("documents.main")),
      h("label", { for: copy.id, "aria-label": `${t("documents.copy")} ${u.name}` }, copy, " ", t("documents.copy")));
  });
  const pick = (kind) => { for (const b of boxes.values()) if (b.unit.kind === kind) { b.main.checked = true; b.copy.checked = false; } recount(); };
  const err = h("div", { class: "field-error", "data-error-for": "main", role: "alert" });
  const deadline = h("input", { type: "number", id: "dispatch-deadline-hours", min: "1", step: "1", inputmode: "numeric" });
  const send = h("button", { type: "button", class: "primary", "data-testid": "doc-dispatch-send" }, t("documents.dispatch_send"));
  send.onclick = async () => {
    const main = [], copy = [];
    for (const [id, b] of boxes) { if (b.main.checked) main.push(id); else if (b.copy.checked) copy.push(id); }
    showErrorText(err, null);
    if (!main.length && !copy.length) { showErrorText(err, { field: "main", message: t("documents.dispatch_none") }); return; }
    const body = { main, copy };
    if (deadline.value) body.deadline_in = Math.round(Number(deadline.value) * 3600);
    send.disabled = true;
    try {
      await api.post(`/api/documents/${doc.id}/dispatch`, body);
      toast(t("documents.dispatched_ok", { n: fmtNumber(main.length + copy.length) }), "ok");
      panel.replaceChildren();
      done();
    } catch (e) {
      showErrorText(err, e, { label: e.field === "deadline_in" ? t("documents.deadline_hours") : t("documents.recipients") });
    } finally { send.disabled = false; }
  };
  panel.replaceChildren(h("section", { class: "card" },
    h("h2", { id: "dispatch-title" }, t("documents.dispatch")),
    h("fieldset", { "aria-labelledby": "dispatch-title" },
      h("legend", {}, t("documents.recipients")),
      h("div", { class: "doc-actions" },
        h("button", { type: "button", "data-testid": "doc-dispatch-townships", onclick: () => pick("township") }, t("documents.all_townships")),
        h("button", { type: "button", "data-testid": "doc-dispatch-departments", onclick: () => pick("department") }, t("documents.all_departments")),
        h("button", { type: "button", "data-testid": "doc-dispatch-clear", onclick: () => {
          for (const b of boxes.values()) { b.main.checked = false; b.copy.checked = false; } recount(); } }, t("documents.clear"))),
      h("div", { class: "doc-units", "data-testid": "doc-dispatch-units" }, rows),
      count, err),
    h("div", { class: "field" }, h("label", { for: "dispatch-deadline-hours" }, t("documents.deadline_hours")), deadline),
    h("div", { class: "doc-actions" }, send,
      h("button", { type: "button", "data-testid": "doc-dispatch-cancel", onclick: () => panel.replaceChildren() }, t("documents.cancel")))));
  recount();
  panel.querySelector("[data-testid=doc-dispatch-townships]").focus();
}

// ---------------------------------------------------------------- an incoming record (收文)

async function incomingView(el, id) {
  el.append(h("a", { href: `${BASE}?box=incoming`, "data-testid": "documents-back" }, t("documents.back")));
  const main = h("div", { "data-testid": "incoming-view" });
  el.append(main);
  const p = `/api/documents/incoming/${id}`;
  async function draw() {
    let r;
    try { r = await api.get(p); } catch (e) { main.replaceChildren(h("p", { role: "alert" }, errorText(e))); return; }
    const d = r.document || {};
    const e = d.elements || {};
    const actions = h("div", { class: "doc-actions", "data-testid": "incoming-actions" });
    const after = (ok, msg) => { if (ok) { toast(msg, "ok"); draw(); } };
    const btn = (testid, label, fn, primary) => actions.append(h("button", { type: "button", class: primary ? "primary" : "",
      "data-testid": testid, onclick: fn }, label));
    const s = r.state;
    if (can("documents.receive") && s === "registered")
      btn("incoming-propose", t("documents.propose"), async () => after(await step(t("documents.propose"), p + "/propose",
        [{ name: "opinion", label: t("documents.opinion"), type: "textarea", rows: 3, required: true }], "incoming-propose-save"), t("documents.done_ok")), true);
    if (can("documents.instruct") && (s === "registered" || s === "proposed"))
      btn("incoming-instruct", t("documents.instruct"), async () => after(await instruct(p), t("documents.done_ok")), true);
    if (can("documents.receive") && (s === "proposed" || s === "instructed"))
      btn("incoming-assign", t("documents.assign"), async () => after(await step(t("documents.assign"), p + "/assign", [
        { name: "department", label: t("documents.department"), type: "unit", required: true },
        { name: "deadline", label: t("documents.deadline"), type: "date", required: true },
        { name: "comment", label: t("documents.comment"), type: "textarea", rows: 2 }], "incoming-assign-save"), t("documents.done_ok")), true);
    if (can("documents.handle") && s === "handling")
      btn("incoming-complete", t("documents.complete"), async () => after(await step(t("documents.complete"), p + "/complete",
        [{ name: "result", label: t("documents.result"), type: "textarea", rows: 3, required: true }], "incoming-complete-save"), t("documents.done_ok")), true);
    if (can("documents.receive") && s === "completed")
      btn("incoming-archive", t("documents.archive"), async () => after(await step(t("documents.archive"), p + "/archive",
        [{ name: "comment", label: t("documents.comment"), type: "textarea", rows: 2 }], "incoming-archive-save"), t("documents.archived_ok")));
    if (can("documents.receive") && s !== "archived")
      btn("incoming-circulate", t("documents.circulate"), async () => after(await circulate(p), t("documents.done_ok")));
    const my = me()?.user?.id;
    const mine = (r.circulation || []).find((c) => c.user_id === my && c.state !== "read");
    if (mine) btn("incoming-read", t("documents.mark_read"), async () => after(await step(t("documents.mark_read"), p + "/read",
      [{ name: "comment", label: t("documents.read_comment"), type: "textarea", rows: 2 }], "incoming-read-save"), t("documents.done_ok")), true);
    const info = h("dl", { class: "yi-dl", "data-testid": "incoming-info" });
    const add = (k, v) => { if (v) info.append(h("dt", {}, t(k)), h("dd", {}, v)); };
    add("documents.register_no", r.register_no);
    add("documents.number", d.number);
    add("documents.from_unit", d.unit && d.unit.name);
    add("documents.opinion", r.proposal);
    add("documents.instruction", r.instruction);
    add("documents.department", r.handler_unit && r.handler_unit.name);
    add("documents.deadline", r.deadline ? fmtDate(r.deadline) : "");
    add("documents.result", r.result);
    const circ = h("ul", { "data-testid": "incoming-circulation" }, (r.circulation || []).map((c) => h("li", { "data-testid": "incoming-reader" },
      `${c.name || c.user_name || ("#" + c.user_id)} · ${t("documents.read_state." + c.state)}`,
      c.read_at ? ` · ${fmtDateTime(c.read_at)}` : "", c.comment ? ` · ${c.comment}` : "")));
    const flow = h("yi-timeline", { "data-testid": "incoming-flow" });
    flow.items = (r.flow || []).map((x) => ({ at: x.at, kind: x.action, title: t("documents.action." + x.action),
      by: [x.user && x.user.name, x.unit && x.unit.name].filter(Boolean).join(" · "), body: x.comment || "" }));
    main.replaceChildren(
      h("h1", { class: "doc-title", "data-testid": "incoming-title" }, e.title || ""),
      h("p", {}, badge(s), " ", h("span", { "data-testid": "incoming-register-no" }, r.register_no || "")),
      actions, info,
      h("div", { class: "yi-grid" },
        h("section", { class: "card" }, h("h2", {}, t("documents.elements")), elementsList(e),
          h("h3", {}, t("documents.f.body")), h("div", { class: "doc-body" }, e.body || "")),
        h("section", { class: "card" }, h("h2", {}, t("documents.flow")), flow,
          h("h2", {}, t("documents.circulation")), circ)));
  }
  await draw();
}

function instruct(p) {
  const form = h("yi-form", { prefix: "instruct", "submit-label": t("documents.instruct"), "submit-testid": "incoming-instruct-save",
    "cancel-label": t("documents.cancel") });
  form.fields = [
    { name: "text", label: t("documents.instruction"), type: "textarea", rows: 4, required: true, maxlength: 2000 },
    { name: "track", label: t("documents.track"), type: "checkbox" },
    { name: "lead_unit", label: t("documents.lead_unit"), type: "unit" },
    { name: "deadline", label: t("documents.deadline"), type: "date" },
  ];
  form.action = (v) => {
    const body = { text: v.text };
    if (v.track) body.track = { lead_unit: v.lead_unit, deadline: v.deadline };
    return api.post(p + "/instruct", body).catch((e) => {
      if (e.field === "track") { e.field = v.lead_unit ? "deadline" : "lead_unit"; }
      throw e;
    });
  };
  return modal(t("documents.instruct"), form);
}

function circulate(p) {
  const picked = new Map();
  const listEl = h("ul", { "data-testid": "circulate-users" });
  const draw = () => listEl.replaceChildren(...[...picked.values()].map((u) => h("li", {}, u.display_name || u.name || u.username,
    " ", h("button", { type: "button", "aria-label": `${t("documents.remove")} ${u.display_name || u.username}`,
      onclick: () => { picked.delete(u.id); draw(); } }, "×"))));
  const picker = h("yi-user-picker", { "control-id": "circulate-user", src: "/api/contacts" });
  picker.addEventListener("change", () => { if (picker.user) { picked.set(picker.user.id, picker.user); draw(); } });
  const form = h("yi-form", { prefix: "circulate", "submit-label": t("documents.circulate"), "submit-testid": "incoming-circulate-save",
    "cancel-label": t("documents.cancel") });
  form.fields = [{ name: "mode", label: t("documents.mode"), type: "select", required: true,
    options: [{ value: "sequence", label: t("documents.mode_sequence") }, { value: "parallel", label: t("documents.mode_parallel") }] }];
  form.values = { mode: "sequence" };
  form.action = (v) => api.post(p + "/circulate", { mode: v.mode, user_ids: [...picked.keys()] }).catch((e) => {
    if (e.field === "user_ids") e.field = "mode";
    throw e;
  });
  const wrap = h("div", {}, h("div", { class: "field" }, h("label", { for: "circulate-user" }, t("documents.readers")), picker, listEl), form);
  return modal(t("documents.circulate"), wrap, { buttons: [] });
}
