// The shell: the layout, the navigation (core pages, admin pages the user may use, plugin pages from
// GET /api/ui/manifest), the routes, the live stream and the bell.
import { api } from "/kit/api.js";
import { t, pick, addMessages } from "/kit/i18n.js";
import { route, start, stop, setGuard, navigate, render } from "/kit/router.js";
import { live } from "/kit/live.js";
import { setMe, can } from "/kit/session.js";
import { toast } from "/kit/ui.js";
import "/kit/layout.js";

let manifest = { plugins: [] };
let routesAdded = false;
let state = { totpSetup: false };
let onLang = null;

const ADMIN = [
  { id: "admin-units", page: "units", any: ["units.manage"] },
  { id: "admin-users", page: "users", any: ["users.manage", "users.read"] },
  { id: "admin-roles", page: "roles", any: ["roles.manage", "grants.manage"] },
  { id: "admin-plugins", page: "plugins", any: ["admin.plugins"] },
  { id: "admin-audit", page: "audit", any: ["audit.read"] },
];

function addRoutes() {
  if (routesAdded) return;
  routesAdded = true;
  route("#/", () => import("/app/home.js"));
  route("#/search", () => import("/app/search.js"));
  route("#/contacts", () => import("/app/contacts.js"));
  route("#/account", () => import("/app/account.js"));
  for (const a of ADMIN) route("#/admin/" + a.page, () => import(`/app/admin/${a.page}.js`));
  route("#/p/:plugin/:id", (params) => {
    const entry = pluginEntry(params.plugin, params.id);
    if (!entry) throw Object.assign(new Error(t("router.not_found")), { notFound: true });
    return import(entry.module);
  });
}

function pluginEntry(name, id) {
  const p = (manifest.plugins || []).find((x) => x.name === name);
  return p && (p.nav || []).find((n) => n.id === id);
}

function navItems() {
  const items = [
    { id: "home", href: "#/", label: () => t("nav.home") },
    { id: "search", href: "#/search", label: () => t("nav.search") },
  ];
  if (can("contacts.read")) items.push({ id: "contacts", href: "#/contacts", label: () => t("nav.contacts") });
  for (const p of manifest.plugins || []) {
    for (const n of p.nav || []) {
      items.push({ id: n.id, href: n.route || `#/p/${p.name}/${n.id}`, label: () => pick(n.label), group: "plugin" });
    }
  }
  for (const a of ADMIN) {
    if (a.any.some((perm) => can(perm))) items.push({ id: a.id, href: "#/admin/" + a.page, label: () => t("nav." + a.id), group: "admin" });
  }
  items.push({ id: "account", href: "#/account", label: () => t("nav.account"), group: "me" });
  return items;
}

async function loadManifest() {
  try {
    manifest = await api.get("/api/ui/manifest", { quiet: true });
  } catch {
    manifest = { plugins: [] };
  }
  for (const p of manifest.plugins || []) {
    for (const [l, table] of Object.entries(p.messages || {})) addMessages(l, table);
  }
}

export function pluginManifest() { return manifest; }

export async function startShell(me, opts = {}) {
  setMe(me);
  state.totpSetup = !!opts.totpSetup;
  const layout = document.getElementById("app");
  layout.hidden = false;
  layout.setUser(me.user);
  addRoutes();
  await loadManifest();
  layout.setNav(navItems());
  setGuard((path) => {
    if (state.totpSetup && path !== "/account") { navigate("#/account", { replace: true }); return false; }
    return true;
  });
  window.addEventListener("yimen:totp_setup_required", onTotp);
  window.addEventListener("yimen:totp-enabled", offTotp);
  onLang = () => render();
  window.addEventListener("yimen:lang", onLang);
  live.start();
  layout.startBell();
  if (state.totpSetup) toast(t("account.totp_required"), "warn", 10000);
  await start(layout.main);
}

function onTotp() {
  if (!state.totpSetup) { state.totpSetup = true; toast(t("account.totp_required"), "warn", 10000); }
  navigate("#/account");
}

function offTotp() { state.totpSetup = false; }

export function stopShell() {
  const layout = document.getElementById("app");
  layout.stopBell();
  layout.hidden = true;
  stop();
  layout.main.replaceChildren();
  live.stop();
  setMe(null);
  window.removeEventListener("yimen:totp_setup_required", onTotp);
  window.removeEventListener("yimen:totp-enabled", offTotp);
  if (onLang) window.removeEventListener("yimen:lang", onLang);
  document.querySelectorAll("dialog.yi-modal").forEach((d) => d.remove());
}
