//! The PostgreSQL evidence store, for several gateway replicas sharing one database. Each replica
//! has its own chain (its own signer), named by `replica`; `last` returns that chain's tip.
//!
//! A chain has one writer. The writer holds the replica's *lease* — a session-level advisory
//! lock on a key derived from the replica's name — for as long as its connection lives, so a
//! second gateway started with the same `--replica` is refused instead of forking the chain. A
//! lost connection loses the lease: the writer reconnects, takes the lease again and checks that
//! the chain's newest AR is still the one it stored last before it appends anything more.
//!
//! Every wait is bounded: connecting (TCP, TLS and authentication) by `connect_timeout`, every
//! statement by `statement_timeout` on the server and [`options::CLIENT_MARGIN`] more on the
//! client, so a database that hangs yields a [`StoreError`], never a hung gateway. The store is
//! blocking: it drives tokio-postgres on a current-thread runtime of its own, and is called from
//! the receipt service's thread or `spawn_blocking`, never from an async worker.

mod options;
mod tls;

use std::future::Future;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use crate::evidence::{Access, EvidenceStore, StoreError, StoredAr};
pub use options::{
    CLIENT_MARGIN, DEFAULT_CONNECT_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT, PgOptions, SslMode,
};

pub struct PgStore {
    options: PgOptions,
    replica: String,
    /// The writer's lease; `None` for a reader.
    lease: Option<Lease>,
    runtime: Runtime,
    session: Option<Session>,
}

struct Lease {
    /// The advisory lock key of the replica.
    key: i64,
    /// The `ar_hash` of the chain's newest AR as this writer last saw it (`Some(None)`: the chain
    /// is empty); `None` before the first session.
    tip: Option<Option<String>>,
}

/// One connection: the client, and the task that drives the connection on the store's runtime.
struct Session {
    client: Client,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session given up on (a timeout) may still be waiting on the socket: close it, so the
        // server ends the session and releases the lease.
        self.connection.abort();
    }
}

/// Why a statement gave no result.
enum Failure {
    Db(tokio_postgres::Error),
    /// No answer within the client's deadline.
    NoAnswer,
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Db(e)
    }
}

impl PgStore {
    /// Connect; to write, take the replica's lease (or fail with [`StoreError::ReplicaInUse`]).
    pub fn connect(url: &str, replica: &str, access: Access) -> Result<PgStore, StoreError> {
        let options = PgOptions::parse(url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend {
                location: options.location.clone(),
                message: format!("cannot start the store's runtime: {e}"),
            })?;
        let mut store = PgStore {
            options,
            replica: replica.to_string(),
            lease: (access == Access::Write).then(|| Lease {
                key: lease_key(replica),
                tip: None,
            }),
            runtime,
            session: None,
        };
        store.session()?;
        Ok(store)
    }

    /// The live session, connecting (again) if there is none, with the runtime that drives it.
    fn session(&mut self) -> Result<(&Runtime, &mut Session), StoreError> {
        let session = match self.session.take() {
            Some(session) if !session.client.is_closed() => session,
            _ => self.open_session()?,
        };
        Ok((&self.runtime, self.session.insert(session)))
    }

    fn open_session(&mut self) -> Result<Session, StoreError> {
        let options = &self.options;
        let connect = options.config.connect(options.tls.clone());
        // The timer is made inside the runtime (`timeout` needs its context).
        let (client, connection) = match self
            .runtime
            .block_on(async { tokio::time::timeout(options.connect_timeout, connect).await })
        {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                return Err(StoreError::Backend {
                    location: options.location.clone(),
                    message: format!(
                        "cannot connect (sslmode={}): {}",
                        options.ssl_mode.as_str(),
                        describe(&e)
                    ),
                });
            }
            Err(_) => {
                return Err(StoreError::Timeout {
                    location: options.location.clone(),
                    what: "connecting (TCP, TLS and authentication)",
                    after: options.connect_timeout,
                });
            }
        };
        let location = options.location.clone();
        let connection = self.runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(store = %location, "evidence store connection ended: {e}");
            }
        });
        let session = Session { client, connection };
        let deadline = options.statement_deadline();
        let setup = format!(
            "SET statement_timeout = {}",
            options.statement_timeout.as_millis()
        );
        self.wait("setting the statement timeout", deadline, async {
            session.client.batch_execute(&setup).await
        })?;
        self.wait(
            "creating the schema",
            deadline,
            create_schema(&session.client),
        )?;
        self.take_lease(&session)?;
        Ok(session)
    }

    /// Take the replica's lease on a new session of the writer (a reader has none), and check
    /// that the chain's newest AR is the one this writer last saw (after a lost connection,
    /// another writer may have written meanwhile).
    fn take_lease(&mut self, session: &Session) -> Result<(), StoreError> {
        let Some(key) = self.lease.as_ref().map(|l| l.key) else {
            return Ok(());
        };
        let deadline = self.options.statement_deadline();
        let (taken, holder) = self.wait("taking the replica's lease", deadline, async {
            let row = session
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            if row.get::<_, bool>(0) {
                return Ok((true, None));
            }
            // Who holds it, for the message (it may have let go since).
            let (high, low) = ((key >> 32) as u32 as i64, key as u32 as i64);
            let row = session
                .client
                .query_opt(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
                     AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1 LIMIT 1",
                    &[&high, &low],
                )
                .await?;
            Ok((false, row.map(|r| r.get::<_, i32>(0))))
        })?;
        if !taken {
            return Err(StoreError::ReplicaInUse {
                location: self.options.location.clone(),
                replica: self.replica.clone(),
                holder,
            });
        }
        let replica = self.replica.clone();
        let found = self.wait("reading the chain's newest AR", deadline, async {
            let row = session
                .client
                .query_opt(
                    "SELECT ar_hash FROM lucid_ars WHERE replica = $1
                     ORDER BY seq DESC LIMIT 1",
                    &[&replica],
                )
                .await?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })?;
        let Some(lease) = &mut self.lease else {
            return Ok(());
        };
        match &lease.tip {
            Some(expected) if *expected != found => {
                let name = |tip: &Option<String>| tip.clone().unwrap_or_else(|| "none".into());
                Err(StoreError::ChainMoved {
                    location: self.options.location.clone(),
                    replica: self.replica.clone(),
                    expected: name(expected),
                    found: name(&found),
                })
            }
            _ => {
                lease.tip = Some(found);
                Ok(())
            }
        }
    }

    /// Run `fut` on the store's runtime within `limit`.
    fn wait<T>(
        &self,
        what: &'static str,
        limit: Duration,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        self.runtime
            .block_on(bounded(limit, fut))
            .map_err(|f| self.failed(what, f))
    }

    fn failed(&self, what: &'static str, failure: Failure) -> StoreError {
        let timeout = |after| StoreError::Timeout {
            location: self.location(),
            what,
            after,
        };
        match failure {
            Failure::NoAnswer => timeout(self.options.statement_deadline()),
            Failure::Db(e)
                if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) =>
            {
                timeout(self.options.statement_timeout)
            }
            Failure::Db(e) => StoreError::Backend {
                location: self.location(),
                message: format!("{what}: {}", describe(&e)),
            },
        }
    }

    /// A read: on a failure other than a timeout (most likely a lost connection), once more on a
    /// new session. Reads change nothing, so trying again is safe.
    fn read(
        &mut self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let mut retried = false;
        loop {
            let limit = self.options.statement_deadline();
            let (runtime, session) = self.session()?;
            match runtime.block_on(bounded(limit, session.client.query(sql, params))) {
                Ok(rows) => return Ok(rows),
                Err(failure) => {
                    let e = self.failed(what, failure);
                    self.session = None;
                    if retried || matches!(e, StoreError::Timeout { .. }) {
                        return Err(e);
                    }
                    tracing::warn!("{e}; trying again on a new connection");
                    retried = true;
                }
            }
        }
    }
}

/// An error with its causes (tokio-postgres says only the kind, "db error", in its own text).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

/// `fut`, or [`Failure::NoAnswer`] after `limit`.
async fn bounded<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(Failure::Db),
        Err(_) => Err(Failure::NoAnswer),
    }
}

/// Create the table once; concurrent first starts wait for each other instead of colliding in
/// PostgreSQL's catalog.
async fn create_schema(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock({});
             CREATE TABLE IF NOT EXISTS lucid_ars (
                 seq BIGSERIAL PRIMARY KEY,
                 replica TEXT NOT NULL,
                 ar_hash TEXT NOT NULL UNIQUE,
                 request_id TEXT NOT NULL,
                 chain_depth BIGINT NOT NULL,
                 public_key TEXT NOT NULL,
                 ar TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS lucid_ars_request_id ON lucid_ars (request_id);
             CREATE INDEX IF NOT EXISTS lucid_ars_replica_seq ON lucid_ars (replica, seq);
             COMMIT;",
            lock_key("schema")
        ))
        .await
}

/// The advisory lock key of a replica's lease.
fn lease_key(replica: &str) -> i64 {
    lock_key(&format!("replica\0{replica}"))
}

/// A 64-bit advisory lock key for `name`, in a space of Lucid's own (a prefix no other
/// application hashes), so that keys of other applications on the same database do not collide.
fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("lucid evidence store\0{name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Store `ars` in one transaction. `Err((true, _))`: the failure came before COMMIT was sent, so
/// nothing was stored.
async fn insert(
    client: &mut Client,
    replica: &str,
    ars: &[StoredAr],
    limit: Duration,
) -> Result<(), (bool, Failure)> {
    let before = |f: Failure| (true, f);
    let tx = bounded(limit, client.transaction()).await.map_err(before)?;
    let statement = bounded(
        limit,
        tx.prepare(
            "INSERT INTO lucid_ars (replica, ar_hash, request_id, chain_depth, public_key, ar)
             VALUES ($1, $2, $3, $4, $5, $6)",
        ),
    )
    .await
    .map_err(before)?;
    for ar in ars {
        let depth = ar.chain_depth as i64;
        bounded(
            limit,
            tx.execute(
                &statement,
                &[
                    &replica,
                    &ar.ar_hash,
                    &ar.request_id,
                    &depth,
                    &ar.public_key,
                    &ar.text,
                ],
            ),
        )
        .await
        .map_err(before)?;
    }
    bounded(limit, tx.commit()).await.map_err(|f| (false, f))
}

impl EvidenceStore for PgStore {
    fn append(&mut self, ars: &[StoredAr]) -> Result<(), StoreError> {
        if self.lease.is_none() {
            return Err(StoreError::Backend {
                location: self.location(),
                message: "this store was opened to read, not to append".into(),
            });
        }
        let mut retried = false;
        loop {
            let limit = self.options.statement_deadline();
            let replica = self.replica.clone();
            // A new session re-takes the lease and checks the chain's tip before anything is
            // written.
            let (runtime, session) = self.session()?;
            match runtime.block_on(insert(&mut session.client, &replica, ars, limit)) {
                Ok(()) => {
                    if let (Some(lease), Some(newest)) = (&mut self.lease, ars.last()) {
                        lease.tip = Some(Some(newest.ar_hash.clone()));
                    }
                    return Ok(());
                }
                Err((before_commit, failure)) => {
                    let e = self.failed("storing ARs", failure);
                    self.session = None;
                    // Nothing was stored when the failure came before COMMIT: a lost connection
                    // is retried once on a new one (which re-takes the lease). A timeout is not:
                    // the old session may still hold the lease until the server notices.
                    if retried || !before_commit || matches!(e, StoreError::Timeout { .. }) {
                        return Err(e);
                    }
                    tracing::warn!("{e}; trying again on a new connection");
                    retried = true;
                }
            }
        }
    }

    fn last(&mut self) -> Result<Option<String>, StoreError> {
        let replica = self.replica.clone();
        let rows = self.read(
            "reading the chain's newest AR",
            "SELECT ar FROM lucid_ars WHERE replica = $1 ORDER BY seq DESC LIMIT 1",
            &[&replica],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn get(&mut self, ar_hash: &str) -> Result<Option<String>, StoreError> {
        let rows = self.read(
            "reading an AR",
            "SELECT ar FROM lucid_ars WHERE ar_hash = $1",
            &[&ar_hash],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn by_request_id(&mut self, request_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.read(
            "reading the ARs of a request",
            "SELECT ar FROM lucid_ars WHERE request_id = $1 ORDER BY seq",
            &[&request_id],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn all(&mut self) -> Result<Vec<String>, StoreError> {
        let replica = self.replica.clone();
        let rows = self.read(
            "reading the chain",
            "SELECT ar FROM lucid_ars WHERE replica = $1 ORDER BY seq",
            &[&replica],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn location(&self) -> String {
        format!("{} (replica {})", self.options.location, self.replica)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_differ_by_replica_and_stay_the_same_across_versions() {
        assert_ne!(lease_key("a"), lease_key("b"));
        assert_ne!(lease_key("a"), lock_key("schema"));
        // Two gateway versions must compute the same key, or both could write one chain: the
        // derivation is fixed (SHA-256 of a Lucid prefix and the name, first 8 bytes, big-endian).
        assert_eq!(lease_key("a"), -194576345447237450);
        assert_eq!(lock_key("schema"), -2921145352660761900);
    }
}
