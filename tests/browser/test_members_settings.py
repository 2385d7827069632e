"""*Thành viên* and *Cài đặt*: adding and removing a member (with the API's refusals in words at
their field) and the Human Agent switch, each checked against the API."""
import re

from playwright.sync_api import expect


def test_add_a_member_refuse_a_duplicate_and_remove_after_confirmation(stack, shop, page):
    shop.sign_in_owner(page)
    page.get_by_role("navigation").get_by_role("link", name="Thành viên").click()
    expect(page.get_by_role("heading", name="Danh sách thành viên (1)")).to_be_visible()
    newcomer = f"lan@{shop.tenant}.example"
    page.get_by_label("Email").fill(newcomer)
    page.get_by_label("Vai trò").select_option("agent")
    page.get_by_role("button", name="Thêm", exact=True).click()
    expect(page.get_by_text(f"Đã thêm {newcomer}.")).to_be_visible()
    expect(page.get_by_role("heading", name="Danh sách thành viên (2)")).to_be_visible()
    members = {m["email"]: m["role"] for m in stack.api("GET", "/api/members", shop.token)["items"]}
    assert members.get(newcomer) == "agent"

    # The same person again: refused at the email field, in words.
    page.get_by_label("Email").fill(newcomer)
    page.get_by_role("button", name="Thêm", exact=True).click()
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("đã là thành viên"))

    page.get_by_role("button", name=f"Xóa {newcomer}").click()
    dialog = page.get_by_role("dialog", name=f"Xóa {newcomer} khỏi cửa hàng?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Xóa", exact=True).click()
    expect(page.get_by_role("heading", name="Danh sách thành viên (1)")).to_be_visible()
    assert newcomer not in {m["email"] for m in stack.api("GET", "/api/members", shop.token)["items"]}


def test_the_human_agent_switch_is_saved(stack, shop, page):
    shop.sign_in_owner(page)
    page.get_by_role("navigation").get_by_role("link", name="Cài đặt").click()
    switch = page.get_by_label("Trả lời trong 7 ngày (thẻ Human Agent)")
    expect(switch).to_be_visible()
    before = stack.api("GET", "/api/settings", shop.token)
    flag = next(k for k, v in before.items() if isinstance(v, bool))
    expect(switch).to_be_checked(checked=before[flag])
    switch.click()
    expect(page.get_by_text(re.compile(r"Đã (bật|tắt) trả lời trong 7 ngày\."))).to_be_visible()
    assert stack.api("GET", "/api/settings", shop.token)[flag] is (not before[flag])
    page.reload()
    expect(page.get_by_label("Trả lời trong 7 ngày (thẻ Human Agent)")).to_be_checked(checked=not before[flag])
