// #/admin/users — accounts: search and keyset paging, create (with an initial password or a
// generated one), edit, disable/enable, unlock, reset password. Routes: docs/api/directory.md.
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h, field, showError, clearErrors, errorText, statusLine, loadUnits, unitOptions, qs,
         pagedTable, pageHeader, formPanel, startPage, me, holds, confirmDialog } from "./common.js";

const STATUSES = ["active", "disabled", "locked"];

export default async function render(el) {
  startPage(el);
  const who = await me();
  const can = (p) => !who || holds(who.permissions, p);
  const status = statusLine();
  let units = [];
  try { units = await loadUnits(); } catch (err) { status.say(errorText(err), "error"); }
  const unitName = new Map(units.map((u) => [u.id, u.name]));
  const activeUnits = units.filter((u) => u.active !== false);

  // Filters: text, unit, status. Submitting reloads the table from the first page.
  const filters = h("form", { class: "admin-filters admin-form", role: "search" },
    field({ id: "user-q", name: "q", label: t("admin.users.search"), kind: "search" }),
    field({ id: "user-filter-unit", name: "unit_id", label: t("admin.users.unit"), kind: "select",
            options: unitOptions(units, { blank: t("admin.all") }) }),
    field({ id: "user-filter-status", name: "status", label: t("admin.users.status"), kind: "select",
            options: [["", t("admin.all")], ...STATUSES.map((s) => [s, t(`admin.users.status.${s}`)])] }),
    h("button", { type: "submit" }, t("admin.search")));

  const table = pagedTable({
    testid: "user-table",
    caption: t("admin.users.title"),
    columns: [
      { label: t("admin.users.username"), render: (u) => u.username },
      { label: t("admin.users.display_name"), render: (u) => u.display_name },
      { label: t("admin.users.unit"), render: (u) => unitName.get(u.unit_id) || `#${u.unit_id}` },
      { label: t("admin.users.title_field"), render: (u) => u.title || "" },
      { label: t("admin.users.phone"), render: (u) => u.phone || "" },
      { label: t("admin.users.status"), render: (u) => h("span", { class: `badge ${u.status === "active" ? "ok" : "bad"}` },
          t(`admin.users.status.${u.status}`)) },
      { label: t("admin.actions"), render: actions },
    ],
    fetchPage: (after) => {
      const f = filters.elements;
      return api.get(`/api/users${qs({ q: f.q.value.trim(), unit_id: f.unit_id.value, status: f.status.value, limit: 50, after })}`);
    },
  });
  filters.addEventListener("submit", (ev) => { ev.preventDefault(); reload(); });
  const reload = () => table.reload().catch((err) => status.say(errorText(err), "error"));

  // Row actions; each one reports in the status line and reloads the table.
  function actions(u) {
    const b = (text, fn, show = true) => show
      ? h("button", { type: "button", "aria-label": `${text} ${u.username}`, onclick: fn }, text) : null;
    return h("div", { class: "admin-actions" },
      b(t("admin.edit"), () => openForm(u), can("users.manage")),
      b(t("admin.users.reset_password"), () => resetPassword(u), can("users.password")),
      u.status === "disabled"
        ? b(t("admin.users.enable"), () => act(u, "enable"), can("users.disable"))
        : b(t("admin.users.disable"), () => act(u, "disable"), can("users.disable")),
      b(t("admin.users.unlock"), () => act(u, "unlock"), u.status === "locked" && can("users.unlock")));
  }

  async function act(u, verb) {
    if (verb === "disable" && !(await confirmDialog(t("admin.users.confirm_disable", { name: u.username })))) return;
    try {
      const saved = await api.post(`/api/users/${u.id}/${verb}`);
      status.say(t(`admin.users.done_${verb}`, { name: u.username }));
      table.upsert(saved);
    } catch (err) {
      status.say(errorText(err), "error");
    }
  }

  async function resetPassword(u) {
    if (!(await confirmDialog(t("admin.users.confirm_reset", { name: u.username })))) return;
    try {
      const r = await api.post(`/api/users/${u.id}/password`);
      status.say(t("admin.users.reset_done", { name: u.username }));
      showSecret(t("admin.users.reset_done", { name: u.username }), r.initial_password);
    } catch (err) {
      status.say(errorText(err), "error");
    }
  }

  // A generated password is shown once: keep it on screen until dismissed.
  const secretBox = h("div", { class: "admin-panel", hidden: true, role: "alert" });
  function showSecret(text, password) {
    secretBox.replaceChildren(h("p", {}, text),
      password ? h("p", {}, t("admin.users.initial_password"), " ",
                   h("span", { class: "secret", "data-testid": "initial-password" }, password)) : null,
      password ? h("p", { class: "field-hint" }, t("admin.users.shown_once")) : null,
      h("button", { type: "button", onclick: () => { secretBox.hidden = true; } }, t("admin.close")));
    secretBox.hidden = false;
    secretBox.querySelector("button").focus();
  }

  // Create / edit form.
  let editing = null;
  const form = h("form", { class: "admin-form", novalidate: true });
  const panel = formPanel(form);
  function openForm(u) {
    editing = u;
    form.replaceChildren(
      field({ id: "user-username", name: "username", label: t("admin.users.username"), required: true,
              value: u ? u.username : "", disabled: !!u, hint: u ? "" : t("admin.users.username_hint"), maxlength: 64 }),
      field({ id: "user-display-name", name: "display_name", label: t("admin.users.display_name"), required: true,
              value: u ? u.display_name : "" }),
      field({ id: "user-unit", name: "unit_id", label: t("admin.users.unit"), kind: "select", required: true,
              value: u ? u.unit_id : (activeUnits[0]?.id ?? ""), options: unitOptions(activeUnits) }),
      field({ id: "user-title", name: "title", label: t("admin.users.title_field"), value: u?.title || "" }),
      field({ id: "user-phone", name: "phone", label: t("admin.users.phone"), kind: "tel", value: u?.phone || "" }),
      u ? null : field({ id: "user-password", name: "password", label: t("admin.users.password"), kind: "password",
                         autocomplete: "new-password", hint: t("admin.users.password_hint") }),
      h("div", { class: "admin-actions" },
        h("button", { type: "submit", "data-testid": "user-save" }, t("admin.save")),
        h("button", { type: "button", onclick: () => panel.close() }, t("admin.cancel"))));
    panel.open(u ? t("admin.users.edit_title", { name: u.username }) : t("admin.users.new"));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const f = form.elements;
    const b = { display_name: f.display_name.value.trim(), unit_id: Number(f.unit_id.value),
                title: f.title.value.trim(), phone: f.phone.value.trim() };
    for (const req of ["display_name", ...(editing ? [] : ["username"])]) {
      if (!f[req].value.trim()) { showError(form, { field: req, code: "required" }); return; }
    }
    try {
      if (editing) {
        for (const k of Object.keys(b)) if (b[k] === (editing[k] ?? "")) delete b[k];
        const saved = await api.patch(`/api/users/${editing.id}`, b);
        status.say(t("admin.users.saved", { name: saved.username }));
        table.upsert(saved);
      } else {
        b.username = f.username.value.trim();
        if (f.password.value) b.password = f.password.value;
        for (const k of ["title", "phone"]) if (!b[k]) delete b[k];
        const saved = await api.post("/api/users", b);
        status.say(t("admin.users.created", { name: saved.username }));
        if (saved.initial_password) showSecret(t("admin.users.created", { name: saved.username }), saved.initial_password);
        table.upsert(saved);
      }
      panel.close();
    } catch (err) {
      if (err.code === "conflict" && !editing) err = { ...err, field: "username", message: t("admin.users.taken") };
      showError(form, err);
    }
  });

  const newBtn = h("button", { type: "button", "data-testid": "user-new", hidden: !can("users.manage"),
                               onclick: () => openForm(null) }, t("admin.users.new"));
  el.append(pageHeader(t("admin.users.title"), newBtn), status, secretBox, panel, filters, table.el);
  await reload();
}
