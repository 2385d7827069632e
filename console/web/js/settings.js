// *Cài đặt*: the shop's reply setting, Meta's Human Agent tag (GET/PUT /api/settings).
// Agents see it read-only; owners and admins switch it.

import { t, register } from "./i18n.js";
import { api } from "./api.js";
import { h, toast, states, errorText } from "./ui.js";

register({
  vi: {
    st_title: "Cài đặt",
    st_hat: "Trả lời trong 7 ngày (thẻ Human Agent)",
    st_hat_help: "Khi bật, nhân viên có thể trả lời khách đến 7 ngày sau tin nhắn cuối của khách, thay vì chỉ trong 24 giờ như mặc định của Meta.",
    st_on: "Đã bật trả lời trong 7 ngày.",
    st_off: "Đã tắt trả lời trong 7 ngày.",
    st_readonly: "Chỉ chủ cửa hàng hoặc quản trị mới thay đổi được cài đặt này.",
  },
  en: {
    st_title: "Settings",
    st_hat: "Reply within 7 days (Human Agent tag)",
    st_hat_help: "When on, agents can reply up to 7 days after the customer's last message, instead of only within Meta's default 24 hours.",
    st_on: "Replies within 7 days turned on.",
    st_off: "Replies within 7 days turned off.",
    st_readonly: "Only owners and admins can change this setting.",
  },
});

export function render(root, ctx) {
  let alive = true;
  const manager = ctx.me.role === "owner" || ctx.me.role === "admin";
  const box = h("div", {});
  root.replaceChildren(h("h1", {}, t("st_title")), box);

  const load = async () => {
    box.replaceChildren(states.loading());
    let s;
    try {
      s = await api("GET", "/api/settings");
    } catch (e) {
      if (alive) box.replaceChildren(states.error(e, load));
      return;
    }
    if (!alive) return;
    const sw = h("button", { type: "button", role: "switch", id: "st-hat", class: "switch", "aria-checked": String(!!s.human_agent_tag), "aria-describedby": "st-hat-help", disabled: !manager }, h("span", { class: "knob", "aria-hidden": "true" }));
    sw.addEventListener("click", async () => {
      const next = sw.getAttribute("aria-checked") !== "true";
      sw.disabled = true;
      try {
        const r = await api("PUT", "/api/settings", { human_agent_tag: next });
        sw.setAttribute("aria-checked", String(!!r.human_agent_tag));
        toast(t(r.human_agent_tag ? "st_on" : "st_off"));
      } catch (e) {
        toast(errorText(e), "error");
      } finally {
        sw.disabled = false;
        sw.focus();
      }
    });
    box.replaceChildren(
      h(
        "section",
        { class: "card setting" },
        h("div", { class: "setting-row" }, h("label", { for: "st-hat", class: "setting-label" }, t("st_hat")), sw),
        h("p", { id: "st-hat-help", class: "muted" }, t("st_hat_help")),
        manager ? null : h("p", { class: "hint" }, t("st_readonly")),
      ),
    );
  };
  load();
  return () => {
    alive = false;
  };
}
