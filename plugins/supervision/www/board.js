// 全员督查 (#/p/supervision/board): every public supervision case with its colour light, filtered by
// source, unit, leader and colour (GET /api/supervision/board, keyset paging with "更多").
// With ?case=<id> the case page instead (case.js): the item's timeline and its lag reasons.
import { api } from "/kit/api.js";
import { t, fmtDate } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { current } from "/kit/router.js";
import "/kit/table.js";
import { COLOURS, KINDS, ORIGINS, styles, light, stateBadge, unitName, caseHref } from "/ui/supervision/common.js";

export default async function render(el) {
  styles();
  const q = current().query;
  const caseId = Number(q.case);
  if (caseId > 0) return (await import("/ui/supervision/case.js")).default(el, caseId);
  return renderBoard(el, q);
}

function field(id, label, control, help) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    help ? h("div", { class: "field-hint", id: id + "-help" }, help) : null);
}

function renderBoard(el, q) {
  const filters = { source: q.source || "", unit: q.unit || "", leader: q.leader || "", colour: q.colour || "" };
  const all = t("supervision.filter.all");
  const source = h("select", { id: "sv-filter-source", name: "source" },
    h("option", { value: "" }, all),
    h("optgroup", { label: t("supervision.case.source") }, KINDS.map((k) => h("option", { value: k }, t("supervision.kind." + k)))),
    h("optgroup", { label: t("supervision.case.origin") }, ORIGINS.map((o) => h("option", { value: o }, t("supervision.origin." + o)))));
  const unit = h("select", { id: "sv-filter-unit", name: "unit" }, h("option", { value: "" }, all));
  const leader = h("input", { id: "sv-filter-leader", name: "leader", type: "search", maxlength: "64",
                              "aria-describedby": "sv-filter-leader-help", autocomplete: "off" });
  const colour = h("select", { id: "sv-filter-colour", name: "colour" }, h("option", { value: "" }, all),
    COLOURS.map((c) => h("option", { value: c }, `${t("supervision.colour." + c)}（${t("supervision.colour.hint." + c)}）`)));
  source.value = filters.source; leader.value = filters.leader; colour.value = filters.colour;

  // units to filter by: those of the cases (the league's lead units, and every unit seen on the board)
  const known = new Map();
  function addUnit(u) {
    if (!u || !u.id || known.has(u.id)) return;
    known.set(u.id, u.name);
    const opts = [...known].sort((a, b) => a[1].localeCompare(b[1], "zh-CN"));
    const keep = unit.value || filters.unit;
    unit.replaceChildren(h("option", { value: "" }, all), opts.map(([id, name]) => h("option", { value: String(id) }, name)));
    unit.value = keep;
  }
  if (filters.unit) unit.append(h("option", { value: filters.unit }, "#" + filters.unit));
  unit.value = filters.unit;
  api.get("/api/supervision/league?from=2000-01-01&to=2099-12-31", { quiet: true })
    .then((l) => (l.units || []).forEach((r) => addUnit(r.unit))).catch(() => {});

  const table = h("yi-table", { src: "/api/supervision/board", limit: "20", caption: t("supervision.title"),
                                empty: t("supervision.empty"), "data-testid": "supervision-board" });
  table.columns = [
    { label: t("supervision.col.light"), render: (c) => light(c.colour) },
    { key: "title", label: t("supervision.col.title"), render: (c) => h("span", {},
        h("a", { href: caseHref(c.id), class: "sv-title", "data-testid": "supervision-open", "data-id": c.id }, c.title),
        c.restricted ? [" ", h("span", { class: "yi-badge" }, t("supervision.restricted"))] : null,
        c.escalated ? [" ", h("span", { class: "yi-badge danger" }, t("supervision.escalated"))] : null) },
    { label: t("supervision.col.lead_unit"), render: (c) => unitName(c.lead_unit) },
    { label: t("supervision.col.leader"), render: (c) => c.leader || "" },
    { label: t("supervision.col.deadline"), render: (c) => (c.deadline ? fmtDate(c.deadline) : "") },
    { label: t("supervision.col.state"), render: (c) => h("span", {}, stateBadge(c.state),
        c.late && c.late !== "none" ? [" ", h("span", { class: "yi-badge danger", "data-testid": "supervision-late" },
          t("supervision.late." + c.late))] : null) },
    { label: t("supervision.col.reasons"), render: (c) => {
        const r = (c.reasons || []);
        if (!r.length) return "";
        const last = r[r.length - 1];
        return h("span", { "data-testid": "supervision-board-reason" },
          `${t("supervision.reason." + last.category)}：${last.text}`,
          r.length > 1 ? ` (${t("supervision.reasons_n", { n: r.length })})` : "");
      } },
  ];
  table.addEventListener("yi-loaded", (ev) => (ev.detail.items || []).forEach((c) => {
    addUnit(c.lead_unit); (c.co_units || []).forEach(addUnit);
  }));

  function apply(ev) {
    if (ev) ev.preventDefault();
    const p = { source: source.value, unit: unit.value, leader: leader.value.trim(), colour: colour.value };
    table.params = p;
    // keep the filters in the address (a reload or a shared link shows the same list)
    const s = new URLSearchParams(Object.entries(p).filter(([, v]) => v)).toString();
    history.replaceState(null, "", "#/p/supervision/board" + (s ? "?" + s : ""));
  }
  function reset() {
    source.value = ""; unit.value = ""; leader.value = ""; colour.value = "";
    apply();
  }
  for (const c of [source, unit, colour]) c.addEventListener("change", () => apply());
  const form = h("form", { class: "sv-filters", role: "search", "aria-label": t("supervision.filters"),
                           "data-testid": "supervision-filters", onsubmit: apply },
    field("sv-filter-source", t("supervision.filter.source"), source),
    field("sv-filter-unit", t("supervision.filter.unit"), unit),
    field("sv-filter-leader", t("supervision.filter.leader"), leader, t("supervision.filter.leader_help")),
    field("sv-filter-colour", t("supervision.filter.colour"), colour),
    h("div", { class: "yi-form-actions" },
      h("button", { type: "submit", "data-testid": "supervision-filter-apply" }, t("supervision.filter.apply")),
      h("button", { type: "button", "data-testid": "supervision-filter-reset", onclick: reset }, t("supervision.filter.reset"))));

  table.params = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
  el.append(h("h1", {}, t("supervision.title")), h("p", {}, t("supervision.intro")), form, table);
}
