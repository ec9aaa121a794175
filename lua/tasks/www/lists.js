// The task lists (#/p/tasks/tasks): the lists the caller may read and my unit's tasks; with ?list=<id>
// one list: its tasks with progress against target and elapsed time, the Excel import (all or nothing:
// a refusal names the sheet row, and nothing is written) and the export; with ?task=<id> the task page
// (task.js). API: docs/api/tasks.md.
import { api } from "/kit/api.js";
import { t, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, errorText, showErrorText } from "/kit/ui.js";
import { can } from "/kit/session.js";
import { navigate } from "/kit/router.js";
import "/kit/table.js";
import "/kit/form.js";
import { postRaw, importErrorText, targetText, progressBlock, colourBadge, dateText, styles } from "/ui/tasks/common.js";

const listHref = (id) => `#/p/tasks/tasks?list=${id}`;
const taskHref = (id) => `#/p/tasks/tasks?task=${id}`;

export function taskColumns() {
  return [
    { key: "clause", label: t("tasks.clause") },
    { key: "content", label: t("tasks.content"), class: "tasks-wrap",
      render: (x) => h("a", { href: taskHref(x.id), "data-testid": "tasks-task-open", "data-id": x.id }, x.content) },
    { key: "target", label: t("tasks.target"), render: (x) => targetText(x) },
    { key: "lead_unit", label: t("tasks.lead_unit"), render: (x) => (x.lead_unit && x.lead_unit.name) || "" },
    { key: "deadline", label: t("tasks.deadline"), render: (x) => dateText(x.deadline) },
    { key: "progress", label: t("tasks.progress_vs_elapsed"), render: (x) => progressBlock(x) },
    { key: "colour", label: t("tasks.colour"), render: (x) => colourBadge(x.colour) },
  ];
}

export default async function render(el, params) {
  el.append(styles());
  if (params.task) {
    const m = await import("/ui/tasks/task.js");
    return m.default(el, params);
  }
  if (params.list) return listPage(el, Number(params.list));
  return index(el);
}

// ---------------------------------------------------------------- all lists

function index(el) {
  const lists = h("yi-table", { src: "/api/tasks/lists", limit: "20", caption: t("tasks.lists"),
                                empty: t("tasks.lists_empty"), "data-testid": "tasks-lists" });
  lists.columns = [
    { key: "title", label: t("tasks.list_title"), class: "tasks-wrap",
      render: (l) => h("a", { href: listHref(l.id), "data-testid": "tasks-list-open", "data-id": l.id }, l.title) },
    { key: "source_doc", label: t("tasks.source_doc") },
    { key: "year", label: t("tasks.year"), render: (l) => String(l.year) },
    { key: "owner_unit", label: t("tasks.owner_unit"), render: (l) => (l.owner_unit && l.owner_unit.name) || "" },
    { key: "tasks", label: t("tasks.task_count"), render: (l) => fmtNumber(l.tasks) },
    { key: "red", label: t("tasks.red_count"), render: (l) => fmtNumber(l.red || 0) },
  ];

  const mine = h("yi-table", { src: "/api/tasks/tasks", limit: "20", caption: t("tasks.mine"),
                               empty: t("tasks.mine_empty"), "data-testid": "tasks-mine" });
  mine.params = { mine: "1" };
  mine.columns = taskColumns();

  async function create() {
    const form = h("yi-form", { prefix: "tasks-list", "submit-label": t("tasks.save"), "submit-testid": "tasks-list-save",
                                "cancel-label": t("tasks.cancel") });
    form.fields = [
      { name: "title", label: t("tasks.list_title"), required: true, maxlength: 200 },
      { name: "source_doc", label: t("tasks.source_doc"), required: true, help: t("tasks.source_doc_help") },
      { name: "year", label: t("tasks.year"), type: "number", required: true, min: 2000, max: 2100, step: 1 },
    ];
    form.values = { year: new Date().getFullYear() };
    form.action = (v) => api.post("/api/tasks/lists", v);
    requestAnimationFrame(() => form.control("title")?.focus());
    const saved = await modal(t("tasks.new_list"), form);
    if (!saved) return;
    toast(t("tasks.list_created", { title: saved.title }), "ok");
    navigate(listHref(saved.id));
  }

  el.append(
    h("h1", {}, t("tasks.title")),
    h("p", {}, t("tasks.intro")),
    h("div", { class: "tasks-actions" },
      can("tasks.manage") ? h("button", { type: "button", class: "primary", "data-testid": "tasks-list-new", onclick: create },
        t("tasks.new_list")) : "",
      h("a", { href: "#/p/tasks/ranking", "data-testid": "tasks-ranking-link" }, t("tasks.ranking"))),
    lists,
    h("h2", {}, t("tasks.mine")),
    mine);
}

// ---------------------------------------------------------------- one list

async function listPage(el, id) {
  const head = h("div", { "data-testid": "tasks-list-head" }, h("p", {}, t("tasks.loading")));
  el.append(h("p", {}, h("a", { href: "#/p/tasks/tasks", "data-testid": "tasks-back" }, t("tasks.back_lists"))), head);

  const table = h("yi-table", { src: "/api/tasks/tasks", limit: "50", caption: t("tasks.list_tasks"),
                                empty: t("tasks.list_tasks_empty"), "data-testid": "tasks-table" });
  table.params = { list: id };
  table.columns = taskColumns();

  let list;
  try {
    list = await api.get(`/api/tasks/lists/${id}`);
  } catch (err) {
    head.replaceChildren(h("p", { class: "field-error", role: "alert", "data-testid": "tasks-load-error" }, errorText(err)));
    return;
  }

  const counts = h("p", { "data-testid": "tasks-list-counts" });
  const showCounts = (l) => counts.replaceChildren(t("tasks.counts", { tasks: fmtNumber(l.tasks), red: fmtNumber(l.red || 0) }));
  showCounts(list);
  head.replaceChildren(
    h("h1", { "data-testid": "tasks-list-title", class: "tasks-wrap" }, list.title),
    h("dl", { class: "tasks-dl" },
      h("dt", {}, t("tasks.source_doc")), h("dd", {}, list.source_doc || ""),
      h("dt", {}, t("tasks.year")), h("dd", {}, String(list.year)),
      h("dt", {}, t("tasks.owner_unit")), h("dd", {}, (list.owner_unit && list.owner_unit.name) || "")),
    counts,
    h("div", { class: "tasks-actions" },
      h("a", { href: `/api/tasks/lists/${id}.xlsx`, download: "", "data-testid": "tasks-export" }, t("tasks.export")),
      h("a", { href: `#/p/tasks/ranking?list=${id}`, "data-testid": "tasks-ranking-link" }, t("tasks.ranking"))));

  if (can("tasks.manage")) el.append(importCard(id, async () => {
    await table.reload();
    showCounts(await api.get(`/api/tasks/lists/${id}`).catch(() => list));
  }));
  el.append(table);
}

// The import: a file input and a button; the file is sent as the raw body. A refusal names the row.
function importCard(listId, done) {
  const input = h("input", { type: "file", id: "tasks-import-file", accept: ".xlsx," + "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                             "aria-describedby": "tasks-import-help tasks-import-error" });
  const error = h("div", { class: "field-error tasks-import-error", id: "tasks-import-error", role: "alert",
                           "data-testid": "tasks-import-error" });
  const result = h("p", { role: "status", "data-testid": "tasks-import-result" });
  const button = h("button", { type: "submit", class: "primary", "data-testid": "tasks-import-submit" }, t("tasks.import"));

  async function submit(ev) {
    ev.preventDefault();
    showErrorText(error, null);
    result.textContent = "";
    const file = input.files && input.files[0];
    if (!file) {
      error.textContent = t("tasks.import_choose");
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const r = await postRaw(`/api/tasks/lists/${listId}/import`, file);
      result.textContent = t("tasks.imported", { n: fmtNumber(r.imported) });
      toast(t("tasks.imported", { n: fmtNumber(r.imported) }), "ok");
      input.value = "";
      await done();
    } catch (err) {
      if (err.field === "file" || err.code === "invalid") {
        error.textContent = importErrorText(err) + "\n" + t("tasks.import_nothing");
        error.title = err.message || "";
      } else {
        showErrorText(error, err);
      }
      input.focus();
    } finally {
      button.disabled = false;
    }
  }

  return h("form", { class: "card", "data-testid": "tasks-import", onsubmit: submit },
    h("h2", {}, t("tasks.import_title")),
    h("div", { class: "field" },
      h("label", { for: "tasks-import-file" }, t("tasks.import_file")),
      input,
      h("div", { class: "field-hint", id: "tasks-import-help" }, t("tasks.import_help"))),
    error, result,
    h("div", { class: "tasks-actions" }, button));
}
