// Translations: each module registers its own strings at import; Vietnamese (the seed's words,
// verbatim) is the default, English a faithful translation. Missing keys fall back to
// Vietnamese, then to the key itself, so a forgotten string is visible but never crashes.

const dicts = { vi: {}, en: {} };
let current = (() => {
  try {
    const l = localStorage.getItem("lang");
    return l === "en" ? "en" : "vi";
  } catch {
    return "vi";
  }
})();
document.documentElement.lang = current;

/** Adds strings: `{vi: {key: "..."}, en: {key: "..."}}`. */
export function register(dict) {
  for (const l of Object.keys(dict)) Object.assign((dicts[l] ||= {}), dict[l]);
}

/** The string for `key` in the current language, `{name}` replaced from `params`. */
export function t(key, params) {
  const s = dicts[current][key] ?? dicts.vi[key] ?? key;
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

export function lang() {
  return current;
}

/** Switches language, remembers it, and tells every screen (`langchange`) to re-render. */
export function setLang(l) {
  current = l === "en" ? "en" : "vi";
  try {
    localStorage.setItem("lang", current);
  } catch {
    /* private mode: the switch still works for this page */
  }
  document.documentElement.lang = current;
  window.dispatchEvent(new Event("langchange"));
}

register({
  vi: {
    app_name: "Chat đa kênh",
    loading: "Đang tải…",
    retry: "Thử lại",
    error_generic: "Đã có lỗi xảy ra.",
    error_network: "Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.",
    empty: "Chưa có gì ở đây.",
    cancel: "Hủy",
    close: "Đóng",
    ok: "Đồng ý",
    save: "Lưu",
    delete: "Xóa",
    edit: "Sửa",
    continue: "Tiếp tục",
    saved: "Đã lưu.",
  },
  en: {
    app_name: "Multi-channel chat",
    loading: "Loading…",
    retry: "Retry",
    error_generic: "Something went wrong.",
    error_network: "Cannot reach the server. Check the network and retry.",
    empty: "Nothing here yet.",
    cancel: "Cancel",
    close: "Close",
    ok: "OK",
    save: "Save",
    delete: "Delete",
    edit: "Edit",
    continue: "Continue",
    saved: "Saved.",
  },
});
