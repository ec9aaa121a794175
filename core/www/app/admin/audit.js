// #/admin/audit — the audit log, newest first, with filters; only for holders of audit.read
// (the audit admin: "*" does not cover audit.*). Route: GET /api/audit (docs/api/audit.md).
import { api } from "/kit/api.js";
import { t, fmtDateTime } from "/kit/i18n.js";
import { h, field, showError, clearErrors, errorText, statusLine, qs, pagedTable, pageHeader,
         startPage, me, holds } from "./common.js";

const RESULTS = ["ok", "failed", "denied", "error"];

export default async function render(el) {
  startPage(el);
  const who = await me();
  if (who && !holds(who.permissions, "audit.read")) {
    el.append(pageHeader(t("admin.audit.title")), h("p", { role: "alert", "data-testid": "audit-forbidden" }, t("admin.audit.forbidden")));
    return;
  }
  const status = statusLine();
  const filters = h("form", { class: "admin-filters admin-form", role: "search", novalidate: true },
    field({ id: "audit-action", name: "action", label: t("admin.audit.action"), hint: t("admin.audit.action_hint") }),
    field({ id: "audit-actor", name: "actor_id", label: t("admin.audit.actor_id"), kind: "number" }),
    field({ id: "audit-target", name: "target", label: t("admin.audit.target"), hint: "user:42, unit:7" }),
    field({ id: "audit-result", name: "result", label: t("admin.audit.result"), kind: "select",
            options: [["", t("admin.all")], ...RESULTS.map((r) => [r, t(`admin.audit.result.${r}`)])] }),
    field({ id: "audit-from", name: "from", label: t("admin.audit.from"), kind: "date" }),
    field({ id: "audit-to", name: "to", label: t("admin.audit.to"), kind: "date" }),
    field({ id: "audit-request", name: "request_id", label: t("admin.audit.request_id") }),
    h("button", { type: "submit", "data-testid": "audit-search" }, t("admin.search")));

  const values = () => Object.fromEntries(["action", "actor_id", "target", "result", "from", "to", "request_id"]
    .map((k) => [k, filters.elements[k].value.trim()]));
  const table = pagedTable({
    testid: "audit-table",
    caption: t("admin.audit.title"),
    columns: [
      { label: t("admin.audit.at"), render: (r) => h("time", { datetime: r.at }, fmtDateTime(r.at)) },
      { label: t("admin.audit.actor"), render: (r) => [r.actor_name || "—", r.actor_id ? ` #${r.actor_id}` : "",
          r.on_behalf_of ? ` (${t("admin.audit.on_behalf_of")} #${r.on_behalf_of})` : ""].join("") },
      { label: t("admin.audit.action"), render: (r) => h("code", {}, r.action) },
      { label: t("admin.audit.target"), render: (r) => r.target || "" },
      { label: t("admin.audit.result"), render: (r) => h("span", { class: `badge ${r.result === "ok" ? "ok" : "bad"}` },
          t(`admin.audit.result.${r.result}`)) },
      { label: t("admin.audit.ip"), render: (r) => r.ip || "" },
      { label: t("admin.audit.detail"), render: (r) => r.detail && Object.keys(r.detail).length
          ? h("details", {}, h("summary", {}, t("admin.audit.show")),
              h("pre", { style: "white-space:pre-wrap;word-break:break-all" }, JSON.stringify(r.detail, null, 1)))
          : "" },
    ],
    fetchPage: (after) => api.get(`/api/audit${qs({ ...values(), limit: 50, after })}`),
  });
  filters.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(filters);
    try { await table.reload(); } catch (err) { showError(filters, err); }
  });

  el.append(pageHeader(t("admin.audit.title")), status, filters, table.el);
  try { await table.reload(); } catch (err) { status.say(errorText(err), "error"); }
}
