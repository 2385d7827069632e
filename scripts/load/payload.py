"""Writes a Meta-style notification (one customer message, Vietnamese text escaped as \\uXXXX),
its X-Hub-Signature-256 with the load server's secret, and a wrk script that POSTs it."""
import hashlib, hmac, json, os, sys

out = sys.argv[1]
item = {"sender": {"id": "7000000000000001"}, "recipient": {"id": "111111111111111"},
        "timestamp": 1764000000000,
        "message": {"mid": "m_load_AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz",
                    "text": "Chào shop, áo này còn size M không? Giao hàng về Hà Nội bao lâu?"}}
body = json.dumps({"object": "page", "entry": [{"id": "111111111111111", "time": 1764000000000, "messaging": [item]}]},
                  ensure_ascii=True, separators=(",", ":"))
sig = "sha256=" + hmac.new(b"bench-app-secret", body.encode(), hashlib.sha256).hexdigest()
with open(os.path.join(out, "body.json"), "w") as f:
    f.write(body)
with open(os.path.join(out, "post.lua"), "w") as f:
    f.write('wrk.method = "POST"\n')
    f.write("wrk.body = [[" + body + "]]\n")
    f.write('wrk.headers["Content-Type"] = "application/json"\n')
    f.write('wrk.headers["X-Hub-Signature-256"] = "' + sig + '"\n')
print(f"payload: {len(body)} bytes")
