// The shell's entry: who is signed in (GET /api/me), the sign-in steps when nobody is, then the shell.
import { api, setCsrf } from "/kit/api.js";
import { ready, t } from "/kit/i18n.js";
import { live } from "/kit/live.js";
import { showLogin, showPasswordChange, hideLogin } from "/app/login.js";
import { startShell, stopShell } from "/app/shell.js";

let running = false;
let booting = null;

async function whoami() {
  try { return await api.get("/api/me", { quiet: true }); } catch (e) { if (e.status === 401) return null; throw e; }
}

async function boot(reason) {
  let me = reason === "signed-out" || reason === "expired" ? null : await whoami().catch(() => null);
  let answer = null;
  while (!me) {
    answer = await showLogin(reason);
    reason = undefined;
    me = await whoami().catch(() => null);
  }
  if (me.csrf) setCsrf(me.csrf);
  const u = me.user || {};
  if ((answer && answer.must_change_password) || me.must_change_password || u.must_change_password) {
    await showPasswordChange(u.username);
    me = await whoami();
    if (!me) return boot("expired");
  }
  hideLogin();
  const totpSetup = !!((answer && answer.totp_setup_required) || me.totp_setup_required);
  running = true;
  await startShell(me, { totpSetup });
}

function restart(reason) {
  if (booting) return;
  booting = (async () => {
    if (running) { running = false; stopShell(); }
    live.stop();
    await boot(reason);
  })().finally(() => { booting = null; });
}

window.addEventListener("yimen:signed-out", () => { if (running) restart("expired"); });
window.addEventListener("yimen:password_change_required", () => { if (running) restart(); });
document.addEventListener("yi-logout", async () => {
  try { await api.post("/api/auth/logout", {}, { quiet: true }); } catch { /* already gone */ }
  setCsrf(null);
  history.replaceState(null, "", "/");
  restart("signed-out");
});

await ready;
// the plain HTML form posted before the scripts ran: the server sent us back with a hash
let first;
if (location.hash === "#login-failed") first = "failed";
else if (location.hash === "#totp-required") first = "totp";
if (first) history.replaceState(null, "", location.pathname);
if (first === "totp") {
  // the password is needed again with the code: keep the username the server cannot send back
  first = "totp";
}
booting = boot(first).catch((e) => {
  document.getElementById("login-error").textContent = t("error.boot", { message: e.message || String(e) });
}).finally(() => { booting = null; });
