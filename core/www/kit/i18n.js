// Messages and formats: zh-CN by default, en on request (remembered in localStorage).
// t(key, vars) looks the key up in the active table, then zh-CN, then answers the key itself;
// "{name}" in a message is replaced by vars.name. Plugins add their tables with addMessages.
const LANGS = ["zh-CN", "en"];
const STORE = "yimen.lang";
const tables = { "zh-CN": {}, en: {} };
const loaded = {};

function stored() {
  try {
    const v = localStorage.getItem(STORE);
    if (LANGS.includes(v)) return v;
  } catch { /* no storage */ }
  return "zh-CN";
}

let current = stored();

export function lang() { return current; }
export function langs() { return LANGS.slice(); }

export function addMessages(l, table) {
  if (!tables[l]) tables[l] = {};
  Object.assign(tables[l], table || {});
}

export function t(key, vars) {
  let s = tables[current][key];
  if (s === undefined) s = tables["zh-CN"][key];
  if (s === undefined) s = key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined || vars[k] === null ? m : String(vars[k])));
  return s;
}

// A label object {"zh-CN": "…", "en": "…"} (plugin manifests) in the active language.
export function pick(label) {
  if (!label || typeof label !== "object") return label == null ? "" : String(label);
  return label[current] || label["zh-CN"] || label.en || Object.values(label)[0] || "";
}

// The server writes each table's content hash into the shell (<meta name="yimen-i18n">):
// with it the table is fetched by hash and cached for good, like the modules.
function tableUrl(l) {
  const meta = document.querySelector('meta[name="yimen-i18n"]');
  const v = meta && meta.dataset[l === "zh-CN" ? "zhCn" : l];
  return v && /^[0-9a-f]{8}$/.test(v) ? `/i18n/${l}.json?v=${v}` : `/i18n/${l}.json`;
}

async function load(l) {
  if (!loaded[l]) {
    loaded[l] = fetch(tableUrl(l), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : {}))
      .then((tbl) => { tables[l] = Object.assign({}, tbl, tables[l]); })
      .catch(() => {});
  }
  return loaded[l];
}

// Resolves when the active table (and zh-CN, the fallback) is loaded.
export const ready = Promise.all([load("zh-CN"), current === "zh-CN" ? null : load(current)]).then(() => applyDocument());

export async function setLang(l) {
  if (!LANGS.includes(l)) return;
  await load(l);
  current = l;
  try { localStorage.setItem(STORE, l); } catch { /* ignore */ }
  applyDocument();
  window.dispatchEvent(new CustomEvent("yimen:lang", { detail: { lang: l } }));
}

// Elements carrying data-i18n="key" get their text from the table; data-i18n-attr="placeholder:key,aria-label:key"
// sets attributes. Used by index.html's static login form and usable by pages.
export function translate(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-attr]").forEach((el) => {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  });
}

function applyDocument() {
  document.documentElement.lang = current;
  translate(document);
  const title = t("app.title");
  if (title !== "app.title") document.title = title;
}

// The wall-clock parts of an RFC 3339 time as the server wrote it (the county's own offset),
// so that "2026-11-27T14:05:00.000+08:00" reads 14:05 wherever the browser is.
function parts(iso) {
  if (iso === null || iso === undefined || iso === "") return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(String(iso));
  if (m) return { y: +m[1], mo: +m[2], d: +m[3], h: +(m[4] || 0), mi: +(m[5] || 0) };
  const d = new Date(iso);
  if (isNaN(d)) return null;
  return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes() };
}

const pad = (n) => String(n).padStart(2, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// fmtDate("2026-11-27") → "2026年11月27日" (zh-CN) / "27 Nov 2026" (en)
export function fmtDate(iso) {
  const p = parts(iso);
  if (!p) return "";
  return current === "zh-CN" ? `${p.y}年${p.mo}月${p.d}日` : `${p.d} ${MONTHS[p.mo - 1]} ${p.y}`;
}

// fmtDateTime(iso) → "2026年11月27日 14:05" / "27 Nov 2026 14:05"
export function fmtDateTime(iso) {
  const p = parts(iso);
  if (!p) return "";
  return `${fmtDate(iso)} ${pad(p.h)}:${pad(p.mi)}`;
}

// fmtTime(iso) → "14:05"
export function fmtTime(iso) {
  const p = parts(iso);
  return p ? `${pad(p.h)}:${pad(p.mi)}` : "";
}

// fmtNumber(12345.6) → "12,345.6"; fmtNumber(n, {style: "percent"}) etc. (Intl options)
export function fmtNumber(n, opts) {
  if (n === null || n === undefined || n === "") return "";
  try { return new Intl.NumberFormat(current, opts).format(n); } catch { return String(n); }
}
