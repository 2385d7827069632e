//! The extractors every handler shares: who calls ([`Me`], [`Manager`]), and the JSON body and
//! query string ([`ApiJson`], [`ApiQuery`]), each refusing with the API's own error JSON.
//!
//! Extractors run in the order of the handler's arguments: a handler names the caller before
//! its body, so a stranger or an agent hears 403 before anything about what they sent.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::body::{Body as RequestBody, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domain::access::{Identity, Member as Caller};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Deserializer};
use serde_path_to_error::Segment;

use crate::{AdminApi, ApiError, ErrorCode, caller};

/// The caller, resolved to a member of the shop their token names ([`caller`]: the first
/// owner's first call founds a shop with no members; anyone else must already be a member, as
/// the same `sub`, or gets 403).
pub struct Me(pub Caller);

impl FromRequestParts<Arc<AdminApi>> for Me {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<AdminApi>) -> Result<Self, Response> {
        // No identity means no authorizer layer in front of the router: axum's own 500.
        let Extension(id) = Extension::<Identity>::from_request_parts(parts, api)
            .await
            .map_err(IntoResponse::into_response)?;
        caller(api, &id).await.map(Me).map_err(IntoResponse::into_response)
    }
}

impl Deref for Me {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// What only owners and admins may do, and what anyone else is told (403 `forbidden`).
pub trait Managed {
    const REFUSAL: &'static str;
}

/// The areas of [`Managed`]: `Manager<area::Rules>` is an owner or admin managing rules.
pub mod area {
    pub struct Members;
    pub struct Pages;
    pub struct Rules;
    pub struct Settings;
}

impl Managed for area::Members {
    const REFUSAL: &'static str = "only owners and admins manage members";
}

impl Managed for area::Pages {
    const REFUSAL: &'static str = "only owners and admins manage Pages";
}

impl Managed for area::Rules {
    const REFUSAL: &'static str = "only owners and admins manage rules";
}

impl Managed for area::Settings {
    const REFUSAL: &'static str = "only owners and admins change settings";
}

/// [`Me`], an owner or admin of the shop.
pub struct Manager<A>(pub Caller, PhantomData<A>);

impl<A: Managed + Send + Sync> FromRequestParts<Arc<AdminApi>> for Manager<A> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<AdminApi>) -> Result<Self, Response> {
        let Me(me) = Me::from_request_parts(parts, api).await?;
        if !me.role.is_manager() {
            return Err(ApiError::Forbidden(ErrorCode::Forbidden, A::REFUSAL).into_response());
        }
        Ok(Manager(me, PhantomData))
    }
}

impl<A> Deref for Manager<A> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// A request body the API reads.
pub trait Body: DeserializeOwned {
    /// The refusal for a string at `path` (the keys from the body's root) that names none of
    /// the values a field of [`one_of`] accepts; `None` leaves it a plain 400 `invalid_body`.
    fn unknown_value(path: &[&str]) -> Option<ApiError> {
        let _ = path;
        None
    }
}

/// A JSON body that parses as `T`, or 400 `invalid_body` with axum's account of what is wrong
/// (no JSON content type, not JSON, a field missing or of the wrong type), except for a
/// string that names no value of a [`one_of`] field: that gets the field's own refusal.
pub struct ApiJson<T>(pub T);

impl<T: Body, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        // Kept, to look again at a field that was refused.
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| invalid_body(e.into()))?;
        let again = Request::from_parts(parts, RequestBody::from(bytes.clone()));
        match Json::<T>::from_request(again, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(e @ JsonRejection::JsonDataError(_)) => {
                Err(unknown_value::<T>(&bytes).unwrap_or_else(|| invalid_body(e)))
            }
            Err(e) => Err(invalid_body(e)),
        }
    }
}

fn invalid_body(e: JsonRejection) -> ApiError {
    ApiError::BadRequest(ErrorCode::InvalidBody, e.body_text())
}

/// The field's own refusal when `bytes` failed to parse as `T` at a string naming no value.
fn unknown_value<T: Body>(bytes: &[u8]) -> Option<ApiError> {
    let refused =
        serde_path_to_error::deserialize::<_, T>(&mut serde_json::Deserializer::from_slice(bytes)).err()?;
    let path: Vec<&str> = refused
        .path()
        .iter()
        .map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let json: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let at = path.iter().try_fold(&json, |v, key| v.get(key))?;
    if at.is_string() { T::unknown_value(&path) } else { None }
}

/// Reads a domain enum (`Role`, `Method`...) from a JSON string, for `#[serde(deserialize_with)]`.
/// Anything but a string is refused as by a `String` field; a string naming no value is
/// refused too, and [`ApiJson`] turns that into the field's [`Body::unknown_value`].
pub fn one_of<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let s = String::deserialize(d)?;
    T::deserialize(s.as_str().into_deserializer())
        .map_err(|e: serde::de::value::Error| serde::de::Error::custom(e))
}

/// A query string that parses as `T`, or 400 `invalid_query` with axum's account of it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(ApiQuery(q)),
            Err(e) => Err(ApiError::BadRequest(ErrorCode::InvalidQuery, e.body_text())),
        }
    }
}

/// Refuses, before any handler, a route whose `{page_id}` is not a Page id (digits,
/// [`domain::ids::PageId`]): 404 as for any Page the shop does not have. Such an id could
/// otherwise reach a Graph URL (`..` drops a segment).
pub async fn page_ids_are_digits(
    params: axum::extract::RawPathParams,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bad =
        params.iter().any(|(name, value)| name == "page_id" && domain::ids::PageId::parse(value).is_err());
    if bad {
        return ApiError::NotFound("page not found").into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::CONTENT_TYPE;
    use domain::model::{Method, Role};

    /// A body with choice fields, top level and nested.
    #[derive(Debug, Deserialize)]
    struct Typed {
        #[allow(dead_code)]
        name: String,
        #[serde(deserialize_with = "one_of")]
        role: Role,
        inner: Option<TypedInner>,
    }

    #[derive(Debug, Deserialize)]
    struct TypedInner {
        #[serde(deserialize_with = "one_of")]
        method: Method,
    }

    impl Body for Typed {
        fn unknown_value(path: &[&str]) -> Option<ApiError> {
            let code = match path {
                ["role"] => ErrorCode::InvalidRole,
                ["inner", "method"] => ErrorCode::InvalidMethod,
                _ => return None,
            };
            Some(ApiError::Unprocessable(code, "no such value".into()))
        }
    }

    /// The same body as the API read it before: strings, parsed by hand afterwards.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Untyped {
        name: String,
        role: String,
        inner: Option<UntypedInner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct UntypedInner {
        method: String,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut b = Request::builder().method("POST").uri("/");
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        b.body(RequestBody::from(body.to_string())).expect("request")
    }

    async fn refusal(content_type: Option<&str>, body: &str) -> (u16, String, String) {
        let Err(e) = ApiJson::<Typed>::from_request(request(content_type, body), &()).await else {
            panic!("{body} was accepted");
        };
        let r = e.into_response();
        let status = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let field = |k: &str| v["error"][k].as_str().unwrap_or_default().to_string();
        (status, field("code"), field("message"))
    }

    /// What `Json<Untyped>` said of the body, as the handlers passed it on.
    async fn untyped_message(content_type: Option<&str>, body: &str) -> String {
        match Json::<Untyped>::from_request(request(content_type, body), &()).await {
            Ok(_) => panic!("{body} was accepted untyped"),
            Err(e) => e.body_text(),
        }
    }

    #[tokio::test]
    async fn a_good_body_parses_into_the_domain_enums() {
        let body = r#"{"name":"x","role":"agent","inner":{"method":"self_claim"}}"#;
        let ApiJson(t) = ApiJson::<Typed>::from_request(request(Some("application/json"), body), &())
            .await
            .expect("accepted");
        assert_eq!((t.role, t.inner.map(|i| i.method)), (Role::Agent, Some(Method::SelfClaim)));
    }

    #[tokio::test]
    async fn a_string_naming_no_value_gets_the_fields_refusal() {
        let json = Some("application/json");
        let (status, code, _) = refusal(json, r#"{"name":"x","role":"superuser"}"#).await;
        assert_eq!((status, code.as_str()), (422, "invalid_role"));
        let (status, code, _) =
            refusal(json, r#"{"name":"x","role":"agent","inner":{"method":"lottery"}}"#).await;
        assert_eq!((status, code.as_str()), (422, "invalid_method"));
    }

    #[tokio::test]
    async fn anything_else_is_invalid_body_in_axums_words_as_before() {
        for (content_type, body) in [
            (Some("application/json"), r#"{"name":"x","role":5}"#),
            (Some("application/json"), r#"{"name":"x","role":null}"#),
            (Some("application/json"), r#"{"name":"x","role":{"owner":null}}"#),
            (Some("application/json"), r#"{"name":"x"}"#),
            (Some("application/json"), r#"{"name":"x","role":"agent","inner":{"method":7}}"#),
            (Some("application/json"), r#"{"name":"x","role":"agent""#),
            (Some("application/json"), r#"{"name":"x","role":"agent"} trailing"#),
            (Some("text/plain"), r#"{"name":"x","role":"agent"}"#),
            (None, r#"{"name":"x","role":"agent"}"#),
        ] {
            let (status, code, message) = refusal(content_type, body).await;
            assert_eq!((status, code.as_str()), (400, "invalid_body"), "{body}");
            assert_eq!(message, untyped_message(content_type, body).await, "{body}");
        }
    }
}
