// Shared parts of the supervision pages (board.js, case.js, league.js, new.js): the colour light
// (a dot AND its name, never colour alone), state and source names, and the pages' few styles.
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";

export const COLOURS = ["green", "blue", "yellow", "orange", "red"];
export const KINDS = ["instruction", "minutes", "task_list", "proposal", "project", "other"];
export const ORIGINS = ["hand", "documents", "meetings", "tasks", "decomposed"];

const CSS = `
.sv-light { display: inline-flex; align-items: center; gap: .3rem; white-space: nowrap; font-weight: 600; }
.sv-dot { display: inline-block; width: .9rem; height: .9rem; border-radius: 50%; border: 1px solid rgba(0,0,0,.35); flex: none; }
.sv-green .sv-dot { background: #1a7f37; } .sv-blue .sv-dot { background: #1f6feb; }
.sv-yellow .sv-dot { background: #d4a72c; } .sv-orange .sv-dot { background: #e16f24; }
.sv-red .sv-dot { background: #cf222e; } .sv-none .sv-dot { background: #fff; }
.sv-filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; margin: .5rem 0 1rem; }
.sv-filters .field { display: flex; flex-direction: column; min-width: 0; flex: 1 1 9rem; max-width: 100%; }
.sv-filters select, .sv-filters input { max-width: 100%; }
.sv-reasons { margin: 0; padding-left: 1.1rem; }
.sv-reasons li { margin: .25rem 0; overflow-wrap: anywhere; }
.sv-pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.sv-section { margin-top: 1.25rem; }
.sv-title { overflow-wrap: anywhere; }
`;

export function styles() {
  if (document.getElementById("sv-styles")) return;
  document.head.append(h("style", { id: "sv-styles" }, CSS));
}

// The light: a coloured dot (hidden from screen readers) followed by the colour's name; the title
// says what the colour means.
export function light(colour) {
  const c = COLOURS.includes(colour) ? colour : "none";
  return h("span", { class: "sv-light sv-" + c, "data-testid": "supervision-light", "data-colour": c,
                     title: c === "none" ? "" : t("supervision.colour.hint." + c) },
    h("span", { class: "sv-dot", "aria-hidden": "true" }), t("supervision.colour." + c));
}

export function stateBadge(state) {
  return h("span", { class: "yi-badge", "data-testid": "supervision-state", "data-state": state },
    t("supervision.state." + state));
}

export function kindText(kind) { return t("supervision.kind." + kind); }
export function unitName(u) { return u && u.name ? u.name : ""; }
export function caseHref(id) { return `#/p/supervision/board?case=${id}`; }
