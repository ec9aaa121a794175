// The hello plugin's page: the items of the caller's unit, with create, rename and delete.
// It is the teaching example of a plugin page (docs/plugin-guide.md, "Pages"): copy it.
//
// The server serves this directory at /ui/hello/ while the plugin is enabled; manifest.json
// puts "示例条目" in the navigation of users who hold hello.read, and the shell's router
// loads this module at #/p/hello/hello and calls render(el, params).
// The strings ("hello.title", …) are in manifest.json's "messages"; the shell adds them.
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, modal, confirmDialog, errorText } from "/kit/ui.js";
import "/kit/table.js"; // defines <yi-table>
import "/kit/form.js";  // defines <yi-form>

export default async function render(el) {
  // The list: <yi-table> GETs src with ?limit=&after= and shows a "more" button while the
  // answer's `next` is not null (keyset paging, docs/api/hello.md).
  const table = h("yi-table", { src: "/api/hello/items", limit: "20", caption: t("hello.title"),
                                empty: t("hello.empty"), "data-testid": "hello-table" });
  table.columns = [
    { key: "name", label: t("hello.name") },
    { key: "created_at", label: t("hello.created_at"), type: "datetime" },
    { label: t("hello.actions"), render: (item) => h("span", { class: "row-actions" },
        // aria-label names the item: a screen reader hears "改名 第一条", not just "改名"
        h("button", { type: "button", "data-testid": "hello-rename", "aria-label": `${t("hello.rename")} ${item.name}`,
                      onclick: () => edit(item) }, t("hello.rename")),
        h("button", { type: "button", "data-testid": "hello-delete", "aria-label": `${t("hello.delete")} ${item.name}`,
                      onclick: () => remove(item) }, t("hello.delete"))) },
  ];

  // Create (item null) or rename: a <yi-form> in a modal. The form runs `action`; a refusal
  // with a `field` (400 invalid, field "name") is shown next to the field in
  // [data-error-for=name], any other error above the buttons; on success the modal closes
  // with the saved item.
  async function edit(item) {
    const form = h("yi-form", { prefix: "hello", "submit-testid": "hello-save", "submit-label": t("hello.save"),
                                "cancel-label": t("hello.cancel") });
    form.fields = [{ name: "name", label: t("hello.name"), required: true, help: t("hello.name_help") }]; // → input#hello-name
    form.values = { name: item ? item.name : "" };
    form.action = (values) => item ? api.patch(`/api/hello/items/${item.id}`, values)
                                   : api.post("/api/hello/items", values);
    requestAnimationFrame(() => form.control("name")?.focus());
    const saved = await modal(item ? t("hello.rename_title", { name: item.name }) : t("hello.new"), form);
    if (!saved) return; // closed or cancelled
    if (item) table.update(saved); else await table.reload();
    toast(t(item ? "hello.renamed" : "hello.created", { name: saved.name }), "ok");
  }

  async function remove(item) {
    if (!(await confirmDialog(t("hello.confirm_delete", { name: item.name })))) return;
    try {
      await api.del(`/api/hello/items/${item.id}`);
      toast(t("hello.deleted", { name: item.name }), "ok");
      await table.reload();
    } catch (err) {
      toast(errorText(err), "error"); // e.g. 404 when someone else deleted it first
    }
  }

  el.append(
    h("h1", {}, t("hello.title")),
    h("p", {}, t("hello.intro")),
    h("button", { type: "button", class: "primary", "data-testid": "hello-new", onclick: () => edit(null) }, t("hello.new")),
    table);
}
