// <yi-form prefix="hello" submit-label="保存" submit-testid="hello-save">
// form.fields = [{name: "name", label: "名称", required: true, maxlength: 100},
//                {name: "kind", label: "类型", type: "select", options: [{value: "a", label: "甲"}]},
//                {name: "unit_id", label: "单位", type: "unit"}, {name: "user_id", label: "人员", type: "user"},
//                {name: "note", label: "备注", type: "textarea"}, {name: "ok", label: "同意", type: "checkbox"}];
// form.values = {name: "…"} (initial values); form.action = async (values) => api.post("/api/hello/items", values);
// Each control gets id "<prefix>-<name>" (or field.id) and a label; its error element is
// [data-error-for=<name>]. On submit the action runs; its answer is dispatched as "yi-saved" (detail);
// an ApiError with `field` is shown next to that field (aria-invalid="true"), others above the button
// ([data-error-for=_form]). Types: text (default), password, number, email, tel, date, datetime-local,
// textarea, select, checkbox, unit (<yi-unit-picker>), user (<yi-user-picker>), hidden.
// Empty optional fields are left out of the values (field.empty: "null" sends null instead).
// Attribute cancel-label adds a Cancel button that dispatches "yi-cancel".
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { showErrorText } from "/kit/ui.js";
import "/kit/pickers.js";

let formSeq = 0;

class YiForm extends HTMLElement {
  constructor() {
    super();
    this._fields = [];
    this._values = {};
    this._queued = false;
  }

  get fields() { return this._fields; }
  set fields(v) { this._fields = v || []; this._queue(); }
  get action() { return this._action; }
  set action(fn) { this._action = fn; }

  set values(v) { this._values = Object.assign({}, v || {}); if (this._form) this._fill(); else this._queue(); }
  get values() { return this._collect(); }

  connectedCallback() { this._queue(); }

  _queue() {
    if (this._queued) return;
    this._queued = true;
    queueMicrotask(() => { this._queued = false; if (this.isConnected || this._fields.length) this._render(); });
  }

  _id(f) {
    if (f.id) return f.id;
    const p = this.getAttribute("prefix") || (this._auto = this._auto || "yi-form" + ++formSeq);
    return `${p}-${f.name.replace(/_/g, "-")}`;
  }

  _render() {
    const form = h("form", { class: "yi-form", novalidate: true });
    this._controls = {};
    for (const f of this._fields) form.append(this._field(f));
    this._formError = h("div", { class: "field-error yi-form-error", "data-error-for": "_form", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": this.getAttribute("submit-testid") },
      this.getAttribute("submit-label") || t("kit.save"));
    const actions = h("div", { class: "yi-form-actions" }, submit);
    if (this.hasAttribute("cancel-label")) {
      actions.append(h("button", { type: "button", "data-testid": this.getAttribute("cancel-testid"),
        onclick: () => this.dispatchEvent(new CustomEvent("yi-cancel", { bubbles: true })) }, this.getAttribute("cancel-label") || t("kit.cancel")));
    }
    form.append(this._formError, actions);
    form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    this._form = form;
    this._submit = submit;
    this.replaceChildren(form);
    this._fill();
  }

  _field(f) {
    const id = this._id(f);
    const errId = id + "-error";
    const type = f.type || "text";
    const common = { id, name: f.name, required: !!f.required, disabled: !!f.disabled, "aria-describedby": errId + (f.help ? " " + id + "-help" : "") };
    let control;
    if (type === "hidden") {
      // with autocomplete (a username for password managers): present but invisible
      control = f.autocomplete
        ? h("input", { type: "text", id, name: f.name, class: "sr-only", tabindex: "-1", "aria-hidden": "true", readonly: true, autocomplete: f.autocomplete })
        : h("input", { type: "hidden", id, name: f.name });
      this._controls[f.name] = { f, control };
      return control;
    }
    if (type === "textarea") control = h("textarea", Object.assign(common, { rows: f.rows || 3, maxlength: f.maxlength, placeholder: f.placeholder }));
    else if (type === "select") {
      control = h("select", common, (f.required ? [] : [h("option", { value: "" }, f.blankLabel || "—")]),
        (f.options || []).map((o) => (typeof o === "object" ? h("option", { value: o.value }, o.label) : h("option", { value: o }, o))));
    } else if (type === "unit") {
      control = h("yi-unit-picker", { "control-id": id, required: !!f.required, "aria-describedby": errId, kind: f.kind, name: f.name });
    } else if (type === "user") {
      control = h("yi-user-picker", { "control-id": id, required: !!f.required, "aria-describedby": errId, src: f.src, name: f.name });
    } else if (type === "checkbox") {
      control = h("input", Object.assign(common, { type: "checkbox" }));
    } else {
      control = h("input", Object.assign(common, { type, autocomplete: f.autocomplete || "off", maxlength: f.maxlength,
        min: f.min, max: f.max, step: f.step, placeholder: f.placeholder, inputmode: f.inputmode, pattern: f.pattern }));
    }
    this._controls[f.name] = { f, control };
    const label = h("label", { for: id }, f.label || f.name, f.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null);
    const err = h("div", { class: "field-error", id: errId, "data-error-for": f.name, "aria-live": "polite" });
    const help = f.help ? h("div", { class: "field-hint", id: id + "-help" }, f.help) : null;
    return type === "checkbox"
      ? h("div", { class: "field field-check" }, control, label, help, err)
      : h("div", { class: "field" }, label, control, help, err);
  }

  _fill() {
    for (const [name, { f, control }] of Object.entries(this._controls || {})) {
      let v = this._values[name];
      if (v === undefined) v = f.value;
      if (v === undefined || v === null) v = f.type === "checkbox" ? false : "";
      if (f.type === "checkbox") control.checked = !!v;
      else control.value = v;
    }
  }

  _collect() {
    const out = {};
    for (const [name, { f, control }] of Object.entries(this._controls || {})) {
      const type = f.type || "text";
      let v;
      if (type === "checkbox") v = control.checked;
      else if (type === "unit" || type === "user") v = control.value;
      else v = control.value;
      if (v === "" || v === null || v === undefined) {
        if (type === "checkbox") { out[name] = false; continue; }
        if (f.empty === "null") out[name] = null;
        else if (f.empty === "string") out[name] = "";
        continue;
      }
      if (type === "number") v = Number(v);
      if ((type === "unit" || type === "user") && typeof v === "string" && /^\d+$/.test(v)) v = Number(v);
      out[name] = v;
    }
    return out;
  }

  clearErrors() {
    this.querySelectorAll("[data-error-for]").forEach((e) => { e.textContent = ""; e.removeAttribute("title"); });
    this.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }

  // Show an error: an ApiError with field → next to the field; anything else → above the buttons.
  setError(err) {
    const field = err && err.field;
    const c = field && this._controls[field];
    // the text in the active language (the field's own label for "{field}"), the server's message as title
    const opts = { label: c && c.f.label, form: this };
    if (c && (c.f.type || "text") !== "hidden") {
      const el = this.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      showErrorText(el, err, opts);
      const ctl = c.control.localName.startsWith("yi-") ? (this.querySelector("#" + CSS.escape(this._id(c.f))) || c.control) : c.control;
      ctl.setAttribute("aria-invalid", "true");
      ctl.focus();
    } else {
      showErrorText(this._formError, err, opts);
    }
  }

  async submit() {
    this.clearErrors();
    // required fields first, in the browser
    for (const { f, control } of Object.values(this._controls)) {
      if (f.required && (f.type || "text") !== "checkbox" && (control.value === "" || control.value === null || control.value === undefined)) {
        this.setError({ field: f.name, message: t("kit.required") });
        return;
      }
    }
    const values = this._collect();
    if (!this._action) { this.dispatchEvent(new CustomEvent("yi-saved", { detail: values, bubbles: true })); return; }
    this._submit.disabled = true;
    this.setAttribute("aria-busy", "true");
    try {
      const res = await this._action(values);
      this.dispatchEvent(new CustomEvent("yi-saved", { detail: res === undefined ? values : res, bubbles: true }));
    } catch (e) {
      this.setError(e);
    } finally {
      this._submit.disabled = false;
      this.removeAttribute("aria-busy");
    }
  }

  control(name) { return this._controls && this._controls[name] && this._controls[name].control; }
}

if (!customElements.get("yi-form")) customElements.define("yi-form", YiForm);
export { YiForm };
