// Hash routes. route("#/contacts", () => import("/app/contacts.js")); route("#/p/:plugin/:id", loader).
// A page is a module whose default export is `async function render(el, params)`: el is a fresh
// container, params holds the :names of the pattern and the query ("#/search?q=甲" → {q: "甲"}).
// render may return a function: it is called when the user leaves the page (stop timers, live.off).
import { t } from "/kit/i18n.js";

const routes = [];
let outlet = null;
let cleanup = null;
let seq = 0;
let guard = null;

export function route(pattern, loader) {
  const names = [];
  const path = pattern.replace(/^#/, "");
  const rx = new RegExp("^" + path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\/:(\w+)/g, (m, n) => {
    names.push(n);
    return "/([^/]+)";
  }) + "/?$");
  routes.push({ pattern, rx, names, loader });
}

// Called before every render with (path, params); returning false stops the render.
export function setGuard(fn) { guard = fn; }

export function parse(hash = location.hash) {
  let h = (hash || "").replace(/^#/, "") || "/";
  if (!h.startsWith("/")) h = "/";
  const qi = h.indexOf("?");
  const path = qi < 0 ? h : h.slice(0, qi);
  const query = {};
  if (qi >= 0) new URLSearchParams(h.slice(qi + 1)).forEach((v, k) => { query[k] = v; });
  return { path, query };
}

export function navigate(hash, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", hash);
  else if (location.hash !== hash) { location.hash = hash; return; }
  render();
}

export function current() { return parse(); }

export async function render() {
  if (!outlet) return;
  const my = ++seq;
  const { path, query } = parse();
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  let found = null;
  let params = {};
  for (const r of routes) {
    const m = r.rx.exec(path);
    if (m) {
      found = r;
      params = Object.assign({}, query);
      r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      break;
    }
  }
  const el = document.createElement("div");
  el.className = "yi-page";
  outlet.replaceChildren(el);
  outlet.setAttribute("aria-busy", "true");
  window.dispatchEvent(new CustomEvent("yimen:route", { detail: { path, params, pattern: found && found.pattern } }));
  try {
    if (guard && (await guard(path, params)) === false) return;
    if (!found) throw Object.assign(new Error(t("router.not_found")), { notFound: true });
    const mod = await found.loader(params);
    if (my !== seq) return;
    const fn = typeof mod === "function" ? mod : mod && mod.default;
    if (typeof fn !== "function") throw new Error(t("router.bad_page"));
    const out = await fn(el, params);
    if (my !== seq) { if (typeof out === "function") out(); return; }
    if (typeof out === "function") cleanup = out;
  } catch (e) {
    if (my !== seq) return;
    el.replaceChildren();
    const p = document.createElement("p");
    p.className = "yi-error";
    p.setAttribute("role", "alert");
    p.textContent = e && e.notFound ? t("router.not_found") : t("router.failed", { message: (e && e.message) || "" });
    el.append(p);
  } finally {
    if (my === seq) outlet.removeAttribute("aria-busy");
  }
}

export function start(el) {
  outlet = el;
  window.addEventListener("hashchange", render);
  return render();
}

export function stop() {
  window.removeEventListener("hashchange", render);
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  outlet = null;
  seq++;
}
