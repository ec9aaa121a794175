// One supervision case (#/p/supervision/board?case=<id>, loaded by board.js): particulars with the
// colour light, the units' progress, the item's timeline (<yi-timeline>) and the lag reasons.
// GET /api/supervision/cases/:id answers the full view to parties and the public view to every
// other signed-in user (lag reasons are always public); a restricted case is a 404 for them.
// The child cases (分解) are listed with their lights; the lead unit's handler gets the forms to
// decompose the case (POST .../children) or, within the window, to return it (POST .../return).
import { api } from "/kit/api.js";
import { t, fmtDate, fmtDateTime, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { errorText, toast } from "/kit/ui.js";
import "/kit/timeline.js";
import "/kit/form.js";
import { light, stateBadge, kindText, unitName, caseHref } from "/ui/supervision/common.js";

function childList(c) {
  const kids = c.children || [];
  if (!kids.length) return null;
  return h("section", { class: "sv-section", "aria-labelledby": "sv-children-h" },
    h("h2", { id: "sv-children-h" }, t("supervision.case.children")),
    h("ul", { class: "sv-reasons", "data-testid": "supervision-children" }, kids.map((k) =>
      h("li", { "data-testid": "supervision-child", "data-id": String(k.id) }, light(k.colour || null), " ",
        h("a", { href: caseHref(k.id), "data-testid": "supervision-child-open" }, k.title),
        h("div", { class: "field-hint" }, [unitName(k.lead_unit), t("supervision.state." + k.state),
          k.deadline ? t("supervision.col.deadline") + " " + fmtDate(k.deadline) : ""].filter(Boolean).join(" · "))))));
}

// the lead unit's forms: decompose into a child case, or return the case
function actionForms(el, c, id) {
  const a = c.actions || {};
  const again = () => { el.replaceChildren(); renderCase(el, id); };
  const out = [];
  if (a.decompose) {
    const form = h("yi-form", { prefix: "sv-child", "submit-label": t("supervision.split.save"),
                                "submit-testid": "supervision-split-save", "data-testid": "supervision-split-form" });
    form.fields = [
      { name: "lead_unit", label: t("supervision.split.unit"), type: "select", required: true,
        options: (c.subunits || []).map((u) => ({ value: String(u.id), label: u.name })) },
      { name: "title", label: t("supervision.new.case_title"), help: t("supervision.split.title_help") },
      { name: "deadline", label: t("supervision.new.deadline"), type: "date",
        help: t("supervision.split.deadline_help", { date: c.item && c.item.deadline ? fmtDate(c.item.deadline) : "" }) },
      { name: "text", label: t("supervision.split.text"), type: "textarea" },
    ];
    form.action = (v) => {
      const body = { lead_unit: Number(v.lead_unit) };
      for (const k of ["title", "deadline", "text"]) if (v[k]) body[k] = v[k];
      return api.post(`/api/supervision/cases/${id}/children`, body);
    };
    form.addEventListener("yi-saved", (ev) => { toast(t("supervision.split.saved", { title: ev.detail.title }), "ok"); again(); });
    out.push(h("section", { class: "sv-section", "aria-labelledby": "sv-split-h" },
      h("h2", { id: "sv-split-h" }, t("supervision.split.title")), h("p", { class: "field-hint" }, t("supervision.split.intro")), form));
  }
  if (a.return) {
    const form = h("yi-form", { prefix: "sv-return", "submit-label": t("supervision.return.save"),
                                "submit-testid": "supervision-return-save", "data-testid": "supervision-return-form" });
    form.fields = [{ name: "reason", label: t("supervision.return.reason"), type: "textarea", required: true }];
    form.action = (v) => api.post(`/api/supervision/cases/${id}/return`, { reason: v.reason });
    form.addEventListener("yi-saved", () => { toast(t("supervision.return.saved"), "ok"); again(); });
    out.push(h("section", { class: "sv-section", "aria-labelledby": "sv-return-h" },
      h("h2", { id: "sv-return-h" }, t("supervision.return.title")),
      h("p", { class: "field-hint", "data-testid": "supervision-return-until" },
        t("supervision.return.until", { date: a.return_until ? fmtDate(a.return_until) : "" })), form));
  }
  return out;
}

export default async function renderCase(el, id) {
  const body = h("div", { "data-testid": "supervision-case-body", "aria-busy": "true" },
    h("p", { role: "status" }, t("supervision.case.loading")));
  el.append(h("p", {}, h("a", { href: "#/p/supervision/board", "data-testid": "supervision-back" }, t("supervision.back"))), body);
  let c;
  try {
    c = await api.get(`/api/supervision/cases/${id}`);
  } catch (e) {
    body.removeAttribute("aria-busy");
    body.replaceChildren(h("p", { class: "yi-error", role: "alert", "data-testid": "supervision-case-error" }, errorText(e)));
    return;
  }
  const it = c.item || {};
  const units = new Map();
  for (const u of [it.lead_unit, it.supervisor_unit, ...(it.units || [])]) if (u && u.id) units.set(u.id, u.name);
  for (const r of it.reasons || []) if (r.unit_id && r.unit_name) units.set(r.unit_id, r.unit_name);

  const rows = [
    ["supervision.col.state", h("span", {}, stateBadge(it.state || "draft"),
      it.late && it.late !== "none" ? [" ", h("span", { class: "yi-badge danger", "data-testid": "supervision-late" }, t("supervision.late." + it.late))] : null)],
    ["supervision.case.source", kindText(c.source_kind)],
    ["supervision.case.origin", t("supervision.origin." + c.origin)],
    ["supervision.col.deadline", it.deadline ? fmtDate(it.deadline) : ""],
    ["supervision.col.lead_unit", unitName(it.lead_unit)],
    ["supervision.col.co_units", (it.units || []).filter((u) => u.role === "co").map((u) => u.name).join("、")],
    ["supervision.case.supervisor_unit", unitName(it.supervisor_unit)],
    ["supervision.col.leader", c.leader || ""],
    ["supervision.case.created_at", c.created_at ? fmtDateTime(c.created_at) : ""],
    ["supervision.case.escalated_at", c.escalated_at ? fmtDateTime(c.escalated_at) : ""],
    ["supervision.case.original_text", c.original_text ? h("span", { class: "sv-pre", "data-testid": "supervision-case-text" }, c.original_text) : ""],
  ].filter(([, v]) => v);
  const details = h("dl", { class: "yi-dl", "data-testid": "supervision-case-details" },
    rows.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));

  const progress = (it.units || []).length ? h("section", { class: "sv-section", "aria-labelledby": "sv-units-h" },
    h("h2", { id: "sv-units-h" }, t("supervision.case.units")),
    h("ul", { "data-testid": "supervision-case-units" }, it.units.map((u) => h("li", {},
      `${u.name}（${t("supervision.case.role." + u.role)}）`,
      u.percent !== null && u.percent !== undefined ? " " + t("supervision.percent", { n: fmtNumber(u.percent) }) : "",
      u.reports ? " · " + t("supervision.case.reports_n", { n: fmtNumber(u.reports) }) : "")))) : null;

  const nodes = (it.nodes || []).length ? h("section", { class: "sv-section", "aria-labelledby": "sv-nodes-h" },
    h("h2", { id: "sv-nodes-h" }, t("supervision.case.nodes")),
    h("ol", {}, it.nodes.map((n) => h("li", {}, `${n.title} · ${fmtDate(n.deadline)}`,
      n.done_at ? ` · ${t("supervision.case.node_done")}` : n.late ? ` · ${t("supervision.case.node_late")}` : "")))) : null;

  // the timeline: what happened, newest first; who acted is named by the unit
  const tl = h("yi-timeline", { reverse: true, "data-testid": "supervision-timeline" });
  tl.items = (it.timeline || []).map((e) => {
    const d = e.detail || {};
    const title = e.kind === "colour" ? t("supervision.tl.colour", { colour: t("supervision.colour." + (e.colour || "none")) })
      : t("supervision.tl." + e.kind);
    const text = [d.text, d.reason, d.comment, d.message].filter((x) => typeof x === "string" && x).join("\n");
    return { at: e.at, kind: e.kind, title, by: units.get(e.unit_id) || "",
             body: [e.state ? t("supervision.tl.state", { state: t("supervision.state." + e.state) }) : "", text].filter(Boolean).join(" · ") };
  });
  const timeline = h("section", { class: "sv-section", "aria-labelledby": "sv-tl-h" },
    h("h2", { id: "sv-tl-h" }, t("supervision.case.timeline")),
    (it.timeline || []).length ? tl : h("p", {}, t("supervision.case.timeline_empty")));

  const reasons = it.reasons || [];
  const reasonList = h("section", { class: "sv-section", "aria-labelledby": "sv-reasons-h" },
    h("h2", { id: "sv-reasons-h" }, t("supervision.case.reasons")),
    reasons.length ? h("ul", { class: "sv-reasons", "data-testid": "supervision-reasons" }, reasons.map((r) =>
      h("li", { "data-testid": "supervision-reason", "data-category": r.category },
        h("strong", {}, t("supervision.reason." + r.category)), "：", h("span", { class: "sv-pre" }, r.text),
        h("div", { class: "field-hint" }, [r.unit_name || units.get(r.unit_id) || "", fmtDateTime(r.created_at),
          r.late ? t("supervision.reason.when", { late: t("supervision.late." + r.late) }) : ""].filter(Boolean).join(" · ")))))
      : h("p", { "data-testid": "supervision-reasons-empty" }, t("supervision.case.reasons_empty")));

  body.removeAttribute("aria-busy");
  body.replaceChildren(...[
    h("h1", { class: "sv-title", "data-testid": "supervision-case-title" }, c.title, " ", light(it.colour || null)),
    c.restricted ? h("p", {}, h("span", { class: "yi-badge" }, t("supervision.restricted"))) : null,
    c.view === "public" || it.view === "public" ? h("p", { class: "field-hint", "data-testid": "supervision-public-view" }, t("supervision.case.public_view")) : null,
    details, childList(c), progress, nodes, reasonList, timeline, ...actionForms(el, c, id)].filter(Boolean));
}
