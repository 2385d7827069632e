// The simulator's customer view: pick a demo Page and a customer, write, read the shop's
// replies (polled every 2 s), mark them read, comment on the Page's post and see the shop's
// public replies, hides and deletes there (polled too); a private reply is in Messenger. Every call goes to
// the simulator's own JSON API beside this page.
const $ = (id) => document.getElementById(id);
const MARKS = { sent: "Đã gửi", delivered: "Đã nhận", read: "Đã xem", not_delivered: "Chưa tới ứng dụng" };
let info = null;

async function call(path, body) {
  const init = body ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {};
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error?.message || `HTTP ${r.status}`);
  return data;
}

const say = (text) => { $("status").textContent = text; };
const page = () => info.pages.find((p) => p.id === $("page").value);
const psid = () => $("customer").value;

function li(cls, text, small) {
  const el = document.createElement("li");
  if (cls) el.className = cls;
  el.append(text);
  const s = document.createElement("small");
  s.textContent = small;
  el.append(s);
  return el;
}

function fillCustomers(keep) {
  const sel = $("customer");
  sel.replaceChildren(new Option("— khách hàng mới —", ""));
  for (const c of page().customers) sel.append(new Option(c.name, c.psid));
  if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
  $("new-name").hidden = sel.value !== "";
  const p = page();
  $("sub").textContent = p.subscribed_fields
    ? `Ứng dụng đã đăng ký webhook của Trang: ${p.subscribed_fields.join(", ")}`
    : "Ứng dụng chưa đăng ký webhook của Trang này: tin nhắn được lưu nhưng không gửi tới ứng dụng.";
  $("post").textContent = p.posts[0]?.message || "";
}

async function refreshInfo(keep) {
  info = await call("api/info");
  fillCustomers(keep);
}

async function refreshThread() {
  if (!psid()) { $("thread").replaceChildren(); return; }
  const t = await call(`api/customer/thread?page_id=${encodeURIComponent(page().id)}&psid=${encodeURIComponent(psid())}`);
  $("thread").replaceChildren(...t.messages.map((m) =>
    li(m.from, m.text || "(tệp đính kèm)", `${new Date(m.created_ms).toLocaleString("vi-VN")} · ${MARKS[m.status] || m.status}`)));
}

// One comment with the answers under it (the Page's public replies included); the shop's
// moderation is shown the way its author sees it on Facebook: hidden from others, or gone.
function commentItem(c, byParent) {
  const el = document.createElement("li");
  el.className = c.from === "page" ? "page" : "customer";
  if (c.deleted) el.classList.add("was-deleted");
  if (c.hidden) el.classList.add("was-hidden");
  el.append(`${c.name}: ${c.message}`);
  const marks = [];
  if (c.from === "customer") marks.push(c.delivered ? "đã gửi tới ứng dụng" : "chưa tới ứng dụng");
  if (c.from === "page") marks.push("Trang trả lời");
  if (c.hidden) marks.push("Đã ẩn với người khác");
  if (c.deleted) marks.push("Trang đã xóa bình luận này");
  if (c.private_replied) marks.push("Trang đã nhắn riêng cho bạn trong Messenger");
  const s = document.createElement("small");
  s.textContent = `${new Date(c.created_ms).toLocaleString("vi-VN")} · ${marks.join(" · ")}`;
  el.append(s);
  if (c.private_replied && c.psid) {
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = "Mở Messenger";
    open.onclick = () => { $("customer").value = c.psid; $("new-name").hidden = true; refreshThread(); };
    el.append(open);
  }
  const answers = byParent.get(c.comment_id) || [];
  if (answers.length) {
    const ol = document.createElement("ol");
    ol.append(...answers.map((a) => commentItem(a, byParent)));
    el.append(ol);
  }
  return el;
}

async function refreshComments() {
  const list = await call(`api/customer/comments?page_id=${encodeURIComponent(page().id)}`);
  const byParent = new Map();
  for (const c of list.comments) {
    if (!byParent.has(c.parent_id)) byParent.set(c.parent_id, []);
    byParent.get(c.parent_id).push(c);
  }
  const top = list.comments.filter((c) => c.parent_id === c.post_id);
  $("comments").replaceChildren(...top.map((c) => commentItem(c, byParent)));
}

function who() {
  return psid() ? { psid: psid() } : { customer_name: $("name").value };
}

async function send(e) {
  e.preventDefault();
  try {
    const r = await call("api/customer/messages", { page_id: page().id, ...who(), text: $("text").value });
    $("text").value = "";
    await refreshInfo(r.psid);
    say(r.delivered ? "Đã gửi webhook tới ứng dụng." : "Đã lưu, nhưng ứng dụng không nhận webhook (Trang chưa được kết nối?).");
    await refreshThread();
  } catch (err) { say(err.message); }
}

async function read() {
  if (!psid()) return;
  try {
    const r = await call("api/customer/read", { page_id: page().id, psid: psid() });
    say(r.delivered ? "Đã gửi webhook đã xem." : "Ứng dụng không nhận webhook đã xem.");
    await refreshThread();
  } catch (err) { say(err.message); }
}

async function comment(e) {
  e.preventDefault();
  try {
    const r = await call("api/customer/comments", { page_id: page().id, ...who(), text: $("ctext").value });
    $("ctext").value = "";
    await refreshInfo(r.psid);
    say(r.delivered ? "Đã gửi bình luận tới ứng dụng." : "Bình luận đã lưu, ứng dụng không nhận webhook.");
    await Promise.all([refreshThread(), refreshComments()]);
  } catch (err) { say(err.message); }
}

async function start() {
  info = await call("api/info");
  for (const p of info.pages) $("page").append(new Option(p.name, p.id));
  // ?page_id=&psid= opens one thread directly (links from logs and docs).
  const want = new URLSearchParams(location.search);
  if (info.pages.some((p) => p.id === want.get("page_id"))) $("page").value = want.get("page_id");
  fillCustomers(want.get("psid"));
  $("page").onchange = () => { fillCustomers(); refreshThread(); refreshComments(); };
  $("customer").onchange = () => { $("new-name").hidden = psid() !== ""; refreshThread(); };
  $("send").onsubmit = send;
  $("comment").onsubmit = comment;
  $("read").onclick = read;
  await Promise.all([refreshThread(), refreshComments()]);
  setInterval(() => { Promise.all([refreshThread(), refreshComments()]).catch((e) => say(e.message)); }, 2000);
}

start().catch((e) => say(e.message));
