#!/usr/bin/env python3
"""Signs a Meta notification like Meta does (X-Hub-Signature-256 over the raw bytes) and POSTs
it to the local stack's webhook.

    scripts/send-webhook.py                      # the sample event, events/webhook-post-signed.json
    scripts/send-webhook.py my-notification.json # any notification body
Env: FB_APP_SECRET (default test-app-secret, the local stack's default), PORT (default 3000).
"""
import hashlib, hmac, json, os, sys, urllib.request

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "events", "webhook-post-signed.json")
with open(path, "rb") as f:
    raw = f.read()
doc = json.loads(raw)
# An API Gateway event carries the notification as its body string.
body = doc["body"].encode() if isinstance(doc, dict) and "body" in doc and "requestContext" in doc else raw
secret = os.environ.get("FB_APP_SECRET", "test-app-secret").split(",")[0].encode()
sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
url = f"http://127.0.0.1:{os.environ.get('PORT', '3000')}/webhooks/facebook"
req = urllib.request.Request(url, data=body, method="POST",
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
try:
    with urllib.request.urlopen(req) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
    sys.exit(1)
