// Small DOM helpers shared by every screen. Data only ever enters the page as text nodes or
// attribute values (never innerHTML), so a customer's or Page's name cannot inject markup.

import { t, register } from "./i18n.js";

/**
 * `h("button", {class: "btn", onclick: fn, "aria-label": "…"}, "text", child, [more])`.
 * Attributes: `class`, `on<event>` (listeners), booleans (true sets, false/null omits),
 * `dataset` (object); anything else via setAttribute. Children: nodes, strings, arrays, null.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" && "value" in el) el.value = v;
    else if (k === "checked" || k === "selected" || k === "disabled") el[k] = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let idSeq = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "u") {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

let toastBox = null;
/** A short message in a live region (`kind`: "ok" | "error" | "info"), gone after 5 s. */
export function toast(text, kind = "ok") {
  if (!toastBox || !document.body.contains(toastBox)) {
    toastBox = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const el = h("div", { class: `toast toast-${kind}` }, text);
  toastBox.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 5000);
  return el;
}

/**
 * A modal <dialog> built from `content` (nodes); `labelId` names the heading that labels it.
 * The browser's modal dialog makes the rest inert (focus stays inside) and Esc fires `cancel`.
 * Returns the dialog; it removes itself from the page when closed.
 */
export function modal(labelId, ...content) {
  const d = h("dialog", { class: "dialog", "aria-labelledby": labelId }, ...content);
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

/** Asks a yes/no question in a <dialog>; resolves true only on the confirm button. */
export function confirmDialog({ title, text, ok, cancel, danger = true }) {
  return new Promise((resolve) => {
    const id = uid("dlg");
    let answer = false;
    const okBtn = h("button", { type: "button", class: danger ? "btn btn-danger" : "btn btn-primary" }, ok || t("ok"));
    const cancelBtn = h("button", { type: "button", class: "btn" }, cancel || t("cancel"));
    const d = modal(
      id,
      h("h2", { id }, title),
      text ? h("p", {}, text) : null,
      h("div", { class: "dialog-actions" }, cancelBtn, okBtn),
    );
    okBtn.addEventListener("click", () => {
      answer = true;
      d.close();
    });
    cancelBtn.addEventListener("click", () => d.close());
    d.addEventListener("close", () => resolve(answer));
    cancelBtn.focus();
  });
}

const formatters = new Map();
/** "dd-mm-yyyy HH:mm" in the shop's time zone (config.time_zone); "" for no date. */
export function formatTime(iso, tz = "Asia/Ho_Chi_Minh") {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-GB", {
        timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    } catch {
      f = new Intl.DateTimeFormat("en-GB", {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    }
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.day}-${p.month}-${p.year} ${p.hour}:${p.minute}`;
}

/**
 * Shows `message` under `input` (aria-invalid + aria-describedby), or clears it when
 * `message` is empty. `input` may be a fieldset (checkbox groups). Returns the message node.
 */
export function fieldError(input, message) {
  const errId = `${input.id || (input.id = uid("f"))}-err`;
  let el = document.getElementById(errId);
  if (!message) {
    input.removeAttribute("aria-invalid");
    if (el) el.remove();
    const rest = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== errId);
    if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
    else input.removeAttribute("aria-describedby");
    return null;
  }
  if (!el) {
    el = h("p", { id: errId, class: "field-error" });
    const anchor = input.closest(".field") || input;
    anchor.append(el);
  }
  el.textContent = message;
  input.setAttribute("aria-invalid", "true");
  const ids = new Set((input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
  ids.add(errId);
  input.setAttribute("aria-describedby", [...ids].join(" "));
  return el;
}

/** Loading / empty / error blocks, the same on every screen. */
export const states = {
  loading(text) {
    return h("p", { class: "state state-loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text || t("loading"));
  },
  empty(text, ...extra) {
    return h("div", { class: "state state-empty" }, h("p", {}, text || t("empty")), ...extra);
  },
  error(err, retry) {
    return h(
      "div",
      { class: "state state-error", role: "alert" },
      h("p", {}, errorText(err)),
      retry ? h("button", { type: "button", class: "btn", onclick: retry }, t("retry")) : null,
    );
  },
};

/** A sentence for an error in the user's language: ours for known codes, else the API's. */
export function errorText(err) {
  if (!err) return t("error_generic");
  if (err.code === "network") return t("error_network");
  const key = `err_${err.code}`;
  const own = t(key);
  if (own !== key) return own;
  return err.message || t("error_generic");
}

register({
  vi: {
    err_forbidden: "Bạn không có quyền làm việc này.",
    err_not_a_member: "Tài khoản của bạn không thuộc cửa hàng này.",
    err_not_found: "Không tìm thấy (có thể đã bị xóa).",
    err_rate_limited: "Quá nhiều yêu cầu. Đợi một chút rồi thử lại.",
    err_unavailable: "Dịch vụ tạm thời gián đoạn. Thử lại sau.",
    err_conflict: "Dữ liệu vừa thay đổi ở nơi khác. Tải lại rồi thử lại.",
  },
  en: {
    err_forbidden: "You are not allowed to do this.",
    err_not_a_member: "Your account is not a member of this shop.",
    err_not_found: "Not found (it may have been deleted).",
    err_rate_limited: "Too many requests. Wait a moment and retry.",
    err_unavailable: "The service is temporarily unavailable. Retry later.",
    err_conflict: "The data just changed elsewhere. Reload and retry.",
  },
});
