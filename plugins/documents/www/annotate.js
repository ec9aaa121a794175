// The documents pages' reading features (loaded by page.js): attachments with their pages,
// annotation (圈阅: draw, circle and mark on a page with the finger, the pen or the mouse;
// saved as data and replayed in order), the difference of two versions, the retention
// period and the yearly archive export.
//   #/p/documents/documents?annotate=<id>&file=<file id>|body&page=<n>   the annotator
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, errorText } from "/kit/ui.js";
import { can } from "/kit/session.js";
import { navigate } from "/kit/router.js";
import { uploadFile } from "/kit/upload.js";

const BASE = "#/p/documents/documents";
const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#d00000", "#0050c8", "#008000", "#000000"];
const SYMBOLS = { check: "✓", cross: "✗", question: "?", star: "★" };
const BODY_PAGE = [595, 842];   // the body is laid out on an A4 page (points)

const STYLE = `
.annot-bar { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; margin: .5rem 0; }
.annot-bar [aria-pressed=true] { background: var(--accent, #1f5fa8); color: #fff; }
.annot-page { position: relative; width: 100%; max-width: 900px; border: 1px solid var(--line); background: #fff; }
.annot-page > img, .annot-page > .annot-body { display: block; width: 100%; height: auto; }
.annot-body { aspect-ratio: 595 / 842; overflow: hidden; padding: 6%; box-sizing: border-box; white-space: pre-wrap;
  overflow-wrap: anywhere; font-size: clamp(10px, 2.2vw, 16px); line-height: 1.8; }
.annot-page > svg { position: absolute; inset: 0; width: 100%; height: 100%; touch-action: none; cursor: crosshair; }
.annot-swatch { width: 1.6rem; height: 1.6rem; border-radius: 50%; border: 2px solid #fff; box-shadow: 0 0 0 1px var(--line); padding: 0; }
.annot-swatch[aria-pressed=true] { box-shadow: 0 0 0 3px var(--accent, #1f5fa8); }
.doc-diff ins { background: #d7f5dd; text-decoration: none; }
.doc-diff del { background: #fbd9d9; }
.doc-diff .doc-diff-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.doc-atts li { display: flex; flex-wrap: wrap; gap: .25rem .75rem; align-items: center; padding: .2rem 0; }
`;
export const annotStyle = () => h("style", {}, STYLE);

function svg(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  return el;
}

// One annotation as SVG in a viewBox of the page's size in points.
function shape(a, W, H) {
  let el;
  if (a.kind === "stroke") {
    el = svg("polyline", { points: a.points.map(([x, y]) => `${(x * W).toFixed(2)},${(y * H).toFixed(2)}`).join(" "),
      fill: "none", stroke: a.color, "stroke-width": a.width, "stroke-linecap": "round", "stroke-linejoin": "round" });
  } else if (a.kind === "circle") {
    el = svg("circle", { cx: a.center[0] * W, cy: a.center[1] * H, r: a.radius * W, fill: "none", stroke: a.color,
      "stroke-width": a.width });
  } else {
    el = svg("text", { x: a.at[0] * W, y: a.at[1] * H, fill: a.color, "font-size": W / 18, "text-anchor": "middle",
      "dominant-baseline": "middle" });
    el.textContent = SYMBOLS[a.symbol] || "?";
  }
  el.setAttribute("data-testid", "annot-shape");
  el.setAttribute("data-kind", a.kind);
  if (a.id) el.setAttribute("data-id", a.id);
  else el.setAttribute("data-pending", "true");
  return el;
}

// ---------------------------------------------------------------- attachments on a document page

export function attachmentsSection(id, doc, redraw) {
  const list = h("ul", { class: "doc-atts", "data-testid": "doc-attachments" });
  const sec = h("section", { class: "card" }, h("h2", {}, t("documents.attachments")), list);
  const open = (file) => navigate(`${BASE}?annotate=${id}&file=${file}&page=1`);
  list.append(h("li", {}, h("span", {}, t("documents.f.body")),
    h("button", { type: "button", "data-testid": "doc-annotate-body", onclick: () => open("body") }, t("documents.annotate"))));
  api.get(`/api/documents/${id}/attachments`).then((r) => {
    for (const a of r.items) {
      list.append(h("li", { "data-testid": "doc-attachment", "data-file": a.file_id },
        h("a", { href: `/api/files/${a.file_id}`, target: "_blank", rel: "noopener" }, a.name),
        a.pages ? h("span", {}, t("documents.pages_n", { n: a.pages })) : "",
        a.pages ? h("button", { type: "button", "data-testid": "doc-annotate", onclick: () => open(a.file_id) },
          t("documents.annotate")) : ""));
    }
  }).catch((e) => list.append(h("li", { role: "alert" }, errorText(e))));
  if (doc.state !== "archived" && (can("documents.draft") || can("documents.send"))) {
    const input = h("input", { type: "file", id: "doc-attach-file", accept: ".pdf,application/pdf", "data-testid": "doc-attach-file" });
    input.addEventListener("change", async () => {
      const f = input.files[0];
      if (!f) return;
      try {
        const up = await uploadFile(f);
        await api.post(`/api/documents/${id}/attachments`, { file_id: up.id });
        toast(t("documents.attached_ok", { name: f.name }), "ok");
        redraw();
      } catch (e) { toast(errorText(e), "error"); }
      input.value = "";
    });
    sec.append(h("div", { class: "field" }, h("label", { for: "doc-attach-file" }, t("documents.attach")), input));
  }
  return sec;
}

// ---------------------------------------------------------------- the annotator

export async function annotateView(el, id, file, pageNo) {
  el.append(annotStyle(), h("a", { href: `${BASE}?doc=${id}`, "data-testid": "documents-back" }, t("documents.back_doc")));
  const root = h("div", { "data-testid": "annot-view" });
  el.append(root);
  const target = file === "body" ? "body" : Number(file);
  let doc, pages = 1, size = BODY_PAGE;
  try {
    doc = await api.get(`/api/documents/${id}`).catch(async (e) => {
      if (e.status !== 404) throw e;
      return null;   // a recipient's reader: the document through the attachments and annotations
    });
    if (target !== "body") {
      const p = await api.get(`/api/documents/${id}/attachments/${target}/pages`);
      pages = p.pages;
      size = p.page_sizes[pageNo - 1] || p.page_sizes[0];
    }
  } catch (e) { root.replaceChildren(h("p", { role: "alert" }, errorText(e))); return; }
  const page = Math.min(Math.max(1, pageNo || 1), pages);
  const [W, H] = size;
  const sealed = doc && doc.state === "archived";
  let mode = "stroke", color = COLORS[0], width = 3, everyone = false;
  const pending = [];

  const overlay = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", "data-testid": "annot-overlay",
    role: "img", "aria-label": t("documents.annotations") });
  const saved = svg("g", { "data-testid": "annot-saved" }), draft = svg("g", { "data-testid": "annot-pending" });
  overlay.append(saved, draft);
  const surface = target === "body"
    ? h("div", { class: "annot-body", "data-testid": "annot-body" }, doc ? (doc.elements || {}).body || "" : "")
    : h("img", { src: `/api/documents/${id}/attachments/${target}/pages/${page}?scale=${window.devicePixelRatio > 1 ? 2 : 1}`,
      alt: t("documents.page_n", { n: page, of: pages }), "data-testid": "annot-image", width: W, height: H });
  const pageBox = h("div", { class: "annot-page", "data-testid": "annot-page" }, surface, overlay);

  async function replay() {
    try {
      const r = await api.get(`/api/documents/${id}/annotations?target=${target}&page=${page}${everyone ? "&user=all" : ""}`);
      saved.replaceChildren(...r.items.map((a) => shape(a, W, H)));
      root.dataset.loaded = String(r.items.length);
    } catch (e) { toast(errorText(e), "error"); }
  }

  // pointer input: pen, mouse or finger alike
  let cur = null, start = null, live = null;
  const pt = (e) => {
    const r = overlay.getBoundingClientRect();
    const c = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
    return [c((e.clientX - r.left) / r.width), c((e.clientY - r.top) / r.height)];
  };
  overlay.addEventListener("pointerdown", (e) => {
    if (sealed) return;
    e.preventDefault();
    root.dataset.pointer = e.pointerType || "";
    overlay.setPointerCapture && overlay.setPointerCapture(e.pointerId);
    start = pt(e);
    if (mode === "stroke") cur = { kind: "stroke", points: [start], color, width };
    else if (mode === "circle") cur = { kind: "circle", center: start, radius: 0.001, color, width };
    else cur = { kind: "mark", at: start, symbol: mode, color };
    live = shape(cur, W, H);
    draft.append(live);
  });
  overlay.addEventListener("pointermove", (e) => {
    if (!cur || cur.kind === "mark") return;
    e.preventDefault();
    const p = pt(e);
    if (cur.kind === "stroke") {
      const last = cur.points[cur.points.length - 1];
      if (Math.abs(last[0] - p[0]) + Math.abs(last[1] - p[1]) < 0.002 || cur.points.length >= 2000) return;
      cur.points.push(p);
    } else {
      const dx = (p[0] - start[0]) * W, dy = (p[1] - start[1]) * H;
      cur.radius = Math.max(0.001, Math.min(1, Math.round(Math.hypot(dx, dy) / W * 10000) / 10000));
    }
    const next = shape(cur, W, H);
    live.replaceWith(next);
    live = next;
  });
  const finish = () => {
    if (!cur) return;
    if (cur.kind === "stroke" && cur.points.length < 2) { live.remove(); cur = null; return; }
    pending.push(cur);
    cur = null;
    saveBtn.disabled = false;
    undoBtn.disabled = false;
    root.dataset.pending = String(pending.length);
  };
  overlay.addEventListener("pointerup", finish);
  overlay.addEventListener("pointercancel", finish);

  async function save() {
    if (!pending.length) return;
    saveBtn.disabled = true;
    try {
      await api.post(`/api/documents/${id}/annotations`, { target, page, items: pending.splice(0) });
      draft.replaceChildren();
      root.dataset.pending = "0";
      toast(t("documents.annot_saved"), "ok");
      await replay();
    } catch (e) { saveBtn.disabled = false; toast(errorText(e), "error"); }
  }
  function undo() {
    if (!pending.length) return;
    pending.pop();
    draft.lastChild && draft.lastChild.remove();
    root.dataset.pending = String(pending.length);
    undoBtn.disabled = saveBtn.disabled = !pending.length;
  }

  const modes = [["stroke", t("documents.draw_line")], ["circle", t("documents.draw_circle")],
    ["check", "✓"], ["cross", "✗"], ["question", "?"], ["star", "★"]];
  const modeBtns = modes.map(([k, label]) => h("button", { type: "button", "data-testid": "annot-mode-" + k,
    "aria-pressed": k === mode ? "true" : "false", onclick: (e) => {
      mode = k;
      for (const b of modeBtns) b.setAttribute("aria-pressed", b === e.currentTarget ? "true" : "false");
    } }, label));
  const swatches = COLORS.map((c) => h("button", { type: "button", class: "annot-swatch", style: `background:${c}`,
    "aria-label": t("documents.color") + " " + c, "aria-pressed": c === color ? "true" : "false", onclick: (e) => {
      color = c;
      for (const b of swatches) b.setAttribute("aria-pressed", b === e.currentTarget ? "true" : "false");
    } }));
  const widthSel = h("select", { id: "annot-width", "aria-label": t("documents.width"), onchange: () => { width = Number(widthSel.value); } },
    [1, 2, 3, 5, 8].map((w) => h("option", { value: String(w), selected: w === width }, String(w))));
  const saveBtn = h("button", { type: "button", class: "primary", disabled: true, "data-testid": "annot-save", onclick: save },
    t("documents.save"));
  const undoBtn = h("button", { type: "button", disabled: true, "data-testid": "annot-undo", onclick: undo }, t("documents.undo"));
  const nav = (n) => navigate(`${BASE}?annotate=${id}&file=${file}&page=${n}`);
  const others = can("documents.annotations") ? h("label", {}, h("input", { type: "checkbox", "data-testid": "annot-everyone",
    onchange: (e) => { everyone = e.target.checked; replay(); } }), " ", t("documents.annot_everyone")) : "";

  root.replaceChildren(
    h("h1", { class: "doc-title" }, doc ? (doc.elements || {}).title || "" : t("documents.annotations")),
    sealed ? h("p", { role: "status", "data-testid": "annot-sealed" }, t("documents.annot_sealed")) : "",
    h("div", { class: "annot-bar" },
      pages > 1 ? h("button", { type: "button", disabled: page <= 1, "data-testid": "annot-prev", onclick: () => nav(page - 1) }, "‹") : "",
      h("span", { "data-testid": "annot-pageno" }, t("documents.page_n", { n: page, of: pages })),
      pages > 1 ? h("button", { type: "button", disabled: page >= pages, "data-testid": "annot-next", onclick: () => nav(page + 1) }, "›") : ""),
    sealed ? "" : h("div", { class: "annot-bar", role: "group", "aria-label": t("documents.annotations") },
      modeBtns, swatches, widthSel, undoBtn, saveBtn),
    others ? h("div", { class: "annot-bar" }, others) : "",
    pageBox);
  await replay();
}

// ---------------------------------------------------------------- the version diff

export async function diffModal(id, from, to) {
  try {
    const r = await api.get(`/api/documents/${id}/diff?from=${from}&to=${to}`);
    const body = h("div", { class: "doc-diff", "data-testid": "doc-diff" },
      r.changes.length ? r.changes.map((c) => h("section", { "data-testid": "doc-diff-field", "data-field": c.field },
        h("h3", {}, t("documents.f." + c.field) === "documents.f." + c.field ? c.field : t("documents.f." + c.field)),
        h("div", { class: "doc-diff-text" }, c.ops.map((o) => o.op === "insert" ? h("ins", {}, o.text)
          : o.op === "delete" ? h("del", {}, o.text) : o.text))))
        : h("p", {}, t("documents.diff_none")));
    await modal(t("documents.diff_title", { from, to }), body,
      { buttons: [{ label: t("documents.close"), value: true, primary: true, testid: "modal-ok" }] });
  } catch (e) { toast(errorText(e), "error"); }
}

// ---------------------------------------------------------------- retention and the archive export

export function retentionControl(id, doc) {
  if (!["dispatched", "archived"].includes(doc.state)) return "";
  const sel = h("select", { id: "doc-retention", "data-testid": "doc-retention", disabled: !can("documents.send") },
    ["永久", "定期30年", "定期10年"].map((p) => h("option", { value: p }, p)));
  api.get(`/api/documents/${id}/retention`).then((r) => { sel.value = r.period; sel.dataset.period = r.period; })
    .catch(() => {});
  sel.addEventListener("change", async () => {
    try {
      const r = await api.put(`/api/documents/${id}/retention`, { period: sel.value });
      sel.dataset.period = r.period;
      toast(t("documents.retention_ok", { period: r.period }), "ok");
    } catch (e) { toast(errorText(e), "error"); }
  });
  return h("div", { class: "field" }, h("label", { for: "doc-retention" }, t("documents.retention")), sel);
}

export function exportBar() {
  if (!can("documents.send")) return "";
  const year = h("input", { type: "number", id: "doc-export-year", min: "1990", max: "9999", value: String(new Date().getFullYear()),
    style: "width:7rem" });
  const go = h("a", { class: "button", "data-testid": "doc-export", download: "", href: "#" }, t("documents.export"));
  const sync = () => {
    go.href = `/api/documents/archives/${encodeURIComponent(year.value)}`;
    go.setAttribute("download", `归档-${year.value}.zip`);
  };
  year.addEventListener("input", sync);
  sync();
  return h("div", { class: "doc-bar", "data-testid": "doc-export-bar" },
    h("div", { class: "field" }, h("label", { for: "doc-export-year" }, t("documents.export_year")), year), go);
}
