// toast(msg, kind) and modal(title, contentEl, options) → Promise.
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";

let region = null;

// toast("已保存", "ok" | "info" | "warn" | "error"): a short message in a live region, gone after a few seconds.
export function toast(msg, kind = "info", ms) {
  if (!region || !region.isConnected) {
    region = h("div", { class: "yi-toasts", "data-testid": "toasts" });
    document.body.append(region);
  }
  const el = h("yi-toast", { class: `yi-toast yi-toast-${kind}`, role: kind === "error" ? "alert" : "status",
    "data-testid": "toast", "data-kind": kind }, String(msg));
  const close = h("button", { type: "button", class: "yi-toast-close", "aria-label": t("kit.close"), onclick: () => el.remove() }, "×");
  el.append(close);
  region.append(el);
  setTimeout(() => el.remove(), ms || (kind === "error" ? 8000 : 4000));
  return el;
}

// modal(title, contentEl, {buttons: [{label, value, primary, testid}], testid}) → Promise of the value
// of the button pressed (null when closed with Escape or ×). When contentEl dispatches "yi-saved"
// (a <yi-form>) the modal closes with its detail; "yi-cancel" closes it with null. A <yi-form> content
// gets no default buttons (it has its own); other content gets OK / Cancel (true / false).
export function modal(title, contentEl, opts = {}) {
  return new Promise((resolve) => {
    const isForm = contentEl && contentEl.localName === "yi-form";
    const buttons = opts.buttons || (isForm ? [] : [
      { label: t("kit.cancel"), value: false, testid: "modal-cancel" },
      { label: t("kit.ok"), value: true, primary: true, testid: "modal-ok" },
    ]);
    const titleId = "yi-modal-title-" + Math.random().toString(36).slice(2, 8);
    const dlg = h("dialog", { class: "yi-modal", "aria-labelledby": titleId, "data-testid": opts.testid || "modal" });
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      if (opener && opener.focus) opener.focus();
      resolve(v);
    };
    const opener = document.activeElement;
    const head = h("div", { class: "yi-modal-head" },
      h("h2", { id: titleId }, title),
      h("button", { type: "button", class: "yi-modal-x", "aria-label": t("kit.close"), onclick: () => finish(null) }, "×"));
    const body = h("div", { class: "yi-modal-body" }, contentEl);
    const foot = buttons.length ? h("div", { class: "yi-modal-foot" }, buttons.map((b) =>
      h("button", { type: "button", class: b.primary ? "primary" : "", "data-testid": b.testid, onclick: () => finish(b.value) }, b.label))) : null;
    dlg.append(head, body, foot || "");
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    contentEl.addEventListener && contentEl.addEventListener("yi-saved", (e) => finish(e.detail === undefined ? true : e.detail));
    contentEl.addEventListener && contentEl.addEventListener("yi-cancel", () => finish(null));
    document.body.append(dlg);
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
    const first = body.querySelector("input:not([type=hidden]),select,textarea,button") || foot && foot.querySelector("button.primary");
    if (first) first.focus();
  });
}

// confirm(message) → Promise<boolean>, a modal with OK / Cancel.
export function confirmDialog(message, title) {
  return modal(title || t("kit.confirm"), h("p", {}, message)).then((v) => v === true);
}

// A human text for an error (ApiError or other).
export function errorText(err) {
  if (!err) return "";
  if (err.code) {
    const k = "error." + err.code;
    const s = t(k);
    if (s !== k) return err.field ? `${s} (${err.field})` : s;
  }
  return err.message || String(err);
}
