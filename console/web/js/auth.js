// Signing in. Local stack ("dev"): a form that asks /_local/token for a token. Deployed
// ("oidc"): authorization code with PKCE (S256); the id_token is what the API's JWT
// authorizer checks. Tokens, verifiers and states live in sessionStorage only, never in a
// URL we build or in a log.

import { t, register } from "./i18n.js";
import { api, ApiError, setToken } from "./api.js";
import { h, states, fieldError, errorText } from "./ui.js";

register({
  vi: {
    signin_title: "Đăng nhập",
    signin_dev_note: "Đăng nhập phát triển của môi trường cục bộ.",
    signin_oidc_note: "Đăng nhập bằng tài khoản của tổ chức bạn.",
    email: "Email",
    shop: "Cửa hàng",
    role: "Vai trò",
    role_owner: "Chủ cửa hàng (owner)",
    role_admin: "Quản trị (admin)",
    role_agent: "Nhân viên (agent)",
    sign_in: "Đăng nhập",
    err_invalid_email: "Nhập một địa chỉ email hợp lệ.",
    err_invalid_tenant: "Nhập mã cửa hàng (chữ, số, - và _).",
    err_invalid_role: "Vai trò phải là owner, admin hoặc agent.",
    oidc_failed: "Đăng nhập không thành công: {reason}",
    oidc_state: "phiên đăng nhập không khớp hoặc đã hết hạn. Hãy thử lại.",
  },
  en: {
    signin_title: "Sign in",
    signin_dev_note: "Development sign-in of the local stack.",
    signin_oidc_note: "Sign in with your organisation's account.",
    email: "Email",
    shop: "Shop",
    role: "Role",
    role_owner: "Owner",
    role_admin: "Admin",
    role_agent: "Agent",
    sign_in: "Sign in",
    err_invalid_email: "Enter a valid email address.",
    err_invalid_tenant: "Enter a shop id (letters, digits, - and _).",
    err_invalid_role: "The role is owner, admin or agent.",
    oidc_failed: "Sign-in failed: {reason}",
    oidc_state: "the sign-in session did not match or has expired. Try again.",
  },
});

/** Draws the sign-in screen into `root`; `done` is called once a token is stored. */
export function signInScreen(root, config, done, langButton) {
  document.title = `${t("signin_title")} · ${t("app_name")}`;
  const oidc = config.auth && config.auth.mode === "oidc";
  const flash = sessionStorage.getItem("signin_error");
  sessionStorage.removeItem("signin_error");
  const body = oidc ? oidcButton(config) : devForm(done);
  root.replaceChildren(
    h(
      "main",
      { id: "main", class: "signin" },
      h("div", { class: "signin-top" }, h("span", { class: "brand" }, t("app_name")), langButton()),
      h(
        "section",
        { class: "card signin-card", "aria-labelledby": "signin-h" },
        h("h1", { id: "signin-h" }, t("signin_title")),
        h("p", { class: "muted" }, t(oidc ? "signin_oidc_note" : "signin_dev_note")),
        flash ? h("p", { class: "banner banner-error", role: "alert" }, flash) : null,
        body,
      ),
    ),
  );
}

function devForm(done) {
  const last = JSON.parse(localStorage.getItem("dev_signin") || "{}");
  const email = h("input", { id: "si-email", name: "email", type: "email", autocomplete: "email", required: true, value: last.email || "" });
  const shop = h("input", { id: "si-shop", name: "tenant_id", type: "text", required: true, value: last.tenant_id || "", autocomplete: "organization" });
  const role = h(
    "select",
    { id: "si-role", name: "role" },
    ["owner", "admin", "agent"].map((r) => h("option", { value: r, selected: (last.role || "owner") === r }, t(`role_${r}`))),
  );
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("sign_in"));
  const general = h("div", { role: "alert" });
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "si-email" }, t("email")), email),
    h("div", { class: "field" }, h("label", { for: "si-shop" }, t("shop")), shop),
    h("div", { class: "field" }, h("label", { for: "si-role" }, t("role")), role),
    general,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of [email, shop, role]) fieldError(f, "");
    general.replaceChildren();
    const b = { email: email.value.trim(), tenant_id: shop.value.trim(), role: role.value };
    submit.disabled = true;
    try {
      const r = await api("POST", "/_local/token", b, { noSignOut: true });
      localStorage.setItem("dev_signin", JSON.stringify(b));
      setToken(r.token);
      done();
    } catch (err) {
      const at = { invalid_email: email, invalid_tenant: shop, invalid_role: role }[err.code];
      if (at) {
        fieldError(at, errorText(err));
        at.focus();
      } else general.replaceChildren(h("p", { class: "banner banner-error" }, errorText(err)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

function redirectUri() {
  return `${location.origin}/`;
}

function oidcButton(config) {
  const btn = h("button", { type: "button", class: "btn btn-primary" }, t("sign_in"));
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    const a = config.auth;
    const verifier = randomString(48);
    const state = randomString(24);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    sessionStorage.setItem("oidc_verifier", verifier);
    sessionStorage.setItem("oidc_state", state);
    sessionStorage.setItem("oidc_return", location.hash || "");
    const u = new URL(a.authorization_endpoint);
    u.searchParams.set("response_type", "code");
    u.searchParams.set("client_id", a.client_id);
    u.searchParams.set("redirect_uri", redirectUri());
    u.searchParams.set("scope", a.scope || "openid email");
    u.searchParams.set("state", state);
    u.searchParams.set("code_challenge", b64url(new Uint8Array(digest)));
    u.searchParams.set("code_challenge_method", "S256");
    location.assign(u.toString());
  });
  return h("div", { class: "actions" }, btn);
}

/**
 * Back from the identity provider with `?code&state` (or `?error&state`): checks the state
 * against the stored one, exchanges the code for tokens, keeps the id_token, and cleans the
 * address bar whatever happened. Failures are shown on the sign-in screen.
 */
export async function finishOidc(config, root) {
  const q = new URLSearchParams(location.search);
  const expected = sessionStorage.getItem("oidc_state");
  const verifier = sessionStorage.getItem("oidc_verifier");
  const back = sessionStorage.getItem("oidc_return") || "";
  for (const k of ["oidc_state", "oidc_verifier", "oidc_return"]) sessionStorage.removeItem(k);
  history.replaceState(null, "", `${location.pathname}${back}`);
  const fail = (reason) => sessionStorage.setItem("signin_error", t("oidc_failed", { reason }));
  if (!expected || q.get("state") !== expected || !verifier) return fail(t("oidc_state"));
  if (q.get("error")) return fail(q.get("error_description") || q.get("error"));
  root.replaceChildren(states.loading());
  const a = config.auth;
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code: q.get("code") || "",
    redirect_uri: redirectUri(),
    client_id: a.client_id,
    code_verifier: verifier,
  });
  try {
    const res = await fetch(a.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form,
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok || !data.id_token) return fail(data.error_description || data.error || `HTTP ${res.status}`);
    setToken(data.id_token);
  } catch (e) {
    fail(errorText(e instanceof ApiError ? e : { code: "network" }));
  }
}
