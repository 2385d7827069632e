//! Facebook's login dialog, played: `GET /dialog/oauth?client_id&redirect_uri&state&scope`
//! shows the demo user's Pages and the asked permissions as checked boxes; the form comes
//! back as a `POST` and ends, like Meta's, in a 302 to `redirect_uri` with `code` and
//! `state` (the code bound to exactly the Pages and permissions left checked), or with Meta's
//! denial parameters after *Hủy*.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::demo::{DEMO_PAGES, DEMO_USER_ID, DEMO_USER_NAME};
use crate::graph::FakeGrant;
use crate::{LABEL, Simulator};

/// Meta's words for each permission the product asks for (shown beside its checkbox).
fn describe(permission: &str) -> &'static str {
    match permission {
        "pages_messaging" => "Quản lý và truy cập các cuộc trò chuyện của Trang trên Messenger",
        "pages_manage_posts" => "Tạo và quản lý nội dung trên Trang",
        "pages_manage_engagement" => "Quản lý bình luận trên Trang",
        "pages_read_engagement" => "Đọc nội dung được đăng trên Trang",
        "pages_manage_metadata" => "Quản lý tài khoản, cài đặt và webhook của Trang",
        "pages_read_user_content" => "Đọc nội dung người dùng đăng trên Trang",
        "pages_show_list" => "Hiển thị danh sách các Trang bạn quản lý",
        _ => "",
    }
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The dialog's parameters, from the query (GET) or the form (POST).
struct Request {
    client_id: String,
    redirect_uri: url::Url,
    /// As sent: the code exchange compares strings, not parsed URLs.
    redirect_raw: String,
    state: String,
    scopes: Vec<String>,
}

fn first(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn all<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Checks what Meta checks before showing anything: the app id and a usable redirect URI.
/// Refusals are Meta-like sentences for [`error_page`].
fn request(sim: &Simulator, pairs: &[(String, String)]) -> Result<Request, &'static str> {
    let client_id = first(pairs, "client_id").unwrap_or_default();
    if client_id != sim.app_id() {
        return Err("Invalid App ID: the client_id is not the simulated app's.");
    }
    let redirect_raw = first(pairs, "redirect_uri").unwrap_or_default();
    let redirect_uri = url::Url::parse(&redirect_raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or("URL blocked: redirect_uri is missing or not an http(s) URL.")?;
    let scopes: Vec<String> = first(pairs, "scope")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let scopes = if scopes.is_empty() {
        domain::graph::REQUIRED_PERMISSIONS.iter().map(|s| s.to_string()).collect()
    } else {
        scopes
    };
    Ok(Request {
        client_id,
        redirect_uri,
        redirect_raw,
        state: first(pairs, "state").unwrap_or_default(),
        scopes,
    })
}

fn error_page(why: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>{label}</title><p><strong>{label}</strong></p><h1>Lỗi</h1><p>{why}</p>",
        label = esc(LABEL),
        why = esc(why)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f0f2f5;color:#1c1e21}\
.banner{background:#b00020;color:#fff;padding:.5rem 1rem;font-weight:600}\
main{max-width:34rem;margin:1rem auto;background:#fff;border-radius:8px;padding:1rem 1.25rem;\
box-shadow:0 1px 3px #0003}h1{font-size:1.2rem}fieldset{border:1px solid #ddd;border-radius:6px;margin:0 0 1rem}\
label{display:flex;gap:.5rem;align-items:flex-start;padding:.3rem 0;overflow-wrap:anywhere}\
small{color:#65676b;display:block}.actions{display:flex;flex-direction:row-reverse;gap:.75rem;justify-content:flex-start}\
button{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:1px solid #ccd0d5;cursor:pointer}\
button.primary{background:#1877f2;border-color:#1877f2;color:#fff}";

/// `GET /dialog/oauth`: the form.
pub(crate) async fn show(
    State(sim): State<Simulator>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let req = match request(&sim, &pairs) {
        Ok(r) => r,
        Err(why) => return error_page(why),
    };
    let hidden = |name: &str, value: &str| {
        format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", esc(name), esc(value))
    };
    let mut form = String::new();
    form.push_str(&hidden("client_id", &req.client_id));
    form.push_str(&hidden("redirect_uri", &req.redirect_raw));
    form.push_str(&hidden("state", &req.state));
    form.push_str(&hidden("scope", &req.scopes.join(",")));
    form.push_str("<fieldset><legend>Chọn các Trang mà ứng dụng được truy cập</legend>\n");
    for p in &DEMO_PAGES {
        form.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"page\" value=\"{id}\" checked> <span>{name}</span></label>\n",
            id = esc(p.id),
            name = esc(p.name)
        ));
    }
    form.push_str("</fieldset>\n<fieldset><legend>Quyền ứng dụng yêu cầu</legend>\n");
    for perm in &req.scopes {
        form.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"perm\" value=\"{p}\" checked> <span>{d}<small>{p}</small></span></label>\n",
            p = esc(perm),
            d = esc(describe(perm))
        ));
    }
    form.push_str("</fieldset>\n");
    let body = format!(
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{label}: Đăng nhập bằng Facebook</title><style>{STYLE}</style></head>\n<body>\
<div class=\"banner\" role=\"note\">{label}</div>\n<main>\
<h1>Tiếp tục với tư cách {user}?</h1>\
<p>Ứng dụng <strong>{app}</strong> đang yêu cầu quyền truy cập các Trang của bạn. \
Đây là trình mô phỏng, không phải Facebook: không có dữ liệu nào rời khỏi máy này.</p>\n\
<form method=\"post\" action=\"oauth\">\n{form}<div class=\"actions\">\
<button type=\"submit\" name=\"action\" value=\"continue\" class=\"primary\">Tiếp tục</button>\
<button type=\"submit\" name=\"action\" value=\"cancel\">Hủy</button>\
</div></form></main></body></html>\n",
        label = esc(LABEL),
        user = esc(DEMO_USER_NAME),
        app = esc(&req.client_id),
    );
    Html(body).into_response()
}

/// `POST /dialog/oauth`: the person's answer.
pub(crate) async fn submit(State(sim): State<Simulator>, body: Bytes) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let req = match request(&sim, &pairs) {
        Ok(r) => r,
        Err(why) => return error_page(why),
    };
    let mut target = req.redirect_uri.clone();
    if first(&pairs, "action").as_deref() != Some("continue") {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_description", "Permissions error")
            .append_pair("error_reason", "user_denied")
            .append_pair("state", &req.state);
        return redirect(target);
    }
    let chosen: Vec<&str> = all(&pairs, "page").collect();
    let pages: Vec<String> =
        DEMO_PAGES.iter().filter(|p| chosen.contains(&p.id)).map(|p| p.id.to_string()).collect();
    let granted: Vec<&str> = all(&pairs, "perm").collect();
    let permissions = req
        .scopes
        .iter()
        .map(|p| (p.clone(), if granted.contains(&p.as_str()) { "granted" } else { "declined" }.to_string()))
        .collect();
    let code = format!("AQsim{}", uuid::Uuid::new_v4().simple());
    let short = format!("EAAsimuser{}", uuid::Uuid::new_v4().simple());
    sim.graph().add_grant(
        &code,
        &short,
        FakeGrant {
            user_id: DEMO_USER_ID.to_string(),
            pages,
            permissions,
            redirect_uri: Some(req.redirect_raw.clone()),
        },
    );
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", &req.state);
    redirect(target)
}

/// Meta's redirect, with the `#_=_` fragment it adds.
fn redirect(mut target: url::Url) -> Response {
    target.set_fragment(Some("_=_"));
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}
