//! Property tests (proptest) of the domain's parsers and rules: the promises of the product
//! checked on generated inputs rather than on a handful of hand-picked ones.
//!
//! One file per module under test; each file has one `ProptestConfig` whose case count is the
//! number of generated inputs per property (`docs/RELIABILITY.md` counts them from there). The
//! counts keep the whole suite at a few seconds in a debug build: cheap properties get more
//! cases, the webhook's (which parse and plan whole notifications) fewer.

mod cursor;
mod custody;
mod ids;
mod oauth;
mod queue_plan;
mod rights;
mod rules;
mod signature;
mod signed_request;
mod webhook;

use proptest::prelude::*;

/// Text as customers write it: ASCII, Vietnamese with its diacritics, emoji (outside the BMP,
/// so JSON escapes them as surrogate pairs when a sender escapes), and the characters JSON
/// must escape (quotes, backslashes, control characters).
pub(crate) fn customer_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,.?!]{0,40}",
        "[aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ ĐƯƠ]{0,40}",
        "[😀😊🙏❤️👍🔥 a-z]{0,20}",
        "[\"\\\\/\\n\\t\\u{0}-\\u{1f}a-z]{0,20}",
        any::<String>(),
    ]
}
