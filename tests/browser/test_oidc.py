"""Sign-in in production: authorization code with PKCE against the identity provider the
template names (PRODUCT.md, "Console"). The identity provider is played by Playwright's request
interception: its authorize endpoint answers with a redirect back to the console carrying a
code, its token endpoint checks the PKCE verifier against the challenge the console sent and
answers with an id_token the local authorizer accepts. The page is served with the local
stack's CSP (connect-src 'self'), which the context bypasses so the fetch to the fake token
endpoint can happen; the CSP for an OIDC deployment is checked in console/src/lib.rs."""
import base64
import hashlib
import json
import urllib.parse

from playwright.sync_api import expect

IDP = "https://id.example.test"


def oidc_config(route):
    route.fulfill(status=200, content_type="application/json", body=json.dumps({
        "auth": {"mode": "oidc", "client_id": "console-test",
                 "authorization_endpoint": f"{IDP}/oauth2/authorize",
                 "token_endpoint": f"{IDP}/oauth2/token", "scope": "openid email"},
        "simulator_url": None, "time_zone": "Asia/Ho_Chi_Minh"}))


class FakeIdp:
    """What the identity provider saw, and the state it sends back."""

    def __init__(self, stack, id_token, state_override=None):
        self.stack, self.id_token, self.state_override = stack, id_token, state_override
        self.authorize = None
        self.token_form = None

    def handle(self, route):
        url = urllib.parse.urlparse(route.request.url)
        if url.path == "/oauth2/authorize":
            q = dict(urllib.parse.parse_qsl(url.query))
            self.authorize = q
            state = self.state_override or q["state"]
            back = f"{q['redirect_uri']}?code=code-123&state={urllib.parse.quote(state)}"
            route.fulfill(status=302, headers={"Location": back})
        elif url.path == "/oauth2/token":
            self.token_form = dict(urllib.parse.parse_qsl(route.request.post_data or ""))
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(self.token_form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
            ok = (self.token_form.get("code") == "code-123" and self.authorize
                  and challenge == self.authorize.get("code_challenge"))
            body = {"id_token": self.id_token, "token_type": "Bearer"} if ok else {"error": "invalid_grant"}
            route.fulfill(status=200 if ok else 400, content_type="application/json", body=json.dumps(body),
                          headers={"Access-Control-Allow-Origin": self.stack.base})
        else:
            route.fulfill(status=404, body="")


def oidc_page(browser, stack, idp):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = ctx.new_page()
    page.route("**/console-config.json", oidc_config)
    page.route(f"{IDP}/**", idp.handle)
    return ctx, page


def test_oidc_sign_in_uses_pkce_and_keeps_the_token_out_of_the_url(browser, stack, shop):
    idp = FakeIdp(stack, shop.token)
    ctx, page = oidc_page(browser, stack, idp)
    try:
        page.goto(stack.url("/"))
        expect(page.get_by_label("Email")).to_have_count(0)  # no development form in OIDC mode
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
        a = idp.authorize
        assert a["response_type"] == "code" and a["client_id"] == "console-test", a
        assert a["code_challenge_method"] == "S256" and len(a["code_challenge"]) == 43, a
        assert a["redirect_uri"] == stack.url("/"), a
        f = idp.token_form
        assert f["grant_type"] == "authorization_code" and f["client_id"] == "console-test", f
        assert f["redirect_uri"] == stack.url("/"), f
        # Signed in as the token's owner; the code and the token are gone from the address bar.
        expect(page.get_by_text(shop.owner).first).to_be_attached()
        assert "code=" not in page.url and shop.token not in page.url, page.url
        assert page.evaluate("() => sessionStorage.getItem('oidc_verifier')") is None
    finally:
        ctx.close()


def test_oidc_return_with_another_state_is_refused_without_a_token_exchange(browser, stack, shop):
    idp = FakeIdp(stack, shop.token, state_override="forged-state")
    ctx, page = oidc_page(browser, stack, idp)
    try:
        page.goto(stack.url("/"))
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_text("phiên đăng nhập không khớp", exact=False)).to_be_visible()
        assert idp.token_form is None, "the code was exchanged despite a foreign state"
        expect(page.get_by_role("button", name="Đăng xuất")).to_have_count(0)
    finally:
        ctx.close()
