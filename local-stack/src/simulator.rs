//! The local stack's Meta simulator (`docs/meta-simulator.md`): with no Meta app configured
//! (none of `FB_APP_ID`, `FB_GRAPH_URL`, `FB_DIALOG_URL` set) the stack serves the `meta-sim`
//! crate under `/_sim` on its own port and points its Graph client, login dialog and app id
//! there; the simulator's webhooks come back to the stack's own `/webhooks/facebook`, signed
//! with the first `FB_APP_SECRET`. So the whole seed flow works out of the box, and nothing
//! leaves the machine.

use std::net::SocketAddr;

use axum::Router;
use meta_sim::{SimConfig, Simulator};
use secrecy::ExposeSecret;
use tracing::info;

use crate::LocalConfig;

/// Where the simulator is mounted on the stack's port.
pub const PREFIX: &str = "/_sim";
/// The simulated app's id (what the login dialog and the Graph fake expect).
pub const SIM_APP_ID: &str = "sim-app-id";

/// On unless the environment names a real Meta app or endpoint.
pub fn wanted_by_env() -> bool {
    ["FB_APP_ID", "FB_GRAPH_URL", "FB_DIALOG_URL"]
        .iter()
        .all(|name| adapters::config::optional(name).is_none())
}

/// When `cfg.simulator` is on: starts the simulator for a stack listening on `addr`, points
/// `cfg` at it (Graph URL, dialog URL, app id) and returns it with its routes to merge.
pub(crate) fn mount(cfg: &mut LocalConfig, addr: SocketAddr) -> Option<(Simulator, Router)> {
    if !cfg.simulator {
        return None;
    }
    let secret = cfg.app_secrets.expose_secret().split(',').next().unwrap_or_default().trim().to_string();
    let sim = Simulator::new(SimConfig {
        base_url: format!("http://{addr}{PREFIX}"),
        app_id: SIM_APP_ID.to_string(),
        app_secret: secret,
        webhook_url: format!("http://{addr}{}", webhook::PATH),
    });
    cfg.graph_url = sim.graph_url();
    cfg.dialog_url = sim.dialog_url();
    cfg.app_id = SIM_APP_ID.to_string();
    info!(
        customer_view = %sim.customer_url(),
        "Meta simulator on: customer view at {} (set FB_APP_ID to use a real Meta app)",
        sim.customer_url()
    );
    let routes = Router::new().nest(PREFIX, sim.router());
    Some((sim, routes))
}

/// `app` with the simulator's routes, when there is one.
pub(crate) fn attach(app: Router, sim: &Option<(Simulator, Router)>) -> Router {
    match sim {
        Some((_, routes)) => app.merge(routes.clone()),
        None => app,
    }
}
