//! `cargo run --release -p local-stack` serves the stack; `... -- token --email E --tenant T
//! --role R [--ttl SECONDS]` prints a signed JWT for it.

use anyhow::{Context, bail};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("token") => {
            let email = flag(&args, "--email").context("--email is required")?;
            let tenant = flag(&args, "--tenant").context("--tenant is required")?;
            let role = flag(&args, "--role").unwrap_or_else(|| "owner".into());
            if domain::model::Role::parse(&role).is_none() {
                bail!("--role must be owner, admin or agent");
            }
            let ttl: i64 = flag(&args, "--ttl")
                .map(|t| t.parse())
                .transpose()
                .context("--ttl is seconds")?
                .unwrap_or(12 * 3600);
            let secret = secrecy::SecretString::from(
                std::env::var("LOCAL_JWT_SECRET").unwrap_or_else(|_| "local-jwt-secret".into()),
            );
            println!("{}", local_stack::auth::mint(&secret, &email, &tenant, &role, ttl)?);
            Ok(())
        }
        None | Some("serve") => {
            adapters::telemetry::init();
            let cfg = local_stack::LocalConfig::from_env()?;
            let stack = local_stack::start(cfg).await?;
            println!("local stack on http://{} (Ctrl-C to stop)", stack.addr);
            if let Some(url) = &stack.simulator_url {
                println!("Meta simulator on: customer view at {url} (set FB_APP_ID to use a real Meta app)");
            }
            tokio::signal::ctrl_c().await?;
            stack.stop();
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}; use `token` or no argument"),
    }
}
