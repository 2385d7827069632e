"""At 375 px wide (a phone): no horizontal scroll on the Page list, the dialogs and the inbox,
and long Vietnamese names wrap or ellipsize inside their boxes instead of pushing out."""
import uuid

import pytest
from playwright.sync_api import expect

import harness
from test_rules import NEW_RULE

WIDTH = 375
LONG_NAME = "Cửa Hàng Thời Trang Công Sở Nguyễn Thị Minh Khai Chi Nhánh Quận 3 Thành Phố Hồ Chí Minh"
# One unbroken word: only overflow-wrap:anywhere (or an ellipsis) keeps it inside.
LONG_WORD = "ThờiTrangCôngSởNguyễnThịMinhKhaiChiNhánhQuận3ThànhPhốHồChíMinh"

# Visible elements sticking out to the right of the viewport, unless a scrolling or clipping
# ancestor (a tab strip that scrolls, an ellipsis) keeps them in.
OVERFLOWING = """(width) => {
  const out = [];
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o !== 'visible') return a.getBoundingClientRect().right <= width + 0.5;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.position === 'fixed' && r.left >= width) continue;
    if (r.right > width + 0.5 && !clipped(el)) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}: ${(el.textContent || '').trim().slice(0, 60)}`);
    }
  }
  return out.slice(0, 10);
}"""


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 740}, device_scale_factor=1,
                              is_mobile=True, has_touch=True)
    ctx.set_default_timeout(10_000)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def assert_fits(page, where):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{where}: horizontal scroll (scrollWidth {width} > {WIDTH})"
    out = page.evaluate(OVERFLOWING, WIDTH)
    assert not out, f"{where}: elements stick out of the {WIDTH} px viewport: {out}"


def go(page, label):
    """Follows a nav link; at 375 px the nav may sit behind a menu button."""
    link = page.get_by_role("navigation").get_by_role("link", name=label)
    if not link.is_visible():
        page.get_by_role("button", name="Menu").click()
    link.click()


def test_sign_in_form_fits(stack, phone):
    phone.goto(stack.url("/"))
    expect(phone.get_by_role("button", name="Đăng nhập")).to_be_visible()
    assert_fits(phone, "sign-in form")


def test_page_list_fits_with_long_names(stack, shop, phone):
    stack.seed_page(shop.token, LONG_NAME)
    stack.seed_page(shop.token, LONG_WORD)
    shop.sign_in_owner(phone)
    expect(phone.get_by_role("heading", name="Trang của tôi (2)")).to_be_visible()
    expect(phone.get_by_text(LONG_WORD, exact=True)).to_be_visible()
    assert_fits(phone, "Page list")
    # The menu opens and its links fit too.
    menu = phone.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
        expect(phone.get_by_role("navigation").get_by_role("link", name="Quy tắc")).to_be_visible()
        assert_fits(phone, "open menu")


def test_rule_form_fits(stack, shop, phone):
    stack.seed_page(shop.token, LONG_WORD)
    shop.agent("nhan-vien-co-dia-chi-email-rat-dai-" + uuid.uuid4().hex[:8])
    shop.sign_in_owner(phone)
    go(phone, "Quy tắc")
    phone.get_by_role("button", name=NEW_RULE).first.click()
    expect(phone.get_by_label("Tên quy tắc")).to_be_visible()
    phone.get_by_label("Chia tất cả hội thoại").check()
    assert_fits(phone, "rule form")


def test_connect_dialog_fits(stack, shop, phone):
    # A Page brought in but not receiving: seeded, then disconnected (no Facebook needed).
    p = stack.seed_page(shop.token, LONG_NAME)
    stack.api("POST", f"/api/pages/{p['page_id']}/disconnect", shop.token)
    shop.agent("lan")
    shop.sign_in_owner(phone)
    card = phone.get_by_role("listitem").filter(has=phone.get_by_text(LONG_NAME, exact=True))
    card.get_by_role("button", name="Kết nối fanpage này").click()
    dialog = phone.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Có, tiếp tục")).to_be_visible()
    assert_fits(phone, "connect dialog")
    dialog.get_by_role("button", name="Có, tiếp tục").click()
    dialog.get_by_label("Tạo quy tắc mới").check()
    dialog.get_by_role("button", name="Tiếp tục").click()
    expect(dialog.get_by_label("Tên quy tắc")).to_be_visible()
    assert_fits(phone, "rule form in the connect dialog")


def test_inbox_list_and_thread_fit(stack, shop, phone):
    p = stack.seed_page(shop.token, LONG_NAME)
    psid = harness.new_psid()
    stack.customer_message(p["page_id"], psid, "Chào shop " + LONG_WORD + " " + LONG_NAME)
    stack.wait_conversation(shop.token)
    shop.sign_in_owner(phone)
    go(phone, "Hội thoại")
    rowbtn = phone.get_by_role("tabpanel").get_by_role("listitem").get_by_role("button").first
    expect(rowbtn).to_be_visible()
    assert_fits(phone, "inbox list")
    rowbtn.click()
    box = phone.get_by_label("Trả lời khách")
    expect(box).to_be_visible()
    expect(phone.get_by_text(LONG_WORD).last).to_be_visible()
    assert_fits(phone, "inbox thread")
    # One pane at a time: the list is out of sight while the thread shows, and back returns.
    back = phone.get_by_role("button", name="Danh sách")
    expect(back).to_be_visible()
    back.click()
    expect(rowbtn).to_be_visible()
    assert_fits(phone, "inbox list after back")
