// #/admin/plugins — every plugin found: state, the reason when it failed, its routes and
// permissions; a reload button (POST /api/admin/reload). Routes: docs/api/admin.md.
import { api } from "/kit/api.js";
import { t, lang } from "/kit/i18n.js";
import { h, errorText, statusLine, pageHeader, startPage, me, holds, confirmDialog } from "./common.js";

const STATE_CLASS = { enabled: "ok", failed: "bad", disabled: "off" };

export default async function render(el) {
  startPage(el);
  const who = await me();
  const status = statusLine();
  const list = h("div", { class: "table-wrap" });

  async function refresh() {
    let data;
    try {
      data = await api.get("/api/admin/plugins");
    } catch (err) {
      status.say(errorText(err), "error");
      return;
    }
    const rows = (data.items || []).map((p) => h("tr", { "data-testid": "plugin-row", "data-name": p.name, "data-state": p.state },
      h("td", { "data-label": t("admin.plugins.name") }, h("strong", {}, p.name)),
      h("td", { "data-label": t("admin.plugins.version") }, p.version || "—"),
      h("td", { "data-label": t("admin.plugins.kind") }, p.kind === "lua" ? "Lua" : "C"),
      h("td", { "data-label": t("admin.plugins.state") },
        h("span", { class: `badge ${STATE_CLASS[p.state] || ""}`, "data-testid": "plugin-state" }, t(`admin.plugins.state.${p.state}`)),
        p.reason ? h("div", { class: "field-error", "data-testid": "plugin-reason" }, p.reason) : null),
      h("td", { "data-label": t("admin.plugins.routes") }, details(p))));
    list.replaceChildren(h("table", { class: "admin-table", "data-testid": "plugin-table" },
      h("caption", {}, t("admin.plugins.title")),
      h("thead", {}, h("tr", {}, ["name", "version", "kind", "state", "routes"]
        .map((c) => h("th", { scope: "col" }, t(`admin.plugins.${c}`))))),
      h("tbody", {}, rows)));
    if (!rows.length) list.append(h("p", {}, t("admin.plugins.none")));
  }

  // Routes and permissions folded in a <details> (keyboard: Enter/Space on the summary).
  function details(p) {
    if (!(p.routes || []).length && !(p.permissions || []).length) return "—";
    return h("details", {},
      h("summary", {}, t("admin.plugins.count", { routes: (p.routes || []).length, perms: (p.permissions || []).length })),
      h("ul", {}, (p.routes || []).map((r) => h("li", {}, h("code", {}, `${r.method} ${r.path}`), " · ", r.permission))),
      h("ul", {}, (p.permissions || []).map((x) => h("li", {}, h("code", {}, x.name), " ",
        lang() === "en" ? x.label_en : x.label_zh))));
  }

  // Reload: the master starts a new generation after answering 202; wait for /healthz's
  // generation to grow (a few seconds at most), then list again.
  async function generation() {
    try {
      const r = await fetch("/healthz", { cache: "no-store" });
      return (await r.json()).generation;
    } catch { return undefined; }
  }
  const reloadBtn = h("button", { type: "button", "data-testid": "reload",
                                  hidden: !!who && !holds(who.permissions, "admin.reload") }, t("admin.plugins.reload"));
  reloadBtn.addEventListener("click", async () => {
    if (!(await confirmDialog(t("admin.plugins.confirm_reload")))) return;
    reloadBtn.disabled = true;
    const before = await generation();
    try {
      await api.post("/api/admin/reload");
      status.say(t("admin.plugins.reloading"));
      let changed = before === undefined;
      for (let i = 0; i < 30 && !changed; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const g = await generation();
        changed = g !== undefined && g !== before;
      }
      await refresh();
      status.say(t(changed ? "admin.plugins.reloaded" : "admin.plugins.not_reloaded"), changed ? "info" : "error");
    } catch (err) {
      status.say(err.code === "conflict" ? t("admin.plugins.single") : errorText(err), "error");
    } finally {
      reloadBtn.disabled = false;
    }
  });

  el.append(pageHeader(t("admin.plugins.title"), reloadBtn),
    h("p", { class: "field-hint" }, t("admin.plugins.help")), status, list);
  await refresh();
}
