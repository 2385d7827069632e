#!/usr/bin/env python3
"""Writes the comment samples of events/: three signed `feed` webhooks (a customer's comment with
a phone number, its edit, its removal) and the admin API's comment calls, from the existing
samples' envelopes. Run from the repository root after changing a body; the signature covers
the body string exactly as the function receives it (non-ASCII escaped, as Meta sends it)."""
import copy, hashlib, hmac, json

SECRET = b"test-app-secret"
PAGE, AUTHOR, POST = "111111111111111", "4444444444444444", "111111111111111_555555555555"
COMMENT = "555555555555_666666666666"

def feed(verb, message, t):
    value = {"from": {"id": AUTHOR, "name": "Nguyễn Thị Lan"}, "post_id": POST, "parent_id": POST,
             "comment_id": COMMENT, "created_time": t, "item": "comment", "verb": verb}
    if message is not None:
        value["message"] = message
    return {"object": "page", "entry": [{"id": PAGE, "time": t * 1000,
            "changes": [{"field": "feed", "value": value}]}]}

def webhook(name, payload):
    ev = json.load(open("events/webhook-post-signed.json"))
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    ev["body"] = body
    ev["headers"]["content-length"] = str(len(body.encode()))
    ev["headers"]["x-hub-signature-256"] = "sha256=" + hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()
    ev["headers"]["x-hub-signature"] = "sha1=" + hmac.new(SECRET, body.encode(), hashlib.sha1).hexdigest()
    ev["requestContext"]["requestId"] = name
    write(name, ev)

def admin(name, method, path, body=None, key=None):
    ev = json.load(open("events/admin-send-reply.json"))
    ev["rawPath"] = path
    ev["pathParameters"]["proxy"] = path[len("/api/"):]
    ev["requestContext"]["http"]["method"] = method
    ev["requestContext"]["http"]["path"] = path
    ev["requestContext"]["requestId"] = name
    if key:
        ev["headers"]["idempotency-key"] = key
    else:
        ev["headers"].pop("idempotency-key", None)
    if body is None:
        ev.pop("body", None)
        ev["headers"].pop("content-type", None)
        ev["headers"].pop("content-length", None)
    else:
        ev["body"] = json.dumps(body, ensure_ascii=False)
        ev["headers"]["content-length"] = str(len(ev["body"].encode()))
    write(name, ev)

def write(name, ev):
    with open(f"events/{name}.json", "w") as f:
        json.dump(ev, f, indent=2, ensure_ascii=False)
        f.write("\n")

CONV = f"{PAGE}_{AUTHOR}_p555555555555"
webhook("webhook-post-comment", feed("add", "Chốt 1 áo size M, ib mình 0912 345 678 nhé", 1764000100))
webhook("webhook-post-comment-edited", feed("edited", "Chốt 2 áo size M nhé shop", 1764000200))
webhook("webhook-post-comment-removed", feed("remove", None, 1764000300))
admin("admin-comment-reply", "POST", f"/api/conversations/{CONV}/messages",
      {"text": "Dạ shop đã inbox bạn ạ", "reply_to": COMMENT}, "7d1c3f0e-comment-1")
admin("admin-comment-private-reply", "POST", f"/api/conversations/{CONV}/messages",
      {"text": "Chào bạn, áo size M còn ạ. Bạn cho shop xin địa chỉ nhé", "reply_to": COMMENT, "private": True},
      "7d1c3f0e-private-1")
admin("admin-comment-hide", "POST", f"/api/comments/{COMMENT}/hide")
admin("admin-comment-delete", "DELETE", f"/api/comments/{COMMENT}")
admin("admin-get-comment-settings", "GET", f"/api/pages/{PAGE}/comment-settings")
admin("admin-put-comment-settings", "PUT", f"/api/pages/{PAGE}/comment-settings", {"auto_hide": "phone"})
