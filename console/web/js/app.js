// The console shell: loads /console-config.json, signs in (development form or OIDC with
// PKCE, see auth.js), draws the top bar and routes `#/<screen>` to lazily imported screen
// modules, each `render(root, ctx)` returning an optional cleanup (stop polling).

import { t, register, lang, setLang } from "./i18n.js";
import { token, signOut, claims, me } from "./api.js";
import { h, states } from "./ui.js";
import { signInScreen, finishOidc } from "./auth.js";

register({
  vi: {
    nav_label: "Điều hướng chính",
    nav_inbox: "Hội thoại",
    nav_channels: "Cấu hình kênh chat",
    nav_rules: "Quy tắc",
    nav_members: "Thành viên",
    nav_settings: "Cài đặt",
    sign_out: "Đăng xuất",
    lang_switch: "English",
    menu: "Menu",
    signed_in_as: "Đăng nhập với {email}",
    not_found_screen: "Không có trang này.",
    skip: "Bỏ qua tới nội dung",
  },
  en: {
    nav_label: "Main navigation",
    nav_inbox: "Conversations",
    nav_channels: "Chat channel settings",
    nav_rules: "Rules",
    nav_members: "Members",
    nav_settings: "Settings",
    sign_out: "Sign out",
    lang_switch: "Tiếng Việt",
    menu: "Menu",
    signed_in_as: "Signed in as {email}",
    not_found_screen: "There is no such page.",
    skip: "Skip to content",
  },
});

/** Every screen: its hash path, label key, module loader and who sees it. */
const SCREENS = [
  { path: "inbox", label: "nav_inbox", load: () => import("./inbox.js"), roles: ["owner", "admin", "agent"] },
  { path: "channels", label: "nav_channels", load: () => import("./channels.js"), roles: ["owner", "admin"] },
  { path: "rules", label: "nav_rules", load: () => import("./rules.js"), roles: ["owner", "admin"] },
  { path: "members", label: "nav_members", load: () => import("./members.js"), roles: ["owner", "admin"] },
  { path: "settings", label: "nav_settings", load: () => import("./settings.js"), roles: ["owner", "admin", "agent"] },
];

const app = document.getElementById("app");
let config = null;
let who = null;
let cleanup = null;
let shownPath = null;
let main = null;

/** `#/inbox?view=mine` -> {path: "inbox", params: URLSearchParams("view=mine")}. */
function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return { path: path || "", params: new URLSearchParams(query || "") };
}

function navigate(hash) {
  const target = hash.startsWith("#") ? hash : `#${hash}`;
  if (location.hash === target) show(true);
  else location.hash = target;
}

function defaultPath() {
  return who && who.role === "agent" ? "inbox" : "channels";
}

/**
 * The Facebook Login callback comes back to `/?result=ok&imported=n` or `/?error=…`: keep the
 * outcome for the Facebook tab (sessionStorage "fb_return"), then clean the address bar.
 */
function takeFacebookReturn() {
  const q = new URLSearchParams(location.search);
  if (!q.has("result") && !q.has("error")) return false;
  const outcome = {
    result: q.get("result"),
    imported: q.get("imported"),
    error: q.get("error"),
    message: q.get("message"),
    missing: q.get("missing"),
  };
  sessionStorage.setItem("fb_return", JSON.stringify(outcome));
  history.replaceState(null, "", `${location.pathname}#/channels`);
  return true;
}

async function boot() {
  app.replaceChildren(states.loading());
  try {
    const res = await fetch("/console-config.json", { credentials: "same-origin" });
    if (!res.ok) throw new Error(String(res.status));
    config = await res.json();
  } catch {
    app.replaceChildren(states.error({ code: "network" }, boot));
    return;
  }
  config.time_zone ||= "Asia/Ho_Chi_Minh";
  const q = new URLSearchParams(location.search);
  if (config.auth?.mode === "oidc" && q.has("state") && (q.has("code") || q.has("error"))) {
    await finishOidc(config, app);
  }
  takeFacebookReturn();
  start();
}

/** Signed in: the shell; otherwise the sign-in screen. */
async function start() {
  if (cleanup) runCleanup();
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  shownPath = null;
  const exp = claims().exp;
  if (token() && exp && exp * 1000 < Date.now()) sessionStorage.removeItem("token");
  if (!token()) {
    who = null;
    signInScreen(app, config, start, langButton);
    return;
  }
  app.replaceChildren(states.loading());
  try {
    who = await me();
  } catch (e) {
    if (!token()) return; // a 401 signed out; the "signedout" listener shows the form
    app.replaceChildren(states.error(e, start), h("p", { class: "center" }, h("button", { type: "button", class: "btn", onclick: signOut }, t("sign_out"))));
    return;
  }
  drawShell();
  show(true);
}

function langButton() {
  return h("button", { type: "button", class: "btn btn-ghost lang", lang: lang() === "vi" ? "en" : "vi", onclick: () => setLang(lang() === "vi" ? "en" : "vi") }, t("lang_switch"));
}

function drawShell() {
  const current = route().path || defaultPath();
  const visible = SCREENS.filter((s) => s.roles.includes(who.role));
  const menuId = "main-nav-list";
  const menuBtn = h("button", { type: "button", class: "btn btn-ghost menu-toggle", "aria-expanded": "false", "aria-controls": menuId }, t("menu"));
  const list = h(
    "ul",
    { id: menuId, class: "nav-list" },
    visible.map((s) =>
      h("li", {}, h("a", { href: `#/${s.path}`, "aria-current": s.path === current ? "page" : null, dataset: { path: s.path } }, t(s.label))),
    ),
  );
  // On a phone the top bar has no room for the email: the open menu shows it (added only
  // while open, so the page never holds a hidden second copy).
  const navWho = h("li", { class: "nav-who" }, t("signed_in_as", { email: who.email }));
  const nav = h("nav", { class: "nav", "aria-label": t("nav_label") }, menuBtn, list);
  menuBtn.addEventListener("click", () => {
    const open = menuBtn.getAttribute("aria-expanded") !== "true";
    menuBtn.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
    if (open) list.append(navWho);
    else navWho.remove();
  });
  nav.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && nav.classList.contains("open")) {
      menuBtn.click();
      menuBtn.focus();
    }
  });
  list.addEventListener("click", (e) => {
    if (e.target.closest("a") && nav.classList.contains("open")) menuBtn.click();
  });
  main = h("main", { id: "main", tabindex: "-1" });
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip")),
    h("span", { class: "brand" }, t("app_name")),
    nav,
    h(
      "div",
      { class: "account" },
      langButton(),
      h("span", { class: "who", title: t("signed_in_as", { email: who.email }) }, who.email),
      h("button", { type: "button", class: "btn btn-ghost", onclick: signOut }, t("sign_out")),
    ),
  );
  app.replaceChildren(header, main);
}

function runCleanup() {
  const c = cleanup;
  cleanup = null;
  try {
    if (typeof c === "function") c();
  } catch (e) {
    console.error("cleanup failed", e);
  }
}

let showSeq = 0;
/**
 * Renders the screen of the current hash. Only a change of path re-renders; a change of the
 * query alone (e.g. `#/inbox?c=…`) is the screen's own business (it listens to `hashchange`).
 */
async function show(force = false) {
  if (!who || !main) return;
  const { path, params } = route();
  const screen = SCREENS.find((s) => s.path === path && s.roles.includes(who.role));
  if (!path || !SCREENS.some((s) => s.path === path)) {
    history.replaceState(null, "", `#/${defaultPath()}`);
    return show(true);
  }
  if (!force && path === shownPath) return;
  runCleanup();
  shownPath = path;
  for (const a of document.querySelectorAll(".nav-list a")) {
    if (a.dataset.path === path) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!screen) {
    main.replaceChildren(states.error({ code: "forbidden" }));
    return;
  }
  const seq = ++showSeq;
  main.replaceChildren(states.loading());
  let mod;
  try {
    mod = await screen.load();
  } catch (e) {
    console.error("screen failed to load", e);
    if (seq === showSeq) main.replaceChildren(states.error({ code: "network" }, () => show(true)));
    return;
  }
  if (seq !== showSeq) return;
  const root = h("div", { class: `screen screen-${path}` });
  main.replaceChildren(root);
  document.title = `${t(screen.label)} · ${t("app_name")}`;
  try {
    cleanup = (await mod.render(root, { config, me: who, navigate, params })) || null;
  } catch (e) {
    console.error("screen failed", e);
    root.replaceChildren(states.error(e, () => show(true)));
  }
}

window.addEventListener("hashchange", () => show(false));
window.addEventListener("signedout", () => start());
window.addEventListener("langchange", () => {
  if (who) {
    drawShell();
    show(true);
  } else start();
});

boot();
