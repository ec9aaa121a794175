// The hello_lua plugin's page: the greetings of the caller's unit, with create, edit and
// delete. The same shape as plugins/hello/www/page.js: a page does not care whether its
// plugin is written in C or in Lua — it only talks to the plugin's HTTP API.
//
// Served at /ui/hello_lua/ while the plugin is enabled; manifest.json adds "问候" to the
// navigation of holders of hello_lua.read; the shell loads this module at #/p/hello_lua/hello_lua.
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, confirmDialog, errorText } from "/kit/ui.js";
import "/kit/table.js";
import "/kit/form.js";

export default async function render(el) {
  // GET /api/hello_lua/greetings?limit=&after= → {items, next}: <yi-table> pages through it.
  const table = h("yi-table", { src: "/api/hello_lua/greetings", limit: "20", caption: t("hello_lua.title"),
                                empty: t("hello_lua.empty"), "data-testid": "greeting-table" });
  table.columns = [
    { key: "text", label: t("hello_lua.text") },
    { key: "created_at", label: t("hello_lua.created_at"), type: "datetime" },
    { label: t("hello_lua.actions"), render: (g) => h("span", { class: "row-actions" },
        h("button", { type: "button", "data-testid": "greeting-edit", "aria-label": `${t("hello_lua.edit")} ${g.text}`,
                      onclick: () => edit(g) }, t("hello_lua.edit")),
        h("button", { type: "button", "data-testid": "greeting-delete", "aria-label": `${t("hello_lua.delete")} ${g.text}`,
                      onclick: () => remove(g) }, t("hello_lua.delete"))) },
  ];

  // One form for create and edit; a 400 with field "text" appears in [data-error-for=text].
  async function edit(g) {
    const form = h("yi-form", { prefix: "greeting", "submit-testid": "greeting-save", "submit-label": t("hello_lua.save"),
                                "cancel-label": t("hello_lua.cancel") });
    form.fields = [{ name: "text", label: t("hello_lua.text"), required: true, help: t("hello_lua.text_help") }]; // → #greeting-text
    form.values = { text: g ? g.text : "" };
    form.action = (values) => g ? api.patch(`/api/hello_lua/greetings/${g.id}`, values)
                                : api.post("/api/hello_lua/greetings", values);
    requestAnimationFrame(() => form.control("text")?.focus());
    const saved = await modal(g ? t("hello_lua.edit_title") : t("hello_lua.new"), form);
    if (!saved) return;
    if (g) table.update(saved); else await table.reload();
    toast(t(g ? "hello_lua.saved" : "hello_lua.created"), "ok");
  }

  async function remove(g) {
    if (!(await confirmDialog(t("hello_lua.confirm_delete", { text: g.text })))) return;
    try {
      await api.del(`/api/hello_lua/greetings/${g.id}`);
      toast(t("hello_lua.deleted"), "ok");
      await table.reload();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  el.append(
    h("h1", {}, t("hello_lua.title")),
    h("p", {}, t("hello_lua.intro")),
    h("button", { type: "button", class: "primary", "data-testid": "greeting-new", onclick: () => edit(null) }, t("hello_lua.new")),
    table);
}
