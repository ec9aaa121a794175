// My account: who I am, my sessions (revoke one), my password, the second factor (TOTP) with its QR code.
import { api } from "/kit/api.js";
import { t, fmtDateTime } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { toast, errorText, confirmDialog } from "/kit/ui.js";
import { me, setMe } from "/kit/session.js";
import "/kit/table.js";
import "/kit/form.js";

export default async function render(el) {
  let info = me();
  try { info = await api.get("/api/me"); setMe(info); } catch { /* keep the cached one */ }
  const u = (info && info.user) || {};

  // who I am
  const units = (info && info.units || []).map((x) => x.name).join("、");
  const roles = (info && info.roles || []).map((r) => r.name || r.role).join("、");
  const profile = h("section", { class: "card", "aria-labelledby": "acc-me" }, h("h2", { id: "acc-me" }, t("account.me")),
    h("dl", { class: "yi-dl" },
      h("dt", {}, t("account.name")), h("dd", {}, u.display_name || ""),
      h("dt", {}, t("login.username")), h("dd", {}, u.username || ""),
      h("dt", {}, t("account.units")), h("dd", {}, units),
      h("dt", {}, t("account.roles")), h("dd", {}, roles)));

  // sessions
  const sessions = h("yi-table", { "data-testid": "sessions", caption: t("account.sessions") });
  sessions.columns = [
    { label: t("account.session_created"), render: (s) => fmtDateTime(s.created_at) },
    { label: t("account.session_seen"), render: (s) => fmtDateTime(s.last_seen) },
    { key: "ip", label: t("account.session_ip") },
    { label: t("account.session_agent"), render: (s) => h("span", { class: "yi-agent", title: s.user_agent || "" }, agent(s.user_agent)) },
    { label: t("kit.actions"), render: (s) => (s.current ? h("span", { class: "yi-badge ok" }, t("account.session_current"))
      : h("button", { type: "button", "data-testid": "session-revoke", "aria-label": t("account.session_revoke_label", { at: fmtDateTime(s.created_at) }), onclick: async () => {
        if (!(await confirmDialog(t("account.session_revoke_confirm")))) return;
        try { await api.del(`/api/me/sessions/${s.id}`); toast(t("account.session_revoked"), "ok"); sessions.reload(); }
        catch (e) { toast(errorText(e), "error"); }
      } }, t("account.session_revoke"))) },
  ];
  sessions.fetcher = () => api.get("/api/me/sessions");
  const sessionsCard = h("section", { class: "card", "aria-labelledby": "acc-sessions" }, h("h2", { id: "acc-sessions" }, t("account.sessions")), sessions);

  // password
  const pw = h("yi-form", { prefix: "account-pw", "submit-label": t("pc.submit"), "submit-testid": "account-pw-save" });
  pw.fields = [
    { name: "username", type: "hidden", autocomplete: "username" },
    { name: "old_password", label: t("pc.old"), type: "password", required: true, autocomplete: "current-password" },
    { name: "new_password", label: t("pc.new"), type: "password", required: true, autocomplete: "new-password", help: t("pc.hint") },
  ];
  pw.values = { username: u.username };
  pw.action = (v) => api.post("/api/me/password", { old_password: v.old_password, new_password: v.new_password });
  pw.addEventListener("yi-saved", () => { toast(t("account.password_changed"), "ok"); pw.values = { username: u.username }; sessions.reload(); });
  const pwCard = h("section", { class: "card", "aria-labelledby": "acc-pw" }, h("h2", { id: "acc-pw" }, t("account.password")), pw);

  // second factor
  const totpBody = h("div", { "data-testid": "totp" });
  const totpCard = h("section", { class: "card", "aria-labelledby": "acc-totp" }, h("h2", { id: "acc-totp" }, t("account.totp")), totpBody);
  const drawTotp = () => {
    if (u.totp_enabled) { totpBody.replaceChildren(h("p", { class: "yi-badge ok", "data-testid": "totp-enabled" }, t("account.totp_on"))); return; }
    const startBtn = h("button", { type: "button", class: "primary", "data-testid": "totp-start", onclick: enrol }, t("account.totp_start"));
    totpBody.replaceChildren(h("p", {}, t("account.totp_intro")), startBtn);
  };
  const enrol = async () => {
    let r;
    try { r = await api.post("/api/me/totp", {}); } catch (e) { toast(errorText(e), "error"); return; }
    // the server draws the QR code as SVG; shown as an image, so nothing in it can run
    const img = h("img", { class: "yi-qr", "data-testid": "totp-qr", alt: t("account.totp_qr_alt"), width: "220", height: "220",
      src: "data:image/svg+xml;charset=utf-8," + encodeURIComponent(r.qr_svg) });
    const form = h("yi-form", { prefix: "totp", "submit-label": t("account.totp_confirm"), "submit-testid": "totp-confirm" });
    form.fields = [{ name: "code", label: t("account.totp_code"), required: true, inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6 }];
    form.action = (v) => api.post("/api/me/totp/confirm", v);
    form.addEventListener("yi-saved", (e) => {
      u.totp_enabled = true;
      window.dispatchEvent(new CustomEvent("yimen:totp-enabled"));
      const codes = (e.detail && e.detail.recovery_codes) || [];
      totpBody.replaceChildren(h("p", { class: "yi-badge ok", "data-testid": "totp-enabled" }, t("account.totp_on")),
        h("h3", {}, t("account.recovery")), h("p", {}, t("account.recovery_note")),
        h("ol", { class: "yi-codes", "data-testid": "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))));
      toast(t("account.totp_on"), "ok");
    });
    totpBody.replaceChildren(h("p", {}, t("account.totp_scan")), img,
      h("details", {}, h("summary", {}, t("account.totp_manual")), h("code", { class: "yi-secret", "data-testid": "totp-secret" }, r.secret)), form);
  };
  drawTotp();

  el.append(h("h1", {}, t("nav.account")), h("div", { class: "yi-grid" }, profile, totpCard, pwCard), sessionsCard);
}

function agent(ua) {
  if (!ua) return "";
  const m = /(Edg|Chrome|Firefox|Safari|MicroMessenger)\/[\d.]+/.exec(ua);
  const os = /(Android|iPhone|iPad|Windows|Mac OS X|Linux)/.exec(ua);
  return [m && m[1], os && os[1]].filter(Boolean).join(" · ") || ua.slice(0, 40);
}
