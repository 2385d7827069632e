#!/usr/bin/env python3
"""Deliberately broken builds, and the tests that must catch them (docs/RELIABILITY.md).

Each break below removes one guarantee from the code or the template (a condition, a tenant
check, a granted action...). For each one this script, in a scratch git worktree of HEAD:
applies the break (the text to replace must occur exactly once), runs the named tests, expects
them to FAIL, records which tests failed and the first assertion line, and restores the file.
A break that no test catches makes the script exit 1: the proofs have a hole.

    scripts/breaks.py                 # every break
    scripts/breaks.py claim-condition # only the named ones
    scripts/breaks.py --list

It builds each break (a debug build of the crates it touches), so it takes minutes per break:
it is run by hand before a release and when a proof changes, not by CI. It starts its own moto
server; the scratch worktree and its own target dir live under target/breaks/ (kept between
runs, so after the first full build only the broken crates are rebuilt; never hard links of
target/debug: rustc rewrites workspace crates' outputs in place, and a linked copy would then
corrupt the main build).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "target", "breaks")
TREE = os.path.join(WORK, "tree")

# name, what the break removes, file, text, replacement, test command (cargo test args)
BREAKS = [
    dict(
        name="claim-condition",
        what="the condition on a claim (DynamoDB): two agents can both win a conversation",
        file="shared/adapters/src/dynamo/conversations.rs",
        old='.condition_expression("pool_rule_id = :rule AND attribute_not_exists(assignee)")',
        new='.condition_expression("attribute_exists(pk) OR pool_rule_id = :rule")',
        test=["-p", "integration-tests", "--test", "rules", "claims"],
    ),
    dict(
        name="message-put-condition",
        what="the once-only condition on a stored message (DynamoDB): a redelivery stores it twice",
        file="shared/adapters/src/dynamo/conversations.rs",
        old='.item("lsi1sk", keys::message_order(m.sent_ms, &m.id).attr())\n            .condition_expression("attribute_not_exists(sk)");',
        new='.item("lsi1sk", keys::message_order(m.sent_ms, &m.id).attr());',
        test=["-p", "integration-tests", "--test", "fault_injection", "no_fault_baseline"],
    ),
    dict(
        name="batch-failures-ignored",
        what="the webhook's handling of SendMessageBatch's Failed entries: refused events are dropped",
        file="shared/adapters/src/sqs.rs",
        old="if out.failed.is_empty() {",
        new="if out.failed.is_empty() || out.successful.len() < usize::MAX {",
        test=["-p", "integration-tests", "--test", "fault_injection", "partial_batch_failure"],
    ),
    dict(
        name="route-tenant",
        what="the tenant check of one route: GET /api/conversations/{id} reads under the Page's shop, and lets another shop's caller through",
        file="functions/admin-api/src/conversations.rs",
        old="    match api.stores.conversations.conversation(&me.tenant_id, conversation_id).await? {\n        Some(c) if visible(api, me, &c).await? => Ok(c),",
        new=("    let page = conversation_id.split('_').next().unwrap_or_default();\n"
             "    let tenant = match api.stores.pages.page_route(page).await? {\n"
             "        Some(r) => r.tenant_id,\n"
             "        None => me.tenant_id.as_str().to_string(),\n"
             "    };\n"
             "    match api.stores.conversations.conversation(&tenant, conversation_id).await? {\n"
             "        Some(c) if c.tenant_id != me.tenant_id.as_str() || visible(api, me, &c).await? => Ok(c),"),
        test=["-p", "integration-tests", "--test", "access_matrix"],
    ),
    dict(
        name="rights-tenant",
        what="the tenant check of the read right (domain): a manager of one shop may read another's conversation",
        file="shared/domain/src/access.rs",
        old="        if c.tenant_id != self.tenant_id {\n            return false;\n        }\n        self.role.is_manager()",
        new="        self.role.is_manager()",
        test=["-p", "domain", "--lib"],
    ),
    dict(
        name="worker-batchget-grant",
        what="dynamodb:BatchGetItem in the worker's IAM policy (template.yaml), which re-homing calls",
        file="template.yaml",
        old="                - dynamodb:BatchGetItem # re-homing follows an inbox walk past its first page\n",
        new="",
        test=["-p", "integration-tests", "--test", "iam_policy"],
    ),
    dict(
        name="private-reply-condition",
        what="the once-per-comment condition on a private reply (DynamoDB): two concurrent requests both send",
        file="shared/adapters/src/dynamo/comments.rs",
        old='.condition_expression(format!("{IS_COMMENT} AND attribute_not_exists(c_pr)"))',
        new=".condition_expression(IS_COMMENT)",
        test=["-p", "integration-tests", "--test", "comment_store_contract", "private_reply"],
    ),
    dict(
        name="token-replace-condition",
        what="the condition on a re-wrapped Page token (DynamoDB): a newer token from a Login is overwritten",
        file="shared/adapters/src/dynamo/health.rs",
        old='.condition_expression("token_enc = :old")',
        new='.condition_expression("attribute_exists(pk) OR token_enc = :old")',
        test=["-p", "integration-tests", "--test", "token_store_contract"],
    ),
    dict(
        name="rotation-skips-spared-pages",
        what="the key-rotation step for Pages the health check's skip rule spares: their tokens stay under the old key",
        file="functions/page-health/src/check.rs",
        old="            self.rewrap_held(r).await;\n",
        new="",
        test=["-p", "integration-tests", "--test", "health_sweep", "key_rotation"],
    ),
    dict(
        name="usage-gate",
        what="the Graph client's usage gate: calls go to Meta at 96 % usage and during a throttle",
        file="shared/adapters/src/graph/mod.rs",
        old="            usage::Gate::Refuse(e) => return Err((e, true)),",
        new="            usage::Gate::Refuse(_) => {}",
        test=["-p", "integration-tests", "--test", "graph_usage"],
    ),
    dict(
        name="signature-check",
        what="the webhook's signature check: any body is accepted",
        file="shared/domain/src/signature.rs",
        old="        Err(SignatureError::Mismatch)\n    }",
        new="        let _ = SignatureError::Mismatch;\n        Ok(())\n    }",
        test=["-p", "integration-tests", "--test", "webhook"],
    ),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def scratch_tree():
    """A worktree of HEAD under target/breaks/tree, and its own target dir."""
    if os.path.isdir(TREE):
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", TREE], check=False)
        shutil.rmtree(TREE, ignore_errors=True)
    os.makedirs(WORK, exist_ok=True)
    sh("git", "-C", ROOT, "worktree", "add", "--detach", "-f", TREE, "HEAD", stdout=subprocess.DEVNULL)
    target = os.path.join(WORK, "target")
    os.makedirs(target, exist_ok=True)
    return target


def start_moto():
    venv = os.environ.get("VENV", os.path.join(ROOT, ".venv"))
    port = free_port()
    log = open(os.path.join(WORK, "moto.log"), "w")
    p = subprocess.Popen([os.path.join(venv, "bin", "python"), os.path.join(ROOT, "scripts", "moto_server.py"), str(port)],
                         stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    p.kill()
    sys.exit("moto server did not start")


def run_break(b, target, moto_url):
    path = os.path.join(TREE, b["file"])
    text = open(path, encoding="utf-8").read()
    if text.count(b["old"]) != 1:
        return dict(b, caught=None, failed=[], line=f"the text to break occurs {text.count(b['old'])} times in {b['file']}")
    open(path, "w", encoding="utf-8").write(text.replace(b["old"], b["new"]))
    try:
        env = dict(os.environ, CARGO_TARGET_DIR=target, MOTO_URL=moto_url, CARGO_TERM_COLOR="never")
        t0 = time.time()
        r = subprocess.run(["cargo", "test", *b["test"]], cwd=TREE, env=env, capture_output=True, text=True)
        out = r.stdout + r.stderr
        failed = sorted(set(re.findall(r"^test (\S+) \.\.\. FAILED", out, re.M)))
        panic = re.search(r"panicked at [^\n]*\n([^\n]+)", out)
        line = panic.group(1).strip() if panic else ""
        if r.returncode != 0 and not failed and ("error[" in out or "could not compile" in out):
            first = re.search(r"^error[^\n]*", out, re.M)
            line = "the break did not compile: " + (first.group(0) if first else "?")
            return dict(b, caught=None, failed=[], line=line, secs=time.time() - t0)
        if r.returncode == 0:
            line = "the tests passed with the break in place"
        return dict(b, caught=r.returncode != 0 and bool(failed), failed=failed, line=line, secs=time.time() - t0)
    finally:
        open(path, "w", encoding="utf-8").write(text)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--list" in sys.argv:
        for b in BREAKS:
            print(f"{b['name']:24} {b['what']}")
        return
    chosen = [b for b in BREAKS if not args or b["name"] in args]
    target = scratch_tree()
    moto, url = start_moto()
    results = []
    try:
        for b in chosen:
            print(f"== {b['name']}: {b['what']}", flush=True)
            r = run_break(b, target, url)
            results.append(r)
            verdict = "CAUGHT" if r["caught"] else "NOT CAUGHT"
            print(f"   {verdict} by {', '.join(r['failed']) or '-'} ({r.get('secs', 0):.0f} s)\n   {r['line']}", flush=True)
    finally:
        moto.kill()
    print("\n| break | caught by | first failure |\n|---|---|---|")
    for r in results:
        tests = "<br>".join(f"`{t}`" for t in r["failed"]) or "**not caught**"
        line = r["line"].replace("|", "/")
        line = line if len(line) <= 160 else line[:157] + "..."
        print(f"| {r['what']} | `cargo test {' '.join(r['test'])}`: {tests} | {line} |")
    if any(not r["caught"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
