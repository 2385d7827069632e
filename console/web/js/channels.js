// *Cấu hình kênh chat*: the Facebook / Zalo / Fchat tabs, the shop's Pages with their status,
// *Thêm kết nối* (Facebook Login), the outcome of a login that just came back, and the
// connect and disconnect dialogs.

import { t, register, lang } from "./i18n.js";
import { api } from "./api.js";
import { h, toast, confirmDialog, formatTime, states, errorText } from "./ui.js";
import { facebookReturnBanner } from "./fbreturn.js";
import { openConnectDialog } from "./connect.js";
import { autoHideSettings } from "./autohide.js";

register({
  vi: {
    ch_title: "Cấu hình kênh chat",
    ch_tabs: "Kênh chat",
    tab_facebook: "Cấu hình Facebook",
    tab_zalo: "Cấu hình Zalo",
    tab_fchat: "Cấu hình Fchat",
    not_available: "Kênh {name} chưa có trong phiên bản này. Hiện chỉ kết nối được Trang Facebook.",
    my_pages: "Trang của tôi ({n})",
    add_connection: "Thêm kết nối",
    connected_by: "Người kết nối: {email}",
    last_connected: "Kết nối gần nhất: {time}",
    mode_only_me: "Chỉ mình tôi",
    mode_shared: "Chia sẻ hội thoại",
    mode_rule: "Quy tắc: {name}",
    status_connected: "Đã kết nối",
    status_lost: "Mất kết nối",
    connect_this: "Kết nối fanpage này",
    reconnect: "Kết nối lại",
    disconnect: "Ngắt kết nối",
    disconnect_title: "Ngắt kết nối trang {name}?",
    disconnect_text: "Trang sẽ ngừng nhận tin nhắn mới vào hộp thư. Các hội thoại đã lưu vẫn được giữ. Bạn có thể kết nối lại sau.",
    disconnected: "Đã ngắt kết nối trang {name}.",
    no_pages: "Chưa có Trang nào. Chọn \"Thêm kết nối\" để đưa các Trang bạn quản trị trên Facebook vào.",
    lost_reason: "Lý do: {reason}",
    err_page_busy: "Trang đang được thay đổi ở nơi khác. Thử lại sau giây lát.",
    err_page_not_held: "Cửa hàng không còn giữ Trang này. Hãy kết nối lại qua \"Thêm kết nối\".",
    err_page_taken: "Trang đang được một cửa hàng khác kết nối.",
    err_reconnect_required: "Cần đăng nhập Facebook lại cho Trang này: chọn \"Thêm kết nối\".",
    err_graph_error: "Facebook từ chối yêu cầu. Thử lại sau.",
    sim_note: "Môi trường cục bộ: Facebook được thay bằng Trình mô phỏng Meta.",
    sim_customer: "Mở giao diện khách hàng (nhắn tin tới Trang)",
  },
  en: {
    ch_title: "Chat channel settings",
    ch_tabs: "Chat channels",
    tab_facebook: "Facebook settings",
    tab_zalo: "Zalo settings",
    tab_fchat: "Fchat settings",
    not_available: "{name} is not available in this version yet. Only Facebook Pages can be connected for now.",
    my_pages: "My Pages ({n})",
    add_connection: "Add connection",
    connected_by: "Connected by: {email}",
    last_connected: "Last connected: {time}",
    mode_only_me: "Only me",
    mode_shared: "Shared conversations",
    mode_rule: "Rule: {name}",
    status_connected: "Connected",
    status_lost: "Connection lost",
    connect_this: "Connect this Page",
    reconnect: "Connect again",
    disconnect: "Disconnect",
    disconnect_title: "Disconnect the Page {name}?",
    disconnect_text: "The Page stops bringing new messages into the inbox. Stored conversations are kept. You can connect it again later.",
    disconnected: "The Page {name} was disconnected.",
    no_pages: "No Pages yet. Choose \"Add connection\" to bring in the Pages you administer on Facebook.",
    lost_reason: "Reason: {reason}",
    err_page_busy: "The Page is being changed elsewhere. Retry in a moment.",
    err_page_not_held: "The shop no longer holds this Page. Connect it again with \"Add connection\".",
    err_page_taken: "Another shop has this Page connected.",
    err_reconnect_required: "This Page needs a new Facebook Login: choose \"Add connection\".",
    err_graph_error: "Facebook refused the request. Retry later.",
    sim_note: "Local environment: Facebook is replaced by the Meta simulator.",
    sim_customer: "Open the customer view (write to a Page)",
  },
});

const TABS = [
  { id: "facebook", label: "tab_facebook" },
  { id: "zalo", label: "tab_zalo", name: "Zalo" },
  { id: "fchat", label: "tab_fchat", name: "Fchat" },
];

let selectedTab = "facebook";

export function render(root, ctx) {
  const tabs = TABS.map((tab) =>
    h("button", { type: "button", role: "tab", id: `tab-${tab.id}`, "aria-controls": `panel-${tab.id}`, "aria-selected": String(tab.id === selectedTab), tabindex: tab.id === selectedTab ? "0" : "-1" }, t(tab.label)),
  );
  const panel = h("div", { role: "tabpanel", class: "tabpanel", tabindex: "0" });
  const tablist = h("div", { role: "tablist", class: "tabs", "aria-label": t("ch_tabs") }, tabs);
  let stop = null;

  const select = (id, focus) => {
    selectedTab = id;
    tabs.forEach((b, i) => {
      const on = TABS[i].id === id;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    });
    panel.id = `panel-${id}`;
    panel.setAttribute("aria-labelledby", `tab-${id}`);
    if (stop) stop();
    stop = null;
    const tab = TABS.find((x) => x.id === id);
    if (id === "facebook") stop = facebookPanel(panel, ctx);
    else panel.replaceChildren(h("p", { class: "state" }, t("not_available", { name: tab.name })));
  };
  tablist.addEventListener("click", (e) => {
    const b = e.target.closest("[role=tab]");
    if (b) select(b.id.slice(4), false);
  });
  tablist.addEventListener("keydown", (e) => {
    const i = TABS.findIndex((x) => x.id === selectedTab);
    const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    select(TABS[(moves[e.key] + TABS.length) % TABS.length].id, true);
  });

  // Back from Facebook Login: show its outcome on the Facebook tab.
  if (sessionStorage.getItem("fb_return")) selectedTab = "facebook";
  root.replaceChildren(h("h1", {}, t("ch_title")), tablist, panel);
  select(selectedTab, false);
  return () => {
    if (stop) stop();
  };
}

/** The Facebook tab: banner (login outcome), heading, *Thêm kết nối*, the Page cards. */
function facebookPanel(panel, ctx) {
  let alive = true;
  const banner = facebookReturnBanner();
  const body = h("div", {});
  const sim = ctx.config.simulator_url
    ? h("p", { class: "banner banner-info" }, t("sim_note"), " ", h("a", { href: ctx.config.simulator_url, target: "_blank", rel: "noopener" }, t("sim_customer")))
    : null;
  panel.replaceChildren(...[banner, sim].filter(Boolean), body);

  const load = async () => {
    body.replaceChildren(states.loading());
    let pages, rules;
    try {
      [pages, rules] = await Promise.all([api("GET", "/api/pages"), api("GET", "/api/rules").catch(() => ({ items: [] }))]);
    } catch (e) {
      if (alive) body.replaceChildren(states.error(e, load));
      return;
    }
    if (!alive) return;
    draw(pages.items || [], rules.items || []);
  };

  const addBtn = () => {
    const b = h("button", { type: "button", class: "btn btn-primary" }, t("add_connection"));
    b.addEventListener("click", () => startLogin(b));
    return b;
  };

  const draw = (pages, rules) => {
    const ruleName = Object.fromEntries(rules.map((r) => [r.id, r.name]));
    const head = h("div", { class: "section-head" }, h("h2", {}, t("my_pages", { n: pages.length })), addBtn());
    if (!pages.length) {
      body.replaceChildren(head, states.empty(t("no_pages")));
      return;
    }
    body.replaceChildren(
      head,
      h("ul", { class: "plain page-cards" }, pages.map((p) => h("li", { class: "card page-card" }, pageCard(p, ruleName, ctx, { pages, rules, reload: load })))),
    );
  };

  load();
  return () => {
    alive = false;
  };
}

/** Asks the API for Meta's login URL (it sets the binding cookie) and goes there. */
async function startLogin(btn) {
  btn.disabled = true;
  try {
    const r = await api("GET", "/api/facebook/login-url");
    location.assign(r.url);
  } catch (e) {
    btn.disabled = false;
    toast(errorText(e), "error");
  }
}

function pageCard(p, ruleName, ctx, env) {
  const lines = [
    h("h3", { class: "name" }, p.name),
    p.connected_by ? h("p", { class: "meta wrap" }, t("connected_by", { email: p.connected_by })) : null,
    p.last_connected_at ? h("p", { class: "meta" }, t("last_connected", { time: formatTime(p.last_connected_at, ctx.config.time_zone) })) : null,
  ];
  if (p.chat_mode && p.status !== "not_connected") {
    const mode = p.chat_mode === "shared" ? t("mode_shared") : t("mode_only_me");
    const rule = p.chat_mode === "shared" && p.rule_id ? ` · ${t("mode_rule", { name: ruleName[p.rule_id] || p.rule_id })}` : "";
    lines.push(h("p", { class: "mode" }, mode, rule ? h("span", { class: "muted wrap" }, rule) : null));
  }
  const foot = h("div", { class: "card-foot" });
  if (p.status === "connected") {
    const off = h("button", { type: "button", class: "btn btn-small" }, t("disconnect"));
    off.addEventListener("click", () => disconnect(p, off, env.reload));
    foot.append(h("span", { class: "pill pill-ok" }, t("status_connected")), off);
    lines.push(autoHideSettings(p));
  } else if (p.status === "lost_connection") {
    const again = h("button", { type: "button", class: "btn btn-small" }, t("reconnect"));
    again.addEventListener("click", () => startLogin(again));
    foot.append(h("span", { class: "pill pill-bad" }, t("status_lost")), again);
    if (p.lost_reason) lines.push(h("p", { class: "lost-reason wrap" }, t("lost_reason", { reason: lostReason(p.lost_reason) })));
  } else {
    const connect = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("connect_this"));
    connect.addEventListener("click", () =>
      openConnectDialog(p, { pages: env.pages, rules: env.rules, done: env.reload, opener: connect }),
    );
    foot.append(connect);
  }
  return [...lines, foot];
}

async function disconnect(p, btn, reload) {
  const yes = await confirmDialog({ title: t("disconnect_title", { name: p.name }), text: t("disconnect_text"), ok: t("disconnect") });
  if (!yes) {
    btn.focus();
    return;
  }
  btn.disabled = true;
  try {
    await api("POST", `/api/pages/${encodeURIComponent(p.page_id)}/disconnect`);
    toast(t("disconnected", { name: p.name }));
    reload();
  } catch (e) {
    btn.disabled = false;
    toast(errorText(e), "error");
  }
}

/** The API's reasons (domain/src/graph.rs) in the user's language; unknown ones as given. */
const LOST = [
  [/app was removed/, { vi: "ứng dụng đã bị gỡ khỏi tài khoản Facebook", en: "the app was removed from the Facebook account" }],
  [/checkpointed/, { vi: "tài khoản Facebook đang bị khóa tạm (checkpoint); hãy đăng nhập Facebook để xử lý", en: "the Facebook account is checkpointed; log in to Facebook to resolve it" }],
  [/password was changed/, { vi: "mật khẩu Facebook đã được đổi", en: "the Facebook password was changed" }],
  [/token expired/, { vi: "mã truy cập đã hết hạn", en: "the access token expired" }],
  [/not confirmed/, { vi: "tài khoản Facebook chưa được xác nhận", en: "the Facebook account is not confirmed" }],
  [/no longer its admin/, { vi: "người kết nối không còn là quản trị viên của Trang", en: "the person who connected the Page is no longer its admin" }],
  [/permission was revoked/, { vi: "một quyền đã bị thu hồi hoặc còn thiếu", en: "a permission was revoked or is missing" }],
];

function lostReason(reason) {
  for (const [re, words] of LOST) {
    if (re.test(reason)) return lang() === "vi" ? `${words.vi}; hãy kết nối lại Trang.` : reason;
  }
  return reason;
}
