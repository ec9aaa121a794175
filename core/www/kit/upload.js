// <yi-upload label="附件" accept=".pdf,image/*" multiple control-id="x-file"> — pick files, each is sent
// with XMLHttpRequest as the raw body of POST /api/files?name=<name> (progress bar per file).
// .files is the list of uploaded file objects ({id, name, size, type, …}); .value their ids.
// Events: "yi-uploaded" {file} after each, "yi-upload-error" {error, name}.
import { csrf, ApiError } from "/kit/api.js";
import { t, fmtNumber } from "/kit/i18n.js";
import { h, uid } from "/kit/dom.js";
import { errorText } from "/kit/ui.js";

export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/files?name=" + encodeURIComponent(file.name));
    xhr.withCredentials = true;
    if (csrf()) xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const e = (data && data.error) || {};
        if (xhr.status === 401) window.dispatchEvent(new CustomEvent("yimen:signed-out"));
        reject(new ApiError(xhr.status, e.code || "http_" + xhr.status, e.message || xhr.statusText, e.field));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", t("error.network")));
    xhr.send(file);
  });
}

function size(n) {
  if (n < 1024) return fmtNumber(n) + " B";
  if (n < 1048576) return fmtNumber(Math.round(n / 102.4) / 10) + " KB";
  return fmtNumber(Math.round(n / 104857.6) / 10) + " MB";
}

class YiUpload extends HTMLElement {
  constructor() { super(); this.files = []; }
  get value() { return this.files.map((f) => f.id); }

  connectedCallback() {
    if (this._built) return;
    this._built = true;
    this.classList.add("yi-upload");
    const id = this.getAttribute("control-id") || uid("upload");
    this._input = h("input", { type: "file", id, accept: this.getAttribute("accept"), multiple: this.hasAttribute("multiple") });
    this._list = h("ul", { class: "yi-upload-list", "aria-live": "polite" });
    this._input.addEventListener("change", () => {
      for (const f of [...this._input.files]) this._send(f);
      this._input.value = "";
    });
    this.replaceChildren(h("label", { for: id }, this.getAttribute("label") || t("kit.upload")), this._input, this._list);
  }

  async _send(file) {
    const bar = h("progress", { max: "100", value: "0", "aria-label": t("kit.uploading", { name: file.name }) });
    const status = h("span", { class: "yi-upload-status" }, t("kit.uploading", { name: file.name }));
    const li = h("li", { "data-testid": "upload-item" }, status, bar);
    this._list.append(li);
    try {
      const res = await uploadFile(file, (done, total) => { bar.value = Math.round((done / total) * 100); });
      bar.value = 100;
      this.files.push(res);
      status.textContent = `${res.name} (${size(res.size)})`;
      li.dataset.fileId = res.id;
      li.append(h("button", { type: "button", class: "link", "aria-label": t("kit.remove_file", { name: res.name }), onclick: () => {
        this.files = this.files.filter((x) => x !== res);
        li.remove();
        this.dispatchEvent(new Event("change", { bubbles: true }));
      } }, t("kit.remove")));
      this.dispatchEvent(new CustomEvent("yi-uploaded", { detail: { file: res }, bubbles: true }));
      this.dispatchEvent(new Event("change", { bubbles: true }));
    } catch (e) {
      status.textContent = `${file.name}: ${errorText(e)}`;
      li.classList.add("yi-error");
      bar.remove();
      this.dispatchEvent(new CustomEvent("yi-upload-error", { detail: { error: e, name: file.name }, bubbles: true }));
    }
  }
}

if (!customElements.get("yi-upload")) customElements.define("yi-upload", YiUpload);
export { YiUpload };
