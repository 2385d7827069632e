"""The browser tests' harness, shared by the pytest fixtures (conftest.py), the screenshots
script (scripts/screenshots.py) and the console benchmark (scripts/console-bench.py), so the
three start the stack, sign in and seed data the same way.

What it does:
- starts the local stack binary (target/debug/local-stack, or $LOCAL_STACK_BIN) on a free port
  with the in-memory backend and without FB_APP_ID, so the Meta simulator at /_sim is on when
  the binary has it; waits for /healthz;
- launches Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) headless through Playwright;
- mints development tokens (POST /_local/token) and calls the admin API to set up a shop;
- sends Meta-signed webhooks (HMAC-SHA256 with the stack's app secret, as
  scripts/send-webhook.py does) when the simulator is not what a test is about.
Nothing here prints a token.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_SECRET = "test-app-secret"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Env that would point the stack at real Meta or AWS: removed so the stack is self-contained.
_NOT_INHERITED = ("FB_APP_ID", "FB_GRAPH_URL", "FB_DIALOG_URL", "AWS_ENDPOINT_URL", "APP_BASE_URL",
                  "OAUTH_REDIRECT_URI", "FB_APP_SECRET", "PORT")


def use_project_venv() -> None:
    """For the scripts run as plain `python3`: without Playwright in this interpreter, re-run
    the script with the project's venv (.venv, or $VENV), which scripts/browser-tests.sh fills."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        import sys
        venv_python = Path(os.environ.get("VENV", ROOT / ".venv")) / "bin" / "python"
        if venv_python.exists() and Path(sys.executable) != venv_python:
            os.execv(str(venv_python), [str(venv_python), *sys.argv])
        sys.exit("Playwright for Python is missing: run scripts/browser-tests.sh once (it installs it into .venv)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_tenant() -> str:
    """A fresh shop id, so every test has a shop of its own."""
    return "t" + uuid.uuid4().hex[:12]


def new_page_id() -> str:
    """A fresh 15-digit Page id: a Page is held by at most one shop, so tests never share one."""
    return str(random.randint(10**14, 10**15 - 1))


def new_psid() -> str:
    return str(random.randint(10**15, 10**16 - 1))


class ApiFailure(Exception):
    def __init__(self, status: int, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def _http(method: str, url: str, body=None, headers=None, raw: bytes | None = None, timeout=10):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text and r.headers.get_content_subtype() == "json" else text)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return e.code, parsed


@dataclass
class Stack:
    """A running local stack."""

    port: int
    proc: subprocess.Popen
    log_path: Path
    _sim: bool | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    # --- admin API set-up -------------------------------------------------------------------

    def token(self, email: str, tenant: str, role: str = "owner") -> str:
        status, body = _http("POST", self.url("/_local/token"),
                             {"email": email, "tenant_id": tenant, "role": role})
        if status != 200:
            raise ApiFailure(status, body)
        return body["token"]

    def api(self, method: str, path: str, token: str, body=None, expect=(200, 201, 204)):
        status, answer = _http(method, self.url(path), body, {"Authorization": f"Bearer {token}"})
        if expect and status not in expect:
            raise ApiFailure(status, answer)
        return answer

    def api_status(self, method: str, path: str, token: str, body=None):
        return _http(method, self.url(path), body, {"Authorization": f"Bearer {token}"})

    def add_member(self, owner_token: str, email: str, role: str = "agent"):
        return self.api("POST", "/api/members", owner_token, {"email": email, "role": role})

    def seed_page(self, owner_token: str, name: str, page_id: str | None = None) -> dict:
        """A connected Page in only-me mode without Facebook (POST /_local/pages)."""
        return self.api("POST", "/_local/pages", owner_token,
                        {"page_id": page_id or new_page_id(), "name": name})

    def create_rule(self, owner_token: str, name: str, page_ids, agents, method="self_claim",
                    old="none") -> dict:
        return self.api("POST", "/api/rules", owner_token, {
            "name": name, "page_ids": list(page_ids), "agent_emails": list(agents),
            "method": method, "old_conversations": old})

    def conversations(self, token: str, view: str = "all") -> list:
        return self.api("GET", f"/api/conversations?view={view}", token)["items"]

    def wait_conversation(self, token: str, view: str = "all", timeout: float = 10, pred=None) -> dict:
        """The first conversation in a view (matching pred), waiting for the worker."""
        deadline = time.time() + timeout
        while True:
            items = [c for c in self.conversations(token, view) if pred is None or pred(c)]
            if items:
                return items[0]
            if time.time() > deadline:
                raise AssertionError(f"no conversation in view {view} after {timeout}s")
            time.sleep(0.2)

    # --- webhooks and the simulator ---------------------------------------------------------

    def send_webhook(self, payload: dict) -> int:
        raw = json.dumps(payload).encode()
        sig = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        status, body = _http("POST", self.url("/webhooks/facebook"), raw=raw,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
        if status != 200:
            raise ApiFailure(status, body)
        return status

    def customer_message(self, page_id: str, psid: str, text: str, at_ms: int | None = None) -> str:
        """A customer's Messenger text to a Page, as Meta would deliver it (sent now, or at
        `at_ms`); returns the mid."""
        now = at_ms or int(time.time() * 1000)
        mid = "m_" + uuid.uuid4().hex
        self.send_webhook({"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [{
            "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": now,
            "message": {"mid": mid, "text": text}}]}]})
        return mid

    def has_simulator(self) -> bool:
        if self._sim is None:
            status, _ = _http("GET", self.url("/_sim/api/info"))
            self._sim = status == 200
        return self._sim

    def sim_info(self) -> dict:
        status, body = _http("GET", self.url("/_sim/api/info"))
        if status != 200:
            raise ApiFailure(status, body)
        return body

    def sim_customer_message(self, page_id: str, text: str, customer_name: str) -> dict:
        status, body = _http("POST", self.url("/_sim/api/customer/messages"),
                             {"page_id": page_id, "customer_name": customer_name, "text": text})
        if status not in (200, 201):
            raise ApiFailure(status, body)
        return body

    def sim_import_pages(self, owner_token: str, page_ids=None, declined=()) -> str:
        """Facebook Login through the simulator over plain HTTP (no browser): asks for the
        login link (its cookie binds the browser), answers the dialog with the chosen Pages
        (default all) and every permission but `declined`, follows the callback's redirect.
        Returns the console address it lands on (`/?result=ok&imported=n` or `/?error=...`)."""
        import html
        import http.cookiejar
        import re
        import urllib.parse

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        req = urllib.request.Request(self.url("/api/facebook/login-url"),
                                     headers={"Authorization": f"Bearer {owner_token}"})
        with opener.open(req, timeout=10) as r:
            dialog = json.loads(r.read())["url"]
        with opener.open(dialog, timeout=10) as r:
            form = r.read().decode()
            dialog_url = r.geturl()
        fields = [(html.unescape(n), html.unescape(v)) for n, v in
                  re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)]
        pages = re.findall(r'name="page" value="([^"]+)"', form)
        perms = re.findall(r'name="perm" value="([^"]+)"', form)
        fields += [("page", p) for p in pages if page_ids is None or p in page_ids]
        fields += [("perm", p) for p in perms if p not in declined]
        fields.append(("action", "continue"))
        post = urllib.request.Request(urllib.parse.urljoin(dialog_url, "oauth"), method="POST",
                                      data=urllib.parse.urlencode(fields).encode(),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        with opener.open(post, timeout=30) as r:
            return r.geturl()

    def sim_thread(self, page_id: str, psid: str):
        status, body = _http("GET", self.url(f"/_sim/api/customer/thread?page_id={page_id}&psid={psid}"))
        if status != 200:
            raise ApiFailure(status, body)
        return body


def stack_binary() -> Path:
    env = os.environ.get("LOCAL_STACK_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "local-stack"


def start_stack(log_dir: Path | None = None, extra_env: dict | None = None) -> Stack:
    """Starts the local stack on a free port and waits until /healthz answers."""
    binary = stack_binary()
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `cargo build -p local-stack` (or set LOCAL_STACK_BIN)")
    log_dir = log_dir or ROOT / "target" / "browser-tests"
    log_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env.update({"PORT": str(port), "RUST_LOG": env.get("RUST_LOG", "info")})
        env.update(extra_env or {})
        log_path = log_dir / f"local-stack-{port}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        log.close()
        stack = Stack(port=port, proc=proc, log_path=log_path)
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            try:
                status, _ = _http("GET", stack.url("/healthz"), timeout=1)
                if status == 200:
                    return stack
            except OSError:
                pass
            time.sleep(0.1)
        stack.stop()
        # The port may have been taken between picking and binding: try another one.
    raise RuntimeError(f"local stack did not start; see {log_path}")


def launch_chromium(playwright):
    """Debian's Chromium (Playwright's own download is not reachable), headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# --- the console, by its visible labels --------------------------------------------------------

def sign_in(page, stack: Stack, email: str, shop: str, role: str = "owner", path: str = "/") -> None:
    """Signs in through the development form (*Email*, *Cửa hàng*, *Vai trò*, *Đăng nhập*)."""
    page.goto(stack.url(path))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Cửa hàng").fill(shop)
    page.get_by_label("Vai trò").select_option(role)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("button", name="Đăng xuất").wait_for()
