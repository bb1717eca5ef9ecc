//! The evidence store: where signed ARs are kept, in chain order, durably. The default is an
//! embedded SQLite database (`<data-dir>/evidence.db`, WAL, `synchronous=FULL`); a PostgreSQL
//! backend serves several gateway replicas, each with its own chain.
//!
//! An AR is stored exactly as the signer produced it (its text), so verification always sees the
//! signed bytes' source, never a re-serialization.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("evidence store {location}: {message}")]
    Backend { location: String, message: String },
    #[error("evidence store {location}: invalid URL: {message}")]
    InvalidUrl { location: String, message: String },
    #[error(
        "evidence store {location}: {what} got no answer within {}; the database is unreachable or hung (the bounds are connect_timeout and statement_timeout in the URL)",
        humantime::format_duration(*.after)
    )]
    Timeout {
        location: String,
        what: &'static str,
        after: std::time::Duration,
    },
    #[error(
        "evidence store {location}: replica '{replica}' is already in use by another gateway{}; give each gateway its own --replica, or stop the other one",
        .holder.map(|pid| format!(" (PostgreSQL backend pid {pid})")).unwrap_or_default()
    )]
    ReplicaInUse {
        location: String,
        replica: String,
        holder: Option<i32>,
    },
    #[error(
        "evidence store {location}: the chain of replica '{replica}' changed while this gateway was disconnected (its newest AR is {found}, this gateway's is {expected}); restart the gateway to continue with a splice"
    )]
    ChainMoved {
        location: String,
        replica: String,
        expected: String,
        found: String,
    },
    #[error("stored AR {ar_hash} is not valid JSON: {reason}")]
    Corrupt { ar_hash: String, reason: String },
    #[error("an AR to store lacks its {0} field")]
    Incomplete(&'static str),
}

/// An AR as stored: its text and the fields indexed for lookup.
#[derive(Debug, Clone)]
pub struct StoredAr {
    pub ar_hash: String,
    pub request_id: String,
    pub chain_depth: u64,
    pub public_key: String,
    /// Read along for the exchange that asked for the AR (its `x-lucid-claims-hash`), not stored.
    pub claims_hash: Option<String>,
    /// Read along for the exchange (the binding it must have a report for), not stored.
    pub binding_hash: Option<String>,
    pub text: String,
}

/// The fields of an AR the store and the exchange read; everything else is skipped unparsed.
#[derive(serde::Deserialize)]
struct Indexed<'a> {
    #[serde(borrow)]
    ar_hash: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    request_id: Option<std::borrow::Cow<'a, str>>,
    chain_depth: Option<u64>,
    #[serde(borrow)]
    signer: Option<IndexedSigner<'a>>,
    #[serde(borrow)]
    claims_hash: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    binding_hash: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct IndexedSigner<'a> {
    #[serde(borrow)]
    public_key: Option<std::borrow::Cow<'a, str>>,
}

impl StoredAr {
    /// Index an AR's text (as returned by the signer).
    pub fn from_text(text: String) -> Result<StoredAr, StoreError> {
        let v: Indexed<'_> = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            ar_hash: "?".into(),
            reason: e.to_string(),
        })?;
        let field = |value: Option<std::borrow::Cow<'_, str>>, name: &'static str| {
            value
                .map(std::borrow::Cow::into_owned)
                .ok_or(StoreError::Incomplete(name))
        };
        let stored = StoredAr {
            ar_hash: field(v.ar_hash, "ar_hash")?,
            request_id: field(v.request_id, "request_id")?,
            chain_depth: v.chain_depth.ok_or(StoreError::Incomplete("chain_depth"))?,
            public_key: field(v.signer.and_then(|s| s.public_key), "signer.public_key")?,
            claims_hash: v.claims_hash.map(std::borrow::Cow::into_owned),
            binding_hash: v.binding_hash.map(std::borrow::Cow::into_owned),
            text: String::new(),
        };
        Ok(StoredAr { text, ..stored })
    }
}

/// Where evidence lives. `append` must be durable when it returns: only then may the ARs be
/// acknowledged to clients.
pub trait EvidenceStore: Send {
    /// Store a batch of ARs in one durable transaction, in order.
    fn append(&mut self, ars: &[StoredAr]) -> Result<(), StoreError>;
    /// The newest AR of this store's chain (the tip a restarted host splices from).
    fn last(&mut self) -> Result<Option<String>, StoreError>;
    fn get(&mut self, ar_hash: &str) -> Result<Option<String>, StoreError>;
    fn by_request_id(&mut self, request_id: &str) -> Result<Vec<String>, StoreError>;
    /// Every AR, in the order stored.
    fn all(&mut self) -> Result<Vec<String>, StoreError>;
    /// A description for messages (`sqlite:/path`, `postgres://host/db`).
    fn location(&self) -> String;
}

/// The chain that ends at `ar_hash`, genesis first: follow `ar_references` back. Stops (and
/// returns what it has) at a missing predecessor; the verifier reports the break.
pub fn chain_ending_at(
    store: &mut dyn EvidenceStore,
    ar_hash: &str,
    limit: usize,
) -> Result<Option<Vec<Value>>, StoreError> {
    let Some(text) = store.get(ar_hash)? else {
        return Ok(None);
    };
    let mut chain = vec![parse(ar_hash, &text)?];
    // A tampered store can make ARs reference each other in a circle: report it, never follow.
    let mut seen = std::collections::HashSet::from([ar_hash.to_string()]);
    while chain.len() < limit {
        let previous = chain
            .last()
            .and_then(|ar| ar.get("ar_references"))
            .and_then(Value::as_array)
            .and_then(|refs| refs.first())
            .and_then(Value::as_str)
            .map(String::from);
        let Some(previous) = previous else { break };
        if !seen.insert(previous.clone()) {
            return Err(StoreError::Corrupt {
                ar_hash: previous,
                reason: "the ar_references of the stored ARs form a cycle".into(),
            });
        }
        match store.get(&previous)? {
            Some(text) => chain.push(parse(&previous, &text)?),
            None => break,
        }
    }
    chain.reverse();
    Ok(Some(chain))
}

pub fn parse(ar_hash: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        ar_hash: ar_hash.to_string(),
        reason: e.to_string(),
    })
}

/// What a store is opened for. A replica's chain has one writer: in a shared (PostgreSQL) store,
/// opening it to write takes the replica's lease, which a second writer cannot get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Open a store from a `--store` value (`postgres://…`) or the SQLite file in the data dir.
/// `replica` names this gateway's chain in a shared (PostgreSQL) store.
pub fn open(
    store: Option<&str>,
    data_dir: &Path,
    replica: &str,
    access: Access,
) -> Result<Box<dyn EvidenceStore>, StoreError> {
    match store {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Box::new(crate::evidence::postgres::PgStore::connect(
                url, replica, access,
            )?))
        }
        Some(other) if other.starts_with("sqlite:") => Ok(Box::new(SqliteStore::open(Path::new(
            other.trim_start_matches("sqlite:"),
        ))?)),
        Some(other) => Err(StoreError::Backend {
            location: other.to_string(),
            message: "unknown store: use postgres://… or sqlite:PATH".into(),
        }),
        None => Ok(Box::new(SqliteStore::open(&data_dir.join("evidence.db"))?)),
    }
}

/// The embedded SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    conn: Connection,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let err = |e: rusqlite::Error| StoreError::Backend {
            location: format!("sqlite:{}", path.display()),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Backend {
                location: format!("sqlite:{}", path.display()),
                message: format!("cannot create {}: {e}", parent.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        // FULL: a commit is on disk (fsync) before `append` returns, so acknowledged evidence
        // survives a crash of the process and of the machine.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS ars (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 ar_hash TEXT NOT NULL UNIQUE,
                 request_id TEXT NOT NULL,
                 chain_depth INTEGER NOT NULL,
                 public_key TEXT NOT NULL,
                 ar TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS ars_request_id ON ars (request_id);",
        )
        .map_err(err)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn,
        })
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Backend {
            location: self.location(),
            message: e.to_string(),
        }
    }
}

impl EvidenceStore for SqliteStore {
    fn append(&mut self, ars: &[StoredAr]) -> Result<(), StoreError> {
        let location = self.location();
        let err = |e: rusqlite::Error| StoreError::Backend {
            location: location.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO ars (ar_hash, request_id, chain_depth, public_key, ar)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err)?;
            for ar in ars {
                insert
                    .execute(params![
                        ar.ar_hash,
                        ar.request_id,
                        ar.chain_depth as i64,
                        ar.public_key,
                        ar.text
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn last(&mut self) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT ar FROM ars ORDER BY seq DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    fn get(&mut self, ar_hash: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT ar FROM ars WHERE ar_hash = ?1")
            .and_then(|mut s| s.query_row([ar_hash], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    fn by_request_id(&mut self, request_id: &str) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT ar FROM ars WHERE request_id = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([request_id], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(|e| self.err(e))
    }

    fn all(&mut self) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT ar FROM ars ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(|e| self.err(e))
    }

    fn location(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// Verify ARs as they are stored (or exported): everything `lucid_ar::verify_chain` checks, and
/// that they appear in chain order (each AR's depth one more than the one before it, or a splice
/// or new genesis), so that reordering stored evidence is reported too. The one verification
/// used by the CLI and the HTTP API.
pub fn verify_stored(ars: &[Value]) -> lucid_ar::ChainReport {
    in_chain_order(lucid_ar::verify_chain(ars), ars)
}

/// [`verify_stored`] for a window of a chain, oldest first, that may start after its genesis:
/// then its first AR's predecessor is not given (`lucid_ar::verify_segment`, reported as
/// `anchor`); a window that starts at a genesis is verified as a chain.
pub fn verify_stored_window(ars: &[Value]) -> lucid_ar::ChainReport {
    let from_genesis = ars.first().and_then(depth_of) == Some(0);
    if from_genesis || ars.is_empty() {
        verify_stored(ars)
    } else {
        in_chain_order(lucid_ar::verify_segment(ars), ars)
    }
}

fn depth_of(ar: &Value) -> Option<u64> {
    ar.get("chain_depth").and_then(Value::as_u64)
}

/// `report` with an error for every AR stored out of chain order.
fn in_chain_order(mut report: lucid_ar::ChainReport, ars: &[Value]) -> lucid_ar::ChainReport {
    let depth = depth_of;
    for (i, pair) in ars.windows(2).enumerate() {
        if let (Some(a), Some(b)) = (depth(&pair[0]), depth(&pair[1]))
            && b != a + 1
        {
            report.errors.push(lucid_ar::ChainError {
                ar_hash: pair[1]
                    .get("ar_hash")
                    .and_then(Value::as_str)
                    .map(String::from),
                index: i + 1,
                reason: format!("stored out of chain order: depth {b} follows depth {a}"),
            });
        }
    }
    report.valid = report.errors.is_empty();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store holding ARs by hash, nothing else.
    struct Map(std::collections::HashMap<String, String>);

    impl EvidenceStore for Map {
        fn append(&mut self, _: &[StoredAr]) -> Result<(), StoreError> {
            Ok(())
        }
        fn last(&mut self) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
        fn get(&mut self, ar_hash: &str) -> Result<Option<String>, StoreError> {
            Ok(self.0.get(ar_hash).cloned())
        }
        fn by_request_id(&mut self, _: &str) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
        fn all(&mut self) -> Result<Vec<String>, StoreError> {
            Ok(self.0.values().cloned().collect())
        }
        fn location(&self) -> String {
            "memory".into()
        }
    }

    fn ar(hash: &str, previous: &str) -> (String, String) {
        let text = serde_json::json!({"ar_hash": hash, "ar_references": [previous]}).to_string();
        (hash.to_string(), text)
    }

    #[test]
    fn a_cycle_of_references_is_reported_not_followed() {
        let mut store = Map([ar("a", "b"), ar("b", "c"), ar("c", "a")]
            .into_iter()
            .collect());
        let err = chain_ending_at(&mut store, "a", usize::MAX).unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
        let mut store = Map([ar("a", "a")].into_iter().collect());
        assert!(chain_ending_at(&mut store, "a", usize::MAX).is_err());
    }

    #[test]
    fn a_chain_stops_at_a_missing_predecessor() {
        let mut store = Map([ar("b", "a"), ar("c", "b")].into_iter().collect());
        let chain = chain_ending_at(&mut store, "c", usize::MAX)
            .unwrap()
            .unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0]["ar_hash"], "b");
    }
}
