"""The thread shows every kind of message PRODUCT.md names (*Hội thoại*: "the thread with
messages, comments, reactions and read marks"): text, an image as a thumbnail link, a file as a
link, a button press, a reaction on the message it answers, a reply sent from the Page, and the
read mark once the customer has seen it. Every event comes as Meta delivers it: a signed
webhook."""
import time
import uuid

from playwright.sync_api import expect

import harness
from test_inbox import customer_row, open_inbox


def messaging(page_id, psid, at, **event):
    return {"sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": at, **event}


def test_thread_shows_attachments_postbacks_reactions_and_read_marks(stack, shop, page):
    p = stack.seed_page(shop.token, "Shop Giày Dép")
    page_id, psid = p["page_id"], harness.new_psid()
    now = int(time.time() * 1000) - 60_000
    hello_mid = "m_" + uuid.uuid4().hex
    hello = f"Cho em xem mẫu giày {uuid.uuid4().hex[:6]}"
    events = [
        messaging(page_id, psid, now, message={"mid": hello_mid, "text": hello}),
        messaging(page_id, psid, now + 1_000, message={"mid": "m_" + uuid.uuid4().hex, "attachments": [
            {"type": "image", "payload": {"url": "https://cdn.example.test/giay-123.jpg"}},
            {"type": "file", "payload": {"url": "https://cdn.example.test/bang-gia.pdf"}}]}),
        messaging(page_id, psid, now + 2_000, postback={"mid": "m_" + uuid.uuid4().hex, "title": "Đặt hàng ngay",
                                                       "payload": "ORDER"}),
        messaging(page_id, psid, now + 3_000, reaction={"mid": hello_mid, "action": "react",
                                                       "emoji": "\u2764", "reaction": "love"}),
    ]
    stack.send_webhook({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": events}]})
    # The Page answers from Facebook's own inbox (an echo), and the customer reads it.
    answer = f"Dạ mẫu này còn size 38 ạ {uuid.uuid4().hex[:6]}"
    echo = {"sender": {"id": page_id}, "recipient": {"id": psid}, "timestamp": now + 4_000,
            "message": {"mid": "m_" + uuid.uuid4().hex, "text": answer, "is_echo": True, "app_id": 263902037430900}}
    stack.send_webhook({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [echo]}]})
    stack.wait_conversation(shop.token)

    shop.sign_in_owner(page)
    open_inbox(page)
    customer_row(page, psid).click()
    thread = page.get_by_role("region").filter(has=page.get_by_label("Trả lời khách"))
    expect(thread.get_by_text(hello)).to_be_visible()
    expect(thread.locator('a[href="https://cdn.example.test/giay-123.jpg"]')).to_have_count(1)
    expect(thread.locator('a[href="https://cdn.example.test/bang-gia.pdf"]')).to_have_count(1)
    expect(thread.get_by_text("Khách bấm nút")).to_be_visible()
    expect(thread.get_by_text("Đặt hàng ngay")).to_be_visible()
    # The reaction sits on the message it answers.
    hello_bubble = thread.get_by_role("listitem").filter(has_text=hello)
    expect(hello_bubble).to_contain_text("\u2764")
    expect(thread.get_by_text(answer)).to_be_visible()
    expect(thread.get_by_text("Đã xem")).to_have_count(0)

    read = messaging(page_id, psid, now + 5_000, read={"watermark": now + 5_000})
    stack.send_webhook({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [read]}]})
    # Without reload, within the inbox's 5-second promise.
    expect(thread.get_by_role("listitem").filter(has_text=answer)).to_contain_text("Đã xem", timeout=5_000)
