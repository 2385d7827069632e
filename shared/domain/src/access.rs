//! Who may see what: the caller's identity and the visibility rules of the inbox.

use crate::ids::TenantId;
use crate::model::{Conversation, Role};

/// The verified caller of the admin API (claims of the JWT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub email: String,
    /// Parsed from the claim: safe to put in a storage key.
    pub tenant_id: TenantId,
    /// The role the token claims; the stored membership decides what it may do.
    pub claimed_role: Role,
}

/// A caller whose membership of the shop has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub tenant_id: TenantId,
    pub role: Role,
}

impl Member {
    /// Owners and admins see every conversation of their shop; an agent sees those they hold.
    pub fn can_read(&self, c: &Conversation) -> bool {
        if c.tenant_id != self.tenant_id {
            return false;
        }
        self.role.is_manager() || c.assignee.as_deref() == Some(self.email.as_str())
    }
}

/// Emails compare case-insensitively; we store them lower-cased and trimmed.
pub fn normalize_email(e: &str) -> String {
    crate::ids::normalize(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(tenant: &str, assignee: Option<&str>) -> Conversation {
        Conversation {
            id: "p_c".into(),
            tenant_id: tenant.into(),
            page_id: "p".into(),
            customer_id: "c".into(),
            assignee: assignee.map(Into::into),
            pool_rule_id: None,
            assignment_pending: false,
            last_customer_message_ms: None,
            last_activity_ms: 1,
            read_watermark_ms: None,
            delivery_watermark_ms: None,
            customer_name: None,
            last_message: None,
            post_id: None,
            phones: Vec::new(),
            handoff: None,
        }
    }

    #[test]
    fn visibility() {
        let owner = Member {
            email: "o@x".into(),
            tenant_id: TenantId::parse("A").expect("valid id"),
            role: Role::Owner,
        };
        let agent = Member {
            email: "a@x".into(),
            tenant_id: TenantId::parse("A").expect("valid id"),
            role: Role::Agent,
        };
        assert!(owner.can_read(&conv("A", None)));
        assert!(!owner.can_read(&conv("B", None)));
        assert!(!agent.can_read(&conv("A", None)));
        assert!(!agent.can_read(&conv("A", Some("b@x"))));
        assert!(agent.can_read(&conv("A", Some("a@x"))));
    }

    #[test]
    fn emails_normalise() {
        assert_eq!(normalize_email("  Lan@Shop.VN "), "lan@shop.vn");
    }
}
