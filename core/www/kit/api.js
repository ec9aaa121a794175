// The HTTP client of the UI: JSON in and out, the session cookie, the CSRF header.
// api.get(path) / api.post(path, body) / api.put / api.patch / api.del → Promise of the JSON answer
// (null for 204). A refusal throws ApiError {status, code, field, message}. A 401 dispatches
// "yimen:signed-out" on window; 403 password_change_required / totp_setup_required dispatch
// "yimen:password_change_required" / "yimen:totp_setup_required".
const KEY = "yimen.csrf";

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

export function csrf() {
  try { return sessionStorage.getItem(KEY) || ""; } catch { return ""; }
}

export function setCsrf(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  } catch { /* storage disabled: the header is then missing and writes get 403 csrf */ }
}

// qs({q: "甲", limit: 20, after: null}) → "?q=%E7%94%B2&limit=20" (null, undefined and "" left out)
export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === "") continue;
    parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
  }
  return parts.length ? "?" + parts.join("&") : "";
}

export async function request(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrf()) headers["X-CSRF-Token"] = csrf();
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", e && e.message);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText, e.field);
    // a tab opened on an existing session (sessionStorage is per tab), or a session begun by the
    // plain HTML form: take the session's token from GET /api/me and try once more
    if (res.status === 403 && err.code === "csrf" && !opts.retried) {
      const me = await request("GET", "/api/me", undefined, { quiet: true }).catch(() => null);
      if (me && me.csrf && me.csrf !== csrf()) {
        setCsrf(me.csrf);
        return request(method, path, body, Object.assign({}, opts, { retried: true }));
      }
    }
    if (!opts.quiet) {
      if (res.status === 401 && !String(path).startsWith("/api/auth/login")) {
        window.dispatchEvent(new CustomEvent("yimen:signed-out", { detail: err }));
      } else if (res.status === 403 && (err.code === "password_change_required" || err.code === "totp_setup_required")) {
        window.dispatchEvent(new CustomEvent("yimen:" + err.code, { detail: err }));
      }
    }
    throw err;
  }
  return data;
}

export const api = {
  get: (path, opts) => request("GET", path, undefined, opts),
  post: (path, body, opts) => request("POST", path, body === undefined ? {} : body, opts),
  put: (path, body, opts) => request("PUT", path, body === undefined ? {} : body, opts),
  patch: (path, body, opts) => request("PATCH", path, body === undefined ? {} : body, opts),
  del: (path, opts) => request("DELETE", path, undefined, opts),
  request,
};

export default api;
