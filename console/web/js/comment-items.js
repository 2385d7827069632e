// How *Hội thoại* words Page comments: one comment of a comment conversation (its author, text,
// states *Đã ẩn* / *Đã xóa* / *Đã chỉnh sửa* with the text before the edit on demand, and the
// actions the holder may take on a customer's comment), the post and the phone numbers a
// conversation shows, and the note on a Messenger conversation that a private reply started.
// The thread's behaviour (loading, polling, sending) is in comment-thread.js; this file only
// builds nodes and holds the strings, so both stay small.

import { t, register } from "./i18n.js";
import { h, formatTime, errorText } from "./ui.js";
import { replyErrorText } from "./inbox-bubbles.js";

/** Meta allows one private reply per comment, within 7 days of it (domain::comments). */
export const PRIVATE_REPLY_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** A comment conversation: by its `kind`, or by its id (`{page}_{author}_p{post}`) before it loads. */
export function isCommentConversation(c, id) {
  if (c && c.kind) return c.kind === "comment";
  return /_p\d+$/.test(String(id || ""));
}

/** Graph's post id is `{page}_{post}`: the post's own part is what tells posts apart. */
export function postLabel(postId) {
  const post = String(postId || "").split("_").pop();
  return post ? t("cmt.on_post", { post }) : t("cmt.on_a_post");
}

/** The conversation's phone numbers (null when none): `tel:` links, or plain text where the
 * line sits inside a button (a list row). */
export function phonesLine(phones, cls = "phones", links = true) {
  const list = Array.isArray(phones) ? phones.filter((p) => /^\+?\d{6,15}$/.test(String(p))) : [];
  if (!list.length) return null;
  const parts = [];
  list.forEach((p, i) => {
    if (i) parts.push(", ");
    parts.push(links ? h("a", { href: `tel:${p}`, class: "phone" }, p) : h("span", { class: "phone" }, p));
  });
  return h("span", { class: cls }, h("span", { class: "phones-label" }, t("cmt.phones")), " ", parts);
}

/** The note on a Messenger conversation a private reply started, linking the comment conversation. */
export function handoffNote(conv, hrefFor) {
  const hand = conv && conv.handoff;
  if (!hand || !hand.from_conversation_id) return null;
  return h("p", { class: "handoff-note" },
    t("cmt.handoff", { by: hand.by || "?" }), " ",
    h("a", { href: hrefFor(hand.from_conversation_id) }, t("cmt.handoff_link")));
}

/** The comment id the API's comment routes take. */
export const commentIdOf = (m) => m.comment_id || m.id;

/** Why this comment cannot get a private reply now ("" when it can). */
export function privateBlock(m, now = Date.now()) {
  if (m.private_replied) return t("cmt.pr_done");
  const at = Date.parse(m.sent_at);
  if (!Number.isNaN(at) && now - at > PRIVATE_REPLY_WINDOW_MS) return t("cmt.pr_old");
  return "";
}

/** A short quote of a comment for the reply box ("…" past 60 characters). */
export function excerpt(m) {
  const s = String((m && m.text) || "").replace(/\s+/g, " ").trim();
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

/**
 * The body of one comment (the thread keeps the <li> and its replies). `opts`: `tz`,
 * `name(m)` the author's name, `canAct`, `target` ({id, private}) the reply box's comment,
 * `showPrev` (the text before the edit is open), `error` (the last action's refusal),
 * `busy` (an action is under way), and the handlers `onReply`, `onPrivate`, `onHide`,
 * `onDelete`, `onTogglePrev`, `onResend`.
 */
export function commentBody(m, opts) {
  const out = m.direction === "out";
  const d = m.detail || {};
  const cid = commentIdOf(m);
  const marks = [];
  if (m.hidden) marks.push(h("span", { class: "pill pill-hidden" }, t("cmt.hidden")));
  if (m.removed) marks.push(h("span", { class: "pill pill-removed" }, t("cmt.removed")));
  if (m.edited) marks.push(h("span", { class: "pill pill-edited" }, t("cmt.edited")));
  if (m.private_replied) marks.push(h("span", { class: "pill pill-pr" }, t("cmt.pr_sent")));
  if (out && d.private) marks.push(h("span", { class: "pill pill-pr" }, t("cmt.pr_message")));
  const targeted = opts.target && opts.target.id === cid;
  if (targeted) marks.push(h("span", { class: "pill pill-target" }, opts.target.private ? t("cmt.target_private") : t("cmt.target_public")));

  const who = out ? (d.sent_by ? `${t("cmt.page")} · ${d.sent_by}` : t("cmt.page")) : opts.name(m);
  const parts = [
    h("p", { class: "cmt-head" },
      h("span", { class: "sr-only" }, out ? t("inbox.from_page") : t("inbox.from_customer")),
      h("span", { class: "cmt-author" }, who), " ",
      h("time", { datetime: m.sent_at, class: "cmt-time" }, formatTime(m.sent_at, opts.tz)),
      marks.length ? " " : null, marks),
    m.text
      ? h("p", { class: `msg-text${m.removed ? " cmt-removed-text" : ""}` }, m.text)
      : h("p", { class: "msg-text msg-muted" }, t("cmt.no_text")),
  ];
  if (m.edited && m.previous_text != null) {
    const prevId = `prev-${cid}`.replace(/[^\w-]/g, "");
    parts.push(h("button", {
      type: "button", class: "btn-link cmt-prev-toggle", "aria-expanded": String(!!opts.showPrev),
      "aria-controls": prevId, dataset: { action: "prev" }, onclick: () => opts.onTogglePrev(m),
    }, opts.showPrev ? t("cmt.prev_hide") : t("cmt.prev_show")));
    parts.push(h("p", { id: prevId, class: "cmt-prev", hidden: !opts.showPrev },
      h("span", { class: "cmt-prev-label" }, t("cmt.prev_label")), " ", m.previous_text));
  }
  if (out && (m.status === "failed" || m.status === "unknown")) {
    parts.push(h("p", { class: `msg-fate msg-fate-${m.status}` },
      m.status === "failed" ? t("inbox.failed") : t("inbox.unknown"), m.error ? `: ${m.error}` : ""));
    if (opts.canAct && m.text && opts.onResend) {
      parts.push(h("button", { type: "button", class: "btn btn-small", dataset: { action: "resend" }, onclick: () => opts.onResend(m) }, t("inbox.resend")));
    }
  }
  if (!out && opts.canAct && !m.removed) parts.push(actions(m, opts));
  parts.push(h("p", { class: "cmt-error", role: "alert" }, opts.error || ""));
  return h("div", { class: `cmt-body ${out ? "cmt-out" : "cmt-in"}${m.hidden ? " cmt-is-hidden" : ""}${m.removed ? " cmt-is-removed" : ""}${targeted ? " cmt-targeted" : ""}` }, parts);
}

function actions(m, opts) {
  const why = privateBlock(m);
  const whyId = `prwhy-${commentIdOf(m)}`.replace(/[^\w-]/g, "");
  const busy = !!opts.busy;
  return h("div", { class: "cmt-actions", role: "group", "aria-label": t("cmt.actions") },
    h("button", { type: "button", class: "btn btn-small", dataset: { action: "reply" }, onclick: () => opts.onReply(m) }, t("cmt.reply")),
    h("button", {
      type: "button", class: "btn btn-small", dataset: { action: "private" }, disabled: !!why, "aria-disabled": busy ? "true" : false,
      "aria-describedby": why ? whyId : false, onclick: () => opts.onPrivate(m),
    }, t("cmt.private")),
    m.hidden
      ? h("button", { type: "button", class: "btn btn-small", dataset: { action: "unhide" }, "aria-disabled": busy ? "true" : false, onclick: () => opts.onHide(m, false) }, t("cmt.unhide"))
      : h("button", { type: "button", class: "btn btn-small", dataset: { action: "hide" }, "aria-disabled": busy ? "true" : false, onclick: () => opts.onHide(m, true) }, t("cmt.hide")),
    h("button", { type: "button", class: "btn btn-small btn-danger-text", dataset: { action: "delete" }, "aria-disabled": busy ? "true" : false, onclick: () => opts.onDelete(m) }, t("cmt.delete")),
    why ? h("span", { id: whyId, class: "cmt-why" }, why) : null);
}

/** Why an action on a comment failed, in words (the admin API's codes). */
export function commentErrorText(e, conv, tz) {
  switch (e && e.code) {
    case "already_private_replied": return t("cmt.pr_done");
    case "outside_window": return t("cmt.pr_old");
    case "not_your_conversation":
    case "forbidden": return t("cmt.err_not_yours");
    case "not_found": return t("cmt.err_gone");
    case "invalid_reply_to": return t("cmt.err_reply_to");
    case "graph_error":
      return t("cmt.err_graph", { message: String(e.message || "").replace(/^(Facebook refused|Facebook did not accept the reply):\s*/, "") });
    case "network": return t("error_network");
    default: return e && e.status ? replyErrorText(e, conv, null, tz) : errorText(e);
  }
}

register({
  vi: {
    "cmt.mark": "Bình luận",
    "cmt.on_post": "Bình luận trên bài viết {post}",
    "cmt.on_a_post": "Bình luận trên một bài viết",
    "cmt.phones": "SĐT:",
    "cmt.handoff": "Hội thoại này bắt đầu từ tin nhắn riêng trả lời một bình luận (do {by} gửi).",
    "cmt.handoff_link": "Xem hội thoại bình luận",
    "cmt.from_comment": "Từ bình luận",
    "cmt.page": "Trang",
    "cmt.no_text": "(bình luận không có nội dung chữ)",
    "cmt.hidden": "Đã ẩn",
    "cmt.removed": "Đã xóa",
    "cmt.edited": "Đã chỉnh sửa",
    "cmt.pr_sent": "Đã nhắn tin riêng",
    "cmt.target_public": "Đang trả lời",
    "cmt.target_private": "Đang nhắn riêng",
    "cmt.prev_show": "Xem nội dung trước khi sửa",
    "cmt.prev_hide": "Ẩn nội dung trước khi sửa",
    "cmt.prev_label": "Trước khi sửa:",
    "cmt.actions": "Thao tác với bình luận",
    "cmt.reply": "Trả lời",
    "cmt.private": "Nhắn tin riêng",
    "cmt.hide": "Ẩn",
    "cmt.unhide": "Hiện",
    "cmt.delete": "Xóa",
    "cmt.pr_done": "Đã nhắn tin riêng cho bình luận này (Meta chỉ cho một lần).",
    "cmt.pr_old": "Bình luận đã quá 7 ngày: Meta không cho nhắn tin riêng nữa.",
    "cmt.err_not_yours": "Chỉ người phụ trách hội thoại (hoặc chủ cửa hàng, quản trị viên) mới làm được việc này.",
    "cmt.err_gone": "Không còn bình luận này (có thể đã bị xóa).",
    "cmt.err_reply_to": "Không trả lời được bình luận này (đã bị xóa trên Facebook, hoặc là bình luận của Trang).",
    "cmt.pr_message": "Tin nhắn riêng qua Messenger",
    "cmt.err_graph": "Facebook không chấp nhận: {message}",
  },
  en: {
    "cmt.mark": "Comment",
    "cmt.on_post": "Comments on post {post}",
    "cmt.on_a_post": "Comments on a post",
    "cmt.phones": "Phone:",
    "cmt.handoff": "This conversation started from a private reply to a comment (sent by {by}).",
    "cmt.handoff_link": "See the comment conversation",
    "cmt.from_comment": "From a comment",
    "cmt.page": "Page",
    "cmt.no_text": "(comment without text)",
    "cmt.hidden": "Hidden",
    "cmt.removed": "Deleted",
    "cmt.edited": "Edited",
    "cmt.pr_sent": "Private reply sent",
    "cmt.target_public": "Replying",
    "cmt.target_private": "Private reply",
    "cmt.prev_show": "Show the text before the edit",
    "cmt.prev_hide": "Hide the text before the edit",
    "cmt.prev_label": "Before the edit:",
    "cmt.actions": "Comment actions",
    "cmt.reply": "Reply",
    "cmt.private": "Private reply",
    "cmt.hide": "Hide",
    "cmt.unhide": "Unhide",
    "cmt.delete": "Delete",
    "cmt.pr_done": "This comment already has its private reply (Meta allows one).",
    "cmt.pr_old": "The comment is more than 7 days old: Meta no longer allows a private reply.",
    "cmt.err_not_yours": "Only the member handling this conversation (or an owner or admin) can do this.",
    "cmt.err_gone": "This comment is gone (it may have been deleted).",
    "cmt.err_reply_to": "This comment cannot be answered (it was deleted at Facebook, or it is the Page's own).",
    "cmt.pr_message": "Private message through Messenger",
    "cmt.err_graph": "Facebook did not accept it: {message}",
  },
});
