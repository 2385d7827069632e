//! The simulator's demo world: one Facebook user who administers three Pages with Vietnamese
//! names (one very long, to try the console's layout), a post on each Page to comment on, and
//! a short Messenger history on one Page for the Conversations API (history sync).

use crate::graph::FakeGraph;

/// The demo person's app-scoped id.
pub const DEMO_USER_ID: &str = "100000000000001";
pub const DEMO_USER_NAME: &str = "Nguyễn Văn Minh (người dùng mô phỏng)";

/// A demo Page: id, name, and its one post (id, text).
pub struct DemoPage {
    pub id: &'static str,
    pub name: &'static str,
    pub post_id: &'static str,
    pub post_text: &'static str,
}

pub const DEMO_PAGES: [DemoPage; 3] = [
    DemoPage {
        id: "611000000000001",
        name: "Cửa Hàng Thời Trang Công Sở Nguyễn Thị Minh Khai Chi Nhánh Quận 3",
        post_id: "611000000000001_900000000000001",
        post_text: "Bộ sưu tập áo sơ mi công sở mùa thu đã về, giảm 20% tuần này!",
    },
    DemoPage {
        id: "611000000000002",
        name: "Tiệm Bánh Mì Cô Ba",
        post_id: "611000000000002_900000000000002",
        post_text: "Bánh mì thịt nướng mới ra lò, đặt trước qua tin nhắn nhé.",
    },
    DemoPage {
        id: "611000000000003",
        name: "Phụ Kiện Điện Thoại Hà Nội",
        post_id: "611000000000003_900000000000003",
        post_text: "Ốp lưng iPhone 17 đủ màu, giao nhanh nội thành.",
    },
];

/// Tasks of a Page admin, as `/me/accounts` lists them.
pub const ADMIN_TASKS: [&str; 6] =
    ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MESSAGING", "MANAGE"];

/// The Page that has a history before anyone connects it.
pub const HISTORY_PAGE: &str = "611000000000002";

/// Customers of [`HISTORY_PAGE`] with their messages: (psid, name, [(minutes ago, from the
/// customer?, text)]).
type History = (&'static str, &'static str, &'static [(i64, bool, &'static str)]);

const HISTORY: [History; 3] = [
    (
        "7100000000000001",
        "Trần Thị Mai",
        &[
            (180, true, "Chào shop, còn bánh mì thịt nướng không ạ?"),
            (175, false, "Dạ còn ạ, chị lấy mấy ổ?"),
            (170, true, "Cho em 3 ổ, 5 giờ chiều em ghé lấy."),
        ],
    ),
    (
        "7100000000000002",
        "Lê Văn Hùng",
        &[(1500, true, "Shop có giao hàng quận 7 không?"), (1490, false, "Dạ có, phí ship 15k anh nhé.")],
    ),
    (
        "7100000000000003",
        "Phạm Ngọc Ánh",
        &[(45, true, "Bánh mì chay có không shop?"), (44, true, "Em muốn đặt 10 ổ cho văn phòng.")],
    ),
];

/// A customer known to the simulator: who wrote to which Page, under which PSID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub page_id: String,
    pub psid: String,
    pub name: String,
}

/// Adds the demo Pages (fresh Page tokens), their history and its customers' profiles to the
/// fake; returns the customers.
pub fn seed(graph: &FakeGraph, now_ms: i64) -> Vec<Customer> {
    for p in &DEMO_PAGES {
        let token = format!("EAAsim{}", uuid::Uuid::new_v4().simple());
        graph.add_page(p.id, p.name, &token, &ADMIN_TASKS);
        graph.add_post(p.id, p.post_id, now_ms - 2 * 24 * 3_600_000);
    }
    let mut customers = Vec::new();
    for (n, (psid, name, msgs)) in HISTORY.iter().enumerate() {
        let messages: Vec<(String, i64, &str, &str)> = msgs
            .iter()
            .enumerate()
            .map(|(i, (ago, from_customer, text))| {
                let from = if *from_customer { *psid } else { HISTORY_PAGE };
                (format!("m_demo_{n}_{i}"), now_ms - ago * 60_000, from, *text)
            })
            .collect();
        let updated = messages.iter().map(|m| m.1).max().unwrap_or(now_ms);
        graph.add_conversation(
            HISTORY_PAGE,
            &format!("t_demo_{n}"),
            updated,
            psid,
            messages.iter().map(|(mid, at, from, text)| (mid.as_str(), *at, *from, *text)).collect(),
        );
        graph.add_profile(HISTORY_PAGE, psid, name);
        customers.push(Customer { page_id: HISTORY_PAGE.into(), psid: (*psid).into(), name: (*name).into() });
    }
    customers
}

/// The id a customer comments under: Meta's comment author ids are not PSIDs, so the
/// simulator derives one per PSID (same digits, a leading 5 for the 7) and tells the fake Graph
/// whom a private reply to it reaches.
pub fn author_id(psid: &str) -> String {
    format!("5{}", psid.get(1..).unwrap_or_default())
}

/// A fresh PSID: Meta's are 16-digit numbers, distinct per Page and person.
pub fn new_psid() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000_000;
    format!("7{n:015}")
}
