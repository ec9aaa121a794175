// 督查立项 (#/p/supervision/new, for holders of supervision.manage): take in a case by hand
// (POST /api/supervision/cases). The server checks everything; a 400 invalid with a field shows
// next to that field (<yi-form>). Saved: the case page.
import { api } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast } from "/kit/ui.js";
import { navigate } from "/kit/router.js";
import "/kit/form.js";
import { KINDS, styles, caseHref } from "/ui/supervision/common.js";

export default async function render(el) {
  styles();
  const form = h("yi-form", { prefix: "sv-case", "submit-label": t("supervision.new.save"), "submit-testid": "supervision-new-save",
                              "data-testid": "supervision-new-form" });
  form.fields = [
    { name: "source_kind", label: t("supervision.new.source_kind"), type: "select", required: true,
      options: KINDS.map((k) => ({ value: k, label: t("supervision.kind." + k) })) },
    { name: "text", label: t("supervision.new.text"), type: "textarea", required: true, help: t("supervision.new.text_help") },
    { name: "title", label: t("supervision.new.case_title"), help: t("supervision.new.title_help") },
    { name: "leader", label: t("supervision.new.leader"), autocomplete: "off" },
    { name: "lead_unit", label: t("supervision.new.lead_unit"), type: "unit", required: true },
    { name: "co_units", label: t("supervision.new.co_units"), type: "unit" },
    { name: "deadline", label: t("supervision.new.deadline"), type: "date", help: t("supervision.new.deadline_help") },
    { name: "deadline_workdays", label: t("supervision.new.deadline_workdays"), type: "number", min: 1, max: 1000, step: 1, inputmode: "numeric" },
    { name: "report_cycle", label: t("supervision.new.report_cycle"), type: "select",
      options: [{ value: "weekly", label: t("supervision.new.cycle.weekly") }]
        .concat([1, 5, 10, 15, 20, 25].map((n) => ({ value: "monthly " + n, label: t("supervision.new.cycle.monthly", { n }) }))) },
    { name: "restricted", label: t("supervision.new.restricted"), type: "checkbox" },
    { name: "draft", label: t("supervision.new.draft"), type: "checkbox" },
  ];
  form.values = { source_kind: "instruction" };
  form.action = (v) => {
    const body = Object.assign({}, v);
    delete body.draft;
    if (v.draft) body.assign = false;
    if (body.co_units !== undefined && body.co_units !== null && body.co_units !== "") body.co_units = [body.co_units];
    else delete body.co_units;
    if (!body.restricted) delete body.restricted;
    return api.post("/api/supervision/cases", body);
  };
  form.addEventListener("yi-saved", (ev) => {
    const c = ev.detail;
    toast(t("supervision.new.saved", { title: c.title }), "ok");
    navigate(caseHref(c.id));
  });
  el.append(h("h1", {}, t("supervision.new.title")), h("p", {}, t("supervision.new.intro")), form);
}
