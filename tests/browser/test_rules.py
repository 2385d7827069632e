"""The rule form on *Quy tắc* (the same form the connect dialog uses): the seed's data-sharing
warning, saving a rule, and API refusals shown at the field they concern."""
import re

from playwright.sync_api import expect

WARNING = "toàn bộ lịch sử chat và thông tin dữ liệu khách hàng"
NEW_RULE = re.compile(r"^(Tạo quy tắc mới|Thêm quy tắc|Tạo quy tắc)$")


def open_new_rule_form(page):
    page.get_by_role("navigation").get_by_role("link", name="Quy tắc").click()
    page.get_by_role("button", name=NEW_RULE).first.click()
    expect(page.get_by_label("Tên quy tắc")).to_be_visible()


def test_distributing_old_conversations_shows_the_data_sharing_warning(stack, shop, page):
    stack.seed_page(shop.token, "Trang Quy Tắc")
    shop.agent("lan")
    shop.sign_in_owner(page)
    open_new_rule_form(page)
    old = page.get_by_role("group", name="Xử lý hội thoại cũ")
    warning = page.get_by_text(WARNING)
    expect(old.get_by_label("Không chia")).to_be_checked()
    expect(warning).to_be_hidden()
    old.get_by_label("Chia tất cả hội thoại").check()
    expect(warning).to_be_visible()
    old.get_by_label("Không chia").check()
    expect(warning).to_be_hidden()
    old.get_by_label("Chia hội thoại khả dụng").check()
    expect(warning).to_be_visible()


def fill_rule(page, name, page_name, agent, method="Tự nhận hội thoại"):
    page.get_by_label("Tên quy tắc").fill(name)
    page.get_by_role("group", name="Nguồn").get_by_label(page_name).check()
    page.get_by_role("group", name="User nhận hội thoại").get_by_label(agent).check()
    page.get_by_role("group", name="Phương thức chia").get_by_label(method).check()


def test_a_rule_is_saved_and_a_duplicate_name_is_refused_at_its_field(stack, shop, page):
    stack.seed_page(shop.token, "Trang Một")
    stack.seed_page(shop.token, "Trang Hai")
    lan = shop.agent("lan")
    shop.sign_in_owner(page)
    open_new_rule_form(page)
    fill_rule(page, "Ca sáng", "Trang Một", lan)
    page.get_by_role("button", name="Lưu").click()
    expect(page.get_by_text("Ca sáng").first).to_be_visible()
    rules = stack.api("GET", "/api/rules", shop.token)["items"]
    assert [(r["name"], r["method"], r["agent_emails"]) for r in rules] == [("Ca sáng", "self_claim", [lan])]

    open_new_rule_form(page)
    fill_rule(page, "Ca sáng", "Trang Hai", lan, "Chia xoay vòng")
    page.get_by_role("button", name="Lưu").click()
    name = page.get_by_label("Tên quy tắc")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile("đã có quy tắc tên này"))
    expect(name).to_be_focused()
    assert len(stack.api("GET", "/api/rules", shop.token)["items"]) == 1


def test_an_agent_removed_meanwhile_is_named_at_the_agents_field(stack, shop, page):
    stack.seed_page(shop.token, "Trang Ba")
    gone = shop.agent("vang")
    shop.sign_in_owner(page)
    open_new_rule_form(page)
    fill_rule(page, "Ca chiều", "Trang Ba", gone)
    # Someone removes the agent while the form is open: the API refuses the unknown email.
    stack.api("DELETE", f"/api/members/{gone}", shop.token)
    page.get_by_role("button", name="Lưu").click()
    agents = page.get_by_role("group", name="User nhận hội thoại")
    expect(agents).to_have_attribute("aria-invalid", "true")
    expect(agents).to_have_accessible_description(re.compile(re.escape(gone)))
    expect(page.get_by_text(re.compile("chưa có tài khoản trong cửa hàng: .*" + re.escape(gone)))).to_be_visible()
    assert stack.api("GET", "/api/rules", shop.token)["items"] == []
