// toast(msg, kind) and modal(title, contentEl, options) → Promise.
import { t, lang } from "/kit/i18n.js";
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

// A code for answers without one of their own ("http_429" from a proxy, a bare status).
const BY_STATUS = { 400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict",
  413: "body_too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "storage_busy", 504: "timeout" };

// The label of err.field for messages: opts.label, else the text of the <label> of the form's
// control named err.field (opts.form), else the field name itself.
export function fieldLabel(err, opts = {}) {
  if (!err || !err.field) return "";
  if (opts.label) return String(opts.label);
  const form = opts.form;
  if (form && form.querySelector) {
    const name = CSS.escape(err.field);
    const ctl = form.querySelector(`[name="${name}"]`);
    let label = ctl && ctl.id ? form.querySelector(`label[for="${CSS.escape(ctl.id)}"]`) : null;
    if (!label && ctl) label = ctl.closest("label") || ctl.closest(".field")?.querySelector("label");
    if (!label) {
      // a group of controls (checkboxes in a <fieldset>): its legend, else the label of its .field
      const box = form.querySelector(`[data-error-for="${name}"]`)?.closest("fieldset, .field");
      label = box && (box.querySelector(":scope > legend") || box.querySelector(":scope > label"));
    }
    if (label) {
      const c = label.cloneNode(true);
      c.querySelectorAll(".req, [aria-hidden=true]").forEach((x) => x.remove());
      const text = c.textContent.replace(/[\s*：:]+$/u, "").trim();
      if (text) return text;
    }
  }
  return err.field;
}

// A human text for an error (ApiError or other), in the active language: "error.<code>" from
// the message tables (by status when the code is unknown), with "{field}" = the field's label
// (see fieldLabel; opts {label, form}). In English the server's own message is shown as it is.
// Errors made in the page ({field, message} without code) show their message.
export function errorText(err, opts = {}) {
  if (!err) return "";
  if (typeof err === "string") return err;
  const server = err.status > 0 && err.message && err.message !== err.code ? err.message : "";
  if (server && lang() === "en") return server;
  const known = (c) => c && t("error." + c) !== "error." + c;
  let code = err.code;
  if (!known(code) && err.status) code = BY_STATUS[err.status] || code;
  if (known(code)) {
    if (code === "invalid" && !err.field) return t("error.invalid_input");
    return t("error." + code, { field: fieldLabel(err, opts) });
  }
  return err.message || String(err);
}

// Show err in el (a field's [data-error-for] or a form-level line): the text of errorText, and
// the server's own message (English) as the element's title; "" clears both.
export function showErrorText(el, err, opts = {}) {
  if (!el) return;
  el.textContent = err ? errorText(err, opts) : "";
  const server = err && err.status > 0 && err.message ? err.message : "";
  if (server && server !== el.textContent) el.title = server;
  else el.removeAttribute("title");
}
