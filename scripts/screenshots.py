#!/usr/bin/env python3
"""Regenerates the console's pictures in docs/screenshots/: the Page list, the connect
dialog, the rule form, the inbox and (with the simulator) a comment thread, each 1280 and 375
px wide.

    scripts/screenshots.py            # builds the local stack (debug) unless LOCAL_STACK_BIN is set
    scripts/screenshots.py --out /tmp/shots

It uses the browser tests' harness (tests/browser/harness.py): a local stack of its own on a
free port, Debian's headless Chromium, the development sign-in. Demo data comes through the
Meta simulator when the stack has it (Facebook Login, customers with names, replies through the
Send API); otherwise through the local seeding route and signed webhooks.
Needs Playwright for Python: run it with the project's venv (.venv, or $VENV), which
scripts/browser-tests.sh fills; the script re-runs itself with that interpreter if needed.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import harness  # noqa: E402

harness.use_project_venv()
from playwright.sync_api import expect, sync_playwright  # noqa: E402

WIDTHS = {1280: 800, 375: 760}
TENANT = "cua-hang-demo"
OWNER = "chu.shop@example.vn"
AGENTS = ["lan.nguyen@example.vn", "minh.tran@example.vn"]
LONG_NAME = "Cửa Hàng Thời Trang Công Sở Nguyễn Thị Minh Khai Chi Nhánh Quận 3"
# (customer, [(from the customer?, text)]); not the simulator's history customers, whose
# older conversations come in too when the Page is connected.
CHATS = [
    ("Nguyễn Thu Hà", [(True, "Chào shop, bánh mì pate còn không ạ?"),
                       (False, "Dạ còn ạ, chị lấy mấy ổ?"),
                       (True, "Cho em 3 ổ, 5 giờ chiều em ghé lấy nhé."),
                       (False, "Dạ shop giữ 3 ổ cho chị đến 5 giờ ạ. Cảm ơn chị!")]),
    ("Đỗ Hoàng Phúc", [(True, "Shop có giao hàng quận 7 không?")]),
    ("Vũ Minh Châu", [(True, "Bánh mì chay còn không shop ơi, mình đặt 10 ổ cho văn phòng")]),
]


def seed(stack):
    """The demo shop: three Pages (connected only-me, shared by a rule, not yet connected),
    two agents, and a few conversations on the connected Page. Returns the id of the first
    chat's conversation (the one with a back-and-forth), to open in the inbox picture."""
    token = stack.token(OWNER, TENANT, "owner")
    stack.api("GET", "/api/members", token)
    for a in AGENTS:
        stack.add_member(token, a, "agent")
    rule = {"name": "Ca sáng", "page_ids": [], "agent_emails": AGENTS, "method": "self_claim",
            "old_conversations": "none"}
    if stack.has_simulator():
        landed = stack.sim_import_pages(token)
        assert "result=ok" in landed, landed
        pages = stack.sim_info()["pages"]
        chat_page = next((p["id"] for p in pages if "Bánh Mì" in p["name"]), pages[1]["id"])
        shared = next(p["id"] for p in pages if p["id"] != chat_page and p["name"] != LONG_NAME)
        stack.api("POST", f"/api/pages/{chat_page}/connect", token, {"chat_mode": "only_me"})
        stack.api("POST", f"/api/pages/{shared}/connect", token,
                  {"chat_mode": "shared", "new_rule": {**rule, "page_ids": [shared]}})
        first_psid = None
        comments = seed_comments(stack, token, chat_page)
        for name, lines in CHATS:
            psid = None
            for from_customer, text in lines:
                if from_customer:
                    psid = stack.sim_customer_message(chat_page, text, name)["psid"]
                    first_psid = first_psid or psid
                    time.sleep(0.3)
                else:
                    conv = stack.wait_conversation(token, "all", pred=lambda c, p=psid: c["customer_id"] == p)
                    stack.api("POST", f"/api/conversations/{conv['id']}/messages", token, {"text": text})
    else:
        comments = None
        chat_page = stack.seed_page(token, "Tiệm Bánh Mì Cô Ba")["page_id"]
        shared = stack.seed_page(token, "Phụ Kiện Điện Thoại Hà Nội")["page_id"]
        stack.create_rule(token, rule["name"], [shared], AGENTS)
        waiting = stack.seed_page(token, LONG_NAME)["page_id"]
        stack.api("POST", f"/api/pages/{waiting}/disconnect", token)
        first_psid = None
        for _, lines in CHATS:
            psid = harness.new_psid()
            first_psid = first_psid or psid
            for from_customer, text in lines:
                if from_customer:
                    stack.customer_message(chat_page, psid, text)
                else:
                    echo(stack, chat_page, psid, text)
                time.sleep(0.3)
    # Let the worker store everything before the pictures.
    deadline = time.time() + 15
    while len(stack.conversations(token, "all")) < len(CHATS) and time.time() < deadline:
        time.sleep(0.2)
    chat = stack.wait_conversation(token, "all", pred=lambda c: c["customer_id"] == first_psid)["id"]
    return chat, comments


COMMENTS = [("Hồ Thị Thanh Mai", "Chốt 2 ổ bánh mì thịt nhé shop, ib mình 0912 345 678"),
            ("Lê Văn Tùng", "Còn bánh mì chay không shop?")]


def seed_comments(stack, token, page_id):
    """Customers' comments on the Page's post (through the simulator), auto-hide of phone
    numbers on, a public reply under the first and a private reply to it. Returns the first
    commenter's comment conversation."""
    stack.api("PUT", f"/api/pages/{page_id}/comment-settings", token, {"auto_hide": "phone"})
    first = None
    for name, text in COMMENTS:
        status, c = harness._http("POST", stack.url("/_sim/api/customer/comments"),
                                  {"page_id": page_id, "customer_name": name, "text": text})
        assert status in (200, 201), c
        first = first or c
        time.sleep(0.3)
    conv = stack.wait_conversation(token, "all", pred=lambda c: c.get("kind") == "comment"
                                   and c.get("last_message", {}).get("text") == COMMENTS[0][1])
    stack.api("POST", f"/api/conversations/{conv['id']}/messages", token,
              {"text": "Dạ shop đã nhắn tin cho chị ạ", "reply_to": first["comment_id"]})
    stack.api("POST", f"/api/conversations/{conv['id']}/messages", token,
              {"text": "Chào chị Thanh Mai, 2 ổ bánh mì thịt là 50.000đ ạ. Chị ghé lấy lúc mấy giờ ạ?",
               "reply_to": first["comment_id"], "private": True})
    return conv["id"]


def echo(stack, page_id, psid, text):
    """What the Page sent from Facebook's own inbox, as Meta echoes it (no Send API needed)."""
    import uuid
    now = int(time.time() * 1000)
    stack.send_webhook({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [{
        "sender": {"id": page_id}, "recipient": {"id": psid}, "timestamp": now,
        "message": {"mid": "m_" + uuid.uuid4().hex, "text": text, "is_echo": True, "app_id": 1}}]}]})


def shoot(browser, stack, out: Path, width: int, conversation: str, comments: str | None):
    height = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                              is_mobile=width < 600, has_touch=width < 600)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    harness.sign_in(page, stack, OWNER, TENANT, "owner")
    expect(page.get_by_role("heading", name="Trang của tôi (3)")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=out / f"pages-{width}.png", full_page=True)

    card = page.get_by_role("listitem").filter(has=page.get_by_text(LONG_NAME, exact=True))
    card.get_by_role("button", name="Kết nối fanpage này").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Có, tiếp tục")).to_be_visible()
    page.wait_for_timeout(300)  # the dialog's opening transition
    page.screenshot(path=out / f"connect-dialog-{width}.png")

    dialog.get_by_role("button", name="Có, tiếp tục").click()
    dialog.get_by_label("Tạo quy tắc mới").check()
    dialog.get_by_role("button", name="Tiếp tục").click()
    dialog.get_by_label("Tên quy tắc").fill("Ca tối")
    dialog.get_by_role("group", name="User nhận hội thoại").get_by_label(AGENTS[0]).check()
    dialog.get_by_role("group", name="Phương thức chia").get_by_label("Tự nhận hội thoại").check()
    dialog.get_by_role("group", name="Xử lý hội thoại cũ").get_by_label("Chia hội thoại khả dụng").check()
    # The whole form in one picture: a window as tall as the dialog's content.
    tall = page.evaluate("() => Math.ceil(document.querySelector('dialog[open]').scrollHeight) + 80")
    page.set_viewport_size({"width": width, "height": max(height, min(tall, 2400))})
    page.wait_for_timeout(300)
    page.screenshot(path=out / f"rule-form-{width}.png")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": width, "height": height})

    inbox = page.get_by_role("navigation").get_by_role("link", name="Hội thoại")
    if not inbox.is_visible():
        page.get_by_role("button", name="Menu").click()  # at 375 px the nav is a menu
    inbox.click()
    rows = page.get_by_role("tabpanel").get_by_role("listitem").get_by_role("button")
    expect(rows.first).to_be_visible()
    if width < 900:  # a phone shows the list alone first
        page.wait_for_timeout(500)
        page.screenshot(path=out / f"inbox-{width}.png")
    # The first chat (a back-and-forth), opened by its address as a shared link would.
    page.goto(stack.url(f"/#/inbox?view=all&c={conversation}"))
    expect(page.get_by_label("Trả lời khách")).to_be_visible()
    expect(page.get_by_role("log").get_by_text(CHATS[0][1][-1][1])).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path=out / (f"inbox-{width}.png" if width >= 900 else f"inbox-thread-{width}.png"))
    if comments:
        page.goto(stack.url(f"/#/inbox?view=all&c={comments}"))
        expect(page.get_by_text(COMMENTS[0][1], exact=True)).to_be_visible()
        expect(page.get_by_text("Đã ẩn").first).to_be_visible()
        page.wait_for_timeout(500)
        page.screenshot(path=out / f"comments-{width}.png")
    ctx.close()


def main():
    out = ROOT / "docs" / "screenshots"
    if "--out" in sys.argv:
        out = Path(sys.argv[sys.argv.index("--out") + 1])
    out.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("LOCAL_STACK_BIN"):
        subprocess.run(["cargo", "build", "-p", "local-stack"], cwd=ROOT, check=True)
    stack = harness.start_stack()
    try:
        conversation, comments = seed(stack)
        with sync_playwright() as p:
            browser = harness.launch_chromium(p)
            for width in WIDTHS:
                shoot(browser, stack, out, width, conversation, comments)
            browser.close()
    finally:
        stack.stop()
    for f in sorted(out.glob("*.png")):
        print(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f)


if __name__ == "__main__":
    main()
