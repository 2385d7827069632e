#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (committed; run again to regenerate).

Seeds are real-looking inputs: the webhook bodies of events/*.json and hand-made notifications
of every kind; signed headers; signed and forged OAuth states; cursors as the stores issue them;
Meta's signed_request samples and payloads. Secrets are the fuzz targets' test values.
"""
import base64, glob, hashlib, hmac, json, os, re, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(target: str, name: str, data) -> None:
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def events():
    for path in sorted(glob.glob(os.path.join(ROOT, "events", "*.json"))):
        with open(path) as f:
            yield os.path.basename(path)[:-5], json.load(f)


def item(kind: str, **kw) -> dict:
    base = {"sender": {"id": "2222222222222222"}, "recipient": {"id": "111111111111111"}, "timestamp": 1764000000100}
    base.update({kind: kw})
    return base


def webhook_bodies():
    for name, ev in events():
        if name.startswith("webhook-post") and ev.get("body"):
            write("webhook_body", name, ev["body"])
    msgs = [
        item("message", mid="m_1", text="Chào shop, áo này còn size M không? 😊"),
        item("message", mid="m_2", attachments=[{"type": "image", "payload": {"url": "https://x/y.jpg"}}]),
        {**item("message", mid="m_3", text="Dạ còn ạ", is_echo=True, app_id=1234567890, metadata="reply:k0"),
         "sender": {"id": "111111111111111"}, "recipient": {"id": "2222222222222222"}},
        item("postback", mid="m_4", title="Mua ngay", payload="BUY"),
        item("reaction", mid="m_1", action="react", reaction="love", emoji="❤"),
        item("read", watermark=1764000000000),
        item("delivery", watermark=1764000000000, mids=["m_3"]),
        item("message", mid="m_5", text="0912 345 678", quick_reply={"payload": "QR"}, reply_to={"mid": "m_1"}),
    ]
    change = {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "555_666",
              "post_id": "111111111111111_555", "from": {"id": "4444", "name": "Lan"}, "message": "Giá?",
              "created_time": "2025-11-24T16:00:00+0000"}}
    every = {"object": "page", "entry": [{"id": "111111111111111", "time": 1764000000000, "messaging": msgs,
             "standby": [msgs[0]], "changes": [change, {"field": "ratings", "value": {}}]}]}
    write("webhook_body", "every-kind", json.dumps(every, ensure_ascii=False))
    write("webhook_body", "every-kind-escaped", json.dumps(every).replace("/", "\\/"))
    write("webhook_body", "two-pages", json.dumps({"object": "page", "entry": [
        {"id": "1", "messaging": msgs[:2]}, {"id": "2", "messaging": msgs[3:5]}]}))
    write("webhook_body", "instagram", '{"object":"instagram","entry":[]}')
    write("webhook_body", "numeric-ids", '{"object":"page","entry":[{"id":1,"messaging":[{"sender":{"id":2},'
          '"recipient":{"id":1},"timestamp":1,"message":{"mid":"m","app_id":7}}]}]}')


def signature_headers():
    secret = b"test-app-secret"
    for name, ev in events():
        body = ev.get("body")
        sig = (ev.get("headers") or {}).get("x-hub-signature-256")
        if body and sig:
            write("signature_header", name, sig.encode() + b"\n" + body.encode())
    for name, body in [("empty", b""), ("page", b'{"object":"page"}'), ("binary", bytes(range(256)))]:
        sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        write("signature_header", "signed-" + name, sig.encode() + b"\n" + body)
        write("signature_header", "upper-" + name, sig.upper().replace("SHA256=", "sha256=").encode() + b"\n" + body)
    write("signature_header", "sha1", b"sha1=0123456789abcdef0123456789abcdef01234567\nbody")
    write("signature_header", "short", b"sha256=abcd\nbody")
    write("signature_header", "rotation-list", b" new-secret , old-secret ,, \n")


def oauth_states():
    key = b"fuzz-state-key"
    state = {"t": "shop-a", "e": "owner@shop-a.vn", "s": "sub-1", "x": 1764000600000, "n": "0123456789abcdef0123456789abcdef"}
    payload = b64url(json.dumps(state, separators=(",", ":")).encode())
    sig = b64url(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    write("oauth_state", "signed", f"{payload}.{sig}")
    write("oauth_state", "wrong-key", f"{payload}.{b64url(hmac.new(b'x', payload.encode(), hashlib.sha256).digest())}")
    write("oauth_state", "fields", "shop-a\0owner@shop-a.vn\0sub-1\0" + "0" * 32)
    write("oauth_state", "cookie-header", "a=1; fb_login_x=abc; b=2")
    for name, ev in events():
        q = urllib.parse.parse_qs(ev.get("rawQueryString") or "")
        if "state" in q:
            write("oauth_state", name, q["state"][0])


def cursors():
    def enc(listing, keys):
        return b64url(json.dumps({**keys, "_l": listing}, separators=(",", ":"), sort_keys=True).encode())
    write("cursor", "conversations", enc("conversations", {"p": "001764000000100#111_222", "s": "1764000000500", "t0": "1764000000500"}))
    write("cursor", "messages", enc("messages", {"pk": "T#shop-a#C#111_222", "lsi1sk": "M#001764000000100#m_1"}))
    write("cursor", "members", enc("members", {"t": "1", "id": "a@shop.vn"}))
    write("cursor", "no-listing", b64url(b'{"pk":"T#a"}'))
    write("cursor", "not-strings", b64url(b'{"_l":"messages","n":1}'))
    write("cursor", "key-lines", "pk=T#shop-a#C#1_2\nsk=M#1\n_l=messages")
    for name, ev in events():
        q = urllib.parse.parse_qs(ev.get("rawQueryString") or "")
        if "cursor" in q:
            write("cursor", name, q["cursor"][0])


def signed_requests():
    for name, ev in events():
        body = ev.get("body") or ""
        if ev.get("isBase64Encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        q = urllib.parse.parse_qs(body)
        if "signed_request" in q:
            write("signed_request", name, q["signed_request"][0])
            payload = q["signed_request"][0].split(".", 1)[-1]
            write("signed_request", name + "-payload", base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    write("signed_request", "payload-numeric", '{"algorithm":"HMAC-SHA256","issued_at":1764000000,"user_id":10000000001}')
    write("signed_request", "payload-sha1", '{"algorithm":"HMAC-SHA1","issued_at":1,"user_id":"1"}')
    write("signed_request", "payload-bad-user", '{"algorithm":"HMAC-SHA256","user_id":"1#2"}')


if __name__ == "__main__":
    webhook_bodies()
    signature_headers()
    oauth_states()
    cursors()
    signed_requests()
    for t in sorted(os.listdir(CORPUS)):
        print(t, len(os.listdir(os.path.join(CORPUS, t))))
