// 通讯录: the county's address book (GET /api/contacts), searchable, by unit, in keyset pages.
import { qs } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import "/kit/table.js";
import "/kit/pickers.js";

export default async function render(el, params) {
  const q = h("input", { type: "search", id: "contacts-q", name: "q", value: params.q || "" });
  const unit = h("yi-unit-picker", { "control-id": "contacts-unit", value: params.unit_id || null, "blank-label": t("contacts.all_units") });
  const apply = () => { location.hash = "#/contacts" + qs({ q: q.value.trim(), unit_id: unit.value }); };
  const form = h("form", { class: "yi-filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("div", { class: "field" }, h("label", { for: "contacts-q" }, t("contacts.q")), q),
    h("div", { class: "field" }, h("label", { for: "contacts-unit" }, t("contacts.unit")), unit),
    h("div", { class: "field field-button" }, h("button", { type: "submit", class: "primary" }, t("shell.search"))));
  unit.addEventListener("change", apply);
  const table = h("yi-table", { src: "/api/contacts", limit: "50", caption: t("nav.contacts"), "data-testid": "contacts-table" });
  table.columns = [
    { key: "display_name", label: t("contacts.name") },
    { key: "unit_name", label: t("contacts.unit") },
    { key: "title", label: t("contacts.title") },
    { label: t("contacts.phone"), render: (r) => (r.phone ? h("a", { href: "tel:" + r.phone.replace(/[^\d+]/g, "") }, r.phone) : "") },
  ];
  table.params = { q: params.q, unit_id: params.unit_id };
  el.append(h("h1", {}, t("nav.contacts")), form, table);
}
