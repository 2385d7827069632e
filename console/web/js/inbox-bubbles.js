// How the inbox words things: one message as a bubble (text, attachments, button presses,
// reactions, comments, a reply's fate), the read and delivery marks, the last message of a
// list row, and why a reply cannot go out (Meta's messaging window, the holder, the Page).
// Kept apart from thread.js so each file stays small; every string lives here or there.

import { t, register } from "./i18n.js";
import { h, formatTime, errorText } from "./ui.js";

const DAY_MS = 24 * 3600 * 1000;
const STANDARD_WINDOW_MS = DAY_MS; // domain::graph::reply_window: 24 h for any reply
const HUMAN_AGENT_WINDOW_MS = 7 * DAY_MS; // then 7 days with the Human Agent tag

/** Only web addresses become links or images (never `javascript:` or `data:`). */
function safeUrl(u) {
  try {
    const url = new URL(String(u), location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

const KIND_LABEL = {
  image: "inbox.att_image",
  video: "inbox.att_video",
  audio: "inbox.att_audio",
  file: "inbox.att_file",
  location: "inbox.att_location",
};

function attachment(a) {
  const type = (a && a.type) || "file";
  const p = (a && a.payload) || {};
  const url = safeUrl(p.url);
  const label = a && a.title ? a.title : t(KIND_LABEL[type] || "inbox.att_other");
  if (url && (type === "image" || p.sticker_id)) {
    return h("a", { class: "att att-image", href: url, target: "_blank", rel: "noopener noreferrer" },
      h("img", {
        src: url, alt: p.sticker_id ? t("inbox.att_sticker") : t("inbox.att_image"), loading: "lazy", decoding: "async",
        // A picture that cannot load (expired CDN link, offline) becomes a plain link.
        onerror: (e) => e.target.replaceWith(h("span", { class: "att-broken" }, t("inbox.att_image_broken"))),
      }));
  }
  if (url) {
    return h("a", { class: "att att-link", href: url, target: "_blank", rel: "noopener noreferrer" },
      label);
  }
  return h("span", { class: "att att-none" }, label);
}

const COMMENT_LABEL = {
  comment: "inbox.comment",
  comment_edited: "inbox.comment_edited",
  comment_removed: "inbox.comment_removed",
  comment_other: "inbox.comment",
};

/** The reaction a target shows: the emoji of the latest reaction, unless it was taken back. */
export function reactionOf(r) {
  if (!r || (r.detail && r.detail.action === "unreact")) return null;
  return r.text || (r.detail && r.detail.reaction) || null;
}

/**
 * One message as a list item. `opts`: `tz`, `reaction` (emoji on this message),
 * `resend(m)` for *Gửi lại* on a failed or unknown reply.
 */
export function messageBubble(m, opts) {
  const out = m.direction === "out";
  const d = m.detail || {};
  if (m.kind === "reaction") {
    const unreact = d.action === "unreact";
    return h("li", { class: "msg-note", "data-id": m.id },
      unreact ? t("inbox.unreacted") : t("inbox.reacted", { emoji: m.text || d.reaction || "" }),
      " · ", h("time", { datetime: m.sent_at }, formatTime(m.sent_at, opts.tz)));
  }
  const parts = [];
  if (m.kind === "postback") {
    parts.push(h("p", { class: "msg-label" }, h("span", { "aria-hidden": "true" }, "▶ "), t("inbox.postback")));
    parts.push(h("p", { class: "msg-text msg-button" }, m.text || ""));
  } else if (COMMENT_LABEL[m.kind]) {
    const who = d.from_name ? ` · ${d.from_name}` : "";
    parts.push(h("p", { class: "msg-label" }, t(COMMENT_LABEL[m.kind]) + who));
    if (m.text) parts.push(h("p", { class: "msg-text" }, m.text));
  } else if (m.text) {
    parts.push(h("p", { class: "msg-text" }, m.text));
  }
  const atts = Array.isArray(d.attachments) ? d.attachments : [];
  if (atts.length) parts.push(h("div", { class: "msg-atts" }, atts.map(attachment)));
  if (!parts.length) parts.push(h("p", { class: "msg-text msg-muted" }, t("inbox.empty_message")));
  if (opts.reaction) {
    parts.push(h("span", { class: "msg-reaction", title: t("inbox.reaction") },
      h("span", { class: "sr-only" }, t("inbox.reaction") + ": "), opts.reaction));
  }
  const meta = [h("time", { datetime: m.sent_at }, formatTime(m.sent_at, opts.tz))];
  if (out && d.sent_by) meta.push(" · ", h("span", { class: "msg-by" }, d.sent_by));
  if (out) meta.push(h("span", { class: "msg-status" }));
  const fate = [];
  if (out && (m.status === "failed" || m.status === "unknown")) {
    const failed = m.status === "failed";
    fate.push(h("p", { class: `msg-fate msg-fate-${m.status}` },
      failed ? t("inbox.failed") : t("inbox.unknown"), m.error ? `: ${m.error}` : ""));
    if (m.text && opts.resend) {
      fate.push(h("button", { type: "button", class: "btn btn-small msg-resend", onclick: () => opts.resend(m) }, t("inbox.resend")));
    }
  }
  return h("li", { class: `msg ${out ? "msg-out" : "msg-in"} msg-${m.kind}`, "data-id": m.id },
    h("span", { class: "sr-only" }, out ? t("inbox.from_page") : t("inbox.from_customer")),
    h("div", { class: "bubble" }, parts),
    h("p", { class: "msg-meta" }, meta),
    fate);
}

const ms = (iso) => (iso ? Date.parse(iso) : NaN);

/**
 * Marks the replies that went out: *Đã xem* on the latest one read (the conversation's read
 * watermark), *Đã nhận* on the latest delivered after it, *Đã gửi* on the last one if neither.
 */
export function applyMarks(entries, conv) {
  const sent = entries.filter((e) => e.m.direction === "out" && e.m.status === "sent");
  for (const e of sent) {
    const s = e.el.querySelector(".msg-status");
    if (s) s.textContent = "";
  }
  if (!sent.length) return;
  sent.sort((a, b) => ms(a.m.sent_at) - ms(b.m.sent_at));
  const read = ms(conv && conv.read_watermark_at);
  const delivered = ms(conv && conv.delivery_watermark_at);
  const lastWhere = (w) => [...sent].reverse().find((e) => ms(e.m.sent_at) <= w);
  const r = Number.isNaN(read) ? null : lastWhere(read);
  const dl = Number.isNaN(delivered) ? null : lastWhere(delivered);
  const last = sent[sent.length - 1];
  const mark = (e, key) => {
    const s = e && e.el.querySelector(".msg-status");
    if (s) s.textContent = ` · ${t(key)}`;
  };
  if (r) mark(r, "inbox.read");
  if (dl && dl !== r && (!r || ms(dl.m.sent_at) > ms(r.m.sent_at))) mark(dl, "inbox.delivered");
  if (last !== r && last !== dl) mark(last, "inbox.sent");
}

/** A list row's last message: its text, or what it was ("[Tệp đính kèm]"...). */
export function lastMessageText(lm) {
  if (!lm) return "";
  const who = lm.direction === "out" ? t("inbox.last_out") : "";
  let text;
  switch (lm.kind) {
    case "attachment": text = t("inbox.last_attachment"); break;
    case "postback": text = `${t("inbox.last_postback")} ${lm.text || ""}`; break;
    case "reaction": text = `${t("inbox.last_reaction")} ${lm.text || ""}`; break;
    case "comment": case "comment_edited": case "comment_other": text = `${t("inbox.last_comment")} ${lm.text || ""}`; break;
    case "comment_removed": text = t("inbox.comment_removed"); break;
    default: text = lm.text || t("inbox.last_attachment");
  }
  return who + text;
}

/**
 * Meta's window as the reply box explains it before a send, from the customer's last message
 * and the shop's Human Agent setting ("" while a plain reply is allowed). The API decides.
 */
export function windowNote(conv, settings, tz) {
  if (!conv) return "";
  const last = ms(conv.last_customer_message_at);
  if (Number.isNaN(last)) return t("inbox.window_never");
  const age = Date.now() - last;
  const time = formatTime(conv.last_customer_message_at, tz);
  if (age < STANDARD_WINDOW_MS) return "";
  if (age >= HUMAN_AGENT_WINDOW_MS) return t("inbox.window_closed", { time });
  const until = formatTime(new Date(last + HUMAN_AGENT_WINDOW_MS).toISOString(), tz);
  if (settings && settings.human_agent_tag) return t("inbox.window_tag_on", { time, until });
  if (settings) return t("inbox.window_tag_off", { time });
  return t("inbox.window_tag_unknown", { time });
}

/** Why a reply did not go out, in words (codes of functions/admin-api/src/error.rs). */
export function replyErrorText(e, conv, settings, tz) {
  const time = formatTime(conv && conv.last_customer_message_at, tz);
  const msg = (e && e.message) || "";
  switch (e && e.code) {
    case "outside_window":
      if (msg.startsWith("Meta refused")) return t("inbox.err_window_meta", { time: time || "?" });
      if (!time) return t("inbox.window_never");
      if (msg.includes("Human Agent")) return t("inbox.window_tag_off", { time });
      return t("inbox.window_closed", { time });
    case "not_your_conversation":
      return msg.includes("pool") ? t("inbox.why_pooled") : t("inbox.err_not_holder");
    case "page_not_held": return t("inbox.err_page_not_held");
    case "reconnect_required": return t("inbox.err_reconnect");
    case "recipient_unavailable": return t("inbox.err_recipient");
    case "rate_limited": return t("inbox.err_rate");
    case "graph_error": return t("inbox.err_graph", { message: msg.replace(/^Facebook did not accept the reply:\s*/, "") });
    case "invalid_text": return t("inbox.err_text");
    case "network": return t("inbox.err_network");
    case "unavailable": return t("inbox.err_unavailable");
    case "not_found": return t("inbox.thread_gone");
    default: return errorText(e);
  }
}

register({
  vi: {
    "inbox.att_image": "Ảnh khách gửi",
    "inbox.att_sticker": "Nhãn dán",
    "inbox.att_image_broken": "Ảnh (không tải được, bấm để mở)",
    "inbox.att_video": "Video",
    "inbox.att_audio": "Tin nhắn thoại",
    "inbox.att_file": "Tệp",
    "inbox.att_location": "Vị trí",
    "inbox.att_other": "Tệp đính kèm",
    "inbox.comment": "Bình luận",
    "inbox.comment_edited": "Bình luận đã sửa",
    "inbox.comment_removed": "Bình luận đã bị xóa",
    "inbox.postback": "Khách bấm nút",
    "inbox.reacted": "Khách bày tỏ cảm xúc {emoji} với một tin nhắn",
    "inbox.unreacted": "Khách bỏ cảm xúc với một tin nhắn",
    "inbox.reaction": "Cảm xúc của khách",
    "inbox.empty_message": "(tin nhắn không có nội dung)",
    "inbox.from_page": "Trang gửi: ",
    "inbox.from_customer": "Khách gửi: ",
    "inbox.read": "Đã xem",
    "inbox.delivered": "Đã nhận",
    "inbox.sent": "Đã gửi",
    "inbox.failed": "Không gửi được",
    "inbox.unknown": "Chưa rõ đã gửi tới khách chưa",
    "inbox.last_out": "Trang: ",
    "inbox.last_attachment": "[Tệp đính kèm]",
    "inbox.last_postback": "[Bấm nút]",
    "inbox.last_reaction": "[Cảm xúc]",
    "inbox.last_comment": "[Bình luận]",
    "inbox.window_never": "Khách chưa nhắn tin cho Trang: Meta chỉ cho trả lời sau khi khách nhắn.",
    "inbox.window_closed": "Cửa sổ trả lời đã đóng: tin cuối của khách lúc {time}, đã quá 7 ngày. Meta không cho trả lời cho tới khi khách nhắn lại.",
    "inbox.window_tag_off": "Cửa sổ 24 giờ đã đóng (tin cuối của khách lúc {time}) và thẻ Human Agent đang tắt, nên chưa trả lời được. Chủ cửa hàng có thể bật thẻ ở Cài đặt (trả lời được tới 7 ngày).",
    "inbox.window_tag_on": "Đã quá 24 giờ từ tin cuối của khách ({time}): trả lời sẽ gửi kèm thẻ Human Agent, được tới {until}.",
    "inbox.window_tag_unknown": "Đã quá 24 giờ từ tin cuối của khách ({time}): chỉ trả lời được nếu cửa hàng bật thẻ Human Agent (tới 7 ngày).",
    "inbox.err_window_meta": "Meta từ chối tin trả lời vì cửa sổ nhắn tin đã đóng (tin cuối của khách lúc {time}).",
    "inbox.err_not_holder": "Chỉ người phụ trách hội thoại mới trả lời được (hội thoại có thể vừa được giao cho người khác).",
    "inbox.err_page_not_held": "Cửa hàng không còn giữ kết nối với Trang này (chưa kết nối ở đây, hoặc cửa hàng khác đã kết nối). Kết nối lại Trang ở Cấu hình kênh chat.",
    "inbox.err_reconnect": "Trang cần được kết nối lại (mã truy cập không còn dùng được). Vào Cấu hình kênh chat để kết nối lại.",
    "inbox.err_recipient": "Khách này hiện không nhận được tin qua Messenger.",
    "inbox.err_rate": "Facebook đang giới hạn số tin của Trang. Đợi ít phút rồi thử lại.",
    "inbox.err_graph": "Facebook không nhận tin trả lời: {message}",
    "inbox.err_text": "Nội dung trả lời phải từ 1 đến 2000 ký tự.",
    "inbox.err_network": "Mất kết nối: chưa rõ tin đã gửi chưa. Bấm Gửi lần nữa với cùng nội dung: tin sẽ không bị gửi hai lần.",
    "inbox.err_unavailable": "Máy chủ tạm thời gián đoạn. Bấm Gửi lần nữa với cùng nội dung: tin sẽ không bị gửi hai lần.",
  },
  en: {
    "inbox.att_image": "Image from the customer",
    "inbox.att_sticker": "Sticker",
    "inbox.att_image_broken": "Image (could not load; open it)",
    "inbox.att_video": "Video",
    "inbox.att_audio": "Voice message",
    "inbox.att_file": "File",
    "inbox.att_location": "Location",
    "inbox.att_other": "Attachment",
    "inbox.comment": "Comment",
    "inbox.comment_edited": "Edited comment",
    "inbox.comment_removed": "Comment removed",
    "inbox.postback": "The customer pressed a button",
    "inbox.reacted": "The customer reacted {emoji} to a message",
    "inbox.unreacted": "The customer removed a reaction",
    "inbox.reaction": "Customer's reaction",
    "inbox.empty_message": "(empty message)",
    "inbox.from_page": "Page wrote: ",
    "inbox.from_customer": "Customer wrote: ",
    "inbox.read": "Seen",
    "inbox.delivered": "Delivered",
    "inbox.sent": "Sent",
    "inbox.failed": "Not sent",
    "inbox.unknown": "Not known whether it reached the customer",
    "inbox.last_out": "Page: ",
    "inbox.last_attachment": "[Attachment]",
    "inbox.last_postback": "[Button]",
    "inbox.last_reaction": "[Reaction]",
    "inbox.last_comment": "[Comment]",
    "inbox.window_never": "The customer has not written to the Page: Meta allows replies only after they write.",
    "inbox.window_closed": "The reply window is closed: the customer last wrote at {time}, more than 7 days ago. Meta allows no reply until they write again.",
    "inbox.window_tag_off": "The 24-hour window is closed (the customer last wrote at {time}) and the Human Agent tag is off, so no reply can be sent. An owner can turn the tag on in Settings (replies up to 7 days).",
    "inbox.window_tag_on": "More than 24 hours since the customer last wrote ({time}): replies go with the Human Agent tag, until {until}.",
    "inbox.window_tag_unknown": "More than 24 hours since the customer last wrote ({time}): a reply needs the shop's Human Agent tag (up to 7 days).",
    "inbox.err_window_meta": "Meta refused the reply because the messaging window is closed (the customer last wrote at {time}).",
    "inbox.err_not_holder": "Only the member handling this conversation can reply (it may just have been given to someone else).",
    "inbox.err_page_not_held": "This shop no longer holds the Page (it is not connected here, or another shop connected it). Connect the Page again in Channel settings.",
    "inbox.err_reconnect": "The Page must be connected again (its access token no longer works). Go to Channel settings.",
    "inbox.err_recipient": "This customer cannot be reached on Messenger right now.",
    "inbox.err_rate": "Facebook is rate limiting this Page. Wait a few minutes and retry.",
    "inbox.err_graph": "Facebook did not accept the reply: {message}",
    "inbox.err_text": "A reply must be 1 to 2000 characters.",
    "inbox.err_network": "Connection lost: it is not known whether the reply went out. Press Send again with the same text: it will not be sent twice.",
    "inbox.err_unavailable": "The server is temporarily unavailable. Press Send again with the same text: it will not be sent twice.",
  },
});
