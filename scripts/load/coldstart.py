"""Cold start: time from spawning the server process to its first answered request (a
verification GET), polled every 0.2 ms; median and worst of 20 runs."""
import os, socket, statistics, subprocess, sys, time

binary, port = sys.argv[1], int(sys.argv[2])
req = (f"GET /webhooks/facebook?hub.mode=subscribe&hub.verify_token=bench-verify-token&hub.challenge=42 HTTP/1.1\r\n"
       f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n").encode()
samples = []
for _ in range(20):
    env = dict(os.environ, PORT=str(port))
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                data = s.recv(1024)
                if data.startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            time.sleep(0.0002)
        if time.perf_counter() - t0 > 5:
            p.kill()
            sys.exit("server did not answer within 5 s")
    samples.append((time.perf_counter() - t0) * 1000)
    p.terminate()
    p.wait()
print(f"cold start ms: median {statistics.median(samples):.2f}, max {max(samples):.2f}, min {min(samples):.2f}")
