"""The seed's flow through the Meta simulator (/_sim), by visible labels: *Thêm kết nối* with a
declined permission, again with all, *Kết nối fanpage này* in only-me mode, the cancel, and
the shared mode with a new rule."""
import re

from playwright.sync_api import expect

DECLINED = "pages_manage_posts"


def demo_pages(stack):
    return [(p["id"], p["name"]) for p in stack.sim_info()["pages"]]


def card(page, name):
    return page.get_by_role("listitem").filter(has=page.get_by_text(name, exact=True))


def facebook_login(page, decline=(), pages=None, cancel=False):
    """*Thêm kết nối*, then the simulator's dialog: untick `decline` permissions (and Pages not
    in `pages`), then *Tiếp tục* or *Hủy*. Waits until the console is back."""
    page.get_by_role("button", name="Thêm kết nối").click()
    page.wait_for_url(re.compile(r"/_sim/dialog/oauth"))
    expect(page.get_by_text("Trình mô phỏng Meta").first).to_be_visible()
    for perm in decline:
        page.get_by_label(perm).uncheck()
    if pages is not None:
        for box in page.locator('input[name="page"]').all():
            label = box.evaluate("b => b.closest('label').textContent.trim()")
            if label not in pages:
                box.uncheck()
    page.get_by_role("button", name="Hủy" if cancel else "Tiếp tục").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/(?!_sim)"))


def test_seed_flow_declined_then_imported_then_connected_only_me(sim_stack, sim_shop, page):
    stack = sim_stack
    names = [n for _, n in demo_pages(stack)]
    sim_shop.sign_in_owner(page)
    expect(page.get_by_role("heading", name="Trang của tôi (0)")).to_be_visible()

    # One permission declined: the console names it, nothing is imported.
    facebook_login(page, decline=[DECLINED])
    expect(page.get_by_text(DECLINED).first).to_be_visible()
    expect(page.get_by_role("heading", name="Trang của tôi (0)")).to_be_visible()
    # The outcome is not left in the address bar.
    assert "error=" not in page.url and "missing=" not in page.url

    # All granted: every demo Page comes in, waiting for *Kết nối fanpage này*.
    facebook_login(page)
    n = len(names)
    expect(page.get_by_text(re.compile(rf"\b{n} trang")).first).to_be_visible()
    expect(page.get_by_role("heading", name=f"Trang của tôi ({n})")).to_be_visible()
    for name in names:
        expect(card(page, name).get_by_role("button", name="Kết nối fanpage này")).to_be_visible()

    target = names[1]
    card(page, target).get_by_role("button", name="Kết nối fanpage này").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Không, chỉ mình tôi").click()
    expect(page.get_by_text(f"Kết nối trang {target} thành công.")).to_be_visible()
    expect(card(page, target)).to_contain_text("Đã kết nối")
    expect(card(page, target)).to_contain_text("Chỉ mình tôi")
    expect(card(page, target).get_by_role("button", name="Kết nối fanpage này")).to_have_count(0)
    # The API agrees, and the simulator saw the subscription.
    pages = {p["name"]: p for p in stack.api("GET", "/api/pages", sim_shop.token)["items"]}
    assert pages[target]["status"] == "connected" and pages[target]["chat_mode"] == "only_me"
    subscribed = {p["name"]: p["subscribed_fields"] for p in stack.sim_info()["pages"]}
    assert subscribed[target], "the simulator has no subscription for the connected Page"


def test_cancelling_facebook_login_says_so(sim_stack, sim_shop, page):
    sim_shop.sign_in_owner(page)
    facebook_login(page, cancel=True)
    expect(page.get_by_text(re.compile(r"hủy", re.IGNORECASE)).first).to_be_visible()
    expect(page.get_by_role("heading", name="Trang của tôi (0)")).to_be_visible()


def test_shared_mode_with_a_new_rule(sim_stack, sim_shop, page):
    stack = sim_stack
    lan = sim_shop.agent("lan")
    minh = sim_shop.agent("minh")
    sim_shop.sign_in_owner(page)
    facebook_login(page)
    target = demo_pages(stack)[0][1]  # the long name

    card(page, target).get_by_role("button", name="Kết nối fanpage này").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Có, tiếp tục").click()
    dialog.get_by_label("Tạo quy tắc mới").check()
    dialog.get_by_role("button", name="Tiếp tục").click()
    dialog.get_by_label("Tên quy tắc").fill("Chia cho ca sáng")
    agents = dialog.get_by_role("group", name="User nhận hội thoại")
    agents.get_by_label(lan).check()
    agents.get_by_label(minh).check()
    dialog.get_by_role("group", name="Phương thức chia").get_by_label("Tự nhận hội thoại").check()
    dialog.get_by_role("button", name="Lưu").click()

    expect(page.get_by_text(f"Kết nối trang {target} thành công.")).to_be_visible()
    expect(card(page, target)).to_contain_text("Đã kết nối")
    expect(card(page, target)).to_contain_text("Chia sẻ hội thoại")
    rules = stack.api("GET", "/api/rules", sim_shop.token)["items"]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["name"] == "Chia cho ca sáng" and rule["method"] == "self_claim"
    assert sorted(rule["agent_emails"]) == sorted([lan, minh])
    page_rec = [p for p in stack.api("GET", "/api/pages", sim_shop.token)["items"] if p["name"] == target][0]
    assert page_rec["chat_mode"] == "shared" and page_rec["rule_id"] == rule["id"]


def test_shared_mode_duplicate_rule_name_is_refused_at_its_field(sim_stack, sim_shop, page):
    stack = sim_stack
    lan = sim_shop.agent("lan")
    sim_shop.sign_in_owner(page)
    facebook_login(page)
    first, second = demo_pages(stack)[1][1], demo_pages(stack)[2][1]
    for target, expect_ok in ((first, True), (second, False)):
        card(page, target).get_by_role("button", name="Kết nối fanpage này").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Có, tiếp tục").click()
        dialog.get_by_label("Tạo quy tắc mới").check()
        dialog.get_by_role("button", name="Tiếp tục").click()
        dialog.get_by_label("Tên quy tắc").fill("Ca tối")
        dialog.get_by_role("group", name="User nhận hội thoại").get_by_label(lan).check()
        dialog.get_by_role("button", name="Lưu").click()
        if expect_ok:
            expect(card(page, target)).to_contain_text("Đã kết nối")
    name = page.get_by_role("dialog").get_by_label("Tên quy tắc")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile("đã có quy tắc tên này"))
    expect(card(page, second).get_by_role("button", name="Kết nối fanpage này")).to_have_count(1)


def test_shared_mode_warns_before_sharing_old_conversations(sim_stack, sim_shop, page):
    sim_shop.agent("lan")
    sim_shop.sign_in_owner(page)
    facebook_login(page)
    target = demo_pages(sim_stack)[1][1]
    card(page, target).get_by_role("button", name="Kết nối fanpage này").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Có, tiếp tục").click()
    dialog.get_by_label("Tạo quy tắc mới").check()
    dialog.get_by_role("button", name="Tiếp tục").click()
    warning = dialog.get_by_text("toàn bộ lịch sử chat và thông tin dữ liệu khách hàng")
    expect(warning).to_be_hidden()
    dialog.get_by_role("group", name="Xử lý hội thoại cũ").get_by_label("Chia tất cả hội thoại").check()
    expect(warning).to_be_visible()


def test_shared_mode_adds_the_page_to_an_existing_rule(sim_stack, sim_shop, page):
    stack = sim_stack
    lan = sim_shop.agent("lan")
    landed = stack.sim_import_pages(sim_shop.token)
    assert "result=ok" in landed, landed
    (first_id, _), (second_id, second) = demo_pages(stack)[1], demo_pages(stack)[2]
    stack.api("POST", f"/api/pages/{first_id}/connect", sim_shop.token, {"chat_mode": "shared", "new_rule": {
        "name": "Ca ngày", "page_ids": [first_id], "agent_emails": [lan], "method": "round_robin",
        "old_conversations": "none"}})
    sim_shop.sign_in_owner(page)
    card(page, second).get_by_role("button", name="Kết nối fanpage này").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Có, tiếp tục").click()
    dialog.get_by_label("Thêm vào quy tắc đã có").check()
    dialog.get_by_label("Quy tắc", exact=True).select_option(label="Ca ngày")
    dialog.get_by_role("button", name="Tiếp tục").click()
    expect(page.get_by_text(f"Kết nối trang {second} thành công.")).to_be_visible()
    expect(card(page, second)).to_contain_text("Đã kết nối")
    rule = stack.api("GET", "/api/rules", sim_shop.token)["items"][0]
    assert sorted(rule["page_ids"]) == sorted([first_id, second_id])
