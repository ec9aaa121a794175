// The organiser's page (#/p/meetings/meetings): the meetings of my unit and a new notice; with
// ?id=<meeting> one meeting: its particulars, the recipient units and Send (a draft), the live
// board (read / signed / replied / attending, the names, the units still owing — updated from the
// live events "core.dispatch.receipt" of the meeting's dispatch and "meetings.checkin" of the
// meeting) and the rotating check-in QR (GET /api/meetings/:id/checkin-code every 30 s).
import { api } from "/kit/api.js";
import { t, fmtDateTime, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, errorText, showErrorText } from "/kit/ui.js";
import { live } from "/kit/live.js";
import { navigate, current } from "/kit/router.js";
import { loadUnits, unitTree } from "/kit/pickers.js";
import "/kit/table.js";
import "/kit/form.js";
import { toRfc3339, stateBadge, details } from "/ui/meetings/common.js";

const CODE_EVERY_MS = 30000;
const LIVE_STATES = ["sent", "changed", "in_progress"];

// ?id=<meeting>: read from the hash itself (the route's own :id, the page's name, shadows it in params)
export default async function render(el) {
  const id = Number(current().query.id);
  if (id > 0) return renderMeeting(el, id);
  return renderList(el);
}

// ------------------------------------------------------------------ the list and a new notice

function renderList(el) {
  const table = h("yi-table", { src: "/api/meetings", limit: "20", caption: t("meetings.organised"),
                                empty: t("meetings.empty"), "data-testid": "meetings-table" });
  table.columns = [
    { key: "number", label: t("meetings.number") },
    { key: "title", label: t("meetings.title"), render: (m) => h("a", { href: `#/p/meetings/meetings?id=${m.id}`,
        "data-testid": "meetings-open", "data-id": m.id }, m.title) },
    { key: "type", label: t("meetings.type"), render: (m) => t("meetings.type." + m.type) },
    { key: "start_at", label: t("meetings.start_at"), type: "datetime" },
    { key: "state", label: t("meetings.state"), render: (m) => stateBadge(m.state) },
  ];

  async function create() {
    const form = h("yi-form", { prefix: "meeting", "submit-label": t("meetings.save_draft"), "submit-testid": "meeting-save",
                                "cancel-label": t("meetings.cancel") });
    form.fields = [
      { name: "title", label: t("meetings.title"), required: true, maxlength: 200 },
      { name: "type", label: t("meetings.type"), type: "select", required: true,
        options: [{ value: "meeting", label: t("meetings.type.meeting") }, { value: "warning", label: t("meetings.type.warning") }] },
      { name: "start_at", label: t("meetings.start_at"), type: "datetime-local", help: t("meetings.start_help") },
      { name: "duration_min", label: t("meetings.duration_min"), type: "number", min: 1, max: 1440, step: 1 },
      { name: "place", label: t("meetings.place"), maxlength: 200 },
      { name: "content", label: t("meetings.content"), type: "textarea", rows: 4 },
      { name: "reply_deadline", label: t("meetings.reply_deadline"), type: "datetime-local", help: t("meetings.deadline_help") },
    ];
    form.values = { type: "meeting", duration_min: 60 };
    form.action = (v) => api.post("/api/meetings", Object.assign({}, v, {
      start_at: toRfc3339(v.start_at), reply_deadline: toRfc3339(v.reply_deadline) }));
    requestAnimationFrame(() => form.control("title")?.focus());
    const saved = await modal(t("meetings.new"), form, { testid: "meetings-new-dialog" });
    if (!saved) return;
    toast(t("meetings.created", { number: saved.number }), "ok");
    navigate(`#/p/meetings/meetings?id=${saved.id}`);
  }

  el.append(
    h("h1", {}, t("meetings.organiser_title")),
    h("p", {}, t("meetings.organiser_intro")),
    h("button", { type: "button", class: "primary", "data-testid": "meetings-new", onclick: create }, t("meetings.new")),
    table);
}

// ------------------------------------------------------------------ one meeting

async function renderMeeting(el, id) {
  const cleanups = [];
  const head = h("div", {}, h("p", {}, t("kit.loading")));
  el.append(h("p", {}, h("a", { href: "#/p/meetings/meetings", "data-testid": "meetings-back" }, t("meetings.back"))), head);
  let m;
  try {
    m = await api.get(`/api/meetings/${id}`);
  } catch (e) {
    head.replaceChildren(h("p", { class: "yi-error", role: "alert" }, errorText(e)));
    return;
  }
  head.replaceChildren(
    h("h1", { "data-testid": "meeting-title" }, m.title),
    h("p", {}, stateBadge(m.state, "meeting-state")),
    details(m));

  if (m.state === "draft") el.append(recipientsSection(m));
  else if (m.dispatch_id) el.append(boardSection(m, cleanups));
  if (LIVE_STATES.includes(m.state)) el.append(qrSection(m, cleanups));
  return () => cleanups.forEach((fn) => fn());
}

// Recipient units: a filterable checkbox tree of the units I may see, then Send.
function recipientsSection(m) {
  const list = h("div", { class: "meetings-units", "data-testid": "meetings-units", style: "max-height: 22rem; overflow: auto" },
    h("p", {}, t("kit.loading")));
  const filter = h("input", { type: "search", id: "meetings-unit-filter", autocomplete: "off",
                              oninput: () => applyFilter() });
  const error = h("div", { class: "field-error yi-error", "data-error-for": "unit_ids", "data-testid": "meetings-send-error",
                           role: "alert" });
  const chosen = h("p", { class: "yi-summary", "data-testid": "meetings-chosen", "aria-live": "polite" });
  const send = h("button", { type: "button", class: "primary", "data-testid": "meetings-send", onclick: doSend }, t("meetings.send"));
  const boxes = () => [...list.querySelectorAll("input[type=checkbox]")];
  const count = () => { chosen.textContent = t("meetings.chosen_n", { n: fmtNumber(boxes().filter((b) => b.checked).length) }); };
  function applyFilter() {
    const q = filter.value.trim();
    for (const row of list.querySelectorAll("[data-name]")) row.hidden = !!q && !row.dataset.name.includes(q);
  }
  loadUnits().then((units) => {
    const tree = unitTree(units);
    list.replaceChildren(...tree.map((u) => h("div", { class: "field-check", "data-name": u.name, style: `padding-left: ${u.depth * 1.2}rem` },
      h("input", { type: "checkbox", id: `meetings-unit-${u.id}`, value: u.id, "data-testid": "meetings-unit",
                   onchange: count }),
      h("label", { for: `meetings-unit-${u.id}` }, u.name))));
    if (!tree.length) list.replaceChildren(h("p", { class: "yi-empty" }, t("meetings.no_units")));
    count();
  }, (e) => list.replaceChildren(h("p", { class: "yi-error", role: "alert" }, errorText(e))));

  async function doSend() {
    const ids = boxes().filter((b) => b.checked).map((b) => Number(b.value));
    showErrorText(error, null);
    if (!ids.length) { showErrorText(error, { field: "unit_ids", message: t("meetings.choose_units") }); return; }
    send.disabled = true;
    try {
      await api.post(`/api/meetings/${m.id}/send`, { unit_ids: ids });
      toast(t("meetings.sent_ok", { n: fmtNumber(ids.length) }), "ok");
      navigate(`#/p/meetings/meetings?id=${m.id}`, { replace: true }); // draws the page again: the board
    } catch (e) {
      showErrorText(error, e, { label: t("meetings.recipients") });
      send.disabled = false;
    }
  }

  return h("section", { class: "card", "data-testid": "meetings-recipients", "aria-labelledby": "meetings-recipients-h" },
    h("h2", { id: "meetings-recipients-h" }, t("meetings.recipients")),
    h("div", { class: "field" }, h("label", { for: "meetings-unit-filter" }, t("meetings.unit_filter")), filter),
    h("fieldset", {}, h("legend", {}, t("meetings.choose_units")), list),
    chosen, error, h("div", { class: "yi-form-actions" }, send));
}

// The live board: GET /api/meetings/:id/board, updated on "core.dispatch.receipt" of the dispatch.
function boardSection(m, cleanups) {
  const counts = h("dl", { class: "yi-board-counts", "data-testid": "meetings-board-counts", "aria-live": "polite" });
  const names = h("ul", { class: "yi-list", "data-testid": "meetings-board-names" });
  const leave = h("ul", { class: "yi-list", "data-testid": "meetings-board-leave" });
  const missing = h("ul", { class: "yi-list", "data-testid": "meetings-board-missing" });
  const full = h("p", { class: "yi-summary", "data-testid": "meetings-board-full" });
  const error = h("p", { class: "yi-error", role: "alert" });
  let last = null;

  function drawCounts(c, b) {
    const n = (k) => (c[k] || 0);
    const opened = n("read") + n("signed") + n("replied");
    const a = (b && b.attendance) || {};
    const ck = (b && b.checkins) || {};
    const items = [
      ["total", n("total")], ["read", opened], ["signed", n("signed_or_replied")], ["replied", n("replies")],
      ["attending", a.attending_units || 0], ["absent", a.absent_units || 0], ["attendees", a.attendees || 0],
      ["missing", n("missing")], ["checked_in", ck.total || 0],
    ];
    counts.replaceChildren(...items.map(([k, v]) => h("div", { class: "yi-count" },
      h("dt", {}, t("meetings.count." + k)), h("dd", { "data-count": k }, fmtNumber(v)))));
  }

  function draw(b) {
    last = b;
    showErrorText(error, null);
    drawCounts(b.counts || {}, b);
    const a = b.attendance || {};
    names.replaceChildren(...(a.names || []).map((p) => h("li", { "data-testid": "meetings-board-name" },
      h("strong", {}, p.name || ""), " ", p.post || "", " ", p.phone ? h("a", { href: "tel:" + p.phone }, p.phone) : "",
      " · ", (p.unit && p.unit.name) || "")));
    if (!names.children.length) names.append(h("li", { class: "yi-empty" }, t("meetings.no_names")));
    leave.replaceChildren(...(a.leave || []).map((l) => h("li", { "data-testid": "meetings-board-leave-item" },
      h("strong", {}, (l.unit && l.unit.name) || ""), "：", l.leave_reason || t("meetings.no_reason"))));
    if (!leave.children.length) leave.append(h("li", { class: "yi-empty" }, t("meetings.no_leave")));
    missing.replaceChildren(...(b.missing || []).map((r) => h("li", { "data-testid": "meetings-board-missing-item", "data-id": r.id },
      h("span", {}, (r.unit && r.unit.name) || (r.user && (r.user.name || r.user.display_name)) || "#" + r.id), " ",
      h("span", { class: "yi-badge state-" + r.state }, t("board.state." + r.state)),
      r.reply_owed && r.state === "signed" ? h("span", { class: "yi-badge" }, t("board.reply_owed")) : "")));
    if (!missing.children.length) missing.append(h("li", { class: "yi-empty" }, t("meetings.none_missing")));
    full.textContent = b.full_receipt_at
      ? t("meetings.full_receipt", { at: fmtDateTime(b.full_receipt_at), min: fmtNumber(Math.round((b.time_to_full_receipt_ms || 0) / 60000)) })
      : "";
  }

  let seq = 0;
  async function refresh() {
    const my = ++seq;
    try {
      const b = await api.get(`/api/meetings/${m.id}/board`, { quiet: true });
      if (my === seq) draw(b);
    } catch (e) {
      showErrorText(error, e);
    }
  }
  let timer = null;
  const onReceipt = (ev) => {
    const d = ev && ev.data;
    if (!d || (d.dispatch_id !== m.dispatch_id && d.root_id !== m.dispatch_id)) return;
    if (d.dispatch_id === m.dispatch_id && d.counts) drawCounts(d.counts, last);
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  };
  // a check-in: "meetings.checkin" of this meeting carries the new check-in counts
  const onCheckin = (ev) => {
    const d = ev && ev.data;
    if (!d || d.meeting_id !== m.id) return;
    if (last && d.checkins) { last.checkins = d.checkins; drawCounts(last.counts || {}, last); }
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  };
  live.on("core.dispatch.receipt", onReceipt);
  live.on("meetings.checkin", onCheckin);
  live.on("resync", refresh);
  cleanups.push(() => {
    live.off("core.dispatch.receipt", onReceipt); live.off("meetings.checkin", onCheckin);
    live.off("resync", refresh); clearTimeout(timer);
  });
  refresh();

  const section = h("section", { class: "card", "data-testid": "meetings-board", "aria-labelledby": "meetings-board-h" },
    h("div", { class: "yi-section-head" }, h("h2", { id: "meetings-board-h" }, t("meetings.board")),
      h("button", { type: "button", "data-testid": "meetings-board-refresh", onclick: refresh }, t("meetings.refresh"))),
    error, counts, full,
    h("h3", {}, t("meetings.names")), names,
    h("h3", {}, t("meetings.leave")), leave,
    h("h3", {}, t("meetings.missing")), missing);
  section.refresh = refresh;
  return section;
}

// The rotating check-in code: the QR (the server's SVG, shown as an image) and the 6 digits.
function qrSection(m, cleanups) {
  const img = h("img", { "data-testid": "meetings-qr", alt: t("meetings.qr_alt"), width: 240, height: 240,
                         style: "max-width: 100%; height: auto; background: #fff" });
  const code = h("p", { "data-testid": "meetings-qr-code", style: "font-size: 2rem; font-weight: 700; letter-spacing: .2em; margin: .3rem 0" });
  const until = h("p", { class: "yi-summary", "data-testid": "meetings-qr-expires" });
  const error = h("p", { class: "yi-error", role: "alert" });
  let stopped = false;
  async function load() {
    try {
      const c = await api.get(`/api/meetings/${m.id}/checkin-code`, { quiet: true });
      if (stopped) return;
      showErrorText(error, null);
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(c.svg);
      img.hidden = false;
      code.textContent = c.code;
      until.textContent = t("meetings.qr_until", { at: fmtDateTime(c.accepted_until) });
    } catch (e) {
      if (!stopped) { showErrorText(error, e); img.hidden = true; }
    }
  }
  const iv = setInterval(load, CODE_EVERY_MS);
  cleanups.push(() => { stopped = true; clearInterval(iv); });
  load();
  return h("section", { class: "card", "data-testid": "meetings-checkin", "aria-labelledby": "meetings-checkin-h" },
    h("h2", { id: "meetings-checkin-h" }, t("meetings.checkin_screen")),
    h("p", {}, t("meetings.checkin_hint")), error, img, code, until);
}
