// *Hội thoại* (#/inbox): the conversation list (views *Của tôi* / *Chờ nhận* / *Tất cả*, a Page
// filter, endless on the API's next_cursor) beside the open thread. Both panes poll every 3 s
// while the tab is visible; the list merges what changed by id instead of rebuilding, so
// focus and scroll stay put. The URL (`#/inbox?view=&page_id=&c=`) keeps the choice across a
// reload; it is replaced in place, so the shell's router does not redraw the screen.

import { t, register } from "./i18n.js";
import { api, ApiError } from "./api.js";
import { h, formatTime, states, errorText, uid } from "./ui.js";
import { openThread, customerName, isManager, poller } from "./thread.js";
import { lastMessageText } from "./inbox-bubbles.js";
import { openCommentThread } from "./comment-thread.js";
import { isCommentConversation, postLabel, phonesLine } from "./comment-items.js";

const PAGE_SIZE = 25;
const VIEWS = ["mine", "pool", "all"];
const VIEW_LABEL = { mine: "inbox.view_mine", pool: "inbox.view_pool", all: "inbox.view_all" };

function hashQuery() {
  const hash = location.hash || "";
  const i = hash.indexOf("?");
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
}

/** Newest activity first; the id breaks ties the way the API does. */
const newestFirst = (a, b) =>
  a.last_activity_at < b.last_activity_at ? 1 : a.last_activity_at > b.last_activity_at ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;

export function render(root, ctx) {
  const me = ctx.me || {};
  const tz = (ctx.config && ctx.config.time_zone) || "Asia/Ho_Chi_Minh";
  const views = isManager(me) ? VIEWS : ["mine", "pool"];
  const q = hashQuery();
  const state = {
    view: views.includes(q.get("view")) ? q.get("view") : isManager(me) ? "all" : "mine",
    pageId: q.get("page_id") || "",
    open: q.get("c") || null,
    items: new Map(), // id -> conversation
    rows: new Map(), // id -> <li>
    cursor: null,
    loadingMore: false,
    loaded: false, // the first page of this view arrived (polls merge only into a shown list)
    generation: 0,
  };
  const pages = new Map(); // page_id -> name
  const aborter = new AbortController();
  const signal = aborter.signal;
  let closeThread = null;

  // ---- the list pane ----
  const listId = uid("convs");
  const tabs = views.map((v) =>
    h("button", {
      type: "button", role: "tab", id: `${listId}-tab-${v}`, class: "inbox-tab", "aria-controls": listId,
      "aria-selected": String(v === state.view), tabindex: v === state.view ? "0" : "-1",
      dataset: { view: v }, onclick: () => selectView(v),
    }, t(VIEW_LABEL[v])));
  const tablist = h("div", { role: "tablist", class: "inbox-tabs", "aria-label": t("inbox.views"), onkeydown: tabKeys }, tabs);
  const pageSelectId = uid("page-filter");
  const pageSelect = h("select", { id: pageSelectId, class: "inbox-page-select", onchange: () => selectPage(pageSelect.value) },
    h("option", { value: "" }, t("inbox.all_pages")));
  const status = h("div", { class: "inbox-status" });
  const pollNote = h("p", { class: "inbox-poll-note", role: "status", "aria-live": "polite" });
  const ul = h("ul", { class: "conv-list" });
  const moreBtn = h("button", { type: "button", class: "btn inbox-more", hidden: true, onclick: () => loadMore() }, t("inbox.more"));
  const sentinel = h("div", { class: "inbox-sentinel", "aria-hidden": "true" });
  const panel = h("div", { role: "tabpanel", id: listId, class: "inbox-panel", tabindex: "-1",
    "aria-labelledby": `${listId}-tab-${state.view}` }, status, ul, moreBtn, sentinel);
  const listPane = h("div", { class: "inbox-list-pane" },
    h("h1", { class: "inbox-title" }, t("inbox.title")),
    tablist,
    h("div", { class: "inbox-filter" }, h("label", { for: pageSelectId }, t("inbox.page_filter")), pageSelect),
    pollNote,
    panel);
  const threadPane = h("div", { class: "inbox-thread-pane" });
  const layout = h("div", { class: "inbox", dataset: { pane: state.open ? "thread" : "list" } }, listPane, threadPane);
  root.replaceChildren(layout);

  // The panes fill the window below the shell's top bar, each scrolling on its own.
  const fit = () => layout.style.setProperty("--inbox-top", `${Math.max(0, layout.getBoundingClientRect().top + window.scrollY)}px`);
  fit();
  window.addEventListener("resize", fit);
  window.addEventListener("hashchange", onHash);

  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); }, { root: panel })
    : null;
  observer && observer.observe(sentinel);

  loadPages();
  loadFirst();
  showThread();
  const poll = poller(refresh, 3000, (ok, e) => { pollNote.textContent = ok ? "" : t("inbox.poll_failed", { why: errorText(e) }); });

  // ---- data ----
  function params(cursor) {
    const p = new URLSearchParams({ view: state.view, limit: String(PAGE_SIZE) });
    if (state.pageId) p.set("page_id", state.pageId);
    if (cursor) p.set("cursor", cursor);
    return `/api/conversations?${p}`;
  }

  async function loadPages() {
    try {
      const res = await api("GET", "/api/pages", undefined, { signal });
      for (const p of res.items || []) {
        pages.set(p.page_id, p.name);
        pageSelect.append(h("option", { value: p.page_id, selected: p.page_id === state.pageId }, p.name));
      }
      for (const [id, c] of state.items) drawRow(id, c);
      closeThread && closeThread.refreshHead && closeThread.refreshHead();
    } catch (e) {
      if (e && e.name === "AbortError") return;
      pageSelect.disabled = true; // the list still works without names
    }
  }

  async function loadFirst() {
    const gen = ++state.generation;
    state.loaded = false;
    state.items.clear();
    state.rows.clear();
    state.cursor = null;
    ul.replaceChildren();
    moreBtn.hidden = true;
    status.replaceChildren(states.loading());
    try {
      const page = await api("GET", params(null), undefined, { signal });
      if (gen !== state.generation) return;
      status.replaceChildren();
      state.loaded = true;
      state.cursor = page.next_cursor || null;
      merge(page.items || []);
      afterPage();
    } catch (e) {
      if (e && e.name === "AbortError") return;
      if (gen !== state.generation) return;
      status.replaceChildren(states.error(e, loadFirst));
    }
  }

  async function loadMore() {
    if (!state.cursor || state.loadingMore) return;
    const gen = state.generation;
    state.loadingMore = true;
    moreBtn.disabled = true;
    moreBtn.textContent = t("loading");
    try {
      const page = await api("GET", params(state.cursor), undefined, { signal });
      if (gen !== state.generation) return;
      state.cursor = page.next_cursor || null;
      merge(page.items || []);
    } catch (e) {
      if (e && e.name === "AbortError") return;
      if (e instanceof ApiError && (e.code === "cursor_expired" || e.code === "invalid_cursor")) {
        state.loadingMore = false;
        return loadFirst();
      }
      pollNote.textContent = errorText(e);
    } finally {
      state.loadingMore = false;
      moreBtn.disabled = false;
      moreBtn.textContent = t("inbox.more");
    }
    if (gen === state.generation) afterPage();
  }

  /** After a page: the button when more exist, and keep loading while the sentinel shows
   * (a tall window can show a whole page). */
  function afterPage() {
    moreBtn.hidden = !state.cursor;
    showEmpty();
    if (!state.cursor) return;
    const r = sentinel.getBoundingClientRect();
    const p = panel.getBoundingClientRect();
    // The observer fires on a change only: a sentinel still in sight needs the next page now.
    if (p.height > 0 && r.top <= p.bottom) loadMore();
  }

  /** One poll: the first page again; new and changed rows merge in, ones that left go. */
  async function refresh() {
    if (!state.loaded) return;
    const gen = state.generation;
    const page = await api("GET", params(null), undefined, { signal });
    if (gen !== state.generation) return;
    const fresh = page.items || [];
    const ids = new Set(fresh.map((c) => c.id));
    // Rows newer than the oldest of the first page, yet absent from it, left this view
    // (claimed by someone else, reassigned); with no next page the first page is all of it.
    const oldest = fresh.length ? fresh[fresh.length - 1] : null;
    for (const [id, c] of state.items) {
      if (ids.has(id)) continue;
      if (!page.next_cursor || (oldest && newestFirst(c, oldest) <= 0)) removeRow(id);
    }
    if (!page.next_cursor) state.cursor = null;
    merge(fresh);
    moreBtn.hidden = !state.cursor;
    showEmpty();
  }

  function merge(list) {
    for (const c of list) {
      state.items.set(c.id, c);
      drawRow(c.id, c);
    }
    place();
  }

  /** Puts the rows in order, moving only those out of place (moving a node would drop focus). */
  function place() {
    const sorted = [...state.items.values()].sort(newestFirst);
    const active = document.activeElement;
    let prev = null;
    for (const c of sorted) {
      const li = state.rows.get(c.id);
      const want = prev ? prev.nextElementSibling : ul.firstElementChild;
      if (li !== want) ul.insertBefore(li, want);
      prev = li;
    }
    if (active && active !== document.activeElement && document.contains(active)) active.focus({ preventScroll: true });
  }

  function removeRow(id) {
    state.items.delete(id);
    state.rows.get(id)?.remove();
    state.rows.delete(id);
  }

  function visibleCount() {
    return [...state.rows.values()].filter((li) => !li.hidden).length;
  }

  function showEmpty() {
    const none = visibleCount() === 0;
    const old = status.querySelector(".state-empty");
    if (none && !old && !status.querySelector(".state-error, .state-loading")) {
      status.replaceChildren(states.empty(t("inbox.empty")));
    } else if (!none && old) {
      old.remove();
    }
  }

  // ---- rows ----
  function drawRow(id, c) {
    const open = id === state.open;
    const lm = c.last_message;
    // The customer wrote last: nobody has answered yet (derived, not a read receipt).
    const waiting = lm ? lm.direction === "in" : c.last_customer_message_at && c.last_customer_message_at === c.last_activity_at;
    const page = pages.get(c.page_id) || c.page_id;
    let li = state.rows.get(id);
    // A poll brings the same rows again: leave the unchanged ones alone (no churn, no lost focus).
    const sig = JSON.stringify([c, open, page]);
    if (li && li.dataset.sig === sig) return;
    const holder = c.assignee
      ? h("span", { class: "pill pill-holder" }, c.assignee === me.email ? t("inbox.you_hold") : c.assignee)
      : c.pool_rule_id
        ? h("span", { class: "pill pill-pool" }, t("inbox.view_pool"))
        : h("span", { class: "pill pill-none" }, t("inbox.unassigned"));
    const btn = h("button", {
      type: "button", class: `conv${waiting ? " conv-waiting" : ""}`, "aria-current": open ? "true" : false,
      onclick: () => openConversation(id),
    },
    h("span", { class: "conv-top" },
      h("span", { class: "conv-name" }, customerName(c)),
      h("time", { class: "conv-time", datetime: c.last_activity_at }, formatTime(c.last_activity_at, tz))),
    isCommentConversation(c, c.id) ? h("span", { class: "conv-post" },
      h("span", { class: "pill pill-comment" }, t("cmt.mark")), " ", postLabel(c.post_id)) : null,
    lm ? h("span", { class: "conv-last" }, lastMessageText(lm)) : null,
    phonesLine(c.phones, "conv-phones", false),
    h("span", { class: "conv-meta" },
      h("span", { class: "conv-page" }, page),
      holder,
      c.handoff ? h("span", { class: "pill pill-comment" }, t("cmt.from_comment")) : null,
      waiting ? h("span", { class: "pill pill-waiting" }, t("inbox.not_answered")) : null));
    const hadFocus = li && li.contains(document.activeElement);
    if (li) li.replaceChildren(btn);
    else {
      li = h("li", { class: "conv-item", dataset: { id } }, btn);
      state.rows.set(id, li);
    }
    li.dataset.sig = sig;
    if (hadFocus) btn.focus({ preventScroll: true });
  }

  // ---- choices ----
  function selectView(v) {
    if (v === state.view) return;
    state.view = v;
    markTab();
    saveUrl();
    loadFirst();
  }

  function markTab() {
    for (const b of tabs) {
      const on = b.dataset.view === state.view;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `${listId}-tab-${state.view}`);
  }

  /** A query typed or brought back by the browser (the shell leaves it to this screen). */
  function onHash() {
    if (!/^#\/inbox(\?|$)/.test(location.hash)) return;
    const q = hashQuery();
    const v = views.includes(q.get("view")) ? q.get("view") : state.view;
    const p = q.get("page_id") || "";
    if (v !== state.view || p !== state.pageId) {
      state.view = v;
      state.pageId = p;
      pageSelect.value = p;
      markTab();
      loadFirst();
    }
    const c = q.get("c") || null;
    if (c !== state.open) openConversation(c);
  }

  function tabKeys(e) {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const tab = tabs[(to + tabs.length) % tabs.length];
    tab.focus();
    selectView(tab.dataset.view);
  }

  function selectPage(pageId) {
    state.pageId = pageId;
    saveUrl();
    loadFirst();
  }

  function openConversation(id) {
    const before = state.open;
    state.open = id;
    for (const [cid, c] of state.items) if (cid === id || cid === before) drawRow(cid, c);
    saveUrl();
    showThread(true);
  }

  /** `chosen`: the reader picked it just now (on a phone, focus moves into the thread). */
  function showThread(chosen = false) {
    closeThread && closeThread();
    closeThread = null;
    layout.dataset.pane = state.open ? "thread" : "list";
    if (!state.open) {
      threadPane.replaceChildren(h("div", { class: "inbox-pick" }, h("p", {}, t("inbox.pick"))));
      return;
    }
    const known = state.items.get(state.open);
    const open = isCommentConversation(known, state.open) ? openCommentThread : openThread;
    closeThread = open(threadPane, ctx, state.open, {
      pageName: (id) => pages.get(id),
      hrefFor: (id) => {
        const p = new URLSearchParams({ view: state.view });
        if (state.pageId) p.set("page_id", state.pageId);
        p.set("c", id);
        return `#/inbox?${p}`;
      },
      onBack: back,
      onChanged: (c, id) => {
        if (c && state.items.has(id)) {
          state.items.set(id, { ...state.items.get(id), ...c });
          drawRow(id, state.items.get(id));
        }
        poll.now();
      },
    });
    if (chosen && window.matchMedia("(max-width: 899px)").matches) {
      threadPane.querySelector(".thread-back")?.focus();
    }
  }

  /** The phone's back button: the list again, focus on the row just read. */
  function back() {
    const id = state.open;
    state.open = null;
    if (id && state.items.has(id)) drawRow(id, state.items.get(id));
    saveUrl();
    showThread();
    state.rows.get(id)?.querySelector("button")?.focus();
  }

  function saveUrl() {
    const p = new URLSearchParams();
    p.set("view", state.view);
    if (state.pageId) p.set("page_id", state.pageId);
    if (state.open) p.set("c", state.open);
    history.replaceState(history.state, "", `#/inbox?${p}`);
  }

  return () => {
    poll.stop();
    observer && observer.disconnect();
    window.removeEventListener("resize", fit);
    window.removeEventListener("hashchange", onHash);
    closeThread && closeThread();
    aborter.abort();
  };
}

register({
  vi: {
    "inbox.title": "Hội thoại",
    "inbox.views": "Xem hội thoại",
    "inbox.view_mine": "Của tôi",
    "inbox.view_pool": "Chờ nhận",
    "inbox.view_all": "Tất cả",
    "inbox.page_filter": "Trang",
    "inbox.all_pages": "Tất cả các Trang",
    "inbox.more": "Xem thêm",
    "inbox.empty": "Chưa có hội thoại nào",
    "inbox.pick": "Chọn một hội thoại để xem tin nhắn.",
    "inbox.you_hold": "Bạn phụ trách",
    "inbox.not_answered": "Chưa trả lời",
    "inbox.poll_failed": "Chưa cập nhật được danh sách ({why}); đang thử lại…",
  },
  en: {
    "inbox.title": "Conversations",
    "inbox.views": "Conversation views",
    "inbox.view_mine": "Mine",
    "inbox.view_pool": "Waiting",
    "inbox.view_all": "All",
    "inbox.page_filter": "Page",
    "inbox.all_pages": "All Pages",
    "inbox.more": "Show more",
    "inbox.empty": "No conversations yet",
    "inbox.pick": "Choose a conversation to see its messages.",
    "inbox.you_hold": "You handle it",
    "inbox.not_answered": "Not answered",
    "inbox.poll_failed": "The list could not be updated ({why}); retrying…",
  },
});
