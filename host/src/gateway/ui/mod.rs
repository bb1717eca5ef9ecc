//! The Observer: `GET /ui`, the gateway's own dashboard of its evidence. Pages are rendered on
//! the server as plain HTML (usable with JavaScript off); one small script in the binary adds
//! the live feed (server-sent events from `/ui/events`) and filter niceties. Everything the
//! pages need is compiled in — no external asset, no framework — and served same-origin under a
//! strict Content-Security-Policy.
//!
//! Access: with an admin token configured (`gateway.admin_token_sha256`), every page needs it —
//! as `Authorization: Bearer`, or through `/ui/login`, which trades the token for a random
//! session cookie (`HttpOnly`, `SameSite=Strict`, `Path=/ui`) kept in memory only.
//!
//! Every check a page shows (signatures, chain links, attestation) is done here, in the
//! gateway, from the stored ARs — the same functions `lucid passport show` and `lucid chain
//! verify` use.

mod pages;
mod plot;
mod view;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Gateway;
use crate::evidence::{StoreError, chain_ending_at, parse, verify_stored, verify_stored_window};
use view::{Filters, MetricsView, Summary};

type Shared = State<Arc<Gateway>>;

/// The session cookie's name.
const COOKIE: &str = "lucid_ui";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at once (the oldest goes first).
const MAX_SESSIONS: usize = 256;
/// ARs the feed and its plot read from the store.
const FEED_WINDOW: usize = 200;
/// Rows the feed shows.
const FEED_ROWS: usize = 100;
/// ARs the chain page shows and checks by default.
const CHAIN_WINDOW: usize = 200;
/// ARs a passport checks back from its own (the whole chain under "verify all").
const PASSPORT_WINDOW: usize = 1_000;
/// Longest prompt the "try it" box runs.
const TRY_MAX: usize = 64 << 10;
/// Failed logins allowed per client and minute (then its attempts are refused until the
/// minute is over).
const LOGINS_PER_MINUTE: u32 = 20;
const MINUTE: Duration = Duration::from_secs(60);
/// Clients whose failed logins are counted at once.
const MAX_CLIENTS: usize = 4096;

/// Evidence reads of the Observer's pages at once (a page reads up to a few hundred ARs; the
/// whole-chain check reads them all): more wait, up to [`READ_WAIT`].
const READS_AT_ONCE: usize = 2;
const READ_WAIT: Duration = Duration::from_secs(10);
/// "Try it" runs at once (they share the auditor workers with live traffic).
const TRIES_AT_ONCE: usize = 2;
/// Live feeds (`/ui/events`) open at once.
const MAX_STREAMS: usize = 64;

/// The Observer's own state: login sessions, and the bound on its evidence reads.
pub struct UiState {
    /// SHA-256 of each session id → when it was opened.
    sessions: Mutex<HashMap<[u8; 32], Instant>>,
    /// Failed logins per client address (`None`: the address is unknown) in its current minute.
    failures: Mutex<HashMap<Option<std::net::IpAddr>, (Instant, u32)>>,
    reads: tokio::sync::Semaphore,
    /// One whole-chain check at a time.
    whole: tokio::sync::Semaphore,
    /// "Try it" runs at once.
    tries: tokio::sync::Semaphore,
    /// Live feeds open at once.
    streams: Arc<tokio::sync::Semaphore>,
    /// The last chain status answered, for its tip.
    status: Mutex<Option<(String, Value)>>,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            sessions: Mutex::default(),
            failures: Mutex::default(),
            reads: tokio::sync::Semaphore::new(READS_AT_ONCE),
            whole: tokio::sync::Semaphore::new(1),
            tries: tokio::sync::Semaphore::new(TRIES_AT_ONCE),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
            status: Mutex::default(),
        }
    }
}

impl UiState {
    fn open_session(&self) -> String {
        let mut id = [0u8; 32];
        if getrandom::fill(&mut id).is_err() {
            // No randomness, no session (the login page says so).
            return String::new();
        }
        let token = hex::encode(id);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, at| at.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(Sha256::digest(token.as_bytes()).into(), Instant::now());
        token
    }

    fn has_session(&self, token: &str) -> bool {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(&key)
            .is_some_and(|at| at.elapsed() < SESSION_TTL)
    }

    fn close_session(&self, token: &str) {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }

    /// Whether `client` may try to log in: fewer than [`LOGINS_PER_MINUTE`] failed from it
    /// in its current minute. Counted per client, so that one client failing cannot lock the
    /// admin out.
    fn login_allowed(&self, client: Option<std::net::IpAddr>) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(&client)
            .is_none_or(|(start, n)| start.elapsed() >= MINUTE || *n < LOGINS_PER_MINUTE)
    }

    fn login_failed(&self, client: Option<std::net::IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, (start, _)| start.elapsed() < MINUTE);
            if failures.len() >= MAX_CLIENTS {
                // Many clients failing at once: start counting afresh rather than grow.
                failures.clear();
            }
        }
        let entry = failures.entry(client).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= MINUTE {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/ui", get(feed))
        .route("/ui/", get(feed))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/events", get(events))
        .route("/ui/exchange/{ar_hash}", get(passport))
        .route("/ui/chain", get(chain))
        .route("/ui/chain/status", get(chain_status))
        .route("/ui/auditors", get(auditors))
        .route("/ui/policy", get(policy))
        .route("/ui/try", post(try_prompt))
        .route("/ui/assets/ui.css", get(css))
        .route("/ui/assets/ui.js", get(js))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Why a page is not served.
enum Denied {
    /// Not logged in: to the login page, coming back to `next`.
    Login(String),
    /// A cross-site form post.
    Forbidden,
    /// Without an admin token, asked under a host name (see [`local_host`]).
    HostName,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Login(next) => {
                let target = format!("/ui/login?next={}", encode_component(&next));
                Redirect::to(&target).into_response()
            }
            Denied::Forbidden => page(
                StatusCode::FORBIDDEN,
                pages::message("Refused", "This form was posted from another site."),
            ),
            Denied::HostName => page(
                StatusCode::FORBIDDEN,
                pages::message(
                    "Refused",
                    "Without an admin token the Observer answers only at an IP address or localhost (a web page elsewhere could otherwise point a host name at this gateway and read it). Set gateway.admin_token_sha256 to open it under a host name.",
                ),
            ),
        }
    }
}

/// Percent-encode everything but unreserved characters and `/`.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether the request may see the Observer: no admin token configured, the admin token as a
/// bearer, or a live session cookie. `path` is where to come back after logging in.
fn authorize(gateway: &Gateway, headers: &HeaderMap, path: &str) -> Result<(), Denied> {
    if gateway.config.gateway.admin_token_sha256.is_none() {
        return if local_host(headers) {
            Ok(())
        } else {
            Err(Denied::HostName)
        };
    }
    if gateway.require_admin(headers).is_ok() {
        return Ok(());
    }
    match cookie(headers, COOKIE) {
        Some(token) if gateway.ui.has_session(token) => Ok(()),
        _ => Err(Denied::Login(path.to_string())),
    }
}

/// Whether the request names this gateway by an IP address or `localhost` (or names no host:
/// not a browser). An open Observer (no admin token) refuses other host names: a page on
/// another site could point its own name at this address (DNS rebinding) and read the pages
/// as same-origin.
fn local_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// A form post must come from the Observer's own pages: a browser sends `Origin` (or at least
/// `Sec-Fetch-Site`) on posts, and it must be this host.
fn same_origin(headers: &HeaderMap) -> Result<(), Denied> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(Denied::Forbidden);
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => Ok(()),
        // Chromium sends `Origin: null` for a same-origin post from a page served with
        // `Referrer-Policy: no-referrer`; its `Sec-Fetch-Site` (which no page can set) says
        // where the post came from. A sandboxed frame elsewhere says `cross-site`.
        Some("null") if fetch_site == Some("same-origin") => Ok(()),
        Some(origin) => {
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            if origin_host.is_some() && origin_host == host {
                Ok(())
            } else {
                Err(Denied::Forbidden)
            }
        }
    }
}

/// The headers every Observer response carries: nothing from elsewhere may load or frame it.
fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn page(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(response)
}

fn ok(markup: Markup) -> Response {
    page(StatusCode::OK, markup)
}

fn failure(status: StatusCode, title: &str, message: impl AsRef<str>) -> Response {
    page(status, pages::message(title, message.as_ref()))
}

/// A permit of `limit`, waiting up to [`READ_WAIT`]; a 503 page saying `busy` after that.
async fn wait_for<'a>(
    limit: &'a tokio::sync::Semaphore,
    busy: &str,
) -> Result<tokio::sync::SemaphorePermit<'a>, Response> {
    match tokio::time::timeout(READ_WAIT, limit.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(failure(StatusCode::SERVICE_UNAVAILABLE, "Busy", busy)),
    }
}

/// [`super::api::with_store`] within the Observer's bound on evidence reads, failing as a page.
async fn with_store<T: Send + 'static>(
    gateway: &Arc<Gateway>,
    f: impl FnOnce(&mut dyn crate::evidence::EvidenceStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let _permit = wait_for(
        &gateway.ui.reads,
        "the Observer is reading evidence for other pages; retry shortly",
    )
    .await?;
    super::api::with_store(gateway, f)
        .await
        .map_err(|e| failure(e.status, "Evidence store error", e.message))
}

/// The state of a stretch of the chain as read from the store.
pub struct ChainWindow {
    /// Oldest first.
    pub ars: Vec<Value>,
    pub report: lucid_ar::ChainReport,
    /// The read failed (a corrupt AR, a cycle): the chain is invalid for this reason.
    pub broken: Option<String>,
    /// The window does not reach the genesis.
    pub partial: bool,
}

/// The last `n` ARs of the chain ending at `end` (the newest stored when `None`), checked.
fn read_window(
    store: &mut dyn crate::evidence::EvidenceStore,
    end: Option<&str>,
    n: usize,
) -> Result<ChainWindow, StoreError> {
    let tip = match end {
        Some(h) => Some(h.to_string()),
        None => match store.last()? {
            Some(text) => serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("ar_hash").and_then(Value::as_str).map(str::to_string)),
            None => None,
        },
    };
    let Some(tip) = tip else {
        return Ok(ChainWindow {
            ars: Vec::new(),
            report: verify_stored(&[]),
            broken: None,
            partial: false,
        });
    };
    match chain_ending_at(store, &tip, n) {
        Ok(Some(ars)) => {
            let report = verify_stored_window(&ars);
            let partial = report.anchor.is_some();
            // The walk back stops early only at the genesis; stopping before the window is
            // full at an AR that names a predecessor means that predecessor is gone (deleted,
            // or replaced by one with another hash).
            let broken = match (&report.anchor, ars.first()) {
                (Some(previous), Some(first)) if ars.len() < n => Some(format!(
                    "the chain is cut: the AR before depth {} ({previous}) is not in the store",
                    first["chain_depth"]
                )),
                _ => None,
            };
            Ok(ChainWindow {
                ars,
                report,
                broken,
                partial,
            })
        }
        Ok(None) => Err(StoreError::Corrupt {
            ar_hash: tip,
            reason: "not in the store".into(),
        }),
        Err(e @ StoreError::Corrupt { .. }) => Ok(ChainWindow {
            ars: Vec::new(),
            report: verify_stored(&[]),
            broken: Some(e.to_string()),
            partial: true,
        }),
        Err(e) => Err(e),
    }
}

/// The whole chain, checked the way `lucid chain verify` checks it (forks included). The
/// store is read under its lock; the checking happens after, without it.
async fn verify_all(gateway: &Arc<Gateway>) -> Result<ChainWindow, Response> {
    let _whole = wait_for(
        &gateway.ui.whole,
        "another check of the whole chain is running; retry shortly",
    )
    .await?;
    let texts = with_store(gateway, |s| s.all()).await?;
    tokio::task::spawn_blocking(move || {
        let mut ars = Vec::with_capacity(texts.len());
        for text in texts {
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => ars.push(v),
                Err(e) => {
                    return ChainWindow {
                        ars: Vec::new(),
                        report: verify_stored(&[]),
                        broken: Some(format!("a stored AR is not JSON: {e}")),
                        partial: false,
                    };
                }
            }
        }
        let report = verify_stored(&ars);
        ChainWindow {
            ars,
            report,
            broken: None,
            partial: false,
        }
    })
    .await
    .map_err(|e| failure(StatusCode::INTERNAL_SERVER_ERROR, "Error", e.to_string()))
}

fn summaries(gateway: &Gateway, ars: &[Value]) -> Vec<Summary> {
    let recent = gateway.exchange.feed.recent();
    ars.iter()
        .rev()
        .map(|ar| {
            let hash = ar["ar_hash"].as_str().unwrap_or_default();
            Summary::of(hash, ar, recent.get(hash))
        })
        .collect()
}

/// The path and query of a request, to come back to after logging in.
fn here(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map_or("/ui", |pq| pq.as_str())
}

async fn feed(
    State(gateway): Shared,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(filters): Query<Filters>,
) -> Response {
    if let Err(d) = authorize(&gateway, &headers, here(&uri)) {
        return d.into_response();
    }
    let filters = filters.clean();
    let window = match with_store(&gateway, |s| read_window(s, None, FEED_WINDOW)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let all = summaries(&gateway, &window.ars);
    let points: Vec<(u64, bool)> = all
        .iter()
        .filter(|s| s.event.is_none() && filters.matches(s))
        .filter_map(|s| Some((s.unix_seconds()?, s.decision == "deny")))
        .collect();
    let mut rows: Vec<Summary> = all.into_iter().filter(|s| filters.matches(s)).collect();
    rows.truncate(FEED_ROWS);
    ok(pages::feed(&pages::FeedPage {
        rows: &rows,
        filters: &filters,
        window: &window,
        points: &points,
        status: status(&gateway),
    }))
}

/// The gateway's state in a line (every page's header).
fn status(gateway: &Gateway) -> pages::Status {
    let view = gateway.exchange.auditing.view();
    pages::Status {
        plugin_set_hash: view.set.hash.clone(),
        auditors: view.set.plugins.len(),
        policy_hash: gateway.exchange.policy.current().hash.clone(),
        policy_problem: gateway.exchange.policy.problem(),
        chain_depth: gateway.exchange.receipts.chain_depth(),
        attestation: gateway
            .attestor
            .as_ref()
            .map(|a| a.mode().as_str().to_string()),
        admin: gateway.config.gateway.admin_token_sha256.is_some(),
    }
}

/// `/ui/events`: the live feed. Each new AR is one `exchange` event with its [`Summary`] as
/// JSON (filtered like the page: same query); `lagged` when the listener fell behind. The
/// stream ends when the session it was opened with ends, and when the gateway stops.
async fn events(
    State(gateway): Shared,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Response {
    if let Err(d) = authorize(&gateway, &headers, "/ui") {
        // A script cannot follow a redirect to a login page: say 401.
        return match d {
            Denied::Login(_) => failure(
                StatusCode::UNAUTHORIZED,
                "Log in",
                "the live feed needs a session",
            ),
            other => other.into_response(),
        };
    }
    let Ok(slot) = gateway.ui.streams.clone().try_acquire_owned() else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many live feeds",
            format!("at most {MAX_STREAMS} live feeds are open at once"),
        );
    };
    // A stream opened with a session (not with the admin token itself) lasts as long as it.
    let session = match gateway.require_admin(&headers) {
        Ok(()) => None,
        Err(_) => cookie(&headers, COOKIE).map(str::to_string),
    };
    let filters = filters.clean();
    let receiver = gateway.exchange.feed.subscribe();
    let state = (receiver, filters, session, gateway.clone(), slot);
    let stream = futures_util::stream::unfold(state, |state| async move {
        let (mut rx, filters, session, gateway, slot) = state;
        loop {
            let received = rx.recv().await;
            if let Some(token) = &session
                && !gateway.ui.has_session(token)
            {
                return None;
            }
            let event = match received {
                Ok(live) if filters.matches(&live.summary) => {
                    Event::default().event("exchange").data(&live.json)
                }
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    Event::default().event("lagged").data(n.to_string())
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            return Some((
                Ok::<_, Infallible>(event),
                (rx, filters, session, gateway, slot),
            ));
        }
    });
    let stream =
        futures_util::StreamExt::take_until(stream, gateway.closing.clone().cancelled_owned());
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    secure(response)
}

/// `/ui/chain/status`: the state of the chain's newest window as JSON — `{"valid", "length",
/// "tip", "chain_depth", "partial", "errors"}` — for the feed page to follow without a reload.
/// The last answer is kept for its tip: asked again before a new AR arrives, it is not
/// checked again (a tampered store shows at the next AR, or in the Chain page at once).
async fn chain_status(State(gateway): Shared, headers: HeaderMap) -> Response {
    if let Err(d) = authorize(&gateway, &headers, "/ui") {
        return match d {
            Denied::Login(_) => failure(StatusCode::UNAUTHORIZED, "Log in", "this needs a session"),
            other => other.into_response(),
        };
    }
    let tip = gateway.exchange.feed.last();
    if let Some(tip) = &tip {
        let kept = gateway.ui.status.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((hash, answer)) = &*kept
            && hash.as_str() == &**tip
        {
            return json_response(answer.clone());
        }
    }
    let window = match with_store(&gateway, |s| read_window(s, None, FEED_WINDOW)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let errors: Vec<String> = window
        .broken
        .iter()
        .cloned()
        .chain(window.report.errors.iter().map(|e| e.reason.clone()))
        .collect();
    let newest = window.ars.last();
    let answer = serde_json::json!({
        "valid": window.broken.is_none() && window.report.valid,
        "length": window.ars.len(),
        "tip": newest.and_then(|a| a.get("ar_hash")).cloned(),
        "chain_depth": newest.and_then(|a| a.get("chain_depth")).cloned(),
        "partial": window.partial,
        "errors": errors,
    });
    if let Some(tip) = newest.and_then(|a| a["ar_hash"].as_str()) {
        *gateway.ui.status.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((tip.to_string(), answer.clone()));
    }
    json_response(answer)
}

fn json_response(value: Value) -> Response {
    secure(axum::Json(value).into_response())
}

async fn passport(
    State(gateway): Shared,
    headers: HeaderMap,
    Path(ar_hash): Path<String>,
) -> Response {
    let path = format!("/ui/exchange/{}", encode_component(&ar_hash));
    if let Err(d) = authorize(&gateway, &headers, &path) {
        return d.into_response();
    }
    let Some(hash) = crate::passport::lowercase_hash(&ar_hash) else {
        return failure(
            StatusCode::BAD_REQUEST,
            "Not an ar_hash",
            "an ar_hash is 64 hex characters (the x-lucid-ar-hash header of a response)",
        );
    };
    let key = hash.clone();
    let found = with_store(&gateway, move |s| match s.get(&key)? {
        None => Ok(None),
        Some(text) => {
            let ar = parse(&key, &text)?;
            let window = read_window(s, Some(&key), PASSPORT_WINDOW)?;
            Ok(Some((ar, window)))
        }
    })
    .await;
    let (ar, window) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return failure(
                StatusCode::NOT_FOUND,
                "No such receipt",
                format!("no AR {hash} is stored here"),
            );
        }
        Err(r) => return r,
    };
    let kept = match crate::passport::binding_hash_of_ar(&ar) {
        None => crate::passport::Kept::NoBinding,
        Some(binding) => match &gateway.attestor {
            None => crate::passport::Kept::Unavailable(
                "this gateway has no attestation provider".into(),
            ),
            Some(attestor) => match attestor.kept(&binding) {
                Some(a) => crate::passport::Kept::Report(Box::new((*a).clone())),
                None => crate::passport::Kept::Missing,
            },
        },
    };
    let mut chain = serde_json::to_value(&window.report).unwrap_or(Value::Null);
    if let Some(why) = &window.broken {
        chain["valid"] = false.into();
        chain["errors"] = serde_json::json!([{"ar_hash": null, "index": 0, "reason": why}]);
    }
    let sources = crate::passport::Sources {
        ar: ar.clone(),
        chain,
        kept,
        kind: "gateway",
        location: gateway.evidence_location(),
    };
    let facts = tokio::task::spawn_blocking(move || crate::passport::facts(&hash, &sources)).await;
    let facts = match facts {
        Ok(f) => f,
        Err(e) => {
            return failure(StatusCode::INTERNAL_SERVER_ERROR, "Error", e.to_string());
        }
    };
    let item = gateway
        .exchange
        .feed
        .find(ar["ar_hash"].as_str().unwrap_or_default());
    let summary = Summary::of(
        ar["ar_hash"].as_str().unwrap_or_default(),
        &ar,
        item.as_ref(),
    );
    ok(pages::passport(&pages::PassportPage {
        facts: &facts,
        ar: &ar,
        summary: &summary,
        partial: window.partial,
        status: status(&gateway),
    }))
}

#[derive(Deserialize, Default)]
struct ChainQuery {
    /// `all`: verify the whole chain.
    #[serde(default)]
    verify: String,
    /// Show the window ending at this AR.
    #[serde(default)]
    end: String,
}

async fn chain(
    State(gateway): Shared,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<ChainQuery>,
) -> Response {
    if let Err(d) = authorize(&gateway, &headers, here(&uri)) {
        return d.into_response();
    }
    let end = if q.end.is_empty() {
        None
    } else {
        match crate::passport::lowercase_hash(&q.end) {
            Some(h) => Some(h),
            None => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "Not an ar_hash",
                    "end must be an ar_hash (64 hex characters)",
                );
            }
        }
    };
    let whole = q.verify == "all";
    let window = match with_store(&gateway, move |s| {
        read_window(s, end.as_deref(), CHAIN_WINDOW)
    })
    .await
    {
        Ok(w) => w,
        Err(r) => return r,
    };
    let full = if whole {
        let started = Instant::now();
        match verify_all(&gateway).await {
            Ok(w) => Some((w, started.elapsed())),
            Err(r) => return r,
        }
    } else {
        None
    };
    let keys: Vec<Value> = crate::attestation::keys_of(&window.ars, |binding| {
        super::api::report_status(binding, gateway.attestor.as_deref())
    });
    ok(pages::chain(&pages::ChainPage {
        window: &window,
        full: full.as_ref().map(|(w, d)| (w, *d)),
        keys: &keys,
        status: status(&gateway),
    }))
}

async fn auditors(State(gateway): Shared, headers: HeaderMap) -> Response {
    if let Err(d) = authorize(&gateway, &headers, "/ui/auditors") {
        return d.into_response();
    }
    let view = gateway.exchange.auditing.view();
    let metrics = MetricsView::parse(&gateway.exchange.metrics.render());
    let enforcements = gateway.exchange.overrides.enforcements();
    ok(pages::auditors(&pages::AuditorsPage {
        view: &view,
        metrics: &metrics,
        enforcements: &enforcements,
        status: status(&gateway),
    }))
}

/// Largest policy file shown.
const POLICY_FILE_MAX: u64 = 256 << 10;

/// The policy files as they are on disk now (each bounded; a file that cannot be read says why).
fn policy_sources(gateway: &Gateway, files: &[String]) -> Vec<(String, String)> {
    use std::io::Read as _;
    let dir = gateway.exchange.policy.dir();
    files
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let text = std::fs::File::open(&path)
                .and_then(|f| {
                    let mut buf = String::new();
                    f.take(POLICY_FILE_MAX).read_to_string(&mut buf)?;
                    Ok(buf)
                })
                .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
            (name.clone(), text)
        })
        .collect()
}

async fn policy(State(gateway): Shared, headers: HeaderMap) -> Response {
    if let Err(d) = authorize(&gateway, &headers, "/ui/policy") {
        return d.into_response();
    }
    let state = gateway.exchange.policy.current();
    ok(pages::policy(&pages::PolicyPage {
        state: &state,
        dir: &gateway.exchange.policy.dir().display().to_string(),
        problem: gateway.exchange.policy.problem(),
        sources: policy_sources(&gateway, &state.files),
        tried: None,
        status: status(&gateway),
    }))
}

#[derive(Deserialize)]
struct TryForm {
    prompt: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    scope: String,
}

/// The request phase over a typed prompt, decided, without calling the model.
async fn try_prompt(
    State(gateway): Shared,
    headers: HeaderMap,
    Form(form): Form<TryForm>,
) -> Response {
    if let Err(d) = authorize(&gateway, &headers, "/ui/policy") {
        return d.into_response();
    }
    if let Err(d) = same_origin(&headers) {
        return d.into_response();
    }
    if form.prompt.len() > TRY_MAX {
        return failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too long",
            format!("the prompt is longer than {TRY_MAX} bytes"),
        );
    }
    let model = match form.model.trim() {
        "" => "gpt-4o-mini".to_string(),
        m => m.chars().take(128).collect(),
    };
    let mut parts = form.scope.trim().splitn(3, '/').map(|p| p.trim());
    let mut pick = || {
        parts
            .next()
            .filter(|p| !p.is_empty())
            .unwrap_or("default")
            .chars()
            .take(128)
            .collect::<String>()
    };
    let scope = lucid_contract::Scope {
        org: pick(),
        workspace: pick(),
        agent: pick(),
    };
    let request = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": form.prompt}],
    });
    let Ok(_try) = gateway.ui.tries.try_acquire() else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            format!("at most {TRIES_AT_ONCE} prompts are tried at once; retry shortly"),
        );
    };
    let (claims, decision) = gateway.exchange.probe_request(&scope, &request).await;
    let tried = pages::Tried {
        prompt: &form.prompt,
        model: &model,
        scope: &scope,
        claims: &claims,
        decision: &decision,
    };
    let state = gateway.exchange.policy.current();
    ok(pages::policy(&pages::PolicyPage {
        state: &state,
        dir: &gateway.exchange.policy.dir().display().to_string(),
        problem: gateway.exchange.policy.problem(),
        sources: policy_sources(&gateway, &state.files),
        tried: Some(tried),
        status: status(&gateway),
    }))
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// Only a path of the Observer is a place to come back to.
fn safe_next(next: &str) -> String {
    if next.starts_with("/ui")
        && !next.starts_with("//")
        && !next.contains("://")
        && !next.contains('\\')
        && next.chars().all(|c| !c.is_control())
    {
        next.to_string()
    } else {
        "/ui".to_string()
    }
}

async fn login_page(State(gateway): Shared, Query(q): Query<LoginQuery>) -> Response {
    if gateway.config.gateway.admin_token_sha256.is_none() {
        return Redirect::to("/ui").into_response();
    }
    ok(pages::login(&safe_next(&q.next), None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(gateway): Shared,
    headers: HeaderMap,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = client.map(|c| c.0.0.ip());
    if let Err(d) = same_origin(&headers) {
        return d.into_response();
    }
    let next = safe_next(&form.next);
    let Some(expected) = gateway.config.gateway.admin_token_sha256.as_deref() else {
        return Redirect::to(&next).into_response();
    };
    if !gateway.ui.login_allowed(client) {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(&next, Some("Too many failed attempts; wait a minute.")),
        );
    }
    let digest = super::sha256_hex(form.token.trim());
    if !digest.eq_ignore_ascii_case(expected) {
        gateway.ui.login_failed(client);
        tracing::warn!(client = ?client, "observer: a login with a wrong admin token");
        return page(
            StatusCode::UNAUTHORIZED,
            pages::login(&next, Some("That is not the admin token.")),
        );
    }
    let session = gateway.ui.open_session();
    if session.is_empty() {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "No session",
            "no randomness for a session id",
        );
    }
    let mut response = Redirect::to(&next).into_response();
    let cookie = format!(
        "{COOKIE}={session}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    secure(response)
}

async fn logout(State(gateway): Shared, headers: HeaderMap) -> Response {
    if let Err(d) = same_origin(&headers) {
        return d.into_response();
    }
    if let Some(token) = cookie(&headers, COOKIE) {
        gateway.ui.close_session(token);
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("lucid_ui=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    secure(response)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    secure(response)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/ui.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/ui.js"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_observer_paths_are_places_to_come_back_to() {
        assert_eq!(safe_next("/ui/chain"), "/ui/chain");
        assert_eq!(safe_next("https://evil.example/ui"), "/ui");
        assert_eq!(safe_next("//evil.example"), "/ui");
        assert_eq!(safe_next("/v1/config"), "/ui");
        assert_eq!(safe_next("/ui\\@evil"), "/ui");
    }

    #[test]
    fn an_open_observer_answers_only_at_an_address_or_localhost() {
        let with = |host: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static(host));
            local_host(&h)
        };
        assert!(with("127.0.0.1:8080"));
        assert!(with("localhost:8080"));
        assert!(with("[::1]:8080"));
        assert!(with("10.0.0.5"));
        assert!(!with("evil.example:8080"));
        assert!(!with("localhost.evil.example"));
        assert!(local_host(&HeaderMap::new()), "no Host: not a browser");
    }

    #[test]
    fn failed_logins_are_throttled_per_client() {
        let ui = UiState::default();
        let a = Some(std::net::IpAddr::from([10, 0, 0, 1]));
        let b = Some(std::net::IpAddr::from([10, 0, 0, 2]));
        for _ in 0..LOGINS_PER_MINUTE {
            assert!(ui.login_allowed(a));
            ui.login_failed(a);
        }
        assert!(!ui.login_allowed(a), "a is throttled");
        assert!(ui.login_allowed(b), "b is not");
        assert!(ui.login_allowed(None));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; lucid_ui=abc ; b=2"),
        );
        assert_eq!(cookie(&h, "lucid_ui"), Some("abc"));
        assert_eq!(cookie(&h, "lucid"), None);
    }

    #[test]
    fn sessions_open_close_and_are_bounded() {
        let ui = UiState::default();
        let first = ui.open_session();
        assert!(ui.has_session(&first));
        assert!(!ui.has_session("nope"));
        for _ in 0..MAX_SESSIONS {
            ui.open_session();
        }
        assert!(!ui.has_session(&first), "the oldest session went first");
        let last = ui.open_session();
        ui.close_session(&last);
        assert!(!ui.has_session(&last));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(same_origin(&h).is_err());
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(same_origin(&h).is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(
            same_origin(&h).is_err(),
            "null from a sandboxed frame elsewhere"
        );
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h).is_ok(), "null from our own page");
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(same_origin(&h).is_err());
    }
}
