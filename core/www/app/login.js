// The sign-in steps on index.html's plain HTML forms: password (form#login), then the second factor
// when the server asks (input#login-totp in the same form), then the forced password change
// (form#password-change). Errors go to #login-error.
import { api, setCsrf } from "/kit/api.js";
import { t } from "/kit/i18n.js";

const $ = (id) => document.getElementById(id);

function setError(text) {
  $("login-error").textContent = text || "";
}

function setInfo(text) {
  $("login-info").textContent = text || "";
}

function showTotp() {
  $("login-totp-row").hidden = false;
  $("login-totp").disabled = false;
  $("login-totp").required = true;
  setInfo(t("login.totp_needed"));
  $("login-totp").focus();
}

function loginMessage(e) {
  switch (e.code) {
    case "bad_credentials": return t("login.bad_credentials");
    case "totp_invalid": return t("login.totp_invalid");
    case "rate_limited": return t("login.rate_limited");
    case "network": return t("error.network");
    case "invalid": return t("login.missing");
    default: return e.message || e.code;
  }
}

// Shows the login view; resolves with the login answer {token, csrf, user, must_change_password, …}
// once the user signed in. `reason`: "failed" | "totp" | "expired" | "signed-out" | undefined.
export function showLogin(reason) {
  document.getElementById("app").hidden = true;
  $("login-view").hidden = false;
  $("login").hidden = false;
  $("password-change").hidden = true;
  setError(reason === "failed" ? t("login.bad_credentials") : reason === "expired" ? t("login.expired") : "");
  setInfo(reason === "signed-out" ? t("login.signed_out") : "");
  if (reason === "totp") showTotp();
  $("login-password").value = "";
  const form = $("login");
  return new Promise((resolve) => {
    const submit = async (ev) => {
      ev.preventDefault();
      setError("");
      const body = { username: $("login-username").value.trim(), password: $("login-password").value };
      const totp = $("login-totp");
      if (!totp.disabled && totp.value.trim()) body.totp = totp.value.trim();
      if (!body.username || !body.password) { setError(t("login.missing")); (body.username ? $("login-password") : $("login-username")).focus(); return; }
      const btn = $("login-submit");
      btn.disabled = true;
      try {
        const res = await api.post("/api/auth/login", body, { quiet: true });
        setCsrf(res.csrf);
        form.removeEventListener("submit", submit);
        totp.value = "";
        totp.disabled = true;
        $("login-totp-row").hidden = true;
        setInfo("");
        resolve(res);
      } catch (e) {
        if (e.code === "totp_required") { showTotp(); }
        else {
          setError(loginMessage(e));
          if (e.code === "totp_invalid") { totp.select(); totp.focus(); } else $("login-password").focus();
        }
      } finally {
        btn.disabled = false;
      }
    };
    form.addEventListener("submit", submit);
    if (reason !== "totp") ($("login-username").value ? $("login-password") : $("login-username")).focus();
  });
}

// The forced password change; resolves when the server accepted the new password.
export function showPasswordChange(username) {
  document.getElementById("app").hidden = true;
  $("login-view").hidden = false;
  $("login").hidden = true;
  setInfo("");
  setError("");
  const form = $("password-change");
  if (username) $("pc-username").value = username;
  form.hidden = false;
  $("pc-old").focus();
  return new Promise((resolve) => {
    const submit = async (ev) => {
      ev.preventDefault();
      setError("");
      for (const id of ["pc-old", "pc-new"]) { $(id).removeAttribute("aria-invalid"); $(id + "-error").textContent = ""; }
      const body = { old_password: $("pc-old").value, new_password: $("pc-new").value };
      const btn = $("pc-submit");
      btn.disabled = true;
      try {
        await api.post("/api/me/password", body, { quiet: true });
        form.removeEventListener("submit", submit);
        form.hidden = true;
        $("pc-old").value = "";
        $("pc-new").value = "";
        resolve();
      } catch (e) {
        const id = e.field === "old_password" ? "pc-old" : e.field === "new_password" ? "pc-new" : null;
        const msg = e.field === "old_password" && /wrong|incorrect/i.test(e.message || "") ? t("pc.old_wrong") : (e.message || e.code);
        if (id) {
          $(id).setAttribute("aria-invalid", "true");
          $(id + "-error").textContent = msg;
          $(id).focus();
        }
        setError(e.code === "csrf" ? t("error.csrf") : id ? msg : (e.message || e.code));
      } finally {
        btn.disabled = false;
      }
    };
    form.addEventListener("submit", submit);
  });
}

export function hideLogin() {
  $("login-view").hidden = true;
  setError("");
  setInfo("");
}
