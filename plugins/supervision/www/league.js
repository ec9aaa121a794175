// 督查排名 (#/p/supervision/league): the league table per lead unit (GET /api/supervision/league?from=&to=),
// default January 1st of this year to today (the server's default).
import { api } from "/kit/api.js";
import { t, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { errorText } from "/kit/ui.js";
import { current } from "/kit/router.js";
import "/kit/table.js";
import { styles } from "/ui/supervision/common.js";

const rate = (v) => (v === null || v === undefined ? t("supervision.league.none") : fmtNumber(v, { style: "percent", maximumFractionDigits: 1 }));
const num = (v) => (v === null || v === undefined ? t("supervision.league.none") : fmtNumber(v));

export default async function render(el) {
  styles();
  const q = current().query;
  const from = h("input", { id: "sv-league-from", name: "from", type: "date", value: q.from || "" });
  const to = h("input", { id: "sv-league-to", name: "to", type: "date", value: q.to || "" });
  const error = h("p", { class: "yi-error", role: "alert", "data-testid": "supervision-league-error" });
  const totals = h("p", { "data-testid": "supervision-league-totals", "aria-live": "polite" });
  const table = h("yi-table", { caption: t("supervision.league.title"), empty: t("supervision.league.empty"),
                                "data-testid": "supervision-league" });
  table.columns = [
    { key: "rank", label: t("supervision.league.rank"), render: (r) => h("span", { "data-testid": "supervision-league-rank" }, num(r.rank)) },
    { label: t("supervision.league.unit"), render: (r) => h("span", { "data-testid": "supervision-league-unit" }, r.unit ? r.unit.name : "") },
    { label: t("supervision.league.items"), render: (r) => num(r.items) },
    { label: t("supervision.league.completed_on_time"), render: (r) => num(r.completed_on_time) },
    { label: t("supervision.league.overdue"), render: (r) => num(r.overdue) },
    { label: t("supervision.league.red"), render: (r) => num(r.red) },
    { label: t("supervision.league.closed"), render: (r) => num(r.closed) },
    { label: t("supervision.league.on_time_rate"), render: (r) => rate(r.on_time_rate) },
    { label: t("supervision.league.mean_days"), render: (r) => num(r.mean_days_to_close) },
  ];
  // one request: the whole table (a county has tens of units), no further page
  table.fetcher = async () => {
    error.textContent = "";
    let l;
    try {
      l = await api.get("/api/supervision/league?" + new URLSearchParams(
        Object.fromEntries([["from", from.value], ["to", to.value]].filter(([, v]) => v))));
    } catch (e) {
      error.textContent = errorText(e, { label: e.field === "to" ? t("supervision.league.to") : t("supervision.league.from") });
      return { items: [], next: null };
    }
    if (!from.value) from.value = l.from;
    if (!to.value) to.value = l.to;
    table.querySelector("caption")?.replaceChildren(t("supervision.league.caption", { from: l.from, to: l.to }));
    const s = l.totals || {};
    totals.textContent = t("supervision.league.totals", { items: num(s.items), on_time: num(s.completed_on_time),
      overdue: num(s.overdue), red: num(s.red), rate: rate(s.on_time_rate) });
    return { items: (l.units || []).map((r) => Object.assign({ id: r.unit ? r.unit.id : r.rank }, r)), next: null };
  };
  function apply(ev) {
    ev.preventDefault();
    table.reload();
  }
  el.append(h("h1", {}, t("supervision.league.title")), h("p", {}, t("supervision.league.intro")),
    h("form", { class: "sv-filters", "data-testid": "supervision-league-form", onsubmit: apply },
      h("div", { class: "field" }, h("label", { for: "sv-league-from" }, t("supervision.league.from")), from),
      h("div", { class: "field" }, h("label", { for: "sv-league-to" }, t("supervision.league.to")), to),
      h("div", { class: "yi-form-actions" }, h("button", { type: "submit", "data-testid": "supervision-league-apply" }, t("supervision.league.apply")))),
    error, totals, table);
}
