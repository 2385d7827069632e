// *Quy tắc*: the shop's rules (name, Pages, agents, method, old conversations), creating and
// editing them with the shared rule form, deleting with a confirmation.

import { t, register } from "./i18n.js";
import { api } from "./api.js";
import { h, toast, confirmDialog, formatTime, states, errorText } from "./ui.js";
import { ruleForm } from "./ruleform.js";

register({
  vi: {
    rl_title: "Quy tắc",
    rl_intro: "Quy tắc chia hội thoại của các Trang ở chế độ Chia sẻ hội thoại cho nhóm nhân viên.",
    rl_new: "Tạo quy tắc mới",
    rl_edit_title: "Sửa quy tắc {name}",
    rl_empty: "Chưa có quy tắc nào. Tạo quy tắc để chia hội thoại cho nhóm nhân viên.",
    rl_pages: "Nguồn",
    rl_agents: "User nhận hội thoại",
    rl_method: "Phương thức chia",
    rl_old: "Xử lý hội thoại cũ",
    rl_chosen: "chọn bởi {who} lúc {time}",
    rl_delete_title: "Xóa quy tắc {name}?",
    rl_delete_text: "Quy tắc sẽ bị xóa. Việc này không thể hoàn tác.",
    rl_deleted: "Đã xóa quy tắc {name}.",
    rl_saved: "Đã lưu quy tắc {name}.",
    rl_back: "Quay lại danh sách",
    err_rule_has_pages: "Quy tắc còn Trang. Hãy bỏ các Trang khỏi quy tắc (hoặc chuyển chúng sang chế độ khác) trước khi xóa.",
  },
  en: {
    rl_title: "Rules",
    rl_intro: "Rules share the conversations of Pages in Shared mode among a group of staff.",
    rl_new: "Create a new rule",
    rl_edit_title: "Edit the rule {name}",
    rl_empty: "No rules yet. Create one to share conversations among staff.",
    rl_pages: "Sources",
    rl_agents: "Users who receive conversations",
    rl_method: "Distribution method",
    rl_old: "Old conversations",
    rl_chosen: "chosen by {who} at {time}",
    rl_delete_title: "Delete the rule {name}?",
    rl_delete_text: "The rule will be deleted. This cannot be undone.",
    rl_deleted: "The rule {name} was deleted.",
    rl_saved: "The rule {name} was saved.",
    rl_back: "Back to the list",
    err_rule_has_pages: "The rule still has Pages. Take the Pages out of it (or switch them to another mode) before deleting it.",
  },
});

const METHOD = { round_robin: "rf_round_robin", self_claim: "rf_self_claim" };
const OLD = { none: "rf_old_none", available: "rf_old_available", all: "rf_old_all" };

export function render(root, ctx) {
  let alive = true;
  let data = { rules: [], pages: [], members: [] };

  const list = async () => {
    root.replaceChildren(h("h1", {}, t("rl_title")), states.loading());
    try {
      const [rules, pages, members] = await Promise.all([api("GET", "/api/rules"), api("GET", "/api/pages"), api("GET", "/api/members")]);
      data = { rules: rules.items || [], pages: pages.items || [], members: members.items || [] };
    } catch (e) {
      if (alive) root.replaceChildren(h("h1", {}, t("rl_title")), states.error(e, list));
      return;
    }
    if (alive) drawList();
  };

  const drawList = () => {
    const pageName = Object.fromEntries(data.pages.map((p) => [p.page_id, p.name]));
    const add = h("button", { type: "button", class: "btn btn-primary" }, t("rl_new"));
    add.addEventListener("click", () => drawForm(null));
    const head = h("div", { class: "section-head" }, h("h1", {}, t("rl_title")), add);
    const intro = h("p", { class: "muted" }, t("rl_intro"));
    if (!data.rules.length) {
      root.replaceChildren(head, intro, states.empty(t("rl_empty")));
      return;
    }
    root.replaceChildren(
      head,
      intro,
      h("ul", { class: "plain stack" }, data.rules.map((r) => h("li", { class: "card rule-card" }, ruleCard(r, pageName)))),
    );
  };

  const ruleCard = (r, pageName) => {
    const edit = h("button", { type: "button", class: "btn btn-small" }, t("edit"));
    edit.addEventListener("click", () => drawForm(r));
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-text" }, t("delete"));
    del.addEventListener("click", () => remove(r, del));
    const old = [t(OLD[r.old_conversations] || r.old_conversations)];
    if (r.old_conversations !== "none" && r.old_conversations_chosen_by) {
      old.push(h("span", { class: "muted" }, ` (${t("rl_chosen", { who: r.old_conversations_chosen_by, time: formatTime(r.old_conversations_chosen_at, ctx.config.time_zone) })})`));
    }
    return [
      h("div", { class: "section-head" }, h("h2", { class: "name" }, r.name), h("div", { class: "actions" }, edit, del)),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("rl_pages")),
        h("dd", { class: "wrap" }, (r.page_ids || []).map((id) => pageName[id] || id).join(", ") || "—"),
        h("dt", {}, t("rl_agents")),
        h("dd", { class: "wrap" }, (r.agent_emails || []).join(", ") || "—"),
        h("dt", {}, t("rl_method")),
        h("dd", {}, t(METHOD[r.method] || r.method)),
        h("dt", {}, t("rl_old")),
        h("dd", { class: "wrap" }, old),
      ),
    ];
  };

  const drawForm = (rule) => {
    const title = rule ? t("rl_edit_title", { name: rule.name }) : t("rl_new");
    const back = h("button", { type: "button", class: "btn btn-ghost" }, `← ${t("rl_back")}`);
    back.addEventListener("click", drawList);
    const form = ruleForm({
      pages: data.pages,
      members: data.members,
      rules: data.rules,
      rule,
      submit: (body) => (rule ? api("PUT", `/api/rules/${encodeURIComponent(rule.id)}`, body) : api("POST", "/api/rules", body)),
      done: (saved) => {
        toast(t("rl_saved", { name: (saved && saved.name) || "" }));
        list();
      },
      cancel: drawList,
    });
    const h1 = h("h1", { tabindex: "-1", class: "name" }, title);
    root.replaceChildren(back, h1, h("div", { class: "card" }, form));
    h1.focus();
  };

  const remove = async (r, btn) => {
    const yes = await confirmDialog({ title: t("rl_delete_title", { name: r.name }), text: t("rl_delete_text"), ok: t("delete") });
    if (!yes) return btn.focus();
    btn.disabled = true;
    try {
      await api("DELETE", `/api/rules/${encodeURIComponent(r.id)}`);
      toast(t("rl_deleted", { name: r.name }));
      list();
    } catch (e) {
      btn.disabled = false;
      toast(errorText(e), "error");
    }
  };

  list();
  return () => {
    alive = false;
  };
}
