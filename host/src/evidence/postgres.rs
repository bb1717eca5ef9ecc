//! The PostgreSQL evidence store, for several gateway replicas sharing one database. Each replica
//! has its own chain (its own signer), named by `replica`; `last` returns that chain's tip.

use postgres::{Client, NoTls};

use crate::evidence::{EvidenceStore, StoreError, StoredAr};

pub struct PgStore {
    client: Client,
    location: String,
    replica: String,
}

impl PgStore {
    pub fn connect(url: &str, replica: &str) -> Result<PgStore, StoreError> {
        let location = redact(url);
        let err = |e: postgres::Error| StoreError::Backend {
            location: location.clone(),
            message: e.to_string(),
        };
        let mut client = Client::connect(url, NoTls).map_err(err)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS lucid_ars (
                     seq BIGSERIAL PRIMARY KEY,
                     replica TEXT NOT NULL,
                     ar_hash TEXT NOT NULL UNIQUE,
                     request_id TEXT NOT NULL,
                     chain_depth BIGINT NOT NULL,
                     public_key TEXT NOT NULL,
                     ar TEXT NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS lucid_ars_request_id ON lucid_ars (request_id);
                 CREATE INDEX IF NOT EXISTS lucid_ars_replica_seq ON lucid_ars (replica, seq);",
            )
            .map_err(err)?;
        Ok(PgStore {
            client,
            location,
            replica: replica.to_string(),
        })
    }

    fn err(&self, e: postgres::Error) -> StoreError {
        StoreError::Backend {
            location: self.location.clone(),
            message: e.to_string(),
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl EvidenceStore for PgStore {
    fn append(&mut self, ars: &[StoredAr]) -> Result<(), StoreError> {
        let replica = self.replica.clone();
        let result = (|| {
            let mut tx = self.client.transaction()?;
            let insert = tx.prepare(
                "INSERT INTO lucid_ars (replica, ar_hash, request_id, chain_depth, public_key, ar)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )?;
            for ar in ars {
                tx.execute(
                    &insert,
                    &[
                        &replica,
                        &ar.ar_hash,
                        &ar.request_id,
                        &(ar.chain_depth as i64),
                        &ar.public_key,
                        &ar.text,
                    ],
                )?;
            }
            tx.commit()
        })();
        result.map_err(|e| self.err(e))
    }

    fn last(&mut self) -> Result<Option<String>, StoreError> {
        let replica = self.replica.clone();
        self.client
            .query_opt(
                "SELECT ar FROM lucid_ars WHERE replica = $1 ORDER BY seq DESC LIMIT 1",
                &[&replica],
            )
            .map(|row| row.map(|r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    fn get(&mut self, ar_hash: &str) -> Result<Option<String>, StoreError> {
        self.client
            .query_opt("SELECT ar FROM lucid_ars WHERE ar_hash = $1", &[&ar_hash])
            .map(|row| row.map(|r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    fn by_request_id(&mut self, request_id: &str) -> Result<Vec<String>, StoreError> {
        self.client
            .query(
                "SELECT ar FROM lucid_ars WHERE request_id = $1 ORDER BY seq",
                &[&request_id],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(|e| self.err(e))
    }

    fn all(&mut self) -> Result<Vec<String>, StoreError> {
        let replica = self.replica.clone();
        self.client
            .query(
                "SELECT ar FROM lucid_ars WHERE replica = $1 ORDER BY seq",
                &[&replica],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(|e| self.err(e))
    }

    fn location(&self) -> String {
        format!("{} (replica {})", self.location, self.replica)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://lucid:secret@db:5432/ev"),
            "postgres://lucid@db:5432/ev"
        );
        assert_eq!(super::redact("postgres://db/ev"), "postgres://db/ev");
    }
}
