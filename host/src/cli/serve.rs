//! `lucid serve`, `lucid mock-upstream`, `lucid bench-proxy`: the arguments turned into the
//! library's [`lucid::app::ServeOptions`]; the wiring itself is [`lucid::app`].

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;

use super::ServeArgs;

pub fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    if (args.trusted_keys.is_some() || args.registry.is_some()) && !args.require_signed {
        bail!("--trusted-keys and --registry are only used with --require-signed");
    }
    if args.require_signed && args.trusted_keys.is_none() && args.registry.is_none() {
        bail!("--require-signed needs --trusted-keys DIR or --registry DIR (or both)");
    }
    let options = lucid::app::ServeOptions {
        upstream: args.upstream.clone(),
        plugins: args.plugins.clone(),
        policies: args.policies.clone(),
        preset: args.preset.clone(),
        config: args.config.clone(),
        store: args.store.store.clone(),
        data_dir: args.store.data_dir.clone(),
        replica: args.store.replica.clone(),
        receipt: args.receipt.path()?,
        trusted_keys: args.trusted_keys.clone().filter(|_| args.require_signed),
        registry: args.registry.clone().filter(|_| args.require_signed),
        max_plugin_bytes: args.max_plugin_mib << 20,
        insecure_admin: args.insecure_admin,
        cache_key: args.cache_key.clone(),
        attestation: args.attestation.parse().map_err(anyhow::Error::msg)?,
    };
    let app = lucid::app::build(&options)?;
    lucid::app::serve(app, &args.listen, Duration::from_secs(args.grace_secs))?;
    Ok(ExitCode::SUCCESS)
}

/// Serve a plain router (the mock model, the bench proxy) until SIGINT/SIGTERM.
pub fn serve_router(listen: &str, router: axum::Router) -> anyhow::Result<ExitCode> {
    lucid::app::serve_router(listen, router)?;
    Ok(ExitCode::SUCCESS)
}
