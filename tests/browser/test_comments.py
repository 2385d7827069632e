"""Page comments in *Hội thoại* and on the Page card.

Through the simulator (the whole stack): a public reply with *Trả lời* reaches the customer's
comment; a private reply with *Nhắn tin riêng*, then the customer's answer in Messenger lands
with the agent who sent it; auto-hide *Bình luận có số điện thoại* hides a comment with a number
within 5 seconds and the thread shows it *Đã ẩn*.

On a scripted API (Playwright answers the comment routes, the stack serves the console and signs
in): the states a comment can be in that the simulator cannot easily make (edited with its
previous text, removed, older than 7 days, already privately replied), every action's request and
its refusal shown where it happened, the hand-off link, the keyboard, and the 375 px layout.
"""
import json
import re
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

import harness
from test_inbox import connect_demo_page, open_inbox
from test_mobile import assert_fits

DEADLINE_MS = 5_000  # PRODUCT.md: new messages (and the hide) show within 5 s


def tag() -> str:
    return uuid.uuid4().hex[:6]


# --- the simulator's customer side -------------------------------------------------------------

def sim_comment(stack, page_id, text, name, parent_id=None):
    body = {"page_id": page_id, "customer_name": name, "text": text}
    if parent_id:
        body["parent_id"] = parent_id
    status, answer = harness._http("POST", stack.url("/_sim/api/customer/comments"), body)
    assert status in (200, 201), answer
    return answer


def sim_comments(stack, page_id):
    status, answer = harness._http("GET", stack.url(f"/_sim/api/customer/comments?page_id={page_id}"))
    assert status == 200, answer
    return answer


def objects(tree):
    """Every JSON object in `tree`, depth first (the customer view's shape may nest replies)."""
    if isinstance(tree, dict):
        yield tree
        for v in tree.values():
            yield from objects(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from objects(v)


def wait_for(what, probe, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.2)


def comment_item(page, text):
    """A comment of the open thread (its <li>), by its text."""
    return page.locator("li.cmt").filter(has=page.locator(":scope > .cmt-body", has_text=text))


def comment_row(page, text):
    return page.get_by_role("tabpanel").get_by_role("listitem").get_by_role("button").filter(has_text=text)


# --- through the simulator ---------------------------------------------------------------------

def test_public_reply_reaches_the_customer(sim_stack, sim_shop, page):
    stack = sim_stack
    demo = connect_demo_page(stack, sim_shop)
    asked = f"Áo này còn size M không shop? {tag()}"
    c = sim_comment(stack, demo["id"], asked, "Chị Mai")
    assert c["delivered"], c
    sim_shop.sign_in_owner(page)
    open_inbox(page)
    rowbtn = comment_row(page, "Bình luận trên bài viết").filter(has_text=re.compile(r"Chị Mai|" + re.escape(asked[:20])))
    expect(rowbtn).to_be_visible(timeout=DEADLINE_MS + 5_000)
    rowbtn.click()
    item = comment_item(page, asked)
    expect(item).to_be_visible()
    item.get_by_role("button", name="Trả lời", exact=True).click()
    box = page.get_by_label("Trả lời công khai")
    expect(box).to_be_focused()
    expect(page.get_by_text(re.compile("Trả lời bình luận của .*" + re.escape(asked[:15])))).to_be_visible()
    answer = f"Dạ còn size M ạ {tag()}"
    box.fill(answer)
    page.get_by_role("button", name="Gửi", exact=True).click()
    # Under the comment it answers, in the thread.
    expect(item.locator(".cmt-replies").get_by_text(answer)).to_be_visible()
    expect(box).to_have_value("")

    # The customer sees the Page's reply under their comment.
    def reached():
        return [o for o in objects(sim_comments(stack, demo["id"]))
                if answer in (o.get("message"), o.get("text"))]
    got = wait_for("the public reply at the simulator", reached, 5)
    assert len(got) == 1, got
    assert got[0].get("parent_id") == c["comment_id"] and got[0].get("from", "page") == "page", got
    time.sleep(3.5)  # a poll after Meta's feed webhook of the Page's comment: still one reply
    expect(page.locator("li.cmt").get_by_text(answer)).to_have_count(1)


def test_private_reply_then_the_customer_answers_in_messenger_with_the_replier(sim_stack, sim_shop, browser):
    stack = sim_stack
    shop = sim_shop
    a = shop.agent("an")
    b = shop.agent("binh")
    landed = stack.sim_import_pages(shop.token)
    assert "result=ok" in landed, landed
    demo = stack.sim_info()["pages"][0]
    stack.api("POST", f"/api/pages/{demo['id']}/connect", shop.token, {"chat_mode": "shared", "new_rule": {
        "name": f"Bình luận {tag()}", "page_ids": [demo["id"]], "agent_emails": [a, b],
        "method": "self_claim", "old_conversations": "none"}})
    asked = f"Ib giá giúp em {tag()}"
    c = sim_comment(stack, demo["id"], asked, "Anh Tuấn")
    assert c["delivered"], c
    stack.wait_conversation(shop.token, "pool", pred=lambda x: x.get("kind") == "comment")

    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        harness.sign_in(page, stack, a, shop.tenant, "agent")
        open_inbox(page)
        page.get_by_role("tab", name="Chờ nhận").click()
        comment_row(page, "Bình luận trên bài viết").first.click()
        page.get_by_role("button", name="Nhận chat").click()
        expect(page.get_by_text("Bạn đã nhận hội thoại này.")).to_be_visible()
        item = comment_item(page, asked)
        item.get_by_role("button", name="Nhắn tin riêng").click()
        box = page.get_by_label(re.compile("Nhắn tin riêng cho"))
        expect(box).to_be_focused()
        private = f"Chào anh, áo giá 250k ạ {tag()}"
        box.fill(private)
        page.get_by_role("button", name="Gửi tin riêng").click()
        expect(page.get_by_text(re.compile("Đã gửi tin nhắn riêng"))).to_be_visible()
        # One private reply per comment: the button now says why it is off.
        expect(item.get_by_role("button", name="Nhắn tin riêng")).to_be_disabled()
        expect(item.get_by_text("Đã nhắn tin riêng cho bình luận này")).to_be_visible()

        # It reached the customer's Messenger thread; they answer there.
        psid = c["psid"]
        wait_for("the private reply in the customer's Messenger", lambda: [
            m for m in stack.sim_thread(demo["id"], psid)["messages"] if m["text"] == private], 5)
        answer = f"Em lấy 1 cái size L {tag()}"
        said = stack.sim_customer_message(demo["id"], answer, "Anh Tuấn")
        assert said["psid"] == psid, said

        # That Messenger conversation is the replier's, not the pool's.
        conv = stack.wait_conversation(shop.token_of(a), "mine", pred=lambda x: x.get("kind") != "comment"
                                       and x["customer_id"] == psid)
        assert conv["assignee"] == a, conv
        assert (conv.get("handoff") or {}).get("by") == a, conv
        pool = stack.conversations(shop.token_of(b), "pool")
        assert not [x for x in pool if x["id"] == conv["id"]], pool

        # In the console: *Của tôi*, marked as coming from a comment, linking back to it.
        page.get_by_role("tab", name="Của tôi").click()
        row = comment_row(page, "Từ bình luận")
        expect(row).to_be_visible(timeout=DEADLINE_MS + 3_000)
        row.click()
        expect(page.get_by_role("log").get_by_text(answer)).to_be_visible()
        expect(page.get_by_text(re.compile("bắt đầu từ tin nhắn riêng"))).to_be_visible()
        page.get_by_role("link", name="Xem hội thoại bình luận").click()
        expect(comment_item(page, asked)).to_be_visible()
        assert not errors, errors
    finally:
        ctx.close()


def test_auto_hide_phone_hides_a_comment_with_a_number_within_5_seconds(sim_stack, sim_shop, page):
    stack = sim_stack
    demo = connect_demo_page(stack, sim_shop)
    sim_shop.sign_in_owner(page)
    card = page.locator("li.page-card").filter(has_text=demo["name"])
    setting = card.get_by_role("group", name="Tự động ẩn bình luận")
    expect(setting.get_by_label("Tắt")).to_be_checked()
    setting.get_by_label("Bình luận có số điện thoại").check()
    setting.get_by_role("button", name="Lưu").click()
    expect(setting.get_by_text("Đã lưu.")).to_be_visible()
    got = stack.api("GET", f"/api/pages/{demo['id']}/comment-settings", sim_shop.token)
    assert got["auto_hide"] == "phone", got

    open_inbox(page)
    plain = f"Đẹp quá shop ơi {tag()}"
    sim_comment(stack, demo["id"], plain, "Chị Hằng")
    with_phone = f"Tư vấn giúp em {tag()}, sđt 0912 345 678 nhé"
    start = time.time()
    c = sim_comment(stack, demo["id"], with_phone, "Chị Hằng")
    assert c["delivered"], c

    # The stored comment is hidden within 5 s (and Meta was told: the simulator's comment).
    conv = stack.wait_conversation(sim_shop.token, pred=lambda x: x.get("kind") == "comment", timeout=5)

    def hidden():
        items = stack.api("GET", f"/api/conversations/{urllib.parse.quote(conv['id'])}/messages", sim_shop.token)["items"]
        return [m for m in items if m.get("text") == with_phone and m.get("hidden")]
    wait_for("the auto-hidden comment", hidden, max(0.5, 5 - (time.time() - start)))
    at_sim = [o for o in objects(sim_comments(stack, demo["id"])) if o.get("comment_id") == c["comment_id"]]
    if at_sim and "hidden" in at_sim[0]:
        assert at_sim[0]["hidden"] is True, at_sim

    # The console shows it hidden, and the plain comment not.
    comment_row(page, "Bình luận trên bài viết").first.click()
    item = comment_item(page, with_phone)
    expect(item.locator(":scope > .cmt-body").get_by_text("Đã ẩn", exact=True)).to_be_visible(timeout=DEADLINE_MS)
    expect(item.get_by_role("button", name="Hiện", exact=True)).to_be_visible()
    expect(comment_item(page, plain).locator(":scope > .cmt-body").get_by_text("Đã ẩn", exact=True)).to_have_count(0)
    # The number is listed on the conversation.
    expect(page.locator(".thread-phones").get_by_text("0912345678")).to_be_visible()


# --- on a scripted API -------------------------------------------------------------------------

PAGE_ID = "611000000000009"
POST_ID = f"{PAGE_ID}_900000000000009"
CONV = f"{PAGE_ID}_555_p900000000000009"
MSGR = f"{PAGE_ID}_777"


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ScriptedApi:
    """Answers the comment routes from memory and records what the console asked."""

    def __init__(self, owner):
        now = datetime.now(timezone.utc)
        self.owner = owner
        self.calls = []
        self.next_failure = {}  # (method, path suffix) -> (status, code, message)
        cm = lambda cid, text, at, **kw: {  # noqa: E731
            "id": f"900000000000009_{cid}", "comment_id": f"900000000000009_{cid}", "direction": "in",
            "kind": "comment", "text": text, "sent_at": iso(at), "post_id": POST_ID, "parent_id": POST_ID,
            "hidden": False, "removed": False, "private_replied": False, "previous_text": None,
            "edited": False, "status": None, "detail": {"from_name": "Chị Lan"}, **kw}
        self.messages = {
            CONV: [
                cm("1", "Còn size M không shop? 0912345678", now - timedelta(hours=2), hidden=True),
                {**cm("2", "Dạ còn ạ", now - timedelta(hours=1)), "direction": "out",
                 "parent_id": "900000000000009_1", "detail": {"sent_by": owner}},
                cm("3", "giá bao nhiêu vậy shop", now - timedelta(minutes=50), edited=True,
                   previous_text="giá bao nhiêu", private_replied=True),
                cm("4", "bình luận rác", now - timedelta(minutes=40), removed=True),
                cm("5", "hôm trước em hỏi rồi", now - timedelta(days=8)),
            ],
            MSGR: [{"id": "m_1", "direction": "in", "kind": "text", "text": "Em lấy size M nhé",
                    "sent_at": iso(now - timedelta(minutes=5)), "status": None, "detail": None}],
        }
        base = {"page_id": PAGE_ID, "assignee": owner, "pool_rule_id": None,
                "read_watermark_at": None, "delivery_watermark_at": None}
        self.convs = {
            CONV: {**base, "id": CONV, "customer_id": "555", "customer_name": "Chị Lan", "kind": "comment",
                   "post_id": POST_ID, "phones": ["0912345678"], "handoff": None,
                   "last_customer_message_at": iso(now - timedelta(minutes=40)),
                   "last_activity_at": iso(now - timedelta(minutes=40)),
                   "last_message": {"direction": "in", "kind": "comment", "text": "bình luận rác",
                                    "sent_at": iso(now - timedelta(minutes=40))}},
            MSGR: {**base, "id": MSGR, "customer_id": "777", "customer_name": "Chị Lan", "kind": "messenger",
                   "post_id": None, "phones": [],
                   "handoff": {"by": owner, "from_conversation_id": CONV, "comment_id": "900000000000009_1",
                               "at": iso(now - timedelta(minutes=10))},
                   "last_customer_message_at": iso(now - timedelta(minutes=5)),
                   "last_activity_at": iso(now - timedelta(minutes=5)),
                   "last_message": {"direction": "in", "kind": "text", "text": "Em lấy size M nhé",
                                    "sent_at": iso(now - timedelta(minutes=5))}},
        }
        self.auto_hide = "off"

    def install(self, page):
        page.route(re.compile(r"^https?://[^/]+/api/(conversations|comments|pages|settings)([/?].*)?$"), self.handle)

    def find(self, comment_id):
        for msgs in self.messages.values():
            for m in msgs:
                if m.get("comment_id") == comment_id:
                    return m
        return None

    def handle(self, route):
        req = route.request
        url = urllib.parse.urlparse(req.url)
        path = urllib.parse.unquote(url.path)
        body = json.loads(req.post_data) if req.post_data else None
        if req.method != "GET":
            self.calls.append((req.method, path, body, req.headers.get("idempotency-key")))
        status, answer = self.answer(req.method, path, body)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(answer))

    def answer(self, method, path, body):
        for (m, suffix), (status, code, message) in list(self.next_failure.items()):
            if m == method and path.endswith(suffix):
                del self.next_failure[(m, suffix)]
                return status, {"error": {"code": code, "message": message}}
        if path == "/api/pages":
            return 200, {"items": [{"page_id": PAGE_ID, "name": "Shop Lan Anh", "status": "connected",
                                    "chat_mode": "only_me", "rule_id": None, "connected_by": self.owner,
                                    "last_connected_at": iso(datetime.now(timezone.utc)), "lost_reason": None}]}
        if path == f"/api/pages/{PAGE_ID}/comment-settings":
            if method == "PUT":
                self.auto_hide = body["auto_hide"]
            return 200, {"auto_hide": self.auto_hide}
        if path == "/api/settings":
            return 200, {"human_agent_tag": False}
        if path == "/api/conversations":
            items = sorted(self.convs.values(), key=lambda c: c["last_activity_at"], reverse=True)
            return 200, {"items": items, "next_cursor": None}
        m = re.fullmatch(r"/api/conversations/([^/]+)(/messages)?", path)
        if m and m.group(1) in self.convs:
            cid = m.group(1)
            if not m.group(2):
                return 200, self.convs[cid]
            if method == "GET":
                items = sorted(self.messages[cid], key=lambda x: x["sent_at"], reverse=True)
                return 200, {"items": items, "next_cursor": None}
            # As the API stores them: a public reply becomes the Page's comment under its new
            # id; a private reply is a text with no comment fields, naming its comment in detail.
            new_id = f"900000000000009_{uuid.uuid4().int % 10**9}"
            detail = {"sent_by": self.owner, "reply_to": body["reply_to"], "private": bool(body.get("private"))}
            reply = {"id": new_id, "reply_id": f"r_{uuid.uuid4().hex[:8]}", "direction": "out", "kind": "comment",
                     "text": body["text"], "sent_at": iso(datetime.now(timezone.utc)), "status": "sent",
                     "detail": detail, "comment_id": new_id, "parent_id": body["reply_to"], "post_id": POST_ID,
                     "hidden": False, "removed": False, "private_replied": False, "previous_text": None,
                     "edited": False}
            if body.get("private"):
                self.find(body["reply_to"])["private_replied"] = True
                reply = {k: reply[k] for k in ("id", "reply_id", "direction", "text", "sent_at", "status", "detail")}
                reply.update(id=f"m_{uuid.uuid4().hex[:8]}", kind="text")
            self.messages[cid].append(reply)
            return 201, reply
        m = re.fullmatch(r"/api/comments/([^/]+?)(/hide|/unhide)?", path)
        if m and self.find(m.group(1)):
            c = self.find(m.group(1))
            if method == "DELETE":
                c["removed"] = True
            else:
                c["hidden"] = m.group(2) == "/hide"
            return 200, c
        return 404, {"error": {"code": "not_found", "message": "not found"}}


def scripted_inbox(stack, shop, page):
    api = ScriptedApi(shop.owner)
    api.install(page)
    shop.sign_in_owner(page)
    open_inbox(page)
    return api


def test_comment_states_actions_and_refusals_on_a_scripted_api(stack, shop, page):
    api = scripted_inbox(stack, shop, page)
    rowbtn = comment_row(page, "Bình luận trên bài viết 900000000000009")
    expect(rowbtn).to_be_visible()
    expect(rowbtn).to_contain_text("0912345678")
    expect(rowbtn).to_contain_text("Bình luận")
    rowbtn.click()
    head = page.locator(".thread-head")
    expect(head).to_contain_text("Shop Lan Anh · Bình luận trên bài viết 900000000000009")
    expect(head.get_by_role("link", name="0912345678")).to_have_attribute("href", "tel:0912345678")

    first = comment_item(page, "Còn size M không shop?")
    edited = comment_item(page, "giá bao nhiêu vậy shop")
    removed = comment_item(page, "bình luận rác")
    old = comment_item(page, "hôm trước em hỏi rồi")
    # The Page's reply sits under the comment it answers.
    expect(first.locator(".cmt-replies").get_by_text("Dạ còn ạ")).to_be_visible()
    # States.
    body = lambda item: item.locator(":scope > .cmt-body")  # noqa: E731
    expect(body(first).get_by_text("Đã ẩn", exact=True)).to_be_visible()
    expect(body(removed).get_by_text("Đã xóa", exact=True)).to_be_visible()
    expect(removed.get_by_role("button")).to_have_count(0)  # nothing to do on a removed comment
    expect(body(edited).get_by_text("Đã chỉnh sửa", exact=True)).to_be_visible()
    expect(edited.get_by_text("Trước khi sửa: giá bao nhiêu", exact=True)).to_be_hidden()
    edited.get_by_role("button", name="Xem nội dung trước khi sửa").click()
    expect(edited.get_by_text("Trước khi sửa: giá bao nhiêu", exact=True)).to_be_visible()
    expect(edited.get_by_role("button", name="Ẩn nội dung trước khi sửa")).to_have_attribute("aria-expanded", "true")
    # *Nhắn tin riêng* is off with its reason: already sent, or too old.
    expect(body(edited).get_by_role("button", name="Nhắn tin riêng")).to_be_disabled()
    expect(edited.get_by_text("Đã nhắn tin riêng cho bình luận này (Meta chỉ cho một lần).")).to_be_visible()
    expect(body(old).get_by_role("button", name="Nhắn tin riêng")).to_be_disabled()
    expect(old.get_by_text("Bình luận đã quá 7 ngày: Meta không cho nhắn tin riêng nữa.")).to_be_visible()

    # The box answers the latest customer comment until one is chosen, by keyboard here.
    expect(page.get_by_text("Trả lời bình luận của Chị Lan: “giá bao nhiêu vậy shop”")).to_be_visible()
    body(first).get_by_role("button", name="Trả lời", exact=True).focus()
    page.keyboard.press("Enter")
    box = page.get_by_label("Trả lời công khai")
    expect(box).to_be_focused()
    expect(page.get_by_text("Trả lời bình luận của Chị Lan: “Còn size M không shop? 0912345678”")).to_be_visible()
    box.fill("Dạ size M còn 2 cái ạ")
    page.keyboard.press("Enter")
    expect(first.locator(".cmt-replies").get_by_text("Dạ size M còn 2 cái ạ")).to_be_visible()
    post = [c for c in api.calls if c[0] == "POST" and c[1].endswith("/messages")]
    assert post[-1][2] == {"text": "Dạ size M còn 2 cái ạ", "reply_to": "900000000000009_1"}, post
    assert post[-1][3], "a reply carries an Idempotency-Key"

    # A private reply refused by the API: said at the reply box.
    body(first).get_by_role("button", name="Nhắn tin riêng").click()
    pbox = page.get_by_label("Nhắn tin riêng cho Chị Lan (qua Messenger)")
    expect(pbox).to_be_focused()
    api.next_failure[("POST", "/messages")] = (409, "already_private_replied", "already replied")
    pbox.fill("Chị ơi shop nhắn riêng ạ")
    page.get_by_role("button", name="Gửi tin riêng").click()
    expect(page.locator(".reply-error")).to_have_text("Đã nhắn tin riêng cho bình luận này (Meta chỉ cho một lần).")
    # Sent the second time (a new request body, same comment).
    pbox.fill("Chị ơi shop gửi giá ạ")
    page.get_by_role("button", name="Gửi tin riêng").click()
    expect(page.get_by_text(re.compile("Đã gửi tin nhắn riêng cho Chị Lan"))).to_be_visible()
    assert api.calls[-1][2] == {"text": "Chị ơi shop gửi giá ạ", "reply_to": "900000000000009_1", "private": True}
    sent = first.locator(".cmt-replies li").filter(has_text="Chị ơi shop gửi giá ạ")
    expect(sent).to_contain_text("Tin nhắn riêng qua Messenger")
    expect(body(first).get_by_role("button", name="Nhắn tin riêng")).to_be_disabled()
    expect(page.get_by_label("Trả lời công khai")).to_be_visible()  # back to public replies

    # *Hiện*, then *Ẩn* refused by Facebook: the refusal sits on that comment.
    body(first).get_by_role("button", name="Hiện", exact=True).click()
    expect(body(first).get_by_text("Đã ẩn", exact=True)).to_have_count(0)
    assert api.calls[-1][:2] == ("POST", "/api/comments/900000000000009_1/unhide"), api.calls[-1]
    api.next_failure[("POST", "/hide")] = (403, "not_your_conversation", "only the holder")
    body(first).get_by_role("button", name="Ẩn", exact=True).click()
    expect(body(first).get_by_role("alert")).to_contain_text("Chỉ người phụ trách hội thoại")
    expect(body(first).get_by_text("Đã ẩn", exact=True)).to_have_count(0)

    # *Xóa* asks first; Esc cancels and nothing is sent; then confirmed.
    calls = len(api.calls)
    body(old).get_by_role("button", name="Xóa", exact=True).click()
    dialog = page.get_by_role("dialog", name="Xóa bình luận này?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert len(api.calls) == calls
    api.next_failure[("DELETE", "/900000000000009_5")] = (502, "graph_error", "Facebook refused: (#200) Permissions error")
    body(old).get_by_role("button", name="Xóa", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Xóa", exact=True).click()
    expect(body(old).get_by_role("alert")).to_have_text("Facebook không chấp nhận: (#200) Permissions error")
    body(old).get_by_role("button", name="Xóa", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Xóa", exact=True).click()
    expect(body(old).get_by_text("Đã xóa", exact=True)).to_be_visible()
    expect(body(old).locator(".cmt-error")).to_have_text("")
    assert api.calls[-1][:2] == ("DELETE", "/api/comments/900000000000009_5"), api.calls[-1]


def test_an_agent_who_does_not_hold_it_sees_why_and_no_actions_on_a_scripted_api(stack, shop, page):
    agent = shop.agent("lan")
    api = ScriptedApi(shop.owner)  # the owner holds both conversations
    api.install(page)
    harness.sign_in(page, stack, agent, shop.tenant, "agent")
    open_inbox(page)
    comment_row(page, "Bình luận trên bài viết").click()
    first = comment_item(page, "Còn size M không shop?")
    expect(first).to_be_visible()
    expect(first.get_by_role("button", name="Trả lời", exact=True)).to_have_count(0)
    expect(page.get_by_label("Trả lời công khai")).to_be_disabled()
    expect(page.get_by_text(f"{shop.owner} đang phụ trách hội thoại này; chỉ người phụ trách mới trả lời được.")).to_be_visible()
    assert not [c for c in api.calls if c[0] != "GET"]


def test_handoff_links_to_the_comment_conversation_on_a_scripted_api(stack, shop, page):
    scripted_inbox(stack, shop, page)
    rowbtn = comment_row(page, "Từ bình luận")
    expect(rowbtn).to_be_visible()
    rowbtn.click()
    expect(page.get_by_text("Em lấy size M nhé").last).to_be_visible()
    expect(page.get_by_text(f"Hội thoại này bắt đầu từ tin nhắn riêng trả lời một bình luận (do {shop.owner} gửi).")).to_be_visible()
    page.get_by_role("link", name="Xem hội thoại bình luận").click()
    expect(comment_item(page, "Còn size M không shop?")).to_be_visible()
    assert f"c={urllib.parse.quote(CONV)}" in page.url or f"c={CONV}" in page.url, page.url


def test_auto_hide_setting_on_the_page_card_on_a_scripted_api(stack, shop, page):
    api = ScriptedApi(shop.owner)
    api.install(page)
    shop.sign_in_owner(page)
    setting = page.get_by_role("group", name="Tự động ẩn bình luận")
    expect(setting.get_by_label("Tắt")).to_be_checked()
    save = setting.get_by_role("button", name="Lưu")
    expect(save).to_be_disabled()
    # By keyboard: arrows move through the radios without saving; *Lưu* saves once.
    setting.get_by_label("Tắt").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(setting.get_by_label("Tất cả bình luận")).to_be_checked()
    assert not [c for c in api.calls if c[0] == "PUT"]
    page.keyboard.press("ArrowUp")
    expect(setting.get_by_text("Chưa lưu.")).to_be_visible()
    save.click()
    expect(setting.get_by_text("Đã lưu.")).to_be_visible()
    assert [c[2] for c in api.calls if c[0] == "PUT"] == [{"auto_hide": "phone"}]
    expect(save).to_be_disabled()
    # A refusal is said there.
    api.next_failure[("PUT", "/comment-settings")] = (403, "forbidden", "owners and admins only")
    setting.get_by_label("Tất cả bình luận").check()
    save.click()
    expect(setting.get_by_text("Bạn không có quyền làm việc này.")).to_be_visible()


def test_comment_thread_fits_375_px_on_a_scripted_api(stack, shop, browser):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=1, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        api = ScriptedApi(shop.owner)
        api.install(page)
        shop.sign_in_owner(page)
        assert_fits(page, "Page card with auto-hide")
        link = page.get_by_role("navigation").get_by_role("link", name="Hội thoại")
        if not link.is_visible():
            page.get_by_role("button", name="Menu").click()
        link.click()
        rowbtn = comment_row(page, "Bình luận trên bài viết")
        expect(rowbtn).to_be_visible()
        assert_fits(page, "inbox list with a comment conversation")
        rowbtn.click()
        expect(comment_item(page, "Còn size M không shop?")).to_be_visible()
        assert_fits(page, "comment thread")
        page.get_by_role("button", name="Danh sách").click()
        expect(rowbtn).to_be_visible()
        assert not errors, errors
    finally:
        ctx.close()


def test_comment_thread_in_english_on_a_scripted_api(stack, shop, page):
    scripted_inbox(stack, shop, page)
    page.get_by_role("button", name="English").click()
    rowbtn = comment_row(page, "Comments on post 900000000000009")
    expect(rowbtn).to_be_visible()
    rowbtn.click()
    first = comment_item(page, "Còn size M không shop?").locator(":scope > .cmt-body")
    expect(first.get_by_text("Hidden", exact=True)).to_be_visible()
    first.get_by_role("button", name="Private reply").click()
    expect(page.get_by_label("Private reply to Chị Lan (through Messenger)")).to_be_focused()
    expect(page.get_by_role("button", name="Send privately")).to_be_visible()
    page.get_by_role("button", name="Reply publicly instead").click()
    expect(page.get_by_label("Public reply")).to_be_visible()
    # No key shows through untranslated.
    assert not page.locator("text=/\\b(cmt|ah)\\.[a-z_]+/").count()
    page.get_by_role("button", name="Tiếng Việt").click()
