// The rule form (*Tên quy tắc*, *Nguồn*, *User nhận hội thoại*, *Phương thức chia*, *Xử lý hội
// thoại cũ*, *Lưu*), shared by the connect dialog and the Rules screen. API refusals are shown
// at the field they concern, mapped from the codes in admin-api's error.rs and rules.rs.

import { t, register } from "./i18n.js";
import { ApiError } from "./api.js";
import { h, uid, fieldError, errorText } from "./ui.js";

register({
  vi: {
    rf_name: "Tên quy tắc",
    rf_name_hint: "Nhập tên bạn muốn đặt cho quy tắc",
    rf_sources: "Nguồn",
    rf_sources_hint: "Chọn các Page bạn muốn thêm vào quy tắc. Có thể thêm nhiều page cùng lúc",
    rf_sources_locked: "Quy tắc tạo khi kết nối chỉ gồm Trang đang kết nối; thêm Trang khác sau trong Quy tắc.",
    rf_in_rule: "đang thuộc quy tắc «{name}»",
    rf_no_pages_yet: "Cửa hàng chưa có Trang nào.",
    rf_agents: "User nhận hội thoại",
    rf_agents_hint: "Bạn chỉ có thể chia hội thoại cho những nhân viên đã có tài khoản trên SOP.",
    rf_no_members: "Cửa hàng chưa có thành viên nào.",
    rf_method: "Phương thức chia",
    rf_round_robin: "Chia xoay vòng",
    rf_round_robin_hint: "Hội thoại mới được chia đều cho các nhân viên trực chat",
    rf_self_claim: "Tự nhận hội thoại",
    rf_self_claim_hint: "Các nhân viên trực chat cần \"Nhận chat\" để nhận khách hàng. Chỉ người nhận chat đầu tiên có quyền chat với khách.",
    rf_old: "Xử lý hội thoại cũ",
    rf_old_hint: "Đây là các hội thoại SOP đồng bộ từ Meta, Zalo - hội thoại có từ trước khi bạn kết nối Page vào SOP. Hoặc các hội thoại đang không có người chăm sóc do bạn xóa nhân viên chat khỏi Quy tắc. Bạn có thể chia hội thoại cho user khác hoặc không chia.",
    rf_old_none: "Không chia",
    rf_old_available: "Chia hội thoại khả dụng",
    rf_old_all: "Chia tất cả hội thoại",
    rf_old_warning: "Lưu ý: Khi lựa chọn \"Chia hội thoại khả dụng\" và \"Chia tất cả hội thoại\", toàn bộ lịch sử chat và thông tin dữ liệu khách hàng cũ trước đó sẽ được chia sẻ cho nhân viên chat. Bạn cần cân nhắc khi chọn các phương thức này.",
    rf_save: "Lưu",
    rf_need_name: "Nhập tên quy tắc.",
    rf_need_page: "Chọn ít nhất một Trang.",
    rf_need_agent: "Chọn ít nhất một người nhận hội thoại.",
    err_invalid_name: "Tên quy tắc cần từ 1 đến 100 ký tự.",
    err_rule_name_taken: "Cửa hàng đã có quy tắc tên này. Hãy đặt tên khác.",
    err_no_pages: "Chọn ít nhất một Trang.",
    err_no_agents: "Chọn ít nhất một người nhận hội thoại.",
    err_too_many_pages: "Quá nhiều Trang trong một quy tắc.",
    err_invalid_pages: "Quy tắc tạo khi kết nối chỉ gồm Trang đang kết nối.",
    err_unknown_pages: "Các Trang này không thuộc cửa hàng: {list}",
    err_page_in_other_rule: "Một Trang đã chọn đang thuộc quy tắc «{rule}»; hãy bỏ nó khỏi quy tắc đó trước.",
    err_unknown_emails: "Những người này chưa có tài khoản trong cửa hàng: {list}",
    err_invalid_method: "Chọn một phương thức chia.",
    err_invalid_old_conversations: "Chọn cách xử lý hội thoại cũ.",
  },
  en: {
    rf_name: "Rule name",
    rf_name_hint: "The name you want to give the rule",
    rf_sources: "Sources",
    rf_sources_hint: "Choose the Pages to add to the rule. Several Pages can be added at once",
    rf_sources_locked: "A rule created while connecting holds only the Page being connected; add others later under Rules.",
    rf_in_rule: "in the rule «{name}»",
    rf_no_pages_yet: "The shop has no Pages yet.",
    rf_agents: "Users who receive conversations",
    rf_agents_hint: "Conversations can only go to staff who already have an account in the shop.",
    rf_no_members: "The shop has no members yet.",
    rf_method: "Distribution method",
    rf_round_robin: "Round robin",
    rf_round_robin_hint: "New conversations are shared evenly among the agents on duty",
    rf_self_claim: "Self-claim",
    rf_self_claim_hint: "Agents must \"Claim chat\" to take a customer. Only the first to claim may chat with the customer.",
    rf_old: "Old conversations",
    rf_old_hint: "Conversations synced from Meta or Zalo from before the Page was connected, or conversations left without an agent after you removed an agent from the rule. You can distribute them or not.",
    rf_old_none: "Do not distribute",
    rf_old_available: "Distribute available conversations",
    rf_old_all: "Distribute all conversations",
    rf_old_warning: "Note: with \"Distribute available conversations\" and \"Distribute all conversations\", the whole chat history and the customer data from before are shared with the agents. Consider carefully before choosing these options.",
    rf_save: "Save",
    rf_need_name: "Enter a rule name.",
    rf_need_page: "Choose at least one Page.",
    rf_need_agent: "Choose at least one person to receive conversations.",
    err_invalid_name: "The rule name needs 1 to 100 characters.",
    err_rule_name_taken: "The shop already has a rule with this name. Choose another.",
    err_no_pages: "Choose at least one Page.",
    err_no_agents: "Choose at least one person to receive conversations.",
    err_too_many_pages: "Too many Pages in one rule.",
    err_invalid_pages: "A rule created while connecting holds only the Page being connected.",
    err_unknown_pages: "These Pages are not the shop's: {list}",
    err_page_in_other_rule: "A chosen Page already belongs to the rule «{rule}»; take it out of that rule first.",
    err_unknown_emails: "These people have no account in the shop: {list}",
    err_invalid_method: "Choose a distribution method.",
    err_invalid_old_conversations: "Choose how to handle old conversations.",
  },
});

/** Which field an API error code belongs to. */
const FIELD_OF = {
  invalid_name: "name", rule_name_taken: "name",
  no_pages: "pages", invalid_pages: "pages", too_many_pages: "pages", unknown_pages: "pages", page_in_other_rule: "pages",
  no_agents: "agents", unknown_emails: "agents",
  invalid_method: "method", invalid_old_conversations: "old",
};

/** The list the API puts after the last ": " of its message (unknown emails or Pages). */
function listIn(message) {
  const i = (message || "").lastIndexOf(": ");
  return i >= 0 ? message.slice(i + 2) : message || "";
}

/** Our sentence for a rule error (with the API's list of names where it gives one). */
export function ruleErrorText(err) {
  const msg = err.message || "";
  switch (err.code) {
    case "unknown_emails":
    case "unknown_pages":
      return t(`err_${err.code}`, { list: listIn(msg) });
    case "page_in_other_rule":
      return t("err_page_in_other_rule", { rule: (/the rule "((?:[^"\\]|\\.)*)"/.exec(msg) || [])[1] || "?" });
    default:
      return errorText(err);
  }
}

function radios(name, options, value) {
  return options.map(([v, label, hint]) => {
    const id = uid(name);
    return h(
      "label",
      { class: "check", for: id },
      h("input", { type: "radio", id, name, value: v, checked: v === value }),
      h("span", {}, h("span", { class: "opt" }, label), hint ? h("span", { class: "hint block" }, hint) : null),
    );
  });
}

/**
 * Builds the form. opts: `pages` (the shop's Pages), `members`, `rules` (to name the rule a
 * Page is in), `rule` (edited rule, or null), `lockedPageId` (connect: the rule holds this
 * Page only), `submit(body)` -> Promise (throws ApiError), `done(result)`, `cancel()`.
 */
export function ruleForm(opts) {
  const rule = opts.rule || { name: "", page_ids: opts.lockedPageId ? [opts.lockedPageId] : [], agent_emails: [], method: "round_robin", old_conversations: "none" };
  const ruleNames = Object.fromEntries((opts.rules || []).map((r) => [r.id, r.name]));
  const nameId = uid("rf-name");
  const name = h("input", { id: nameId, type: "text", name: "name", maxlength: "100", required: true, value: rule.name, "aria-describedby": `${nameId}-hint` });

  const pageList = opts.lockedPageId ? (opts.pages || []).filter((p) => p.page_id === opts.lockedPageId) : opts.pages || [];
  const pagesSet = h(
    "fieldset",
    { class: "field", id: uid("rf-pages") },
    h("legend", {}, t("rf_sources")),
    h("p", { class: "hint" }, t(opts.lockedPageId ? "rf_sources_locked" : "rf_sources_hint")),
    pageList.length
      ? h(
          "div",
          { class: "checks" },
          pageList.map((p) => {
            const id = uid("rf-p");
            const other = p.rule_id && p.rule_id !== (opts.rule && opts.rule.id) && !opts.lockedPageId ? ruleNames[p.rule_id] || p.rule_id : null;
            return h(
              "label",
              { class: "check", for: id },
              h("input", { type: "checkbox", id, name: "page_ids", value: p.page_id, checked: rule.page_ids.includes(p.page_id), disabled: !!opts.lockedPageId }),
              h("span", {}, p.name, other ? h("span", { class: "hint" }, ` — ${t("rf_in_rule", { name: other })}`) : null),
            );
          }),
        )
      : h("p", { class: "muted" }, t("rf_no_pages_yet")),
  );

  const members = opts.members || [];
  const known = new Set(members.map((m) => m.email));
  const agentsSet = h(
    "fieldset",
    { class: "field", id: uid("rf-agents") },
    h("legend", {}, t("rf_agents")),
    h("p", { class: "hint" }, t("rf_agents_hint")),
    members.length || rule.agent_emails.length
      ? h(
          "div",
          { class: "checks" },
          [...members, ...rule.agent_emails.filter((e) => !known.has(e)).map((email) => ({ email, role: null }))].map((m) => {
            const id = uid("rf-a");
            return h(
              "label",
              { class: "check", for: id },
              h("input", { type: "checkbox", id, name: "agent_emails", value: m.email, checked: rule.agent_emails.includes(m.email) }),
              h("span", {}, m.email, m.role ? h("span", { class: "hint" }, ` (${m.role})`) : null),
            );
          }),
        )
      : h("p", { class: "muted" }, t("rf_no_members")),
  );

  const methodSet = h(
    "fieldset",
    { class: "field", id: uid("rf-method") },
    h("legend", {}, t("rf_method")),
    radios("method", [["round_robin", t("rf_round_robin"), t("rf_round_robin_hint")], ["self_claim", t("rf_self_claim"), t("rf_self_claim_hint")]], rule.method),
  );
  const warning = h("p", { class: "banner banner-warn", id: uid("rf-warn") }, t("rf_old_warning"));
  const oldSet = h(
    "fieldset",
    { class: "field", id: uid("rf-old") },
    h("legend", {}, t("rf_old")),
    h("p", { class: "hint" }, t("rf_old_hint")),
    radios("old_conversations", [["none", t("rf_old_none")], ["available", t("rf_old_available")], ["all", t("rf_old_all")]], rule.old_conversations),
    h("div", { "aria-live": "polite" }, warning),
  );
  const showWarning = () => {
    const v = oldSet.querySelector("input:checked")?.value;
    warning.hidden = !(v === "available" || v === "all");
  };
  oldSet.addEventListener("change", showWarning);
  showWarning();

  const general = h("div", { role: "alert" });
  const save = h("button", { type: "submit", class: "btn btn-primary" }, t("rf_save"));
  const form = h(
    "form",
    { class: "form rule-form", novalidate: true },
    general,
    h("div", { class: "field" }, h("label", { for: nameId }, t("rf_name")), h("p", { class: "hint", id: `${nameId}-hint` }, t("rf_name_hint")), name),
    pagesSet,
    agentsSet,
    methodSet,
    oldSet,
    h("div", { class: "actions" }, opts.cancel ? h("button", { type: "button", class: "btn", onclick: opts.cancel }, t("cancel")) : null, save),
  );
  const fields = { name, pages: pagesSet, agents: agentsSet, method: methodSet, old: oldSet };

  const clear = () => {
    general.replaceChildren();
    for (const f of Object.values(fields)) fieldError(f, "");
  };
  const checked = (n) => [...form.querySelectorAll(`input[name=${n}]:checked`)].map((i) => i.value);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear();
    const body = {
      name: name.value.trim(),
      page_ids: checked("page_ids"),
      agent_emails: checked("agent_emails"),
      method: checked("method")[0] || "round_robin",
      old_conversations: checked("old_conversations")[0] || "none",
    };
    const missing = [];
    if (!body.name) missing.push([name, t("rf_need_name")]);
    if (!body.page_ids.length) missing.push([pagesSet, t("rf_need_page")]);
    if (!body.agent_emails.length) missing.push([agentsSet, t("rf_need_agent")]);
    if (missing.length) {
      for (const [f, m] of missing) fieldError(f, m);
      focusField(missing[0][0]);
      return;
    }
    save.disabled = true;
    try {
      const result = await opts.submit(body);
      if (opts.done) opts.done(result);
    } catch (err) {
      const at = err instanceof ApiError && fields[FIELD_OF[err.code]];
      if (at) {
        fieldError(at, ruleErrorText(err));
        focusField(at);
      } else {
        general.replaceChildren(h("p", { class: "banner banner-error" }, errorText(err)));
        general.scrollIntoView({ block: "nearest" });
      }
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function focusField(f) {
  const target = f.matches("input, select, textarea") ? f : f.querySelector("input:not([disabled])");
  if (target) target.focus();
  f.scrollIntoView({ block: "nearest" });
}
