// *Thành viên*: who has an account in the shop and with which role; owners and admins add
// people by email and remove them (refusals such as last_agent_of_rule explained in words).

import { t, register } from "./i18n.js";
import { api, ApiError } from "./api.js";
import { h, uid, toast, confirmDialog, states, fieldError, errorText } from "./ui.js";

register({
  vi: {
    mb_title: "Thành viên",
    mb_intro: "Những người có tài khoản trong cửa hàng. Chỉ thành viên mới được chia hội thoại.",
    mb_add_title: "Thêm thành viên",
    mb_email: "Email",
    mb_role: "Vai trò",
    mb_add: "Thêm",
    mb_added: "Đã thêm {email}.",
    mb_list_title: "Danh sách thành viên ({n})",
    mb_you: "(bạn)",
    mb_remove: "Xóa",
    mb_remove_label: "Xóa {email}",
    mb_remove_title: "Xóa {email} khỏi cửa hàng?",
    mb_remove_text: "Người này sẽ không còn truy cập được cửa hàng và bị bỏ khỏi mọi quy tắc; hội thoại họ đang giữ sẽ được chia lại.",
    mb_removed: "Đã xóa {email}.",
    mb_empty: "Chưa có thành viên nào.",
    role_owner: "Chủ cửa hàng (owner)",
    role_admin: "Quản trị (admin)",
    role_agent: "Nhân viên (agent)",
    err_member_exists: "Người này đã là thành viên của cửa hàng.",
    err_invalid_email: "Nhập một địa chỉ email hợp lệ.",
    err_invalid_role: "Vai trò phải là owner, admin hoặc agent.",
    err_last_owner: "Cửa hàng phải còn ít nhất một chủ (owner). Hãy thêm chủ khác trước.",
    err_last_agent_of_rule: "Người này là nhân viên duy nhất của quy tắc «{rule}». Hãy thêm nhân viên khác vào quy tắc đó trước.",
    err_rules_changing: "Các quy tắc có người này đang thay đổi liên tục; chưa xóa gì cả. Hãy thử lại.",
    err_forbidden_owner: "Chỉ chủ cửa hàng mới thêm hoặc xóa được chủ khác.",
  },
  en: {
    mb_title: "Members",
    mb_intro: "The people with an account in the shop. Only members can be given conversations.",
    mb_add_title: "Add a member",
    mb_email: "Email",
    mb_role: "Role",
    mb_add: "Add",
    mb_added: "{email} was added.",
    mb_list_title: "Members ({n})",
    mb_you: "(you)",
    mb_remove: "Remove",
    mb_remove_label: "Remove {email}",
    mb_remove_title: "Remove {email} from the shop?",
    mb_remove_text: "They lose access to the shop and are taken out of every rule; the conversations they hold are shared out again.",
    mb_removed: "{email} was removed.",
    mb_empty: "No members yet.",
    role_owner: "Owner",
    role_admin: "Admin",
    role_agent: "Agent",
    err_member_exists: "This person is already a member of the shop.",
    err_invalid_email: "Enter a valid email address.",
    err_invalid_role: "The role is owner, admin or agent.",
    err_last_owner: "A shop keeps at least one owner. Add another owner first.",
    err_last_agent_of_rule: "This person is the only agent of the rule «{rule}». Add another agent to that rule first.",
    err_rules_changing: "The rules naming this person kept changing; nothing was removed. Try again.",
    err_forbidden_owner: "Only owners add or remove owners.",
  },
});

/** The rule name the API quotes in its message (`… the rule "Ca sáng"; …`). */
function quoted(message) {
  const m = /rule "((?:[^"\\]|\\.)*)"/.exec(message || "");
  return m ? m[1].replace(/\\(.)/g, "$1") : "?";
}

function memberError(e) {
  if (e.code === "last_agent_of_rule") return t("err_last_agent_of_rule", { rule: quoted(e.message) });
  if (e.code === "forbidden" && /owner/.test(e.message || "")) return t("err_forbidden_owner");
  return errorText(e);
}

export function render(root, ctx) {
  let alive = true;
  const manager = ctx.me.role === "owner" || ctx.me.role === "admin";
  const listBox = h("section", { "aria-labelledby": "mb-list-h" });

  const emailId = uid("mb-email");
  const roleId = uid("mb-role");
  const email = h("input", { id: emailId, type: "email", autocomplete: "off", required: true });
  const role = h("select", { id: roleId }, ["agent", "admin", "owner"].map((r) => h("option", { value: r }, t(`role_${r}`))));
  const add = h("button", { type: "submit", class: "btn btn-primary" }, t("mb_add"));
  const general = h("div", { role: "alert" });
  const form = h(
    "form",
    { class: "form inline-form", novalidate: true },
    h("div", { class: "field grow" }, h("label", { for: emailId }, t("mb_email")), email),
    h("div", { class: "field" }, h("label", { for: roleId }, t("mb_role")), role),
    h("div", { class: "field end" }, add),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fieldError(email, "");
    fieldError(role, "");
    general.replaceChildren();
    const value = email.value.trim().toLowerCase();
    if (!value || !value.includes("@")) {
      fieldError(email, t("err_invalid_email"));
      email.focus();
      return;
    }
    add.disabled = true;
    try {
      await api("POST", "/api/members", { email: value, role: role.value });
      toast(t("mb_added", { email: value }));
      email.value = "";
      load();
    } catch (err) {
      const at = err instanceof ApiError && { member_exists: email, invalid_email: email, invalid_role: role, forbidden: role }[err.code];
      if (at) {
        fieldError(at, memberError(err));
        at.focus();
      } else general.replaceChildren(h("p", { class: "banner banner-error" }, memberError(err)));
    } finally {
      add.disabled = false;
    }
  });

  const load = async () => {
    listBox.replaceChildren(states.loading());
    let items;
    try {
      items = (await api("GET", "/api/members")).items || [];
    } catch (e) {
      if (alive) listBox.replaceChildren(states.error(e, load));
      return;
    }
    if (!alive) return;
    const heading = h("h2", { id: "mb-list-h" }, t("mb_list_title", { n: items.length }));
    if (!items.length) {
      listBox.replaceChildren(heading, states.empty(t("mb_empty")));
      return;
    }
    listBox.replaceChildren(
      heading,
      h(
        "ul",
        { class: "plain card list" },
        items.map((m) => {
          const you = m.email === ctx.me.email;
          const canRemove = manager && !you && !(ctx.me.role === "admin" && m.role === "owner");
          const rm = canRemove ? h("button", { type: "button", class: "btn btn-small btn-danger-text", "aria-label": t("mb_remove_label", { email: m.email }) }, t("mb_remove")) : null;
          if (rm) rm.addEventListener("click", () => remove(m, rm));
          return h(
            "li",
            { class: "row" },
            h("span", { class: "name grow" }, m.email, you ? h("span", { class: "muted" }, ` ${t("mb_you")}`) : null),
            h("span", { class: `pill pill-muted role-${m.role}` }, t(`role_${m.role}`)),
            rm,
          );
        }),
      ),
    );
  };

  const remove = async (m, btn) => {
    const yes = await confirmDialog({ title: t("mb_remove_title", { email: m.email }), text: t("mb_remove_text"), ok: t("mb_remove") });
    if (!yes) return btn.focus();
    btn.disabled = true;
    try {
      await api("DELETE", `/api/members/${encodeURIComponent(m.email)}`);
      toast(t("mb_removed", { email: m.email }));
      load();
    } catch (e) {
      btn.disabled = false;
      toast(memberError(e), "error");
    }
  };

  root.replaceChildren(
    h("h1", {}, t("mb_title")),
    h("p", { class: "muted" }, t("mb_intro")),
    manager ? h("section", { class: "card", "aria-labelledby": "mb-add-h" }, h("h2", { id: "mb-add-h" }, t("mb_add_title")), general, form) : null,
    listBox,
  );
  load();
  return () => {
    alive = false;
  };
}
