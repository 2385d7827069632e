// One conversation of *Hội thoại*: its messages as bubbles (older pages on demand), *Nhận chat*
// on a pooled conversation, and the reply box. New messages arrive by polling (3 s while the tab
// is visible) and are appended by id, so the thread is never rebuilt and the reader's scroll
// position stays where it was.

import { t, register } from "./i18n.js";
import { api, ApiError } from "./api.js";
import { h, formatTime, states, errorText, uid, confirmDialog } from "./ui.js";
import { messageBubble, reactionOf, applyMarks, replyErrorText, windowNote } from "./inbox-bubbles.js";
import { handoffNote, phonesLine } from "./comment-items.js";

const POLL_MS = 3000;
const MAX_BACKOFF_MS = 60000;

/** A name to show for the customer: theirs when the API knows it, else "Khách …1234". */
export function customerName(c) {
  if (c && c.customer_name) return c.customer_name;
  const digits = String((c && c.customer_id) || "").slice(-4);
  return t("inbox.customer_fallback", { digits });
}

/** True for owners and admins (who see every conversation). */
export function isManager(me) {
  return !!me && (me.role === "owner" || me.role === "admin");
}

/**
 * Calls `tick` every `base` ms while the page is visible, doubling the wait after each failure
 * (up to a minute) and back to `base` after a success; `onState(ok, err)` reports the change.
 * Returns `{stop, now}`: `stop` for the screen's cleanup, `now` to poll at once.
 */
export function poller(tick, base = POLL_MS, onState = () => {}) {
  let timer = null;
  let stopped = false;
  let running = false;
  let delay = base;
  const schedule = (ms) => {
    clearTimeout(timer);
    if (!stopped && document.visibilityState === "visible") timer = setTimeout(run, ms);
  };
  async function run() {
    if (stopped || running) return;
    running = true;
    try {
      await tick();
      if (delay !== base) onState(true);
      delay = base;
    } catch (e) {
      if (e && e.name === "AbortError") return;
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      onState(false, e);
    } finally {
      running = false;
    }
    schedule(delay);
  }
  const onVisible = () => (document.visibilityState === "visible" ? schedule(0) : clearTimeout(timer));
  document.addEventListener("visibilitychange", onVisible);
  schedule(base);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
    now: () => schedule(0),
  };
}

/**
 * What a thread shows when its first load failed: that the conversation is gone (404: deleted,
 * or no longer the caller's), or the error with a retry. Nothing once the thread was closed.
 */
export function loadFailed(e, title, body, retry) {
  if (e && e.name === "AbortError") return;
  if (e instanceof ApiError && e.status === 404) {
    title.textContent = t("inbox.thread_gone_title");
    body.replaceChildren(states.empty(t("inbox.thread_gone")));
    return;
  }
  body.replaceChildren(states.error(e, retry));
}

/** A fresh Idempotency-Key for a reply. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Oldest first, by time then id (Meta gives comment times only to the second). */
export const byTime = (a, b) => (a.sent_at < b.sent_at ? -1 : a.sent_at > b.sent_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Presses *Nhận chat* on the conversation at `base` and says how it went in `notice`:
 * `{conv}` when the caller won it, `{lostTo}` (the notice's words) when someone was first,
 * `{aborted}` when the thread closed meanwhile, `{}` for any other refusal.
 */
export async function pressClaim(base, signal, notice, button) {
  button.disabled = true;
  notice.textContent = "";
  try {
    const conv = await api("POST", `${base}/claim`, undefined, { signal });
    notice.textContent = t("inbox.claimed");
    return { conv };
  } catch (e) {
    if (e && e.name === "AbortError") return { aborted: true };
    if (e.code === "already_claimed") {
      const who = /^(.+) claimed this conversation first$/.exec(e.message || "");
      const lostTo = who ? t("inbox.claimed_by", { email: who[1] }) : t("inbox.claimed_by_someone");
      notice.textContent = lostTo;
      return { lostTo };
    }
    notice.textContent = e.status === 404 ? t("inbox.claim_not_allowed") : errorText(e);
    return {};
  } finally {
    button.disabled = false;
  }
}

/**
 * Fills `root` with conversation `id`. `opts`: `pageName(page_id)`, `onBack()` (the phone's
 * back button), `onChanged(conversation | null)` after a claim or reply (null: no longer
 * visible to the caller). Returns the cleanup that stops polling.
 */
export function openThread(root, ctx, id, opts = {}) {
  const me = ctx.me || {};
  const tz = (ctx.config && ctx.config.time_zone) || "Asia/Ho_Chi_Minh";
  const base = `/api/conversations/${encodeURIComponent(id)}`;
  const aborter = new AbortController();
  const signal = aborter.signal;
  const headId = uid("thread-h");
  const replyId = uid("reply");
  const reasonId = uid("reply-why");
  let conv = null;
  let settings = null; // GET /api/settings, for the Human Agent tag in the window note
  let olderCursor = null;
  let loadingOlder = false;
  let sending = false;
  let key = null; // the Idempotency-Key of the text being sent, kept while its fate is unknown
  let keyText = null;
  let poll = null;
  let observer = null;
  let lostTo = ""; // who won a claim this caller lost
  /** id -> {m, el}; reply_id -> id for replies not yet settled under Meta's id. */
  const shown = new Map();
  const byReply = new Map();
  const reactions = new Map(); // target mid -> the latest reaction message

  const title = h("h2", { id: headId, class: "thread-name" }, t("loading"));
  const sub = h("p", { class: "thread-sub" });
  const extra = h("div", { class: "thread-extra" }); // phones; where a private reply started it
  const claimBtn = h("button", { type: "button", class: "btn btn-primary thread-claim", hidden: true, onclick: claim }, t("inbox.claim"));
  const back = h("button", { type: "button", class: "btn thread-back", onclick: () => opts.onBack && opts.onBack() },
    h("span", { "aria-hidden": "true" }, "‹ "), t("inbox.back"));
  const notice = h("p", { class: "thread-notice", role: "status", "aria-live": "polite" });
  const olderBtn = h("button", { type: "button", class: "btn btn-small thread-older", hidden: true, onclick: loadOlder }, t("inbox.older"));
  const list = h("ol", { class: "msgs" });
  const scroller = h("div", { class: "thread-scroll", role: "log", tabindex: "0", "aria-label": t("inbox.messages") }, olderBtn, list);
  const reason = h("p", { id: reasonId, class: "reply-reason" });
  const box = h("textarea", { id: replyId, class: "reply-input", rows: "2", maxlength: "2000", "aria-describedby": reasonId, onkeydown: onKey });
  const sendBtn = h("button", { type: "submit", class: "btn btn-primary reply-send" }, t("inbox.send"));
  const replyErr = h("p", { class: "reply-error", role: "alert" });
  const form = h("form", { class: "reply", novalidate: true, onsubmit: (e) => { e.preventDefault(); send(box.value); } },
    h("label", { for: replyId, class: "reply-label" }, t("inbox.reply_label")),
    reason,
    h("div", { class: "reply-row" }, box, sendBtn),
    replyErr);
  const body = h("div", { class: "thread-body" }, states.loading());
  const section = h("section", { class: "thread", role: "region", "aria-labelledby": headId },
    h("header", { class: "thread-head" }, back, h("div", { class: "thread-title" }, title, sub, extra), claimBtn),
    notice, body);
  root.replaceChildren(section);

  load();

  async function load() {
    body.replaceChildren(states.loading());
    try {
      const [c, page] = await Promise.all([
        api("GET", base, undefined, { signal }),
        api("GET", `${base}/messages?limit=30`, undefined, { signal }),
      ]);
      conv = c;
      olderCursor = page.next_cursor || null;
      list.replaceChildren();
      shown.clear();
      byReply.clear();
      reactions.clear();
      (page.items || []).slice().sort(byTime).forEach((m) => place(m));
      body.replaceChildren(scroller, form);
      showHead();
      refreshMarks();
      if (!shown.size) list.append(h("li", { class: "msg-empty" }, t("inbox.no_messages")));
      olderBtn.hidden = !olderCursor;
      scroller.scrollTop = scroller.scrollHeight;
      watchTop();
      if (!poll) poll = poller(tick, POLL_MS, (ok) => { notice.textContent = ok ? "" : t("inbox.reconnecting"); });
      loadSettings();
    } catch (e) {
      loadFailed(e, title, body, load);
    }
  }

  async function loadSettings() {
    try {
      settings = await api("GET", "/api/settings", undefined, { signal });
    } catch {
      settings = null; // the note then just says the tag is needed
    }
    showReplyState();
  }

  /** One poll: the conversation (holder, watermarks) and the newest page of messages. */
  async function tick() {
    let c;
    try {
      c = await api("GET", base, undefined, { signal });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return gone();
      throw e;
    }
    const page = await api("GET", `${base}/messages?limit=30`, undefined, { signal });
    const changed = !conv || c.assignee !== conv.assignee || c.pool_rule_id !== conv.pool_rule_id ||
      JSON.stringify([c.phones, c.handoff]) !== JSON.stringify([conv.phones, conv.handoff]);
    conv = c;
    if (changed) showHead();
    const items = (page.items || []).slice().sort(byTime);
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    // A gap (more new messages than one page) cannot be stitched: start over.
    if (shown.size && items.length >= 30 && !items.some((m) => shown.has(m.id) || byReply.has(m.reply_id))) {
      return load();
    }
    let added = false;
    for (const m of items) added = upsert(m) || added;
    refreshMarks();
    if (added && nearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function gone() {
    poll && poll.stop();
    // After a lost claim the winner's name stays: it says why the conversation went away.
    notice.textContent = lostTo ? `${lostTo} ${t("inbox.thread_left_pool")}` : t("inbox.thread_gone");
    form.hidden = true;
    claimBtn.hidden = true;
    opts.onChanged && opts.onChanged(null, id);
  }

  /** Adds a new message or updates a shown one in place; true when something was added. */
  function upsert(m) {
    const old = shown.get(m.id) || (m.reply_id && shown.get(byReply.get(m.reply_id)));
    if (!old) {
      place(m);
      return true;
    }
    const o = old.m;
    if (o.id === m.id && o.status === m.status && o.error === m.error && o.text === m.text) return false;
    shown.delete(o.id);
    const el = bubble(m);
    old.el.replaceWith(el);
    shown.set(m.id, { m, el });
    if (m.reply_id) byReply.set(m.reply_id, m.id);
    return false;
  }

  /** Puts a message where its time says (usually last); reactions decorate their target. */
  function place(m) {
    list.querySelector(".msg-empty")?.remove();
    if (m.kind === "reaction" && m.detail && m.detail.target_mid && shown.has(m.detail.target_mid)) {
      const prev = reactions.get(m.detail.target_mid);
      if (!prev || byTime(prev, m) <= 0) {
        reactions.set(m.detail.target_mid, m);
        const target = shown.get(m.detail.target_mid);
        const el = bubble(target.m);
        target.el.replaceWith(el);
        target.el = el;
      }
      shown.set(m.id, { m, el: null });
      return;
    }
    const el = bubble(m);
    shown.set(m.id, { m, el });
    if (m.reply_id) byReply.set(m.reply_id, m.id);
    // Walk back from the end to the first older shown bubble (new messages land last).
    let next = null;
    for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
      const e = shown.get(node.dataset.id);
      if (e && e.m && byTime(e.m, m) <= 0) break;
      next = node;
    }
    list.insertBefore(el, next);
  }

  function bubble(m) {
    return messageBubble(m, { tz, reaction: reactionOf(reactions.get(m.id)), resend });
  }

  function refreshMarks() {
    applyMarks([...shown.values()].filter((x) => x.el), conv);
  }

  async function loadOlder() {
    if (!olderCursor || loadingOlder) return;
    loadingOlder = true;
    olderBtn.disabled = true;
    olderBtn.textContent = t("loading");
    try {
      const page = await api("GET", `${base}/messages?limit=30&cursor=${encodeURIComponent(olderCursor)}`, undefined, { signal });
      const before = scroller.scrollHeight;
      const top = scroller.scrollTop;
      (page.items || []).slice().sort(byTime).reverse().forEach((m) => { if (!shown.has(m.id)) placeFirst(m); });
      olderCursor = page.next_cursor || null;
      scroller.scrollTop = top + (scroller.scrollHeight - before);
      refreshMarks();
    } catch (e) {
      if (e && e.name === "AbortError") return;
      notice.textContent = errorText(e);
    } finally {
      loadingOlder = false;
      olderBtn.disabled = false;
      olderBtn.textContent = t("inbox.older");
      olderBtn.hidden = !olderCursor;
    }
  }

  /** An older message goes first (pages come newest first, so walk them in reverse). */
  function placeFirst(m) {
    if (m.kind === "reaction" && m.detail && shown.has(m.detail.target_mid)) return place(m);
    const el = bubble(m);
    shown.set(m.id, { m, el });
    if (m.reply_id) byReply.set(m.reply_id, m.id);
    list.prepend(el);
  }

  /** Older pages load when the reader scrolls to the top (the button stays as a fallback). */
  function watchTop() {
    if (observer || !("IntersectionObserver" in window)) return;
    observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && scroller.scrollHeight > scroller.clientHeight) loadOlder();
    }, { root: scroller });
    observer.observe(olderBtn);
  }

  function showHead() {
    if (!conv) return;
    title.textContent = customerName(conv);
    const page = (opts.pageName && opts.pageName(conv.page_id)) || conv.page_id;
    const who = conv.assignee
      ? t("inbox.held_by", { email: conv.assignee === me.email ? t("inbox.you") : conv.assignee })
      : conv.pool_rule_id ? t("inbox.pooled") : t("inbox.unassigned");
    sub.textContent = `${page} · ${who}`;
    extra.replaceChildren(...[phonesLine(conv.phones, "thread-phones"),
      handoffNote(conv, opts.hrefFor || ((c) => `#/inbox?c=${encodeURIComponent(c)}`))].filter(Boolean));
    claimBtn.hidden = !(conv.pool_rule_id && !conv.assignee);
    showReplyState();
  }

  /** Mirrors the API's reply right (domain::reply::reply_right) to disable the box with a reason. */
  function replyBlock() {
    if (!conv) return t("loading");
    if (conv.assignee === me.email) return "";
    if (!conv.assignee && !conv.pool_rule_id && isManager(me)) return "";
    if (!conv.assignee && conv.pool_rule_id) return t("inbox.why_pooled");
    if (conv.assignee) return t("inbox.why_not_holder", { email: conv.assignee });
    return t("inbox.why_unassigned");
  }

  function showReplyState() {
    const block = replyBlock();
    box.disabled = !!block;
    sendBtn.disabled = !!block || sending;
    reason.textContent = block || windowNote(conv, settings, tz);
    reason.classList.toggle("reply-reason-warn", !!reason.textContent);
  }

  function onKey(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send(box.value);
    }
  }

  /**
   * Sends `text`. The Idempotency-Key is kept while the outcome is unknown to us (no answer,
   * or an error before the reply was recorded), so pressing *Gửi* again for the same text
   * cannot send it twice; a recorded outcome (sent, failed, unknown) ends the key.
   */
  async function send(text, fresh = false) {
    if (sending || box.disabled) return;
    replyErr.textContent = "";
    if (!text.trim()) {
      replyErr.textContent = t("inbox.err_empty");
      box.focus();
      return;
    }
    if (fresh || !key || keyText !== text) {
      key = newKey();
      keyText = text;
    }
    sending = true;
    sendBtn.disabled = true;
    sendBtn.textContent = t("inbox.sending");
    try {
      const m = await api("POST", `${base}/messages`, { text }, { headers: { "Idempotency-Key": key }, signal });
      key = null;
      if (!fresh) box.value = "";
      upsert(m);
      refreshMarks();
      scroller.scrollTop = scroller.scrollHeight;
      opts.onChanged && opts.onChanged(conv, id);
    } catch (e) {
      if (e && e.name === "AbortError") return;
      const reply = e.details && e.details.reply;
      if (reply && reply.id) {
        key = null;
        if (!fresh) box.value = "";
        upsert(reply);
        refreshMarks();
        scroller.scrollTop = scroller.scrollHeight;
      }
      const why = reply && reply.status === "unknown" ? t("inbox.err_unknown") : replyErrorText(e, conv, settings, tz);
      // The window note above already says it: no need to read the same sentence twice.
      replyErr.textContent = why === reason.textContent ? t("inbox.err_see_above") : why;
      if (e.code === "not_your_conversation") poll && poll.now();
    } finally {
      sending = false;
      sendBtn.textContent = t("inbox.send");
      showReplyState();
    }
  }

  /** *Gửi lại*: the agent's explicit choice, a new request with a new key. */
  async function resend(m) {
    if (m.status === "unknown") {
      const ok = await confirmDialog({
        title: t("inbox.resend_title"), text: t("inbox.resend_unknown"),
        ok: t("inbox.resend"), cancel: t("cancel"), danger: false,
      });
      if (!ok) return;
    }
    send(m.text || "", true);
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
    if (r.lostTo) lostTo = r.lostTo;
    opts.onChanged && opts.onChanged(conv, id);
    poll && poll.now();
  }

  const close = () => {
    poll && poll.stop();
    observer && observer.disconnect();
    aborter.abort();
  };
  /** The list calls it once the Page names arrive (the heading names the Page). */
  close.refreshHead = showHead;
  return close;
}

register({
  vi: {
    "inbox.customer_fallback": "Khách …{digits}",
    "inbox.claim": "Nhận chat",
    "inbox.send": "Gửi",
    "inbox.sending": "Đang gửi…",
    "inbox.back": "Danh sách",
    "inbox.older": "Tải tin cũ hơn",
    "inbox.messages": "Tin nhắn",
    "inbox.no_messages": "Chưa có tin nhắn nào.",
    "inbox.reply_label": "Trả lời khách",
    "inbox.reconnecting": "Mất kết nối tới máy chủ, đang thử lại…",
    "inbox.thread_gone_title": "Không xem được hội thoại",
    "inbox.thread_gone": "Hội thoại này không còn hoặc bạn không còn quyền xem.",
    "inbox.thread_left_pool": "Hội thoại đã rời hàng chờ, bạn không còn xem được.",
    "inbox.held_by": "Phụ trách: {email}",
    "inbox.you": "bạn",
    "inbox.pooled": "Chờ nhận",
    "inbox.unassigned": "Chưa ai phụ trách",
    "inbox.why_pooled": "Hội thoại đang chờ nhận: bấm Nhận chat để trả lời.",
    "inbox.why_not_holder": "{email} đang phụ trách hội thoại này; chỉ người phụ trách mới trả lời được.",
    "inbox.why_unassigned": "Hội thoại chưa được giao cho ai; chủ cửa hàng hoặc quản trị viên trả lời được.",
    "inbox.err_empty": "Hãy nhập nội dung trả lời.",
    "inbox.resend": "Gửi lại",
    "inbox.err_see_above": "Chưa gửi được, vì lý do nêu ở trên.",
    "inbox.err_unknown": "Facebook không trả lời kịp: chưa rõ tin đã tới khách chưa. Xem lại hội thoại trước khi bấm Gửi lại.",
    "inbox.resend_title": "Gửi lại tin nhắn?",
    "inbox.resend_unknown": "Chưa rõ tin trước đã tới khách hay chưa. Gửi lại có thể khiến khách nhận hai lần.",
    "inbox.claimed": "Bạn đã nhận hội thoại này.",
    "inbox.claimed_by": "{email} đã nhận hội thoại này trước bạn.",
    "inbox.claimed_by_someone": "Người khác đã nhận hội thoại này trước bạn.",
    "inbox.claim_not_allowed": "Bạn không nhận được hội thoại này (bạn không thuộc quy tắc của nó, hoặc nó đã rời hàng chờ).",
  },
  en: {
    "inbox.customer_fallback": "Customer …{digits}",
    "inbox.claim": "Take chat",
    "inbox.send": "Send",
    "inbox.sending": "Sending…",
    "inbox.back": "List",
    "inbox.older": "Load older messages",
    "inbox.messages": "Messages",
    "inbox.no_messages": "No messages yet.",
    "inbox.reply_label": "Reply to the customer",
    "inbox.reconnecting": "Lost connection to the server, retrying…",
    "inbox.thread_gone_title": "Conversation unavailable",
    "inbox.thread_gone": "This conversation is gone or you may no longer see it.",
    "inbox.thread_left_pool": "It left the queue; you can no longer see it.",
    "inbox.held_by": "Handled by {email}",
    "inbox.you": "you",
    "inbox.pooled": "Waiting",
    "inbox.unassigned": "Nobody handles it",
    "inbox.why_pooled": "This conversation is waiting to be taken: press Take chat to reply.",
    "inbox.why_not_holder": "{email} handles this conversation; only they can reply.",
    "inbox.why_unassigned": "Nobody was given this conversation; an owner or admin can reply.",
    "inbox.err_empty": "Type a reply first.",
    "inbox.resend": "Send again",
    "inbox.err_see_above": "Not sent, for the reason above.",
    "inbox.err_unknown": "Facebook did not answer in time: it is not known whether the reply reached the customer. Check the conversation before pressing Send again.",
    "inbox.resend_title": "Send the message again?",
    "inbox.resend_unknown": "It is not known whether the earlier message reached the customer. Sending again may deliver it twice.",
    "inbox.claimed": "You took this conversation.",
    "inbox.claimed_by": "{email} took this conversation before you.",
    "inbox.claimed_by_someone": "Someone else took this conversation before you.",
    "inbox.claim_not_allowed": "You cannot take this conversation (you are not in its rule, or it left the queue).",
  },
});
