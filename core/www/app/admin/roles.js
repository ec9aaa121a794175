// #/admin/roles — roles with their permissions, and grants: give a role to a user on a unit
// (alone or with its whole subtree), list and remove grants. Routes: docs/api/access.md.
import { api } from "/kit/api.js";
import { t, lang } from "/kit/i18n.js";
import { h, field, showError, clearErrors, errorText, statusLine, loadUnits, unitOptions, qs,
         pagedTable, pageHeader, formPanel, startPage, me, holds, confirmDialog } from "./common.js";

export default async function render(el) {
  startPage(el);
  const who = await me();
  const can = (p) => !who || holds(who.permissions, p);
  const status = statusLine();

  // Permission labels: the plugins' registrations (GET /api/admin/plugins) where readable,
  // plus the core's own labels from the message table; otherwise the bare name is shown.
  const labels = new Map();
  try {
    const plugins = await api.get("/api/admin/plugins");
    for (const p of plugins.items || []) {
      for (const perm of p.permissions || []) {
        labels.set(perm.name, lang() === "en" ? perm.label_en : perm.label_zh);
      }
    }
  } catch { /* without admin.plugins: names only */ }
  const permLabel = (name) => {
    if (labels.has(name)) return labels.get(name);
    if (name === "*") return t("admin.roles.all_perms");
    if (name.endsWith(".*")) return t("admin.roles.area_perms", { area: name.slice(0, -2) });
    const k = `admin.perm.${name}`;
    const v = t(k);
    return v && v !== k ? v : "";
  };

  let roles = [];
  try {
    for (let after = null, i = 0; i < 50; i++) {
      const page = await api.get(`/api/roles${qs({ limit: 500, after })}`);
      roles.push(...page.items);
      if (page.next === null || page.next === undefined) break;
      after = page.next;
    }
  } catch (err) {
    status.say(errorText(err), "error");
  }

  // Roles: one row each, permissions as a list of chips (name, and its label when known).
  const roleRows = roles.map((r) => h("tr", { dataset: { key: r.key } },
    h("td", { "data-label": t("admin.roles.name") }, h("strong", {}, r.name), h("br"), h("code", {}, r.key),
      r.builtin ? h("span", { class: "badge" }, " ", t("admin.roles.builtin")) : null),
    h("td", { "data-label": t("admin.roles.description") }, r.description || ""),
    h("td", { "data-label": t("admin.roles.permissions") },
      h("ul", { class: "chips" }, (r.permissions || []).map((p) => {
        const l = permLabel(p);
        return h("li", { class: "badge", title: l || p }, h("code", {}, p), l ? ` ${l}` : "");
      })))));
  const rolesTable = h("div", { class: "table-wrap" },
    h("table", { class: "admin-table", "data-testid": "role-table" },
      h("caption", {}, t("admin.roles.title")),
      h("thead", {}, h("tr", {}, [t("admin.roles.name"), t("admin.roles.description"), t("admin.roles.permissions")]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, roleRows)));

  // Grants: filter by user id or unit, keyset paged; "remove" where allowed.
  let units = [];
  try { units = await loadUnits(); } catch { /* the grant form then has no units */ }
  const grantFilter = h("form", { class: "admin-filters admin-form" },
    field({ id: "grant-filter-unit", name: "unit_id", label: t("admin.roles.unit"), kind: "select",
            options: unitOptions(units, { blank: t("admin.all") }) }),
    h("button", { type: "submit" }, t("admin.search")));
  const grants = pagedTable({
    testid: "grant-table",
    caption: t("admin.roles.grants"),
    columns: [
      { label: t("admin.roles.user"), render: (g) => `${g.display_name} (${g.username})` },
      { label: t("admin.roles.role"), render: (g) => g.role_name || g.role },
      { label: t("admin.roles.unit"), render: (g) => g.unit_name },
      { label: t("admin.roles.scope"), render: (g) => g.include_descendants ? t("admin.roles.subtree") : t("admin.roles.unit_only") },
      { label: t("admin.actions"), render: (g) => can("grants.manage")
          ? h("button", { type: "button", "aria-label": `${t("admin.roles.revoke")} ${g.username} ${g.role}`,
                          onclick: () => revoke(g) }, t("admin.roles.revoke")) : "" },
    ],
    fetchPage: (after) => api.get(`/api/grants${qs({ unit_id: grantFilter.elements.unit_id.value, limit: 50, after })}`),
  });
  const reloadGrants = () => grants.reload().catch((err) => status.say(errorText(err), "error"));
  grantFilter.addEventListener("submit", (ev) => { ev.preventDefault(); reloadGrants(); });

  async function revoke(g) {
    if (!(await confirmDialog(t("admin.roles.confirm_revoke", { user: g.username, role: g.role_name || g.role, unit: g.unit_name })))) return;
    try {
      await api.del(`/api/grants/${g.id}`);
      status.say(t("admin.roles.revoked"));
      reloadGrants();
    } catch (err) {
      status.say(errorText(err), "error");
    }
  }

  // The grant form: find the user by name (GET /api/users?q=), pick role and unit.
  const form = h("form", { class: "admin-form", novalidate: true });
  const panel = formPanel(form);
  const userSelect = () => form.elements.user_id;
  async function findUsers() {
    const q = form.elements.user_q.value.trim();
    const sel = userSelect();
    try {
      const page = await api.get(`/api/users${qs({ q, limit: 20 })}`);
      sel.replaceChildren(...page.items.map((u) => h("option", { value: u.id }, `${u.display_name} (${u.username})`)));
      if (!page.items.length) sel.append(h("option", { value: "" }, t("admin.roles.no_user")));
    } catch (err) {
      showError(form, err);
    }
  }
  function openGrant() {
    form.replaceChildren(
      h("div", { class: "admin-filters" },
        field({ id: "grant-user-q", name: "user_q", label: t("admin.roles.find_user"), kind: "search" }),
        h("button", { type: "button", onclick: findUsers }, t("admin.search"))),
      field({ id: "grant-user", name: "user_id", label: t("admin.roles.user"), kind: "select", required: true, options: [] }),
      field({ id: "grant-role", name: "role", label: t("admin.roles.role"), kind: "select", required: true,
              options: roles.map((r) => [r.key, `${r.name} (${r.key})`]) }),
      field({ id: "grant-unit", name: "unit_id", label: t("admin.roles.unit"), kind: "select", required: true,
              options: unitOptions(units.filter((u) => u.active !== false)) }),
      field({ id: "grant-descendants", name: "include_descendants", label: t("admin.roles.include_descendants"),
              kind: "checkbox", value: true }),
      h("div", { class: "admin-actions" },
        h("button", { type: "submit", "data-testid": "grant-save" }, t("admin.roles.grant")),
        h("button", { type: "button", onclick: () => panel.close() }, t("admin.cancel"))));
    form.elements.user_q.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); findUsers(); }
    });
    panel.open(t("admin.roles.new_grant"));
    findUsers();
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const f = form.elements;
    if (!f.user_id.value) { showError(form, { field: "user_id", code: "required" }); return; }
    try {
      await api.post("/api/grants", { user_id: Number(f.user_id.value), role: f.role.value,
                                      unit_id: Number(f.unit_id.value), include_descendants: f.include_descendants.checked });
      panel.close();
      status.say(t("admin.roles.granted"));
      reloadGrants();
    } catch (err) {
      if (err.field === "role_id") err.field = "role";
      if (err.code === "conflict") err = { code: "conflict", message: t("admin.roles.already") };
      showError(form, err);
    }
  });

  const grantBtn = h("button", { type: "button", "data-testid": "grant-new", hidden: !can("grants.manage"),
                                 onclick: openGrant }, t("admin.roles.new_grant"));
  el.append(pageHeader(t("admin.roles.title"), grantBtn), status, panel, rolesTable,
    h("h2", {}, t("admin.roles.grants")), grantFilter, grants.el);
  if (can("grants.read")) await reloadGrants();
}
