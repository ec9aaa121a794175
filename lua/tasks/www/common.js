// Shared parts of the task-list pages (lists.js, task.js, ranking.js): the raw-body upload of the
// import, the target and progress as text and bars, the colour badge, the import error as a row.
import { ApiError, csrf, setCsrf, api } from "/kit/api.js";
import { t, fmtNumber, fmtDate } from "/kit/i18n.js";
import { h } from "/kit/dom.js";

export const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

// POST a File as the raw body (the import takes the .xlsx itself, not JSON). The same error shape
// as api.js: a refusal throws ApiError; a 403 csrf fetches the session's token once and retries.
export async function postRaw(path, file, type = XLSX, retried = false) {
  let res;
  try {
    res = await fetch(path, { method: "POST", body: file, credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": type, Accept: "application/json", "X-CSRF-Token": csrf() } });
  } catch (e) {
    throw new ApiError(0, "network", e && e.message);
  }
  let data = null;
  try { data = JSON.parse(await res.text()); } catch { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    if (res.status === 403 && e.code === "csrf" && !retried) {
      const me = await api.get("/api/me", { quiet: true }).catch(() => null);
      if (me && me.csrf) { setCsrf(me.csrf); return postRaw(path, file, type, true); }
    }
    if (res.status === 401) window.dispatchEvent(new CustomEvent("yimen:signed-out"));
    throw new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText, e.field);
  }
  return data;
}

// "row 90, column I: the deadline … must be a date" → {row: 90, col: "I", detail: "…"}; null otherwise.
export function rowError(message) {
  const m = /^row (\d+)(?:, column ([A-Z]+))?: ?([\s\S]*)$/.exec(message || "");
  return m ? { row: Number(m[1]), col: m[2] || "", detail: m[3] } : null;
}

// The text of an import refusal: "第 90 行 I 列：…" (the server's detail is kept as it is: it names the column's header).
export function importErrorText(err) {
  const r = rowError(err && err.message);
  if (!r) return t("tasks.import_failed", { message: (err && err.message) || "" });
  return r.col ? t("tasks.import_row_col", { row: r.row, col: r.col, detail: r.detail })
               : t("tasks.import_row", { row: r.row, detail: r.detail });
}

export function targetText(task) {
  const g = task.target || {};
  if (g.kind === "number") return `${fmtNumber(g.value)} ${g.unit || ""}`.trim();
  return g.milestone || "";
}

export function pctText(x) {
  return x === null || x === undefined ? "—" : fmtNumber(x, { style: "percent", maximumFractionDigits: 0 });
}

// Progress against target next to elapsed time: two labelled bars (behind when progress < elapsed).
export function progressBlock(task, testid = "tasks-progress") {
  const p = task.progress, e = task.elapsed;
  const behind = p !== null && p !== undefined && e !== null && e !== undefined && p + 0.0001 < e;
  const bar = (label, v, key) => h("div", { class: "tasks-bar" },
    h("span", { class: "tasks-bar-label" }, label),
    h("progress", { max: "1", value: v === null || v === undefined ? "0" : String(Math.min(1, v)),
                    "aria-label": label, "data-testid": `${testid}-${key}-bar` }),
    h("span", { "data-testid": `${testid}-${key}` }, pctText(v)));
  return h("div", { class: "tasks-progress" + (behind ? " behind" : ""), "data-testid": testid,
                    "data-behind": behind ? "1" : "0" },
    bar(t("tasks.progress"), p, "value"), bar(t("tasks.elapsed"), e, "elapsed"),
    behind ? h("span", { class: "yi-badge danger" }, t("tasks.behind")) : "");
}

export function colourBadge(colour) {
  const c = colour || "green";
  return h("span", { class: "yi-badge tasks-colour tasks-colour-" + c, "data-testid": "tasks-colour", "data-colour": c },
    t("tasks.colour." + c));
}

export function dateText(d) {
  return d ? fmtDate(d) : "—";
}

// The page's own small styles (no stylesheet file of its own: one <style> per page, scoped by class).
export function styles() {
  return h("style", {}, `
.tasks-bar { display: flex; align-items: center; gap: .4rem; flex-wrap: wrap; }
.tasks-bar-label { min-width: 4.5em; color: var(--muted); font-size: .85rem; }
.tasks-bar progress { flex: 1; min-width: 5rem; max-width: 12rem; height: .7rem; }
.tasks-progress.behind progress[data-testid$=value-bar] { accent-color: var(--danger); }
.tasks-colour-yellow { background: #fff4c2; } .tasks-colour-orange { background: #ffe0c2; }
.tasks-colour-red { background: var(--danger-soft); color: var(--danger); font-weight: 600; }
.tasks-colour-blue { background: #dcecff; } .tasks-colour-green { background: var(--ok-soft); color: var(--ok); }
.tasks-actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0; }
.tasks-import-error { color: var(--danger); white-space: pre-wrap; overflow-wrap: anywhere; }
.tasks-dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; }
.tasks-dl dd { margin: 0; overflow-wrap: anywhere; white-space: pre-wrap; }
@media (max-width: 600px) { .tasks-dl { grid-template-columns: 1fr; } .tasks-dl dd { margin-bottom: .4rem; } }
.tasks-wrap { overflow-wrap: anywhere; }
`);
}
