"""Cold start of a real function binary: spawn it against a stand-in Lambda Runtime API on
loopback, hand it one event, and time spawn -> response posted. Median and worst of N runs.

    python3 scripts/load/lambda_coldstart.py target/release/webhook events/webhook-verify.json
"""
import http.server, json, os, statistics, subprocess, sys, threading, time

binary, event_path = sys.argv[1], sys.argv[2]
runs = int(os.environ.get("RUNS", "20"))
with open(event_path, "rb") as f:
    event = f.read()

done = threading.Event()
result = {}

class Runtime(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next"):
            if done.is_set():  # the one event was answered: hold the next poll
                time.sleep(5)
            self.send_response(200)
            for k, v in {"Lambda-Runtime-Aws-Request-Id": "req-1",
                         "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                         "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                         "Lambda-Runtime-Trace-Id": "Root=1-0-0",
                         "Content-Type": "application/json",
                         "Content-Length": str(len(event))}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(event)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        result["path"], result["body"] = self.path, body
        result["t"] = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        done.set()

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
server.handle_error = lambda *a: None  # a killed function drops its long poll: expected
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ,
           AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
           AWS_LAMBDA_FUNCTION_NAME="coldstart", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
           AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_LOG_STREAM_NAME="s", AWS_LAMBDA_LOG_GROUP_NAME="g",
           AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
           QUEUE_URL="http://127.0.0.1:9/q.fifo", TABLE_NAME="t",
           FB_APP_SECRET="test-app-secret", FB_VERIFY_TOKEN="local-verify-token")
samples = []
for _ in range(runs):
    done.clear()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not done.wait(5):
        p.kill()
        sys.exit("no response within 5 s")
    samples.append((result["t"] - t0) * 1000)
    p.kill()
    p.wait()
print(f"{os.path.basename(binary)}: answered {result['path']} -> {result['body'][:80]!r}")
print(f"cold start to first answer, ms: median {statistics.median(samples):.2f}, "
      f"max {max(samples):.2f}, min {min(samples):.2f} ({runs} runs)")
