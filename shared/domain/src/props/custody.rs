//! Who holds a Page (`custody.rs`): no shop takes a Page another shop holds connected; a change
//! in progress blocks everyone; a takeover names the holder and version it replaces; Facebook
//! Login's import verdict agrees with what a connect would do.

use proptest::prelude::*;

use crate::custody::{ConnectPlan, ConnectRefusal, ImportVerdict, connect_plan, import_verdict};
use crate::model::{ChatMode, PageRoute, PageStatus};
use crate::ports::Holder;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(2000)
}

fn holder() -> impl Strategy<Value = Holder> {
    (
        prop::sample::select(vec!["A", "B"]),
        prop::sample::select(vec![
            PageStatus::Connected,
            PageStatus::LostConnection,
            PageStatus::NotConnected,
        ]),
        any::<bool>(),
        prop::option::of(0i64..2_000),
        "[0-9a-f]{8}",
    )
        .prop_map(|(tenant, status, draft, lease_until_ms, version)| Holder {
            route: PageRoute {
                page_id: "1".into(),
                tenant_id: tenant.into(),
                status,
                chat_mode: ChatMode::Shared,
                rule_id: None,
                connected_by: "o@shop.vn".into(),
            },
            version,
            token_enc: None,
            draft,
            lease_until_ms,
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_connect_never_takes_a_working_page_from_another_shop(
        tenant in prop::sample::select(vec!["A", "B"]), h in prop::option::of(holder()), now in 0i64..2_000,
    ) {
        let plan = connect_plan(tenant, h.as_ref(), now);
        let Some(h) = h else {
            prop_assert_eq!(plan, Ok(ConnectPlan::Fresh));
            return Ok(());
        };
        let leased = h.lease_until_ms.is_some_and(|u| u > now);
        let other = h.route.tenant_id != tenant;
        match &plan {
            Err(ConnectRefusal::Busy) => prop_assert!(leased),
            Err(ConnectRefusal::Taken) => {
                prop_assert!(other && !h.draft && h.route.status != PageStatus::LostConnection);
            }
            Ok(ConnectPlan::Own) => prop_assert!(!other && !leased),
            Ok(ConnectPlan::Fresh) => prop_assert!(other && h.draft && !leased),
            Ok(ConnectPlan::TakeOver(t)) => {
                prop_assert!(other && !h.draft && !leased && h.route.status == PageStatus::LostConnection);
                prop_assert_eq!(&t.tenant_id, &h.route.tenant_id);
                prop_assert_eq!(&t.version, &h.version);
            }
        }
        if leased {
            prop_assert_eq!(plan, Err(ConnectRefusal::Busy));
        }
    }

    /// For another shop's Page, the import verdict is the connect's plan seen from the login:
    /// importable exactly when a connect could proceed, checked when the holder works, taken
    /// while a change runs.
    #[test]
    fn the_import_verdict_agrees_with_the_connect(h in holder(), now in 0i64..2_000) {
        let tenant = if h.route.tenant_id == "A" { "B" } else { "A" };
        let want = match connect_plan(tenant, Some(&h), now) {
            Ok(_) => ImportVerdict::Import,
            Err(ConnectRefusal::Taken) => ImportVerdict::CheckHolder,
            Err(ConnectRefusal::Busy) => ImportVerdict::Taken,
        };
        prop_assert_eq!(import_verdict(tenant, Some(&h), now), want);
        prop_assert_eq!(import_verdict(&h.route.tenant_id.clone(), Some(&h), now), ImportVerdict::Import);
    }
}
