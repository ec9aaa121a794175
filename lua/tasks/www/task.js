// One task (#/p/tasks/tasks?task=<id>, loaded by lists.js): its particulars (the supervising office edits
// or withdraws it), progress against target
// next to elapsed time, the decomposition (child tasks for units below the lead unit: a deadline later
// than the parent's is refused on the deadline field) and the execution ledger (执行台账: a report
// without a value is refused on the value field when the target is numeric; the owner office's review).
import { api } from "/kit/api.js";
import { t, fmtNumber, fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, errorText } from "/kit/ui.js";
import { can } from "/kit/session.js";
import { navigate } from "/kit/router.js";
import "/kit/table.js";
import "/kit/form.js";
import "/kit/pickers.js";
import { targetText, progressBlock, colourBadge, dateText, pctText } from "/ui/tasks/common.js";
import { taskColumns } from "/ui/tasks/lists.js";

export default async function render(el, params) {
  const id = Number(params.task);
  const body = h("div", { "data-testid": "tasks-task" }, h("p", {}, t("tasks.loading")));
  el.append(body);
  let task, ledger;
  try {
    [task, ledger] = await Promise.all([api.get(`/api/tasks/tasks/${id}`), api.get(`/api/tasks/tasks/${id}/reports`)]);
  } catch (err) {
    body.replaceChildren(h("p", { class: "field-error", role: "alert", "data-testid": "tasks-load-error" }, errorText(err)));
    return;
  }
  const redraw = () => navigate(location.hash, { replace: true });
  const numeric = task.target && task.target.kind === "number";

  // ------------------------------------------------ particulars
  const nodes = Array.isArray(task.nodes) && task.nodes.length
    ? h("ul", { "data-testid": "tasks-nodes" }, task.nodes.map((n) => h("li", {}, `${n.title}：${dateText(n.deadline)}`)))
    : "—";
  const rows = [
    ["tasks.clause", task.clause],
    ["tasks.target", targetText(task)],
    ["tasks.achieved", numeric ? `${fmtNumber(task.achieved || 0)} ${task.target.unit || ""}` : null],
    ["tasks.lead_unit", task.lead_unit && task.lead_unit.name],
    ["tasks.co_units", (task.co_units || []).map((u) => u.name).join("、")],
    ["tasks.leader", task.leader],
    ["tasks.deadline", dateText(task.deadline)],
    ["tasks.report_cycle", cycleText(task.report_cycle)],
  ].filter(([, v]) => v);
  const back = task.parent_id ? `#/p/tasks/tasks?task=${task.parent_id}` : `#/p/tasks/tasks?list=${task.list_id}`;

  body.replaceChildren(
    h("p", {}, h("a", { href: back, "data-testid": "tasks-back" }, task.parent_id ? t("tasks.back_parent") : t("tasks.back_list"))),
    h("h1", { "data-testid": "tasks-task-title", class: "tasks-wrap" }, `${task.clause} ${task.content}`),
    h("div", { class: "tasks-actions" }, colourBadge(task.colour)),
    task.withdrawn_at
      ? h("p", { class: "field-error", role: "status", "data-testid": "tasks-withdrawn" },
          t("tasks.withdrawn", { reason: task.withdrawn_reason || "" }))
      : manageBar(task, redraw),
    progressBlock(task, "tasks-task-progress"),
    h("dl", { class: "tasks-dl", "data-testid": "tasks-task-details" },
      rows.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, String(v))]),
      h("dt", {}, t("tasks.nodes")), h("dd", {}, nodes)),
    children(task, redraw),
    ledgerCard(task, ledger, numeric, redraw));
}

function cycleText(c) {
  if (!c) return "";
  const m = /^monthly (\d+)$/.exec(c);
  if (m) return t("tasks.cycle_monthly", { day: m[1] });
  if (c === "weekly") return t("tasks.cycle_weekly");
  return c;
}

// ------------------------------------------------ edit and withdraw (the supervising office)

function manageBar(task, redraw) {
  if (!can("tasks.manage")) return "";
  async function edit() {
    const form = h("yi-form", { prefix: "tasks-edit", "submit-label": t("tasks.save"), "submit-testid": "tasks-edit-save",
                                "cancel-label": t("tasks.cancel") });
    form.fields = [
      { name: "content", label: t("tasks.content"), type: "textarea", maxlength: 2000, required: true,
        help: t("tasks.edit_intro") },
      { name: "leader", label: t("tasks.leader"), maxlength: 64 },
      { name: "deadline", label: t("tasks.deadline"), type: "date", required: true },
    ];
    form.values = { content: task.content, leader: task.leader || "", deadline: task.deadline };
    form.action = (v) => api.patch(`/api/tasks/tasks/${task.id}`, { ...v, leader: v.leader ? v.leader : null });
    if (!(await modal(t("tasks.edit"), form, { testid: "tasks-edit-modal" }))) return;
    toast(t("tasks.edit_done"), "ok");
    redraw();
  }
  async function withdraw() {
    const form = h("yi-form", { prefix: "tasks-withdraw", "submit-label": t("tasks.withdraw"),
                                "submit-testid": "tasks-withdraw-save", "cancel-label": t("tasks.cancel") });
    form.fields = [{ name: "reason", label: t("tasks.withdraw_reason"), type: "textarea", maxlength: 2000,
                     required: true, help: t("tasks.withdraw_help") }];
    form.action = (v) => api.post(`/api/tasks/tasks/${task.id}/withdraw`, v);
    if (!(await modal(t("tasks.withdraw"), form, { testid: "tasks-withdraw-modal" }))) return;
    toast(t("tasks.withdraw_done"), "ok");
    redraw();
  }
  return h("div", { class: "tasks-actions" },
    h("button", { type: "button", "data-testid": "tasks-edit", onclick: edit }, t("tasks.edit")),
    h("button", { type: "button", "data-testid": "tasks-withdraw", onclick: withdraw }, t("tasks.withdraw")));
}

// ------------------------------------------------ decomposition

function children(task, redraw) {
  const table = h("yi-table", { caption: t("tasks.children"), empty: t("tasks.children_empty"), "data-testid": "tasks-children" });
  table.columns = taskColumns().filter((c) => c.key !== "colour");
  table.fetcher = async () => ({ items: task.children || [], next: null });

  async function split() {
    const form = h("yi-form", { prefix: "tasks-child", "submit-label": t("tasks.save"), "submit-testid": "tasks-child-save",
                                "cancel-label": t("tasks.cancel") });
    const numeric = task.target && task.target.kind === "number";
    form.fields = [
      { name: "lead_unit", label: t("tasks.child_unit"), type: "unit", required: true, help: t("tasks.child_unit_help") },
      { name: "content", label: t("tasks.content"), type: "textarea", maxlength: 2000, help: t("tasks.inherit_help") },
      numeric ? { name: "target_value", label: t("tasks.child_target", { unit: task.target.unit }), type: "number",
                  min: 0, step: "any", help: t("tasks.inherit_help") } : null,
      { name: "leader", label: t("tasks.leader"), maxlength: 64, help: t("tasks.inherit_help") },
      { name: "deadline", label: t("tasks.deadline"), type: "date",
        help: t("tasks.child_deadline_help", { deadline: dateText(task.deadline) }) },
    ].filter(Boolean);
    form.action = (v) => api.post(`/api/tasks/tasks/${task.id}/children`, v);
    const saved = await modal(t("tasks.split"), form, { testid: "tasks-child-modal" });
    if (!saved) return;
    toast(t("tasks.split_done"), "ok");
    redraw();
  }

  return h("section", { class: "card", "data-testid": "tasks-decomposition" },
    h("h2", {}, t("tasks.decomposition")),
    h("p", { class: "field-hint" }, t("tasks.decomposition_intro")),
    can("tasks.handle") && !task.withdrawn_at ? h("div", { class: "tasks-actions" },
      h("button", { type: "button", class: "primary", "data-testid": "tasks-split", onclick: split }, t("tasks.split"))) : "",
    table);
}

// ------------------------------------------------ the execution ledger

function ledgerCard(task, ledger, numeric, redraw) {
  const items = (ledger && ledger.items) || [];
  const table = h("yi-table", { caption: t("tasks.ledger"), empty: t("tasks.ledger_empty"), "data-testid": "tasks-ledger" });
  const unitName = (uid) => {
    if (task.lead_unit && task.lead_unit.id === uid) return task.lead_unit.name;
    const c = (task.co_units || []).find((u) => u.id === uid);
    return c ? c.name : String(uid);
  };
  table.columns = [
    { key: "created_at", label: t("tasks.report_at"), type: "datetime" },
    { key: "unit_id", label: t("tasks.report_unit"), render: (r) => unitName(r.unit_id) },
    numeric ? { key: "value", label: t("tasks.report_value_col", { unit: task.target.unit }),
                render: (r) => h("span", { "data-testid": "tasks-report-value" }, r.value === null || r.value === undefined ? "—" : fmtNumber(r.value)) } : null,
    { key: "text", label: t("tasks.report_text"), class: "tasks-wrap" },
    { key: "funds", label: t("tasks.funds"), render: (r) => (r.funds === null || r.funds === undefined ? "—" : fmtNumber(r.funds)) },
    { key: "self_assessment", label: t("tasks.self_assessment"), render: (r) => r.self_assessment || "—" },
    { key: "review", label: t("tasks.review"), render: (r) => reviewCell(r) },
  ].filter(Boolean);
  table.fetcher = async () => ({ items, next: null });

  function reviewCell(r) {
    if (r.reviewed_at) {
      return h("span", { "data-testid": "tasks-review" },
        t("tasks.reviewed", { score: r.score === null || r.score === undefined ? "—" : fmtNumber(r.score), comment: r.comment || "" }),
        " · ", fmtDateTime(r.reviewed_at));
    }
    if (!can("tasks.manage")) return "—";
    return h("button", { type: "button", "data-testid": "tasks-review-open", "aria-label": t("tasks.review_of", { text: r.text }),
                         onclick: () => review(r) }, t("tasks.review"));
  }

  async function review(r) {
    const form = h("yi-form", { prefix: "tasks-review", "submit-label": t("tasks.save"), "submit-testid": "tasks-review-save",
                                "cancel-label": t("tasks.cancel") });
    form.fields = [
      { name: "comment", label: t("tasks.comment"), type: "textarea", required: true },
      { name: "score", label: t("tasks.score"), type: "number", min: 0, max: 100, step: 1, help: t("tasks.score_help") },
    ];
    form.action = (v) => api.post(`/api/tasks/reports/${r.id}/review`, v);
    if (await modal(t("tasks.review"), form)) { toast(t("tasks.review_saved"), "ok"); redraw(); }
  }

  async function report() {
    const form = h("yi-form", { prefix: "tasks-report", "submit-label": t("tasks.report_submit"), "submit-testid": "tasks-report-save",
                                "cancel-label": t("tasks.cancel") });
    form.fields = [
      numeric
        ? { name: "value", label: t("tasks.report_value", { unit: task.target.unit }), type: "number", min: 0, step: "any",
            inputmode: "decimal", help: t("tasks.report_value_help", { target: targetText(task) }) }
        : { name: "percent", label: t("tasks.report_percent"), type: "number", min: 0, max: 100, step: 1 },
      { name: "text", label: t("tasks.report_text"), type: "textarea", required: true, maxlength: 10000 },
      { name: "funds", label: t("tasks.funds"), type: "number", min: 0, step: "any", inputmode: "decimal" },
      { name: "self_assessment", label: t("tasks.self_assessment"), type: "textarea", maxlength: 2000 },
    ];
    form.action = (v) => api.post(`/api/tasks/tasks/${task.id}/reports`, v);
    requestAnimationFrame(() => form.control(numeric ? "value" : "percent")?.focus());
    const saved = await modal(t("tasks.report"), form, { testid: "tasks-report-modal" });
    if (!saved) return;
    toast(t("tasks.report_saved"), "ok");
    redraw();
  }

  const funds = ledger && ledger.funds_total;
  return h("section", { class: "card", "data-testid": "tasks-ledger-card" },
    h("h2", {}, t("tasks.ledger")),
    h("p", { class: "field-hint" }, numeric ? t("tasks.ledger_numeric", { target: targetText(task) }) : t("tasks.ledger_milestone")),
    can("tasks.handle") && !task.withdrawn_at ? h("div", { class: "tasks-actions" },
      h("button", { type: "button", class: "primary", "data-testid": "tasks-report", onclick: report }, t("tasks.report"))) : "",
    funds ? h("p", { "data-testid": "tasks-funds-total" }, t("tasks.funds_total", { funds: fmtNumber(funds) })) : "",
    table,
    h("p", { class: "field-hint" }, t("tasks.progress_note", { progress: pctText(task.progress), elapsed: pctText(task.elapsed) })));
}
