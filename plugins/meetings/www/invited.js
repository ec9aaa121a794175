// The township contact's page (#/p/meetings/view, the link of every meeting dispatch): my invited
// meetings; with ?id=<meeting> one notice: opening it marks it read (GET /api/dispatches/:id), then
// Sign (POST /api/dispatches/:id/sign) and the reply (回执: attending yes/no, the attendees'
// name/post/phone rows, the reason for leave; POST /api/dispatches/:id/reply). Made for a phone.
import { api, ApiError } from "/kit/api.js";
import { t, fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, errorText, showErrorText } from "/kit/ui.js";
import { current } from "/kit/router.js";
import "/kit/table.js";
import { stateBadge, details } from "/ui/meetings/common.js";

const MAX_ROWS = 50;

// ?id=<meeting>: read from the hash itself (the route's own :id, the page's name, shadows it in params)
export default async function render(el) {
  const id = Number(current().query.id);
  if (id > 0) return renderOne(el, id);
  return renderList(el);
}

// ------------------------------------------------------------------ my invited meetings

function renderList(el) {
  const table = h("yi-table", { limit: "20", caption: t("meetings.invited"), empty: t("meetings.invited_empty"),
                                "data-testid": "invited-table" });
  table.columns = [
    { key: "title", label: t("meetings.title"), render: (m) => h("a", { href: `#/p/meetings/view?id=${m.id}`,
        "data-testid": "invited-open", "data-id": m.id }, m.title) },
    { key: "start_at", label: t("meetings.start_at"), type: "datetime" },
    { key: "place", label: t("meetings.place") },
    { key: "state", label: t("meetings.state"), render: (m) => stateBadge(m.state) },
  ];
  table.fetcher = (after, limit) => api.get("/api/meetings?" + new URLSearchParams(
    Object.assign({ box: "invited", limit: String(limit) }, after === null || after === undefined ? {} : { after: String(after) })));
  el.append(h("h1", {}, t("meetings.invited_title")), h("p", {}, t("meetings.invited_intro")), table);
}

// ------------------------------------------------------------------ one notice: sign and reply

async function renderOne(el, id) {
  const body = h("div", {}, h("p", {}, t("kit.loading")));
  el.append(h("p", {}, h("a", { href: "#/p/meetings/view", "data-testid": "invited-back" }, t("meetings.back_invited"))), body);
  let m, d;
  try {
    m = await api.get(`/api/meetings/${id}`);
    d = m.dispatch_id ? await api.get(`/api/dispatches/${m.dispatch_id}`) : null; // opening marks it read
  } catch (e) {
    body.replaceChildren(h("p", { class: "yi-error", role: "alert" }, errorText(e)));
    return;
  }
  const receipts = (d && d.my_receipts) || [];
  const rc = receipts.find((r) => r.may_act) || receipts[0] || null;
  const unitArg = receipts.length > 1 && rc && rc.unit ? { unit_id: rc.unit.id } : {};
  const status = h("p", { "data-testid": "invited-status", "aria-live": "polite" });
  const actions = h("div", {});
  const error = h("p", { class: "yi-error", role: "alert", "data-testid": "invited-error" });

  function drawStatus(state) {
    status.replaceChildren(t("meetings.my_state"), " ",
      h("span", { class: "yi-badge state-" + state, "data-testid": "invited-state", "data-state": state }, t("board.state." + state)));
  }

  function draw(state) {
    drawStatus(state);
    actions.replaceChildren();
    if (!rc || !rc.may_act || !d || d.state !== "open") {
      if (d && d.state === "withdrawn") actions.append(h("p", { class: "yi-summary" }, t("meetings.withdrawn")));
      return;
    }
    if (state === "delivered" || state === "read") {
      actions.append(h("button", { type: "button", class: "primary", "data-testid": "invited-sign", onclick: sign },
        t("meetings.sign")));
    }
    const owed = d.reply_form && state !== "replied" && state !== "returned" && state !== "withdrawn";
    if (owed) actions.append(replyForm(d.reply_form, state));
    if (state === "replied") actions.append(h("p", { class: "yi-summary", "data-testid": "invited-replied" }, t("meetings.replied_ok")));
  }

  async function sign(ev) {
    ev.target.disabled = true;
    showErrorText(error, null);
    try {
      const r = await api.post(`/api/dispatches/${d.id}/sign`, unitArg);
      toast(t("meetings.signed_ok"), "ok");
      draw(r.state || "signed");
    } catch (e) {
      ev.target.disabled = false;
      showErrorText(error, e);
    }
  }

  // The reply form (回执) of the meeting dispatch: attending, attendees rows, leave reason.
  function replyForm(form, state) {
    const has = (n) => (form.fields || []).some((f) => f.name === n);
    const yes = h("input", { type: "radio", name: "reply-attending", id: "reply-attending-yes", value: "yes", onchange: sync });
    const no = h("input", { type: "radio", name: "reply-attending", id: "reply-attending-no", value: "no", onchange: sync });
    const attErr = h("div", { class: "field-error", "data-error-for": "attending", "aria-live": "polite" });
    const rows = h("div", { "data-testid": "reply-attendees" });
    let seqRow = 0;
    function addRow() {
      if (rows.children.length >= MAX_ROWS) return;
      const i = ++seqRow;
      const field = (col, type, auto) => h("div", { class: "field" },
        h("label", { for: `reply-${col}-${i}` }, t("meetings.attendee." + col)),
        h("input", { type, id: `reply-${col}-${i}`, "data-col": col, maxlength: 200, autocomplete: auto,
                     inputmode: type === "tel" ? "tel" : null }));
      const row = h("fieldset", { class: "card", "data-testid": "reply-attendee" },
        h("legend", {}, t("meetings.attendee_n", { n: rows.children.length + 1 })),
        field("name", "text", "name"), field("post", "text", "organization-title"), field("phone", "tel", "tel"),
        h("button", { type: "button", "data-testid": "reply-remove-attendee",
                      "aria-label": t("meetings.remove_attendee_n", { n: rows.children.length + 1 }),
                      onclick: () => { row.remove(); renumber(); } }, t("meetings.remove_attendee")));
      rows.append(row);
      return row;
    }
    function renumber() {
      [...rows.children].forEach((r, k) => {
        r.querySelector("legend").textContent = t("meetings.attendee_n", { n: k + 1 });
        r.querySelector("[data-testid=reply-remove-attendee]").setAttribute("aria-label", t("meetings.remove_attendee_n", { n: k + 1 }));
      });
    }
    const add = h("button", { type: "button", "data-testid": "reply-add-attendee", onclick: () => addRow()?.querySelector("input").focus() },
      t("meetings.add_attendee"));
    const leave = h("textarea", { id: "reply-leave-reason", rows: 3, maxlength: 500 });
    const leaveErr = h("div", { class: "field-error", "data-error-for": "leave_reason", "aria-live": "polite" });
    const comeBox = h("div", { "data-testid": "reply-come" }, h("h3", {}, t("meetings.attendees")), rows, add);
    const leaveBox = h("div", { class: "field", "data-testid": "reply-leave" },
      h("label", { for: "reply-leave-reason" }, t("meetings.leave_reason")), leave, leaveErr);
    const formErr = h("div", { class: "field-error yi-form-error", "data-error-for": "answers", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "reply-submit" }, t("meetings.reply_submit"));
    function sync() {
      comeBox.hidden = !(yes.checked && has("attendees"));
      leaveBox.hidden = !(no.checked && has("leave_reason"));
      if (yes.checked && !rows.children.length && has("attendees")) addRow();
    }
    async function onSubmit(ev) {
      ev.preventDefault();
      for (const e of [attErr, leaveErr, formErr]) showErrorText(e, null);
      yes.removeAttribute("aria-invalid");
      if (!yes.checked && !no.checked) {
        showErrorText(attErr, { field: "attending", message: t("kit.required") });
        yes.setAttribute("aria-invalid", "true");
        yes.focus();
        return;
      }
      const answers = { attending: yes.checked };
      if (yes.checked && has("attendees")) {
        answers.attendees = [...rows.children].map((r) => {
          const o = {};
          for (const inp of r.querySelectorAll("input[data-col]")) if (inp.value.trim()) o[inp.dataset.col] = inp.value.trim();
          return o;
        }).filter((o) => Object.keys(o).length);
      }
      if (no.checked && has("leave_reason") && leave.value.trim()) answers.leave_reason = leave.value.trim();
      submit.disabled = true;
      try {
        const r = await api.post(`/api/dispatches/${d.id}/reply`, Object.assign({ answers }, unitArg));
        toast(t("meetings.replied_ok"), "ok");
        draw(r.state || "replied");
      } catch (e) {
        submit.disabled = false;
        // the engine names the member in its message ("answers.leave_reason …")
        const target = e instanceof ApiError && /leave_reason/.test(e.message || "") ? leaveErr
                     : e instanceof ApiError && /attending/.test(e.message || "") ? attErr : formErr;
        showErrorText(target, e, { label: t("meetings.reply") });
      }
    }
    const f = h("form", { class: "yi-form", "data-testid": "invited-reply-form", novalidate: true, onsubmit: onSubmit,
                          "aria-labelledby": "invited-reply-h" },
      h("h2", { id: "invited-reply-h" }, t("meetings.reply")),
      state === "delivered" || state === "read" ? h("p", { class: "yi-summary" }, t("meetings.reply_signs")) : "",
      h("fieldset", { "aria-describedby": "reply-attending-err" },
        h("legend", {}, t("meetings.attending"), h("span", { class: "req", "aria-hidden": "true" }, " *")),
        h("div", { class: "field-check" }, yes, h("label", { for: "reply-attending-yes" }, t("meetings.attending_yes"))),
        h("div", { class: "field-check" }, no, h("label", { for: "reply-attending-no" }, t("meetings.attending_no"))),
        Object.assign(attErr, { id: "reply-attending-err" })),
      comeBox, leaveBox, formErr, h("div", { class: "yi-form-actions" }, submit));
    sync();
    return f;
  }

  body.replaceChildren(
    h("h1", { "data-testid": "invited-title" }, m.title),
    h("p", {}, stateBadge(m.state, "meeting-state")),
    details(m),
    d && d.deadline_at ? h("p", { class: "yi-summary" }, t("meetings.deadline_at", { at: fmtDateTime(d.deadline_at) })) : "",
    status, error, actions,
    ["sent", "changed", "in_progress"].includes(m.state)
      ? h("p", {}, h("a", { href: `#/p/meetings/checkin?m=${m.id}`, "data-testid": "invited-checkin" }, t("meetings.go_checkin")))
      : "");
  draw(rc ? rc.state : "delivered");
  if (!rc) status.replaceChildren(t("meetings.not_recipient"));
}
