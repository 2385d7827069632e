// The admin API client: one `api()` for every call, so the token, the error shape and the
// sign-out on 401 are handled in one place. The token lives in sessionStorage only (never in
// a URL, never logged).

/** An error answer: `{"error":{"code","message"}}` plus any sibling fields in `details`. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || (status ? `http_${status}` : "network");
    this.details = details || {};
  }
}

export function token() {
  try {
    return sessionStorage.getItem("token");
  } catch {
    return null;
  }
}

export function setToken(tok) {
  sessionStorage.setItem("token", tok);
  meCache = null;
}

/** Forgets the token and tells the shell (`signedout`) to show the sign-in. */
export function signOut() {
  sessionStorage.removeItem("token");
  meCache = null;
  window.dispatchEvent(new Event("signedout"));
}

/**
 * Calls the API. `body` is sent as JSON; `opts.headers` adds headers, `opts.signal` aborts.
 * Returns the parsed JSON, or null for an empty answer (204).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  const init = { method, headers, credentials: "same-origin", signal: opts.signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "", {});
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    if (res.status === 401 && !opts.noSignOut) signOut();
    throw new ApiError(res.status, err.code, err.message, data || {});
  }
  return data;
}

/** The JWT's claims (unverified: only to show the email before /api/me answers). */
export function claims() {
  const tok = token();
  if (!tok) return {};
  try {
    const part = tok.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json) || {};
  } catch {
    return {};
  }
}

let meCache = null;

/**
 * Who is signed in: `{email, role, tenant_id}`, cached. Uses `GET /api/me`; while the API
 * lacks it (404), the token's claims give the email and the members list gives the role
 * (roles come from the shop's list, not the token).
 */
export async function me() {
  if (meCache) return meCache;
  const c = claims();
  try {
    const m = await api("GET", "/api/me");
    meCache = { email: m.email, role: m.role, tenant_id: m.tenant_id };
    return meCache;
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 405)) throw e;
  }
  let role = c.role || "agent";
  try {
    const list = await api("GET", "/api/members");
    const mine = (list.items || []).find((m) => m.email === String(c.email || "").toLowerCase());
    if (mine) role = mine.role;
  } catch (e) {
    // Agents may not list members; the token's role is then the best we know.
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
    role = "agent";
  }
  meCache = { email: c.email || "", role, tenant_id: c.tenant_id || "" };
  return meCache;
}
