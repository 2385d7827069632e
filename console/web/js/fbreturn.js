// The outcome of Facebook Login, which the callback puts in the query of its redirect to `/`
// (`result=ok&imported=n` or `error=<code>&message=…[&missing=a,b]`). app.js moves it to
// sessionStorage "fb_return" and cleans the address bar; the Facebook tab shows it once.

import { t, register, lang } from "./i18n.js";
import { h } from "./ui.js";

register({
  vi: {
    fb_imported: "Đã thêm {n} trang.",
    fb_imported_next: "Chọn \"Kết nối fanpage này\" ở từng Trang để bắt đầu nhận tin nhắn.",
    fb_access_denied: "Bạn đã hủy đăng nhập Facebook nên chưa có Trang nào được thêm. Chọn \"Thêm kết nối\" để thử lại.",
    fb_invalid_state: "Phiên kết nối Facebook không hợp lệ hoặc đã hết hạn (có thể bắt đầu ở trình duyệt hoặc thẻ khác). Chọn \"Thêm kết nối\" để bắt đầu lại.",
    fb_permissions_declined: "Bạn chưa cấp đủ quyền cho ứng dụng nên chưa có Trang nào được thêm. Các quyền còn thiếu:",
    fb_permissions_again: "Chọn \"Thêm kết nối\" rồi tick \"Có\" cho tất cả các quyền.",
    fb_graph_error: "Facebook không trả lời đúng khi lấy danh sách Trang. Thử lại sau ít phút.",
    fb_other: "Kết nối Facebook không thành công.",
    fb_detail: "Chi tiết: {message}",
    dismiss: "Ẩn thông báo",
  },
  en: {
    fb_imported: "{n} Pages added.",
    fb_imported_next: "Choose \"Connect this Page\" on each Page to start receiving messages.",
    fb_access_denied: "You cancelled the Facebook Login, so no Page was added. Choose \"Add connection\" to try again.",
    fb_invalid_state: "The Facebook connection session was invalid or expired (it may have started in another browser or tab). Choose \"Add connection\" to start again.",
    fb_permissions_declined: "Not every permission was granted, so no Page was added. Missing permissions:",
    fb_permissions_again: "Choose \"Add connection\" and answer \"Yes\" to every permission.",
    fb_graph_error: "Facebook did not answer properly while listing the Pages. Retry in a few minutes.",
    fb_other: "The Facebook connection did not succeed.",
    fb_detail: "Details: {message}",
    dismiss: "Dismiss",
  },
});

/** What each permission lets the product do, in the words of Meta's dialog (the seed, step 3). */
const PERMISSIONS = {
  pages_messaging: { vi: "Quản lý và truy cập cuộc trò chuyện trên Trang trong Messenger", en: "Manage and access Page conversations in Messenger" },
  pages_manage_posts: { vi: "Tạo và quản lý nội dung trên Trang của bạn", en: "Create and manage content on your Page" },
  pages_manage_engagement: { vi: "Quản lý bình luận trên Trang của bạn", en: "Manage comments on your Page" },
  pages_read_engagement: { vi: "Đọc nội dung đã đăng lên Trang", en: "Read content posted on the Page" },
  pages_manage_metadata: { vi: "Quản lý tài khoản, cài đặt và webhook cho Trang", en: "Manage accounts, settings and webhooks for the Page" },
  pages_read_user_content: { vi: "Đọc nội dung của người dùng trên Trang", en: "Read user content on the Page" },
  pages_show_list: { vi: "Hiển thị danh sách các Trang bạn quản lý", en: "Show the list of Pages you manage" },
};

/** The banner for a pending login outcome (consumed: shown once), or null. */
export function facebookReturnBanner() {
  const raw = sessionStorage.getItem("fb_return");
  if (!raw) return null;
  sessionStorage.removeItem("fb_return");
  let o;
  try {
    o = JSON.parse(raw);
  } catch {
    return null;
  }
  const close = h("button", { type: "button", class: "btn btn-ghost btn-small banner-close", "aria-label": t("dismiss") }, "×");
  let el;
  if (o.result === "ok") {
    const n = Number.parseInt(o.imported || "0", 10) || 0;
    el = h("div", { class: "banner banner-ok", role: "status" }, close, h("p", {}, h("strong", {}, t("fb_imported", { n }))), n ? h("p", {}, t("fb_imported_next")) : null);
  } else {
    const code = o.error || "";
    const parts = [];
    if (code === "permissions_declined") {
      const missing = (o.missing || "").split(",").map((s) => s.trim()).filter(Boolean);
      parts.push(h("p", {}, h("strong", {}, t("fb_permissions_declined"))));
      if (missing.length) {
        parts.push(
          h("ul", { class: "missing" }, missing.map((m) => {
            const d = PERMISSIONS[m];
            return h("li", {}, d ? `${d[lang()] || d.vi} ` : "", h("code", {}, m));
          })),
        );
      } else if (o.message) parts.push(h("p", {}, t("fb_detail", { message: o.message })));
      parts.push(h("p", {}, t("fb_permissions_again")));
    } else {
      const key = { access_denied: "fb_access_denied", invalid_state: "fb_invalid_state", graph_error: "fb_graph_error" }[code] || "fb_other";
      parts.push(h("p", {}, h("strong", {}, t(key))));
      if (key === "fb_other" || key === "fb_graph_error") {
        if (o.message) parts.push(h("p", { class: "wrap" }, t("fb_detail", { message: o.message })));
      }
    }
    el = h("div", { class: "banner banner-error", role: "alert" }, close, ...parts);
  }
  close.addEventListener("click", () => el.remove());
  return el;
}
