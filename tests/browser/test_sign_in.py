"""Signing in through the development form, signing out, doing it by keyboard alone, and the
English switch."""
import re

from playwright.sync_api import expect

import harness


def test_sign_in_with_the_dev_form_and_sign_out(stack, shop, page):
    page.goto(stack.url("/"))
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    page.get_by_label("Email").fill(shop.owner)
    page.get_by_label("Cửa hàng").fill(shop.tenant)
    page.get_by_label("Vai trò").select_option("owner")
    page.get_by_role("button", name="Đăng nhập").click()

    # Signed in: the owner lands on *Cấu hình kênh chat*, the top bar names them.
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    expect(page.get_by_text(shop.owner).first).to_be_visible()
    nav = page.get_by_role("navigation")
    for label in ("Hội thoại", "Cấu hình kênh chat", "Quy tắc", "Thành viên", "Cài đặt"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/channels"))
    # The token stays out of the address bar.
    assert "token" not in page.url and "eyJ" not in page.url

    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('token')") is None
    # Reloading after sign-out does not sign back in.
    page.reload()
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()


def test_a_bad_email_is_refused_at_its_field(stack, page):
    page.goto(stack.url("/"))
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Cửa hàng").fill(harness.new_tenant())
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Đăng xuất")).to_have_count(0)


def test_an_agent_sees_only_the_inbox_and_settings(stack, shop, page):
    agent = shop.agent("an")
    harness.sign_in(page, stack, agent, shop.tenant, "agent")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Hội thoại")).to_be_visible()
    for hidden in ("Cấu hình kênh chat", "Quy tắc", "Thành viên"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"#/inbox"))


def test_sign_in_by_keyboard_alone(stack, shop, page):
    page.goto(stack.url("/"))
    email = page.get_by_label("Email")
    expect(email).to_be_visible()
    # From the top of the page, Tab reaches the form's fields in order.
    page.locator("body").focus()
    for _ in range(10):
        if page.evaluate("() => document.activeElement && document.activeElement.labels "
                         "&& [...document.activeElement.labels].some(l => l.textContent.trim().startsWith('Email'))"):
            break
        page.keyboard.press("Tab")
    expect(email).to_be_focused()
    page.keyboard.type(shop.owner)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Cửa hàng")).to_be_focused()
    page.keyboard.type(shop.tenant)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Vai trò")).to_be_focused()
    # owner is the first choice; keep it, Tab to the button and press Enter.
    expect(page.get_by_label("Vai trò")).to_have_value("owner")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    # Focus is visible: the focused control draws an outline or a box shadow.
    page.keyboard.press("Tab")
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }""")
    assert ring, "the focused control shows no focus ring"


def test_english_switch_and_back(stack, shop, page):
    stack.seed_page(shop.token, "Shop Song Ngữ")
    shop.sign_in_owner(page)
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Cấu hình kênh chat")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(nav.get_by_role("link", name="Conversations")).to_be_visible()
    expect(nav.get_by_role("link", name="Rules")).to_be_visible()
    expect(nav.get_by_role("link", name="Members")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_have_count(0)
    expect(nav.get_by_role("link", name="Quy tắc")).to_have_count(0)
    # The screen too, not only the shell.
    expect(page.get_by_role("heading", name="My Pages (1)")).to_be_visible()
    expect(page.get_by_role("button", name="Add connection")).to_be_visible()
    expect(page.get_by_role("tab", name="Facebook settings")).to_be_visible()
    expect(page.get_by_text("Đã kết nối")).to_have_count(0)
    # The choice survives a reload.
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Tiếng Việt").click()
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    expect(nav.get_by_role("link", name="Thành viên")).to_be_visible()
    expect(page.get_by_role("heading", name="Trang của tôi (1)")).to_be_visible()


def test_english_sign_in_form(stack, page):
    page.goto(stack.url("/"))
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_visible()
    page.get_by_role("button", name="Tiếng Việt").click()
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
