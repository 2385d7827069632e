#!/usr/bin/env python3
"""Measures the console's first load in Chromium: N cold loads of `/` (each in a fresh browser
context, so nothing is cached), against a local stack of its own on loopback.

    scripts/console-bench.py            # N=20; builds the local stack unless LOCAL_STACK_BIN is set
    scripts/console-bench.py -n 50

For each load:
- bytes: the compressed size of everything the first load fetched (the page, its CSS, its
  JavaScript modules, /console-config.json), from the Performance API's encodedBodySize. When
  the stack serves uncompressed files (CONSOLE_DIR, the edit-and-reload mode), each body is
  gzipped here at the level the console crate uses (best), so the figure is what the
  embedded build sends;
- first render: navigation start to first-contentful-paint (Paint Timing), and to the sign-in
  form visible (its *Đăng nhập* button laid out, seen by a MutationObserver).
Prints the median and the maximum, and the gzipped size of every console file together (an
upper bound: what a session that opens every screen ever downloads).
"""
import gzip
import os
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import harness  # noqa: E402

harness.use_project_venv()
from playwright.sync_api import sync_playwright  # noqa: E402

BUDGET_BYTES = 150 * 1024
BUDGET_RENDER_MS = 1000

# Notes the moment the sign-in button is laid out (relative to navigation start).
FORM_WATCH = """
(() => {
  const seen = () => {
    if (window.__formAt !== undefined) return;
    for (const b of document.querySelectorAll('button')) {
      if (b.textContent.trim() === 'Đăng nhập' && b.getClientRects().length) {
        window.__formAt = performance.now();
        return;
      }
    }
  };
  new MutationObserver(seen).observe(document, { childList: true, subtree: true });
})();
"""

COLLECT = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const all = [nav, ...performance.getEntriesByType('resource')];
  return {
    fcp: fcp ? fcp.startTime : null,
    form: window.__formAt,
    files: all.map(e => ({ url: e.name, encoded: e.encodedBodySize, decoded: e.decodedBodySize })),
  };
}"""


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def compressed_size(f: dict, cache: dict) -> int:
    """What the wire carries for one file: the encoded size if it came compressed, else the
    gzipped size of its body (fetched once)."""
    if f["encoded"] and f["encoded"] != f["decoded"]:
        return f["encoded"]
    if f["url"] not in cache:
        with urllib.request.urlopen(f["url"].split("#")[0], timeout=10) as r:
            cache[f["url"]] = gz(r.read())
    return cache[f["url"]]


def main():
    n = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 20
    if not os.environ.get("LOCAL_STACK_BIN"):
        subprocess.run(["cargo", "build", "-p", "local-stack"], cwd=ROOT, check=True)
    stack = harness.start_stack()
    sizes, fcps, forms, cache = [], [], [], {}
    mode = "embedded (gzip from the server)"
    try:
        with sync_playwright() as p:
            browser = harness.launch_chromium(p)
            for _ in range(n):
                ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                page = ctx.new_page()
                page.add_init_script(FORM_WATCH)
                page.goto(stack.url("/"), wait_until="load")
                page.wait_for_function("() => window.__formAt !== undefined", timeout=15_000)
                page.wait_for_load_state("networkidle")
                m = page.evaluate(COLLECT)
                if any(f["encoded"] == f["decoded"] and f["decoded"] > 1024 for f in m["files"]):
                    mode = "from disk (CONSOLE_DIR), bodies gzipped here at level 9"
                sizes.append(sum(compressed_size(f, cache) for f in m["files"]))
                fcps.append(m["fcp"])
                forms.append(m["form"])
                ctx.close()
            browser.close()
        # Reported while the stack still runs: the per-file list may fetch a body to gzip it.
        every = sum(gz(f.read_bytes()) for f in (ROOT / "console" / "web").rglob("*") if f.is_file())
        report(n, mode, m, sizes, fcps, forms, every, cache)
    finally:
        stack.stop()


def report(n, mode, m, sizes, fcps, forms, every, cache):
    files = len(m["files"])
    print(f"console first load, {n} cold loads of / in fresh Chromium contexts ({mode})")
    print(f"  files fetched:                 {files}")
    print(f"  compressed bytes, first load:  median {statistics.median(sizes) / 1024:.1f} KB, "
          f"max {max(sizes) / 1024:.1f} KB (budget {BUDGET_BYTES // 1024} KB)")
    print(f"  first-contentful-paint:        median {statistics.median(fcps):.0f} ms, max {max(fcps):.0f} ms")
    print(f"  sign-in form visible:          median {statistics.median(forms):.0f} ms, max {max(forms):.0f} ms "
          f"(budget {BUDGET_RENDER_MS} ms)")
    print(f"  every console file, gzipped:   {every / 1024:.1f} KB")
    print("  the last load, file by file (compressed bytes):")
    for f in m["files"]:
        path = "/" + f["url"].split("://", 1)[-1].split("/", 1)[-1]
        print(f"    {compressed_size(f, cache):>7}  {path}")
    ok = max(sizes) <= BUDGET_BYTES and statistics.median(forms) < BUDGET_RENDER_MS
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
