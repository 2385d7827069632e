// One comment conversation of *Hội thoại* (a customer's comments on one post of a Page): the
// comments as a thread, the Page's replies under the comment they answer; per customer comment
// *Trả lời* (the reply box targets it), *Nhắn tin riêng* (the one private reply, through
// Messenger), *Ẩn* / *Hiện*, *Xóa* (after a confirmation); *Nhận chat* on a pooled one. Like
// the Messenger thread (thread.js) it polls every 3 s and changes only what changed, keyed by
// id, so focus and scroll stay where they are.

import { t, register } from "./i18n.js";
import { api, ApiError } from "./api.js";
import { h, states, errorText, uid, confirmDialog, toast } from "./ui.js";
import { byTime, customerName, isManager, loadFailed, newKey, poller, pressClaim } from "./thread.js";
import { commentBody, commentErrorText, commentIdOf, excerpt, postLabel, phonesLine, privateBlock } from "./comment-items.js";

const POLL_MS = 3000;
const PAGE = 50;

/** Same contract as thread.js's openThread: fills `root`, returns the cleanup (with `refreshHead`). */
export function openCommentThread(root, ctx, id, opts = {}) {
  const me = ctx.me || {};
  const tz = (ctx.config && ctx.config.time_zone) || "Asia/Ho_Chi_Minh";
  const base = `/api/conversations/${encodeURIComponent(id)}`;
  const aborter = new AbortController();
  const signal = aborter.signal;
  const headId = uid("thread-h");
  const boxId = uid("cmt-reply");
  const reasonId = uid("cmt-why");
  let conv = null;
  let olderCursor = null;
  let poll = null;
  let sending = false;
  let key = null; // Idempotency-Key of the text being sent, kept while its fate is unknown
  let keySig = null;
  let target = null; // {id: comment id, private: bool} chosen by the agent; null: the latest
  /** message id -> {m, li, body}; reply_id -> message id (replies before Meta's comment id). */
  const shown = new Map();
  const byReply = new Map();
  const ui = new Map(); // comment id -> {error, busy, showPrev}

  const title = h("h2", { id: headId, class: "thread-name" }, t("loading"));
  const sub = h("p", { class: "thread-sub" });
  const phones = h("p", { class: "thread-phones" });
  const claimBtn = h("button", { type: "button", class: "btn btn-primary thread-claim", hidden: true, onclick: claim }, t("inbox.claim"));
  const back = h("button", { type: "button", class: "btn thread-back", onclick: () => opts.onBack && opts.onBack() },
    h("span", { "aria-hidden": "true" }, "‹ "), t("inbox.back"));
  const notice = h("p", { class: "thread-notice", role: "status", "aria-live": "polite" });
  const olderBtn = h("button", { type: "button", class: "btn btn-small thread-older", hidden: true, onclick: loadOlder }, t("cmt.older"));
  const list = h("ol", { class: "cmts" });
  const scroller = h("div", { class: "thread-scroll", role: "log", tabindex: "0", "aria-label": t("cmt.comments") }, olderBtn, list);
  const targetLine = h("p", { class: "cmt-target-line", "aria-live": "polite" });
  const publicBtn = h("button", { type: "button", class: "btn btn-small", hidden: true, onclick: () => choose(target && target.id, false) }, t("cmt.back_public"));
  const reason = h("p", { id: reasonId, class: "reply-reason" });
  const label = h("label", { for: boxId, class: "reply-label" }, t("cmt.reply_label"));
  const box = h("textarea", { id: boxId, class: "reply-input", rows: "2", maxlength: "2000", "aria-describedby": reasonId, onkeydown: onKey });
  const sendBtn = h("button", { type: "submit", class: "btn btn-primary reply-send" }, t("inbox.send"));
  const replyErr = h("p", { class: "reply-error", role: "alert" });
  const form = h("form", { class: "reply", novalidate: true, onsubmit: (e) => { e.preventDefault(); send(box.value); } },
    label, h("div", { class: "cmt-target" }, targetLine, publicBtn), reason,
    h("div", { class: "reply-row" }, box, sendBtn), replyErr);
  const body = h("div", { class: "thread-body" }, states.loading());
  root.replaceChildren(h("section", { class: "thread thread-comments", role: "region", "aria-labelledby": headId },
    h("header", { class: "thread-head" }, back, h("div", { class: "thread-title" }, title, sub, phones), claimBtn),
    notice, body));

  load();

  async function load() {
    body.replaceChildren(states.loading());
    try {
      const [c, page] = await Promise.all([
        api("GET", base, undefined, { signal }),
        api("GET", `${base}/messages?limit=${PAGE}`, undefined, { signal }),
      ]);
      conv = c;
      olderCursor = page.next_cursor || null;
      shown.clear();
      byReply.clear();
      list.replaceChildren();
      for (const m of page.items || []) upsert(m, false);
      layout();
      body.replaceChildren(scroller, form);
      showHead();
      olderBtn.hidden = !olderCursor;
      scroller.scrollTop = scroller.scrollHeight;
      if (!poll) poll = poller(tick, POLL_MS, (ok) => { notice.textContent = ok ? "" : t("inbox.reconnecting"); });
    } catch (e) {
      loadFailed(e, title, body, load);
    }
  }

  async function tick() {
    let c;
    try {
      c = await api("GET", base, undefined, { signal });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return gone();
      throw e;
    }
    const page = await api("GET", `${base}/messages?limit=${PAGE}`, undefined, { signal });
    const changed = JSON.stringify([c.assignee, c.pool_rule_id, c.phones]) !== JSON.stringify([conv.assignee, conv.pool_rule_id, conv.phones]);
    conv = c;
    if (changed) showHead();
    const items = page.items || [];
    if (shown.size && items.length >= PAGE && !items.some((m) => shown.has(m.id) || byReply.has(m.reply_id))) return load();
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    let added = false;
    for (const m of items) added = upsert(m, false) || added;
    layout();
    if (added && nearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function gone() {
    poll && poll.stop();
    notice.textContent = t("inbox.thread_gone");
    form.hidden = true;
    claimBtn.hidden = true;
    opts.onChanged && opts.onChanged(null, id);
  }

  // ---- the comments ----
  const canAct = () => !!conv && (isManager(me) || conv.assignee === me.email);
  const nameOf = (m) => (m.detail && m.detail.from_name) || customerName(conv);

  /** Adds or updates a message (redrawn only when it changed); true when it is new. */
  function upsert(m, relayout = true) {
    const oldId = shown.has(m.id) ? m.id : m.reply_id && byReply.get(m.reply_id);
    const old = oldId && shown.get(oldId);
    if (m.reply_id) byReply.set(m.reply_id, m.id);
    if (old) {
      if (oldId !== m.id) {
        shown.delete(oldId);
        shown.set(m.id, old);
        old.li.dataset.id = m.id;
      }
      if (JSON.stringify(old.m) !== JSON.stringify(m)) {
        old.m = m;
        redraw(m.id);
      }
      if (relayout) layout();
      return false;
    }
    const entry = { m, li: h("li", { class: "cmt", dataset: { id: m.id } }), body: null, replies: h("ol", { class: "cmt-replies" }) };
    shown.set(m.id, entry);
    redraw(m.id);
    entry.li.append(entry.replies);
    if (relayout) layout();
    return true;
  }

  /** Rebuilds one comment's body, keeping its replies and the focused action. */
  function redraw(mid) {
    const e = shown.get(mid);
    const m = e.m;
    const cid = commentIdOf(m);
    const st = ui.get(cid) || {};
    const focused = e.body && e.body.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const el = commentBody(m, {
      tz, name: nameOf, canAct: canAct(), target: currentTarget(), showPrev: st.showPrev, error: st.error, busy: st.busy,
      onReply: (x) => choose(commentIdOf(x), false), onPrivate: (x) => choose(commentIdOf(x), true),
      onHide, onDelete, onResend,
      onTogglePrev: (x) => setUi(commentIdOf(x), { showPrev: !st.showPrev }),
    });
    if (e.body) e.body.replaceWith(el);
    else e.li.prepend(el);
    e.body = el;
    if (focused) {
      const swap = { hide: "unhide", unhide: "hide" }[focused];
      const to = el.querySelector(`[data-action="${focused}"]:not([disabled])`) ||
        (swap && el.querySelector(`[data-action="${swap}"]`)) || el.querySelector("button:not([disabled])") || scroller;
      to.focus({ preventScroll: true });
    }
  }

  function redrawAll() {
    for (const mid of shown.keys()) redraw(mid);
  }

  function setUi(cid, patch) {
    ui.set(cid, { ...(ui.get(cid) || {}), ...patch });
    for (const [mid, e] of shown) if (commentIdOf(e.m) === cid) redraw(mid);
  }

  /** Puts every comment under its parent (top level when the parent is the post or not here),
   * oldest first, moving only nodes out of place (moving a node would drop focus). */
  function layout() {
    const byCid = new Map([...shown.values()].map((e) => [commentIdOf(e.m), e]));
    const kids = new Map();
    for (const e of shown.values()) {
      // A reply not yet settled as a comment, and a private reply, name their comment in `detail`.
      const parent = e.m.parent_id || (e.m.detail && e.m.detail.reply_to);
      const p = parent && parent !== commentIdOf(e.m) ? byCid.get(parent) : null;
      const into = p ? p.replies : list;
      if (!kids.has(into)) kids.set(into, []);
      kids.get(into).push(e);
    }
    const active = document.activeElement;
    for (const [into, entries] of kids) {
      entries.sort((a, b) => byTime(a.m, b.m));
      let prev = null;
      for (const e of entries) {
        const want = prev ? prev.nextElementSibling : into.firstElementChild;
        if (e.li !== want) into.insertBefore(e.li, want);
        prev = e.li;
      }
    }
    if (active && active !== document.activeElement && document.contains(active)) active.focus({ preventScroll: true });
    const empty = list.querySelector(":scope > .msg-empty");
    if (!shown.size && !empty) list.append(h("li", { class: "msg-empty" }, t("cmt.none")));
    else if (shown.size && empty) empty.remove();
    showTarget();
  }

  async function loadOlder() {
    if (!olderCursor) return;
    olderBtn.disabled = true;
    try {
      const page = await api("GET", `${base}/messages?limit=${PAGE}&cursor=${encodeURIComponent(olderCursor)}`, undefined, { signal });
      const before = scroller.scrollHeight;
      const top = scroller.scrollTop;
      for (const m of page.items || []) upsert(m, false);
      layout();
      olderCursor = page.next_cursor || null;
      scroller.scrollTop = top + (scroller.scrollHeight - before);
    } catch (e) {
      if (e && e.name === "AbortError") return;
      notice.textContent = errorText(e);
    } finally {
      olderBtn.disabled = false;
      olderBtn.hidden = !olderCursor;
    }
  }

  // ---- the reply box ----
  /** The customer comments the box may answer: theirs, not removed. */
  const answerable = () => [...shown.values()].map((e) => e.m).filter((m) => m.direction === "in" && !m.removed).sort(byTime);

  /** The comment the box answers: the agent's choice while it stands, else the latest one. */
  function currentTarget() {
    const list = answerable();
    const chosen = target && list.find((m) => commentIdOf(m) === target.id);
    if (chosen) return { id: target.id, private: target.private, m: chosen };
    const last = list[list.length - 1];
    return last ? { id: commentIdOf(last), private: false, m: last } : null;
  }

  function choose(cid, priv) {
    if (!cid) return;
    target = { id: cid, private: !!priv };
    replyErr.textContent = "";
    showTarget();
    box.focus();
  }

  let marked = null; // "id|private" of the comment marked as the box's target
  function showTarget() {
    const tg = currentTarget();
    const mark = tg ? `${tg.id}|${tg.private}` : null;
    if (mark !== marked) {
      const ids = new Set([marked && marked.split("|")[0], tg && tg.id]);
      marked = mark;
      for (const [mid, e] of shown) if (ids.has(commentIdOf(e.m))) redraw(mid);
    }
    const priv = !!(tg && tg.private);
    const who = tg ? nameOf(tg.m) : "";
    label.textContent = priv ? t("cmt.private_label", { name: who }) : t("cmt.reply_label");
    targetLine.textContent = tg ? t(priv ? "cmt.target_line_private" : "cmt.target_line", { name: who, text: excerpt(tg.m) }) : "";
    publicBtn.hidden = !priv;
    sendBtn.textContent = sending ? t("inbox.sending") : priv ? t("cmt.send_private") : t("inbox.send");
    const block = replyBlock(tg);
    box.disabled = !!block;
    sendBtn.disabled = !!block || sending;
    reason.textContent = block;
    reason.classList.toggle("reply-reason-warn", !!block);
  }

  function replyBlock(tg) {
    if (!conv) return t("loading");
    if (!canAct()) {
      if (!conv.assignee && conv.pool_rule_id) return t("inbox.why_pooled");
      if (conv.assignee) return t("inbox.why_not_holder", { email: conv.assignee });
      return t("inbox.why_unassigned");
    }
    if (!tg) return t("cmt.nothing_to_answer");
    if (tg.private) return privateBlock(tg.m);
    return "";
  }

  function onKey(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send(box.value);
    }
  }

  async function send(text, fresh = false, to = null) {
    if (sending || (box.disabled && !to)) return;
    const tg = to || currentTarget();
    if (!tg) return;
    replyErr.textContent = "";
    if (!text.trim()) {
      replyErr.textContent = t("inbox.err_empty");
      box.focus();
      return;
    }
    const payload = { text, reply_to: tg.id };
    if (tg.private) payload.private = true;
    const sig = JSON.stringify(payload);
    if (fresh || !key || keySig !== sig) {
      key = newKey();
      keySig = sig;
    }
    sending = true;
    showTarget();
    try {
      const m = await api("POST", `${base}/messages`, payload, { headers: { "Idempotency-Key": key }, signal });
      key = null;
      if (!to) box.value = "";
      if (tg.private) {
        const e = [...shown.values()].find((x) => commentIdOf(x.m) === tg.id);
        if (e) upsert({ ...e.m, private_replied: true });
        target = { id: tg.id, private: false };
        notice.textContent = t("cmt.pr_ok", { name: nameOf(tg.m) });
      }
      if (m && m.id) upsert(m);
      opts.onChanged && opts.onChanged(conv, id);
      poll && poll.now();
    } catch (e) {
      if (e && e.name === "AbortError") return;
      const reply = e.details && e.details.reply;
      if (reply && reply.id) {
        key = null;
        if (!to) box.value = "";
        upsert(reply);
      }
      replyErr.textContent = reply && reply.status === "unknown" ? t("inbox.err_unknown") : commentErrorText(e, conv, tz);
      if (e.code === "already_private_replied") poll && poll.now();
    } finally {
      sending = false;
      showTarget();
    }
  }

  /** *Gửi lại* on a failed public reply: the agent's explicit choice, a new key. */
  async function onResend(m) {
    if (m.status === "unknown") {
      const ok = await confirmDialog({ title: t("inbox.resend_title"), text: t("inbox.resend_unknown"), ok: t("inbox.resend"), cancel: t("cancel"), danger: false });
      if (!ok) return;
    }
    const d = m.detail || {};
    const to = m.parent_id || d.reply_to;
    const parent = [...shown.values()].map((e) => e.m).find((x) => commentIdOf(x) === to);
    if (to) send(m.text || "", true, { id: to, private: !!d.private, m: parent || m });
  }

  // ---- hide, unhide, delete ----
  async function act(m, method, path) {
    const cid = commentIdOf(m);
    if ((ui.get(cid) || {}).busy) return false;
    setUi(cid, { busy: true, error: "" });
    try {
      const fresh = await api(method, `/api/comments/${encodeURIComponent(cid)}${path}`, undefined, { signal });
      setUi(cid, { busy: false });
      if (fresh && fresh.id) upsert({ ...m, ...fresh });
      return true;
    } catch (e) {
      if (e && e.name === "AbortError") return false;
      setUi(cid, { busy: false, error: commentErrorText(e, conv, tz) });
      return false;
    }
  }

  function onHide(m, hide) {
    act(m, "POST", hide ? "/hide" : "/unhide").then((ok) => ok && toast(hide ? t("cmt.hidden_ok") : t("cmt.unhidden_ok")));
  }

  async function onDelete(m) {
    const yes = await confirmDialog({ title: t("cmt.delete_title"), text: t("cmt.delete_text", { text: excerpt(m) }), ok: t("cmt.delete") });
    if (!yes) {
      const e = shown.get(m.id);
      e && e.body.querySelector('[data-action="delete"]')?.focus();
      return;
    }
    if (await act(m, "DELETE", "")) toast(t("cmt.deleted_ok"));
  }

  // ---- the head ----
  function showHead() {
    if (!conv) return;
    title.textContent = customerName(conv);
    const page = (opts.pageName && opts.pageName(conv.page_id)) || conv.page_id;
    const who = conv.assignee
      ? t("inbox.held_by", { email: conv.assignee === me.email ? t("inbox.you") : conv.assignee })
      : conv.pool_rule_id ? t("inbox.pooled") : t("inbox.unassigned");
    sub.textContent = `${page} · ${postLabel(conv.post_id)} · ${who}`;
    phones.replaceChildren(phonesLine(conv.phones) || "");
    claimBtn.hidden = !(conv.pool_rule_id && !conv.assignee);
    redrawAll();
    showTarget();
  }

  async function claim() {
    const r = await pressClaim(base, signal, notice, claimBtn);
    if (r.aborted) return;
    if (r.conv) {
      conv = r.conv;
      showHead();
      opts.onChanged && opts.onChanged(conv, id);
      box.focus();
      return;
    }
    opts.onChanged && opts.onChanged(conv, id);
    poll && poll.now();
  }

  const close = () => {
    poll && poll.stop();
    aborter.abort();
  };
  close.refreshHead = showHead;
  return close;
}

register({
  vi: {
    "cmt.comments": "Bình luận",
    "cmt.older": "Tải bình luận cũ hơn",
    "cmt.none": "Chưa có bình luận nào.",
    "cmt.reply_label": "Trả lời công khai",
    "cmt.private_label": "Nhắn tin riêng cho {name} (qua Messenger)",
    "cmt.target_line": "Trả lời bình luận của {name}: “{text}”",
    "cmt.target_line_private": "Tin nhắn riêng về bình luận: “{text}”. Meta chỉ cho một tin cho mỗi bình luận.",
    "cmt.back_public": "Trả lời công khai thay vào đó",
    "cmt.send_private": "Gửi tin riêng",
    "cmt.nothing_to_answer": "Không còn bình luận nào của khách để trả lời.",
    "cmt.pr_ok": "Đã gửi tin nhắn riêng cho {name}. Khi khách trả lời trong Messenger, hội thoại đó sẽ về bạn.",
    "cmt.hidden_ok": "Đã ẩn bình luận.",
    "cmt.unhidden_ok": "Đã hiện lại bình luận.",
    "cmt.deleted_ok": "Đã xóa bình luận.",
    "cmt.delete_title": "Xóa bình luận này?",
    "cmt.delete_text": "Bình luận “{text}” sẽ bị xóa khỏi bài viết trên Facebook và không khôi phục được. Nội dung vẫn được lưu ở đây.",
  },
  en: {
    "cmt.comments": "Comments",
    "cmt.older": "Load older comments",
    "cmt.none": "No comments yet.",
    "cmt.reply_label": "Public reply",
    "cmt.private_label": "Private reply to {name} (through Messenger)",
    "cmt.target_line": "Replying to {name}'s comment: “{text}”",
    "cmt.target_line_private": "Private message about the comment: “{text}”. Meta allows one per comment.",
    "cmt.back_public": "Reply publicly instead",
    "cmt.send_private": "Send privately",
    "cmt.nothing_to_answer": "There is no comment of the customer left to answer.",
    "cmt.pr_ok": "Private reply sent to {name}. When they answer in Messenger, that conversation comes to you.",
    "cmt.hidden_ok": "Comment hidden.",
    "cmt.unhidden_ok": "Comment shown again.",
    "cmt.deleted_ok": "Comment deleted.",
    "cmt.delete_title": "Delete this comment?",
    "cmt.delete_text": "The comment “{text}” will be deleted from the post on Facebook and cannot be brought back. Its text stays stored here.",
  },
});
