// Check-in (签到, #/p/meetings/checkin?m=<meeting>&c=<code>: the link of the QR code): an attendee
// of an invited unit enters (or has scanned) the 6-digit code shown at the door;
// POST /api/meetings/:id/checkin.
import { api } from "/kit/api.js";
import { t, fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast } from "/kit/ui.js";
import "/kit/form.js";

export default async function render(el, params) {
  const p = params || {};
  const done = h("div", { "data-testid": "checkin-result", "aria-live": "polite" });
  const form = h("yi-form", { prefix: "checkin", "submit-label": t("meetings.checkin_submit"), "submit-testid": "checkin-submit" });
  el.append(h("h1", {}, t("meetings.checkin_title")), h("p", {}, t("meetings.checkin_intro")), form, done);

  // the meeting: from the link, else chosen among my invited meetings (a number when that list is not mine to read)
  let options = [];
  try {
    const list = await api.get("/api/meetings?box=invited&limit=50", { quiet: true });
    options = list.items.filter((m) => ["sent", "changed", "in_progress"].includes(m.state) || String(m.id) === p.m)
      .map((m) => ({ value: String(m.id), label: `${m.title}（${fmtDateTime(m.start_at)}）` }));
  } catch { /* no meetings.read: the meeting's number from the link or typed */ }
  if (p.m && !options.some((o) => o.value === String(p.m))) {
    try {
      const m = await api.get(`/api/meetings/${Number(p.m)}`, { quiet: true });
      options.unshift({ value: String(m.id), label: m.title });
    } catch { options.unshift({ value: String(p.m), label: "#" + p.m }); }
  }
  form.fields = [
    options.length
      ? { name: "meeting", label: t("meetings.checkin_meeting"), type: "select", required: true, options }
      : { name: "meeting", label: t("meetings.checkin_meeting_id"), type: "number", required: true, min: 1, inputmode: "numeric" },
    { name: "code", label: t("meetings.checkin_code"), required: true, maxlength: 6, inputmode: "numeric",
      autocomplete: "one-time-code", pattern: "[0-9]{6}", help: t("meetings.checkin_code_help") },
  ];
  form.values = { meeting: p.m ? String(p.m) : (options[0] && options[0].value) || "", code: p.c || "" };
  form.action = async (v) => {
    try {
      return await api.post(`/api/meetings/${Number(v.meeting)}/checkin`, { code: String(v.code || "").trim() });
    } catch (e) {
      if (e.code === "code_expired") e.field = "code"; // shown next to the code: enter the one on the screen now
      if (e.status === 404) e.field = "meeting";
      throw e;
    }
  };
  form.addEventListener("yi-saved", (ev) => {
    const r = ev.detail || {};
    toast(t("meetings.checked_in"), "ok");
    done.replaceChildren(h("p", { class: "card", "data-testid": "checkin-done", "data-late": r.late ? "true" : "false" },
      t(r.late ? "meetings.checked_in_late" : "meetings.checked_in_at", { at: fmtDateTime(r.at) })));
  });
}
