//! Identifiers parsed once at the edge, so code behind it holds values that are known good:
//! a [`TenantId`] is safe to put in a storage key, an [`Email`] is normalised, so two spellings
//! of one address are one member.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// Why a value is not a valid identifier; the text is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    #[error("the shop id is empty")]
    EmptyTenant,
    #[error("the shop id is longer than {max} characters")]
    TenantTooLong { max: usize },
    /// `#` separates the parts of the store's keys (`T#{tenant}#...`), so a shop id holding
    /// one could reach another shop's items.
    #[error("the shop id contains '#'")]
    TenantHasSeparator,
    #[error("{0:?} is not an email address")]
    Email(String),
    /// Facebook's object ids are digits; anything else could change the path of a Graph URL
    /// (`..` drops a segment).
    #[error("a Page id is 1 to {max} digits")]
    PageId { max: usize },
}

/// A shop's id (the `tenant_id` claim). Never empty, at most [`TenantId::MAX_LEN`] bytes, and
/// without `#`, the separator of the store's keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<TenantId, InvalidId> {
        if s.is_empty() {
            Err(InvalidId::EmptyTenant)
        } else if s.len() > Self::MAX_LEN {
            Err(InvalidId::TenantTooLong { max: Self::MAX_LEN })
        } else if s.contains('#') {
            Err(InvalidId::TenantHasSeparator)
        } else {
            Ok(TenantId(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A member's email address: trimmed and lower-cased (addresses compare case-insensitively),
/// with a local part and a domain around one `@`, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(s: &str) -> Result<Email, InvalidId> {
        let e = normalize(s);
        let well_formed = match e.split_once('@') {
            Some((local, domain)) => !local.is_empty() && !domain.is_empty(),
            None => false,
        };
        if e.len() > Self::MAX_LEN || !well_formed {
            return Err(InvalidId::Email(e));
        }
        Ok(Email(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Facebook Page id: 1 to [`PageId::MAX_LEN`] ASCII digits, so it is one plain segment of a
/// Graph URL and of a storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PageId(String);

impl PageId {
    pub const MAX_LEN: usize = 32;

    pub fn parse(s: &str) -> Result<PageId, InvalidId> {
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidId::PageId { max: Self::MAX_LEN });
        }
        Ok(PageId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The normal form of an address: trimmed and lower-cased. Lookups by an address that was not
/// parsed (a path segment, a claim) use it so they find the stored member.
pub fn normalize(e: &str) -> String {
    e.trim().to_lowercase()
}

macro_rules! string_newtype {
    ($t:ident) => {
        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<$t, InvalidId> {
                $t::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
        impl PartialEq<$t> for String {
            fn eq(&self, other: &$t) -> bool {
                self == &other.0
            }
        }
    };
}

string_newtype!(TenantId);
string_newtype!(Email);
string_newtype!(PageId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_id_is_safe_in_a_key() {
        assert_eq!(TenantId::parse("shop-a").map(|t| t.to_string()), Ok("shop-a".to_string()));
        assert_eq!(TenantId::parse(""), Err(InvalidId::EmptyTenant));
        assert_eq!(TenantId::parse("shop#C#x"), Err(InvalidId::TenantHasSeparator));
        assert!(TenantId::parse(&"x".repeat(TenantId::MAX_LEN)).is_ok());
        assert_eq!(
            TenantId::parse(&"x".repeat(TenantId::MAX_LEN + 1)),
            Err(InvalidId::TenantTooLong { max: TenantId::MAX_LEN })
        );
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Lan@Shop.VN ").map(|e| e.to_string()), Ok("lan@shop.vn".to_string()));
        for bad in ["", "lan", "@shop.vn", "lan@", " @ "] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@shop.vn", "a".repeat(250))).is_err());
    }

    /// Finding 8 (Page id `..` in a Graph URL): only digits are Page ids.
    #[test]
    fn page_ids_are_digits() {
        assert_eq!(PageId::parse("1501").map(|p| p.to_string()), Ok("1501".to_string()));
        assert!(PageId::parse(&"9".repeat(PageId::MAX_LEN)).is_ok());
        for bad in ["", "..", ".", "12/../x", "me", "1501 ", "-1", "１２", "12%2F"] {
            assert!(PageId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PageId::parse(&"9".repeat(PageId::MAX_LEN + 1)).is_err());
        assert!(serde_json::from_str::<PageId>("\"..\"").is_err());
    }

    #[test]
    fn serde_parses_instead_of_trusting() {
        let t: TenantId = serde_json::from_str("\"shop-a\"").expect("valid");
        assert_eq!(t, "shop-a");
        assert!(serde_json::from_str::<TenantId>("\"a#b\"").is_err());
        let e: Email = serde_json::from_str("\"Lan@Shop.vn\"").expect("valid");
        assert_eq!(serde_json::to_string(&e).ok().as_deref(), Some("\"lan@shop.vn\""));
    }
}
