// <yi-timeline> — a list of what happened, oldest first (or newest first with attribute "reverse").
// timeline.items = [{at: "2026-11-27T14:05:00+08:00", title: "签收", body: "…", by: "张敏", kind: "sign"}]
// Each entry is <li data-testid=timeline-item data-kind=<kind>>.
import { fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";

class YiTimeline extends HTMLElement {
  get items() { return this._items || []; }
  set items(v) { this._items = v || []; this._draw(); }
  connectedCallback() { this.classList.add("yi-timeline"); this._draw(); }
  _draw() {
    let list = (this._items || []).slice();
    if (this.hasAttribute("reverse")) list.reverse();
    this.replaceChildren(h("ol", {}, list.map((e) => h("li", { "data-testid": "timeline-item", "data-kind": e.kind },
      h("time", { datetime: e.at || "" }, fmtDateTime(e.at)),
      h("div", { class: "yi-tl-title" }, e.title || "", e.by ? h("span", { class: "yi-tl-by" }, " · " + e.by) : null),
      e.body ? h("div", { class: "yi-tl-body" }, e.body) : null))));
  }
}

if (!customElements.get("yi-timeline")) customElements.define("yi-timeline", YiTimeline);
export { YiTimeline };
