// #/admin/roles — roles with their permissions (create, edit and delete the roles that are not
// built in, permissions picked from GET /api/permissions), and grants: give a role to a user on
// a unit (alone or with its whole subtree), list and remove grants. Routes: docs/api/access.md.
import { api } from "/kit/api.js";
import { t, lang } from "/kit/i18n.js";
import { h, field, showError, clearErrors, errorText, statusLine, loadUnits, unitOptions, qs,
         pagedTable, pageHeader, formPanel, startPage, me, holds, confirmDialog } from "./common.js";

export default async function render(el) {
  startPage(el);
  const who = await me();
  const can = (p) => !who || holds(who.permissions, p);
  const status = statusLine();

  // The permission catalogue (GET /api/permissions, for roles.manage): name, owner and labels of
  // every registered permission; without it the plugins' registrations where readable, then the
  // core's own labels from the message table, else the bare name.
  const labels = new Map();
  let catalogue = [];
  const labelOf = (p) => (lang() === "en" ? p.label_en : p.label_zh) || p.label_zh || p.label_en || "";
  try {
    if (!can("roles.manage")) throw new Error("no catalogue");
    catalogue = (await api.get("/api/permissions")).items || [];
    for (const p of catalogue) labels.set(p.name, labelOf(p));
  } catch {
    try {
      const plugins = await api.get("/api/admin/plugins");
      for (const p of plugins.items || []) for (const perm of p.permissions || []) labels.set(perm.name, labelOf(perm));
    } catch { /* without admin.plugins: names only */ }
  }
  const permLabel = (name) => {
    if (labels.has(name)) return labels.get(name);
    if (name === "*") return t("admin.roles.all_perms");
    if (name.endsWith(".*")) return t("admin.roles.area_perms", { area: areaLabel(name.slice(0, -2)) });
    const k = `admin.perm.${name}`;
    const v = t(k);
    return v && v !== k ? v : "";
  };
  function areaLabel(area) {
    const k = `admin.roles.area.${area}`;
    const v = t(k);
    if (v !== k) return v;
    const owner = catalogue.find((p) => p.name.startsWith(`${area}.`) && p.owner !== "core");
    return owner && owner.owner !== area ? `${area} (${owner.owner})` : area;
  }

  let roles = [];
  async function loadRoles() {
    const all = [];
    for (let after = null, i = 0; i < 50; i++) {
      const page = await api.get(`/api/roles${qs({ limit: 500, after })}`);
      all.push(...page.items);
      if (page.next === null || page.next === undefined) break;
      after = page.next;
    }
    roles = all;
  }

  // Roles: one row each, permissions as a list of chips (name, and its label when known);
  // edit and delete for the roles that are not built in (built-in ones are read-only here).
  const manage = can("roles.manage");
  const roleRow = (r) => h("tr", { dataset: { key: r.key, id: r.id } },
    h("td", { "data-label": t("admin.roles.name") }, h("strong", {}, r.name), h("br"), h("code", {}, r.key),
      r.builtin ? h("span", { class: "badge" }, " ", t("admin.roles.builtin")) : null),
    h("td", { "data-label": t("admin.roles.description") }, r.description || ""),
    h("td", { "data-label": t("admin.roles.permissions") },
      h("ul", { class: "chips" }, (r.permissions || []).map((p) => {
        const l = permLabel(p);
        return h("li", { class: "badge", title: l || p }, h("code", {}, p), l ? ` ${l}` : "");
      }))),
    manage ? h("td", { "data-label": t("admin.actions") }, r.builtin
      ? h("span", { class: "badge off" }, t("admin.roles.readonly"))
      : h("div", { class: "admin-actions" },
          h("button", { type: "button", "data-testid": "role-edit", "aria-label": `${t("admin.edit")} ${r.name}`,
                        onclick: () => openRole(r) }, t("admin.edit")),
          h("button", { type: "button", "data-testid": "role-delete", "aria-label": `${t("admin.roles.delete")} ${r.name}`,
                        onclick: () => deleteRole(r) }, t("admin.roles.delete")))) : null);
  const roleBody = h("tbody");
  const showRoles = () => roleBody.replaceChildren(...roles.map(roleRow));
  const rolesTable = h("div", { class: "table-wrap" },
    h("table", { class: "admin-table", "data-testid": "role-table" },
      h("caption", {}, t("admin.roles.title")),
      h("thead", {}, h("tr", {}, [t("admin.roles.name"), t("admin.roles.description"), t("admin.roles.permissions"),
                                  manage ? t("admin.actions") : null]
        .filter(Boolean).map((c) => h("th", { scope: "col" }, c)))),
      roleBody));
  const refreshRoles = async () => {
    try { await loadRoles(); showRoles(); } catch (err) { status.say(errorText(err), "error"); }
  };
  await refreshRoles();

  // The role form: key (new roles only), name, description, and the permissions as labelled
  // checkboxes grouped by area, each area with its "area.*", and "*" over all.
  const roleForm = h("form", { class: "admin-form", novalidate: true });
  const rolePanel = formPanel(roleForm);
  let editing = null;
  const permBox = (name, checked, text) => {
    const id = `role-perm-${name.replace(/\*/g, "all").replace(/[^a-z0-9_]/g, "-")}`;
    return h("div", { class: "field-check perm-check" },
      h("input", { type: "checkbox", id, dataset: { perm: name }, checked }),
      h("label", { for: id }, h("code", {}, name), text ? ` ${text}` : ""));
  };
  function permField(held) {
    const have = new Set(held || []);
    const areas = new Map();
    for (const p of catalogue) {
      const area = p.name.split(".")[0];
      if (!areas.has(area)) areas.set(area, []);
      areas.get(area).push(p.name);
    }
    // what the role holds that is not registered now (a plugin turned off): shown so it can be removed
    const known = new Set(catalogue.map((p) => p.name));
    const other = [...have].filter((n) => n !== "*" && !(n.endsWith(".*") ? areas.has(n.slice(0, -2)) : known.has(n)));
    return h("fieldset", { class: "field perm-field", "aria-describedby": "role-permissions-error" },
      h("legend", {}, t("admin.roles.permissions")),
      permBox("*", have.has("*"), t("admin.roles.all_perms")),
      [...areas.keys()].sort().map((area) => h("fieldset", { class: "perm-area", dataset: { area } },
        h("legend", {}, areaLabel(area)),
        permBox(`${area}.*`, have.has(`${area}.*`), t("admin.roles.area_perms", { area: areaLabel(area) })),
        areas.get(area).map((n) => permBox(n, have.has(n), permLabel(n))))),
      other.length ? h("fieldset", { class: "perm-area", dataset: { area: "" } },
        h("legend", {}, t("admin.roles.perms_other")), other.map((n) => permBox(n, true, permLabel(n)))) : null,
      h("div", { class: "field-error", id: "role-permissions-error", "data-error-for": "permissions", "aria-live": "polite" }));
  }
  function openRole(r) {
    editing = r || null;
    roleForm.replaceChildren(
      field({ id: "role-key", name: "key", label: t("admin.roles.key"), required: true, value: r ? r.key : "",
              disabled: !!r, hint: r ? "" : t("admin.roles.key_hint"), maxlength: 64 }),
      field({ id: "role-name", name: "name", label: t("admin.roles.role_name"), required: true, value: r ? r.name : "" }),
      field({ id: "role-description", name: "description", label: t("admin.roles.description"), kind: "textarea",
              value: r ? r.description || "" : "" }),
      permField(r ? r.permissions : []),
      h("div", { class: "admin-actions" },
        h("button", { type: "submit", "data-testid": "role-save" }, t("admin.save")),
        h("button", { type: "button", onclick: () => rolePanel.close() }, t("admin.cancel"))));
    rolePanel.open(r ? t("admin.roles.edit_title", { name: r.name }) : t("admin.roles.new"));
  }
  roleForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(roleForm);
    const f = roleForm.elements;
    for (const req of editing ? ["name"] : ["key", "name"]) {
      if (!f[req].value.trim()) { showError(roleForm, { field: req, code: "required" }); return; }
    }
    const permissions = [...roleForm.querySelectorAll("input[data-perm]:checked")].map((c) => c.dataset.perm);
    const body = { name: f.name.value.trim(), description: f.description.value, permissions };
    const save = roleForm.querySelector("[data-testid=role-save]");
    save.disabled = true;
    try {
      const role = editing ? await api.patch(`/api/roles/${editing.id}`, body)
                           : await api.post("/api/roles", { key: f.key.value.trim(), ...body });
      rolePanel.close();
      status.say(t(editing ? "admin.roles.saved" : "admin.roles.created", { name: role.name }));
      await refreshRoles();
    } catch (err) {
      if (err.code === "conflict" && !editing) {
        // the only conflict of a new role: its key is taken
        err.field = "key";
        showError(roleForm, err);
        const slot = roleForm.querySelector("[data-error-for=key]");
        if (lang() !== "en") slot.textContent = t("admin.roles.key_taken");
      } else {
        showError(roleForm, err);
      }
    } finally {
      save.disabled = false;
    }
  });
  async function deleteRole(r) {
    if (!(await confirmDialog(t("admin.roles.confirm_delete", { name: r.name, key: r.key })))) return;
    try {
      await api.del(`/api/roles/${r.id}`);
      status.say(t("admin.roles.deleted", { name: r.name }));
      await refreshRoles();
    } catch (err) {
      status.say(err.code === "conflict" && !r.builtin && lang() !== "en" ? t("admin.roles.in_use") : errorText(err), "error");
    }
  }

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
      if (err.code === "conflict") err = { message: t("admin.roles.already") };
      showError(form, err);
    }
  });

  const roleBtn = h("button", { type: "button", "data-testid": "role-new", hidden: !manage,
                                onclick: () => openRole(null) }, t("admin.roles.new"));
  const grantBtn = h("button", { type: "button", "data-testid": "grant-new", hidden: !can("grants.manage"),
                                 onclick: openGrant }, t("admin.roles.new_grant"));
  el.append(pageHeader(t("admin.roles.title"), roleBtn, grantBtn), status, rolePanel, panel, rolesTable,
    h("h2", {}, t("admin.roles.grants")), grantFilter, grants.el);
  if (can("grants.read")) await reloadGrants();
}
