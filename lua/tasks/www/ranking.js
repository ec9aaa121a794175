// The per-unit ranking of a list (#/p/tasks/ranking?list=<id>): for each lead unit its tasks, the
// numeric targets reached, red tasks, mean progress and mean review score, ranked by progress, then
// score, then fewer red (GET /api/tasks/ranking?list=).
import { api } from "/kit/api.js";
import { t, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { errorText } from "/kit/ui.js";
import { navigate } from "/kit/router.js";
import "/kit/table.js";
import { pctText, styles } from "/ui/tasks/common.js";

export default async function render(el, params) {
  el.append(styles(), h("h1", {}, t("tasks.ranking")), h("p", {}, t("tasks.ranking_intro")));
  const select = h("select", { id: "tasks-ranking-list" }, h("option", { value: "" }, t("tasks.choose_list")));
  const msg = h("p", { role: "status", "data-testid": "tasks-ranking-message" });
  const table = h("yi-table", { caption: t("tasks.ranking"), empty: t("tasks.ranking_empty"), "data-testid": "tasks-ranking" });
  table.columns = [
    { key: "rank", label: t("tasks.rank"), render: (r) => h("span", { "data-testid": "tasks-rank" }, String(r.rank)) },
    { key: "unit", label: t("tasks.lead_unit"), render: (r) => h("span", { "data-testid": "tasks-rank-unit" }, (r.unit && r.unit.name) || "") },
    { key: "tasks", label: t("tasks.task_count"), render: (r) => fmtNumber(r.tasks) },
    { key: "completed", label: t("tasks.completed"), render: (r) => fmtNumber(r.completed || 0) },
    { key: "red", label: t("tasks.red_count"), render: (r) => fmtNumber(r.red || 0) },
    { key: "progress", label: t("tasks.progress"), render: (r) => pctText(r.progress) },
    { key: "score", label: t("tasks.score"), render: (r) => (r.score === null || r.score === undefined ? "—" : fmtNumber(r.score, { maximumFractionDigits: 1 })) },
  ];
  const listId = params.list ? Number(params.list) : null;
  table.fetcher = async () => {
    if (!listId) return { items: [], next: null };
    try {
      const r = await api.get(`/api/tasks/ranking?list=${listId}`);
      msg.textContent = "";
      return { items: r.items.map((x) => Object.assign({ id: x.unit && x.unit.id }, x)), next: null };
    } catch (err) {
      msg.textContent = errorText(err);
      return { items: [], next: null };
    }
  };
  select.addEventListener("change", () => {
    if (select.value) navigate(`#/p/tasks/ranking?list=${select.value}`);
  });

  el.append(
    h("div", { class: "field" }, h("label", { for: "tasks-ranking-list" }, t("tasks.list")), select),
    listId ? h("p", {}, h("a", { href: `#/p/tasks/tasks?list=${listId}`, "data-testid": "tasks-back" }, t("tasks.back_list"))) : "",
    msg, table);

  // the lists to choose from (the first 200 the caller may read)
  try {
    const r = await api.get("/api/tasks/lists?limit=200");
    for (const l of r.items) select.append(h("option", { value: String(l.id) }, `${l.year} ${l.title}`));
    if (listId) select.value = String(listId);
  } catch (err) {
    msg.textContent = errorText(err);
  }
}
