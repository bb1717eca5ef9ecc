//! The content binding of an exchange: salted commitments to the exact request bytes the gateway
//! received and the exact response bytes it sent, recorded in the AR as `content`.
//!
//! A commitment is SHA-256(salt ‖ bytes), lowercase hex, with a fresh 32-byte salt per exchange
//! that only the client gets (the `x-lucid-content-salt` header, and the SSE receipt comment):
//! the AR alone tells nothing about the content, but the client — anyone holding the bytes and
//! the salt — can show that this receipt judged exactly them.
//!
//! The response bytes are the HTTP body the client got: the whole body of a JSON answer (the
//! completion, a denial, an error), and for a stream every byte before the receipt comment (the
//! `data:` events the gateway sent, in order).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::StreamMode;

/// How the commitments are computed, as the AR names it.
pub const SCHEME: &str = "sha256(salt||bytes)";

/// The salt and commitments of one exchange.
#[derive(Clone)]
pub struct Content {
    salt: [u8; 32],
    request: String,
    response: Sha256,
    response_bytes: u64,
    cut: bool,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("request", &self.request)
            .field("response_bytes", &self.response_bytes)
            .field("cut", &self.cut)
            .finish_non_exhaustive()
    }
}

impl Content {
    /// A fresh salt, and the commitment to the request's bytes as received.
    pub fn new(request: &[u8]) -> Content {
        let mut salt = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut salt) {
            // Without randomness the salt is predictable: the commitments still bind the
            // content, they only stop hiding it. Say so rather than fail the exchange.
            tracing::error!("no randomness for the content salt: {e}");
        }
        Content::with_salt(salt, request)
    }

    pub fn with_salt(salt: [u8; 32], request: &[u8]) -> Content {
        let request = hex::encode(salted(&salt).chain_update(request).finalize());
        Content {
            salt,
            request,
            response: salted(&salt),
            response_bytes: 0,
            cut: false,
        }
    }

    /// The salt, as the client gets it (64 hex digits).
    pub fn salt_hex(&self) -> String {
        hex::encode(self.salt)
    }

    /// The commitment to other bytes of this exchange under the same salt (say, a request
    /// before and after masking).
    pub fn commit(&self, bytes: &[u8]) -> String {
        hex::encode(salted(&self.salt).chain_update(bytes).finalize())
    }

    /// Bytes sent to the client as (part of) the response body.
    pub fn sent(&mut self, bytes: &[u8]) {
        self.response.update(bytes);
        self.response_bytes += bytes.len() as u64;
    }

    /// The answer was cut short (a stream ended by a denial, an error, or a client gone).
    pub fn cut(&mut self) {
        self.cut = true;
    }

    /// The AR's `content` field.
    pub fn to_json(&self, stream_mode: Option<StreamMode>) -> Value {
        json!({
            "commitment": SCHEME,
            "request": self.request,
            "response": hex::encode(self.response.clone().finalize()),
            "response_bytes": self.response_bytes,
            "stream": stream_mode.is_some(),
            "stream_mode": stream_mode,
            "cut": self.cut,
        })
    }
}

fn salted(salt: &[u8; 32]) -> Sha256 {
    Sha256::new_with_prefix(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(salt: &[u8], bytes: &[u8]) -> String {
        let mut all = salt.to_vec();
        all.extend_from_slice(bytes);
        hex::encode(Sha256::digest(&all))
    }

    #[test]
    fn commitments_are_sha256_of_salt_then_bytes() {
        let salt = [7u8; 32];
        let mut c = Content::with_salt(salt, b"{\"model\":\"m\"}");
        c.sent(b"data: {\"a\":1}\n\n");
        c.sent(b"data: {\"b\":2}\n\n");
        let j = c.to_json(Some(StreamMode::Observe));
        assert_eq!(j["commitment"], SCHEME);
        assert_eq!(j["request"], commit(&salt, b"{\"model\":\"m\"}"));
        assert_eq!(
            j["response"],
            commit(&salt, b"data: {\"a\":1}\n\ndata: {\"b\":2}\n\n")
        );
        assert_eq!(j["response_bytes"], 30);
        assert_eq!(j["stream"], true);
        assert_eq!(j["stream_mode"], "observe");
        assert_eq!(j["cut"], false);
        assert_eq!(c.salt_hex(), "07".repeat(32));
    }

    #[test]
    fn every_exchange_gets_its_own_salt() {
        let a = Content::new(b"x");
        let b = Content::new(b"x");
        assert_ne!(a.salt_hex(), b.salt_hex());
        assert_ne!(a.to_json(None)["request"], b.to_json(None)["request"]);
        assert_eq!(a.to_json(None)["stream_mode"], Value::Null);
    }
}
