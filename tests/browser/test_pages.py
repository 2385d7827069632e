"""*Cấu hình kênh chat*: the tabs and the Page list (*Trang của tôi (N)*, *Người kết nối*,
*Kết nối gần nhất* in shop time, the mode and the status), with Pages connected through the
local stack's seeding route (no Facebook needed)."""
import re
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

SHOP_TZ = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh, the default shop time zone


def card(page, name):
    """The Page's card: the list item that carries its name."""
    return page.get_by_role("listitem").filter(has=page.get_by_text(name, exact=True))


def test_page_list_shows_each_page_with_who_when_mode_and_status(stack, shop, page):
    stack.seed_page(shop.token, "Shop Áo Dài Sài Gòn")
    stack.seed_page(shop.token, "Tiệm Giày Hà Nội")
    before = datetime.now(SHOP_TZ)
    shop.sign_in_owner(page)

    expect(page.get_by_role("tab", name="Cấu hình Facebook")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="Trang của tôi (2)")).to_be_visible()
    expect(page.get_by_role("button", name="Thêm kết nối")).to_be_visible()
    for name in ("Shop Áo Dài Sài Gòn", "Tiệm Giày Hà Nội"):
        c = card(page, name)
        expect(c).to_have_count(1)
        expect(c).to_contain_text(f"Người kết nối: {shop.owner}")
        expect(c).to_contain_text("Chỉ mình tôi")
        expect(c).to_contain_text("Đã kết nối")
        # dd-mm-yyyy HH:mm in shop time (UTC+7), not UTC and not the browser's zone.
        text = c.inner_text()
        m = re.search(r"Kết nối gần nhất:\s*(\d\d-\d\d-\d{4} \d\d:\d\d)", text)
        assert m, f"no 'Kết nối gần nhất: dd-mm-yyyy HH:mm' in {text!r}"
        shown = datetime.strptime(m.group(1), "%d-%m-%Y %H:%M").replace(tzinfo=SHOP_TZ)
        assert before - timedelta(minutes=2) <= shown <= datetime.now(SHOP_TZ), (shown, before)


def test_empty_page_list_says_so_and_offers_the_connection(stack, shop, page):
    shop.sign_in_owner(page)
    expect(page.get_by_role("heading", name="Trang của tôi (0)")).to_be_visible()
    expect(page.get_by_role("button", name="Thêm kết nối")).to_be_visible()


def test_zalo_and_fchat_tabs_say_they_are_not_available_and_arrows_move(stack, shop, page):
    shop.sign_in_owner(page)
    fb = page.get_by_role("tab", name="Cấu hình Facebook")
    expect(fb).to_have_attribute("aria-selected", "true")
    fb.focus()
    page.keyboard.press("ArrowRight")
    zalo = page.get_by_role("tab", name="Cấu hình Zalo")
    expect(zalo).to_be_focused()
    expect(zalo).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("button", name="Thêm kết nối")).to_have_count(0)
    expect(page.get_by_role("tabpanel")).to_be_visible()
    page.keyboard.press("ArrowRight")
    fchat = page.get_by_role("tab", name="Cấu hình Fchat")
    expect(fchat).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel")).not_to_be_empty()
    fb.click()
    expect(page.get_by_role("heading", name=re.compile(r"Trang của tôi \(\d+\)"))).to_be_visible()


def test_pages_of_another_shop_are_not_listed(stack, shop, page):
    from conftest import new_shop

    other = new_shop(stack)
    stack.seed_page(other.token, "Trang Của Shop Khác")
    stack.seed_page(shop.token, "Trang Của Tôi")
    shop.sign_in_owner(page)
    expect(page.get_by_role("heading", name="Trang của tôi (1)")).to_be_visible()
    expect(card(page, "Trang Của Tôi")).to_have_count(1)
    expect(page.get_by_text("Trang Của Shop Khác")).to_have_count(0)


def test_facebook_login_return_names_every_missing_permission(stack, shop, page):
    shop.sign_in_owner(page)
    # Where the OAuth callback sends the owner back (PRODUCT.md, External contract).
    page.goto(stack.url("/?error=permissions_declined&message=declined"
                        "&missing=pages_manage_posts,pages_read_user_content"))
    alert = page.get_by_text("Các quyền còn thiếu").locator("xpath=..")
    expect(page.get_by_text("pages_manage_posts").first).to_be_visible()
    expect(page.get_by_text("pages_read_user_content").first).to_be_visible()
    # Each with the words of Meta's dialog, not just the technical name.
    expect(page.get_by_text("Tạo và quản lý nội dung trên Trang của bạn").first).to_be_visible()
    expect(alert).to_be_visible()
    expect(page.get_by_text("pages_messaging")).to_have_count(0)
    # The outcome leaves the address bar, so a reload does not show it again.
    assert "missing=" not in page.url and "error=" not in page.url
    page.reload()
    expect(page.get_by_role("heading", name="Trang của tôi (0)")).to_be_visible()
    expect(page.get_by_text("pages_manage_posts")).to_have_count(0)


def test_facebook_login_return_counts_the_imported_pages_or_the_cancel(stack, shop, page):
    shop.sign_in_owner(page)
    page.goto(stack.url("/?result=ok&imported=3"))
    expect(page.get_by_text("Đã thêm 3 trang.")).to_be_visible()
    page.goto(stack.url("/?error=access_denied&message=cancelled"))
    expect(page.get_by_text(re.compile("Bạn đã hủy đăng nhập Facebook"))).to_be_visible()
    expect(page.get_by_text("Đã thêm 3 trang.")).to_have_count(0)


def test_disconnect_asks_first_then_the_card_offers_to_connect_again(stack, shop, page):
    stack.seed_page(shop.token, "Trang Sắp Ngắt")
    shop.sign_in_owner(page)
    c = card(page, "Trang Sắp Ngắt")
    expect(c).to_contain_text("Đã kết nối")
    c.get_by_role("button", name="Ngắt kết nối").click()
    dialog = page.get_by_role("dialog", name="Ngắt kết nối trang Trang Sắp Ngắt?")
    expect(dialog).to_be_visible()
    # Esc cancels: nothing changes.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert stack.api("GET", "/api/pages", shop.token)["items"][0]["status"] == "connected"
    c.get_by_role("button", name="Ngắt kết nối").click()
    dialog.get_by_role("button", name="Ngắt kết nối").click()
    expect(page.get_by_text("Đã ngắt kết nối trang Trang Sắp Ngắt.")).to_be_visible()
    expect(c.get_by_role("button", name="Kết nối fanpage này")).to_be_visible()
    assert stack.api("GET", "/api/pages", shop.token)["items"][0]["status"] == "not_connected"
