// Shared parts of the meetings pages (organiser.js, invited.js, checkin.js): time conversion,
// the meeting's particulars as a definition list, and the state badge.
import { t, fmtDateTime, fmtNumber } from "/kit/i18n.js";
import { h } from "/kit/dom.js";

// A <input type=datetime-local> value ("2026-12-01T09:00", the browser's wall clock) as RFC 3339
// with an offset, which the API requires; "" stays undefined (left out).
export function toRfc3339(local) {
  if (!local) return undefined;
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return local; // let the server say what is wrong
  return d.toISOString();
}

export function stateBadge(state, testid) {
  return h("span", { class: "yi-badge state-" + state, "data-testid": testid, "data-state": state },
    t("meetings.state." + state));
}

// The particulars of a meeting: number, type, time, duration, place, deadline, content.
export function details(m) {
  const rows = [
    ["meetings.number", m.number],
    ["meetings.type", t("meetings.type." + (m.type || "meeting"))],
    ["meetings.organiser", m.organiser_unit && m.organiser_unit.name],
    ["meetings.start_at", m.start_at ? fmtDateTime(m.start_at) : ""],
    ["meetings.duration_min", m.duration_min ? t("meetings.minutes_n", { n: fmtNumber(m.duration_min) }) : ""],
    ["meetings.place", m.place],
    ["meetings.reply_deadline", m.reply_deadline ? fmtDateTime(m.reply_deadline) : ""],
    ["meetings.attendance", m.attendance],
    ["meetings.materials", m.materials],
    ["meetings.content", m.content],
  ].filter(([, v]) => v);
  return h("dl", { class: "yi-dl meetings-details", "data-testid": "meetings-details" },
    rows.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", { style: "white-space: pre-wrap; overflow-wrap: anywhere" }, String(v))]));
}
