// <yi-board dispatch-id="17"> — the live board of a dispatch (分发签收): counts and who still owes
// (GET /api/dispatches/:id/board, sender side only). It follows the live event "core.dispatch.receipt"
// for this dispatch (or one forwarded from it): the counts update at once from the event, the list of
// the missing is fetched again shortly after. Parts: [data-testid=board-counts] with
// [data-count=<name>] numbers, [data-testid=board-missing] list of [data-testid=board-missing-item].
// Event "yi-board" {board} after each fetch.
import { api } from "/kit/api.js";
import { t, fmtNumber, fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { live } from "/kit/live.js";
import { errorText } from "/kit/ui.js";

const SHOWN = ["total", "signed_or_replied", "replies", "missing", "late", "returned"];

class YiBoard extends HTMLElement {
  static get observedAttributes() { return ["dispatch-id"]; }
  constructor() {
    super();
    this._onEvent = (data) => this._event(data);
  }
  get dispatchId() { return Number(this.getAttribute("dispatch-id")) || null; }
  set dispatchId(v) { this.setAttribute("dispatch-id", v); }

  connectedCallback() {
    live.on("core.dispatch.receipt", this._onEvent);
    live.on("resync", this._onResync = () => this.refresh());
    this.classList.add("yi-board");
    this.refresh();
  }
  disconnectedCallback() {
    live.off("core.dispatch.receipt", this._onEvent);
    live.off("resync", this._onResync);
    clearTimeout(this._timer);
  }
  attributeChangedCallback() { if (this.isConnected) this.refresh(); }

  async refresh() {
    const id = this.dispatchId;
    if (!id) return;
    try {
      const b = await api.get(`/api/dispatches/${id}/board`);
      this.board = b;
      this._draw(b.counts || {}, b.missing || []);
      this.dispatchEvent(new CustomEvent("yi-board", { detail: { board: b } }));
    } catch (e) {
      this.replaceChildren(h("p", { class: "yi-error", role: "alert" }, errorText(e)));
    }
  }

  _event(ev) {
    const d = ev && ev.data;
    const id = this.dispatchId;
    if (!d || !id || (d.dispatch_id !== id && d.root_id !== id)) return;
    if (d.dispatch_id === id && d.counts) this._drawCounts(d.counts);
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.refresh(), 500);
  }

  _draw(counts, missing) {
    if (!this._counts) {
      this._counts = h("dl", { class: "yi-board-counts", "data-testid": "board-counts", "aria-live": "polite" });
      this._missingHead = h("h3", {}, t("board.missing_title"));
      this._missing = h("ul", { class: "yi-board-missing", "data-testid": "board-missing" });
      this.replaceChildren(this._counts, this._missingHead, this._missing);
    }
    this._drawCounts(counts);
    this._missing.replaceChildren(...missing.map((r) => h("li", { "data-testid": "board-missing-item", "data-id": r.id },
      h("span", { class: "who" }, (r.unit && r.unit.name) || (r.user && (r.user.name || r.user.display_name)) || "#" + r.id),
      " ", h("span", { class: "yi-badge state-" + r.state }, t("board.state." + r.state)),
      r.reply_owed && r.state === "signed" ? h("span", { class: "yi-badge" }, t("board.reply_owed")) : null,
      r.delivered_at ? h("time", { datetime: r.delivered_at }, " " + fmtDateTime(r.delivered_at)) : null)));
    if (!missing.length) this._missing.append(h("li", { class: "yi-empty" }, t("board.none_missing")));
  }

  _drawCounts(c) {
    if (!this._counts) return;
    this._counts.replaceChildren(...SHOWN.filter((k) => c[k] !== undefined).map((k) =>
      h("div", { class: "yi-count" }, h("dt", {}, t("board.count." + k)), h("dd", { "data-count": k }, fmtNumber(c[k])))));
  }
}

if (!customElements.get("yi-board")) customElements.define("yi-board", YiBoard);
export { YiBoard };
