// *Tự động ẩn bình luận* on a connected Page's card (*Cấu hình kênh chat*): off, comments with
// a phone number, or every comment of a customer. Hiding keeps a customer's number away from
// competitors who read the Page; the shop still sees the text in *Hội thoại*. Radios and a
// *Lưu* button (not save-on-change): arrow keys move through a radio group, and each step
// must not be a PUT.

import { t, register } from "./i18n.js";
import { api } from "./api.js";
import { h, uid, errorText } from "./ui.js";

const CHOICES = [
  ["off", "ah.off"],
  ["phone", "ah.phone"],
  ["all", "ah.all"],
];

/** The setting for `page` as a fieldset; it loads itself (GET) and saves with PUT. */
export function autoHideSettings(page) {
  const path = `/api/pages/${encodeURIComponent(page.page_id)}/comment-settings`;
  const name = uid("autohide");
  const statusId = uid("ah-status");
  let saved = null;
  const inputs = CHOICES.map(([v]) => h("input", { type: "radio", id: uid("ah"), name, value: v, disabled: true }));
  const saveBtn = h("button", { type: "button", class: "btn btn-small", disabled: true, onclick: save }, t("save"));
  const status = h("p", { id: statusId, class: "ah-status", role: "status", "aria-live": "polite" }, t("loading"));
  const set = h("fieldset", { class: "field autohide", "aria-describedby": statusId, onchange: dirty },
    h("legend", {}, t("ah.title")),
    CHOICES.map(([, key], i) => h("label", { class: "check", for: inputs[i].id }, inputs[i], h("span", {}, t(key)))),
    h("div", { class: "ah-foot" }, saveBtn, status));

  const chosen = () => (inputs.find((i) => i.checked) || {}).value;

  function show(value) {
    saved = value;
    for (const i of inputs) {
      i.checked = i.value === value;
      i.disabled = false;
    }
    saveBtn.disabled = true;
  }

  function dirty() {
    saveBtn.disabled = chosen() === saved;
    status.textContent = chosen() === saved ? "" : t("ah.unsaved");
    status.classList.remove("ah-error");
  }

  async function load() {
    try {
      const r = await api("GET", path);
      show((r && r.auto_hide) || "off");
      status.textContent = "";
    } catch (e) {
      status.textContent = t("ah.load_failed", { why: errorText(e) });
      status.classList.add("ah-error");
      status.append(" ", h("button", { type: "button", class: "btn-link", onclick: () => { status.textContent = t("loading"); load(); } }, t("retry")));
    }
  }

  async function save() {
    const value = chosen();
    if (!value) return;
    saveBtn.disabled = true;
    status.classList.remove("ah-error");
    status.textContent = t("ah.saving");
    try {
      const r = await api("PUT", path, { auto_hide: value });
      show((r && r.auto_hide) || value);
      status.textContent = t("saved");
    } catch (e) {
      saveBtn.disabled = false;
      status.textContent = errorText(e);
      status.classList.add("ah-error");
    }
  }

  load();
  return set;
}

register({
  vi: {
    "ah.title": "Tự động ẩn bình luận",
    "ah.off": "Tắt",
    "ah.phone": "Bình luận có số điện thoại",
    "ah.all": "Tất cả bình luận",
    "ah.unsaved": "Chưa lưu.",
    "ah.saving": "Đang lưu…",
    "ah.load_failed": "Chưa tải được cài đặt ẩn bình luận ({why}).",
  },
  en: {
    "ah.title": "Hide comments automatically",
    "ah.off": "Off",
    "ah.phone": "Comments with a phone number",
    "ah.all": "All comments",
    "ah.unsaved": "Not saved yet.",
    "ah.saving": "Saving…",
    "ah.load_failed": "The comment hiding setting could not be loaded ({why}).",
  },
});
