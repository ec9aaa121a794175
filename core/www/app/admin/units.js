// #/admin/units — the tree of units: create, edit (rename, move, other fields), deactivate
// and activate again. Routes: docs/api/directory.md (GET/POST /api/units, PATCH /api/units/:id).
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h, field, showError, clearErrors, errorText, statusLine, loadUnits, unitOptions, sortUnits,
         pageHeader, formPanel, startPage, me, holds, confirmDialog } from "./common.js";

const KINDS = ["county", "township", "village", "department", "other"];

export default async function render(el) {
  startPage(el);
  const who = await me();
  const canManage = !who || holds(who.permissions, "units.manage");
  const status = statusLine();
  const showInactive = h("input", { type: "checkbox", id: "unit-show-inactive" });
  const newBtn = h("button", { type: "button", "data-testid": "unit-new", hidden: !canManage }, t("admin.units.new"));
  const tree = h("ul", { class: "unit-tree", "data-testid": "unit-tree", "aria-label": t("admin.units.tree") });

  // The form, shared by "new" and "edit": editing is set while a unit is being changed.
  let editing = null;
  let units = [];
  const form = h("form", { class: "admin-form", novalidate: true });
  const panel = formPanel(form);

  function fillForm(unit) {
    const active = units.filter((u) => u.active !== false && (!unit || u.id !== unit.id));
    form.replaceChildren(
      field({ id: "unit-name", name: "name", label: t("admin.units.name"), required: true, value: unit ? unit.name : "", maxlength: 200 }),
      field({ id: "unit-short-name", name: "short_name", label: t("admin.units.short_name"), value: unit?.short_name || "" }),
      field({ id: "unit-kind", name: "kind", label: t("admin.units.kind"), kind: "select", required: true,
              disabled: !!unit, value: unit ? unit.kind : "village",
              options: KINDS.map((k) => [k, t(`admin.units.kind.${k}`)]) }),
      field({ id: "unit-parent", name: "parent_id", label: t("admin.units.parent"), kind: "select",
              value: unit ? unit.parent_id ?? "" : (active[0]?.id ?? ""),
              disabled: unit && unit.parent_id === null,
              options: unitOptions(active, unit && unit.parent_id === null ? { blank: t("admin.units.root") } : {}) }),
      field({ id: "unit-credit-code", name: "credit_code", label: t("admin.units.credit_code"),
              value: unit?.credit_code || "", maxlength: 18, hint: t("admin.units.credit_hint") }),
      field({ id: "unit-sort", name: "sort", label: t("admin.units.sort"), kind: "number", value: unit ? unit.sort : 0 }),
      h("div", { class: "admin-actions" },
        h("button", { type: "submit", "data-testid": "unit-save" }, t("admin.save")),
        h("button", { type: "button", onclick: () => panel.close() }, t("admin.cancel"))));
  }

  // Only the fields that changed go into a PATCH (an unchanged body gives no audit row).
  function body() {
    const v = (n) => form.elements[n].value.trim();
    const b = { name: v("name"), short_name: v("short_name") || null, credit_code: v("credit_code") || null,
                sort: Number(v("sort") || 0) };
    if (!form.elements.parent_id.disabled && v("parent_id")) b.parent_id = Number(v("parent_id"));
    if (!editing) return { ...b, kind: v("kind") };
    for (const k of Object.keys(b)) if (b[k] === (editing[k] ?? null)) delete b[k];
    return b;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!form.elements.name.value.trim()) {
      showError(form, { field: "name", code: "required" });
      return;
    }
    try {
      const saved = editing ? await api.patch(`/api/units/${editing.id}`, body())
                            : await api.post("/api/units", body());
      panel.close();
      status.say(t(editing ? "admin.units.saved" : "admin.units.created", { name: saved.name }));
      editing = null;
      await refresh();
    } catch (err) {
      showError(form, err);
    }
  });

  async function setActive(unit, active) {
    if (!active && !(await confirmDialog(t("admin.units.confirm_deactivate", { name: unit.name })))) return;
    try {
      await api.patch(`/api/units/${unit.id}`, { active });
      status.say(t(active ? "admin.units.activated" : "admin.units.deactivated", { name: unit.name }));
      await refresh();
    } catch (err) {
      status.say(err.code === "conflict" ? t(active ? "admin.units.parent_inactive" : "admin.units.has_children")
                                         : errorText(err), "error");
    }
  }

  function node(unit, children) {
    const li = h("li", { dataset: { id: unit.id } });
    const label = h("span", { class: unit.active === false ? "inactive" : "" }, unit.name);
    const row = h("div", { class: "unit-node" }, label,
      h("span", { class: "badge" }, t(`admin.units.kind.${unit.kind}`)),
      unit.active === false ? h("span", { class: "badge off" }, t("admin.inactive")) : null);
    if (canManage) {
      row.append(h("button", { type: "button", "aria-label": `${t("admin.edit")} ${unit.name}`, onclick: () => {
        editing = unit; fillForm(unit); panel.open(t("admin.units.edit_title", { name: unit.name }));
      } }, t("admin.edit")));
      if (unit.parent_id !== null) {
        row.append(unit.active === false
          ? h("button", { type: "button", "aria-label": `${t("admin.activate")} ${unit.name}`, onclick: () => setActive(unit, true) }, t("admin.activate"))
          : h("button", { type: "button", "aria-label": `${t("admin.deactivate")} ${unit.name}`, onclick: () => setActive(unit, false) }, t("admin.deactivate")));
      }
    }
    li.append(row);
    if (children.length) li.append(h("ul", {}, children));
    return li;
  }

  async function refresh() {
    try {
      units = await loadUnits(showInactive.checked ? {} : { active: "true" });
    } catch (err) {
      status.say(errorText(err), "error");
      return;
    }
    const ids = new Set(units.map((u) => u.id));
    const kids = new Map();
    for (const u of units) {
      const p = u.parent_id !== null && ids.has(u.parent_id) ? u.parent_id : 0;
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(u);
    }
    const build = (pid) => sortUnits(kids.get(pid) || []).map((u) => node(u, build(u.id)));
    tree.replaceChildren(...build(0));
    if (!units.length) tree.append(h("li", {}, t("admin.empty")));
  }

  newBtn.addEventListener("click", () => { editing = null; fillForm(null); panel.open(t("admin.units.new")); });
  showInactive.addEventListener("change", refresh);

  el.append(pageHeader(t("admin.units.title"), newBtn),
    status, panel,
    h("div", { class: "field-check" }, showInactive, h("label", { for: "unit-show-inactive" }, " ", t("admin.units.show_inactive"))),
    tree);
  await refresh();
}
