// The connect dialog of one Page (the seed's step 4): *Không, chỉ mình tôi* or *Có, tiếp tục*;
// then *Tạo quy tắc mới* (the rule form) or *Thêm vào quy tắc đã có* (a rule picked from a
// list); every path ends in `POST /api/pages/{id}/connect`.

import { t, register } from "./i18n.js";
import { api, ApiError } from "./api.js";
import { h, uid, modal, toast, states, fieldError, errorText } from "./ui.js";
import { ruleForm } from "./ruleform.js";

register({
  vi: {
    cn_title: "Kết nối fanpage này",
    cn_question: "Bạn có muốn chia sẻ hội thoại của Trang cho nhân viên khác không?",
    cn_only_me_help: "Chỉ mình tôi - Tất cả hội thoại từ khách hàng sẽ đổ về rổ tin nhắn của bạn, chỉ một mình bạn có quyền chat với khách hàng.",
    cn_shared_help: "Chia sẻ hội thoại - Tất cả hội thoại từ khách hàng sẽ được phân công cho một nhóm nhân viên (có thể bao gồm bạn), cách phân phối tuân theo quy tắc bạn cấu hình.",
    cn_only_me: "Không, chỉ mình tôi",
    cn_shared: "Có, tiếp tục",
    cn_rule_choice: "Quy tắc chia hội thoại",
    cn_new_rule: "Tạo quy tắc mới",
    cn_existing_rule: "Thêm vào quy tắc đã có",
    cn_pick_rule: "Quy tắc",
    cn_no_rules: "Chưa có quy tắc nào.",
    cn_continue: "Tiếp tục",
    cn_back: "Quay lại",
    cn_new_rule_title: "Tạo quy tắc mới cho trang {name}",
    cn_success: "Kết nối trang {name} thành công.",
  },
  en: {
    cn_title: "Connect this Page",
    cn_question: "Do you want to share the Page's conversations with other staff?",
    cn_only_me_help: "Only me - every customer conversation lands in your inbox; only you may chat with the customers.",
    cn_shared_help: "Shared conversations - every customer conversation is assigned to a group of staff (you may be one of them), following the rule you configure.",
    cn_only_me: "No, only me",
    cn_shared: "Yes, continue",
    cn_rule_choice: "Conversation sharing rule",
    cn_new_rule: "Create a new rule",
    cn_existing_rule: "Add to an existing rule",
    cn_pick_rule: "Rule",
    cn_no_rules: "There are no rules yet.",
    cn_continue: "Continue",
    cn_back: "Back",
    cn_new_rule_title: "New rule for the Page {name}",
    cn_success: "Page {name} connected successfully.",
  },
});

/** Opens the dialog for page `p`; env: {pages, rules, done() (reload the list), opener}. */
export function openConnectDialog(p, env) {
  const titleId = uid("cn");
  const title = h("h2", { id: titleId }, t("cn_title"));
  const body = h("div", { class: "dialog-body" });
  const d = modal(titleId, title, body);
  d.classList.add("dialog-wide");
  d.addEventListener("close", () => {
    if (env.opener && document.body.contains(env.opener)) env.opener.focus();
  });
  const path = `/api/pages/${encodeURIComponent(p.page_id)}/connect`;

  const succeed = () => {
    d.close();
    toast(t("cn_success", { name: p.name }));
    env.done();
  };
  const general = () => h("div", { role: "alert", class: "dialog-general" });
  const showGeneral = (box, err) => box.replaceChildren(h("p", { class: "banner banner-error" }, errorText(err)));

  const step1 = () => {
    title.textContent = t("cn_title");
    const err = general();
    const no = h("button", { type: "button", class: "btn" }, t("cn_only_me"));
    const yes = h("button", { type: "button", class: "btn btn-primary" }, t("cn_shared"));
    no.addEventListener("click", async () => {
      no.disabled = yes.disabled = true;
      err.replaceChildren();
      try {
        await api("POST", path, { chat_mode: "only_me" });
        succeed();
      } catch (e) {
        showGeneral(err, e);
        no.disabled = yes.disabled = false;
      }
    });
    yes.addEventListener("click", step2);
    body.replaceChildren(
      h("p", { class: "dialog-page name" }, p.name),
      h("p", {}, h("strong", {}, t("cn_question"))),
      h("ul", { class: "choices" }, h("li", {}, t("cn_only_me_help")), h("li", {}, t("cn_shared_help"))),
      err,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "btn btn-ghost", onclick: () => d.close() }, t("cancel")), no, yes),
    );
    no.focus();
  };

  const step2 = () => {
    title.textContent = t("cn_title");
    const rules = env.rules || [];
    const newId = uid("cn-new");
    const oldId = uid("cn-old");
    const selId = uid("cn-sel");
    const rNew = h("input", { type: "radio", name: "cn-choice", id: newId, value: "new", checked: true });
    const rOld = h("input", { type: "radio", name: "cn-choice", id: oldId, value: "existing", disabled: !rules.length });
    const select = h(
      "select",
      { id: selId, disabled: true },
      rules.map((r) => h("option", { value: r.id }, r.name)),
    );
    const err = general();
    const sync = () => {
      select.disabled = !rOld.checked || !rules.length;
    };
    const choice = h(
      "fieldset",
      { class: "field" },
      h("legend", {}, t("cn_rule_choice")),
      h("label", { class: "check", for: newId }, rNew, h("span", {}, t("cn_new_rule"))),
      h("label", { class: "check", for: oldId }, rOld, h("span", {}, t("cn_existing_rule"))),
      h(
        "div",
        { class: "field indent" },
        h("label", { for: selId }, t("cn_pick_rule")),
        rules.length ? select : h("p", { class: "muted" }, t("cn_no_rules")),
      ),
    );
    choice.addEventListener("change", sync);
    const next = h("button", { type: "button", class: "btn btn-primary" }, t("cn_continue"));
    next.addEventListener("click", async () => {
      err.replaceChildren();
      fieldError(select, "");
      if (rNew.checked) return step3();
      next.disabled = true;
      try {
        await api("POST", path, { chat_mode: "shared", rule_id: select.value });
        succeed();
      } catch (e) {
        next.disabled = false;
        if (e instanceof ApiError && ["not_found", "page_in_other_rule", "too_many_pages"].includes(e.code)) {
          fieldError(select, errorText(e));
          select.focus();
        } else showGeneral(err, e);
      }
    });
    body.replaceChildren(
      h("p", { class: "dialog-page name" }, p.name),
      choice,
      err,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "btn btn-ghost", onclick: step1 }, t("cn_back")), next),
    );
    sync();
    rNew.focus();
  };

  const step3 = async () => {
    title.textContent = t("cn_new_rule_title", { name: p.name });
    body.replaceChildren(states.loading());
    let members;
    try {
      members = (await api("GET", "/api/members")).items || [];
    } catch (e) {
      body.replaceChildren(states.error(e, step3));
      return;
    }
    if (!d.open) return;
    const form = ruleForm({
      pages: env.pages,
      members,
      rules: env.rules,
      lockedPageId: p.page_id,
      submit: (rule) => api("POST", path, { chat_mode: "shared", new_rule: rule }),
      done: succeed,
      cancel: step2,
    });
    const back = form.querySelector(".actions .btn:not([type=submit])");
    if (back) back.textContent = t("cn_back");
    body.replaceChildren(form);
    form.querySelector("input[type=text]")?.focus();
  };

  step1();
  return d;
}
