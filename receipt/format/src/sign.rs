//! Signing: one key, one chain tip, one AR at a time.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use zeroize::Zeroize;

use crate::binding::binding_bytes;
use crate::canonical::{lower_hex, sha256_hex, write_object_jcs};
use crate::check::{check_core, is_lower_hex};
use crate::json::{self, Json, Members, Object, Text};
use crate::{
    FormatError, MAX_CORE_BYTES, MAX_SAFE_INTEGER, RESERVED_FIELDS, SignError, verify_single,
};

/// The chain position the next AR takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tip {
    /// `chain_depth` of the next AR.
    pub next_depth: u64,
    /// `ar_hash` the next AR references; `None` for a fresh chain.
    pub previous_ar_hash: Option<String>,
}

/// An Ed25519 key with the tip of the chain it signs. The receipt signer component holds one;
/// nothing here hands the secret key out.
pub struct ChainSigner {
    key: SigningKey,
    public_key: String,
    receipt_sha256: String,
    tip: Tip,
    /// Set by `resume`, written into the next AR and cleared once that AR is signed.
    splice: Option<Splice>,
    /// Whether `resume` may still be called: only before the first sign, once.
    fresh: bool,
    /// The JCS bytes of the binding of the last AR signed and its hash: consecutive ARs nearly
    /// always share it.
    last_binding: Option<(Vec<u8>, String)>,
}

/// The `splice` of the next AR: `{previous_public_key, previous_ar_hash}`.
#[derive(Debug, Clone)]
struct Splice {
    previous_public_key: String,
    previous_ar_hash: String,
}

impl ChainSigner {
    /// A signer whose key is derived from `seed` (RFC 8032 secret key). The seed is zeroized.
    /// `receipt_sha256` is the SHA-256 of the signer component, written into every AR.
    pub fn new(seed: &mut [u8; 32], receipt_sha256: &str) -> Result<Self, SignError> {
        let key = SigningKey::from_bytes(seed);
        seed.zeroize();
        if !is_lower_hex(receipt_sha256, 64) {
            return Err(SignError::ReceiptHash);
        }
        Ok(Self {
            public_key: hex::encode(key.verifying_key().as_bytes()),
            key,
            receipt_sha256: receipt_sha256.to_owned(),
            tip: Tip {
                next_depth: 0,
                previous_ar_hash: None,
            },
            splice: None,
            fresh: true,
            last_binding: None,
        })
    }

    /// The public key, lowercase hex.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The chain position the next AR takes.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// Continues the chain whose last AR is `previous_ar` (signed by another key). The AR must
    /// verify completely; the next AR then carries a `splice`.
    pub fn resume(&mut self, previous_ar: &str) -> Result<(), SignError> {
        if !self.fresh {
            return Err(SignError::ResumeTooLate);
        }
        let previous: Value = serde_json::from_str(previous_ar).map_err(|e| {
            SignError::Previous(FormatError::Json(e.to_string().to_lowercase()).into())
        })?;
        let verified = verify_single(&previous).map_err(SignError::Previous)?;
        if verified.public_key == self.public_key {
            return Err(SignError::PreviousSameKey);
        }
        if verified.chain_depth >= MAX_SAFE_INTEGER {
            return Err(SignError::DepthExhausted);
        }
        self.tip = Tip {
            next_depth: verified.chain_depth + 1,
            previous_ar_hash: Some(verified.ar_hash.clone()),
        };
        self.splice = Some(Splice {
            previous_public_key: verified.public_key,
            previous_ar_hash: verified.ar_hash,
        });
        self.fresh = false;
        Ok(())
    }

    /// Signs one core (a JSON object without reserved fields) and returns the complete AR as
    /// JSON. The tip advances only on success.
    pub fn sign(&mut self, core: &str) -> Result<String, SignError> {
        if core.len() > MAX_CORE_BYTES {
            return Err(SignError::CoreTooLarge(core.len()));
        }
        let capacity = core.len() + 1024;
        let core = json::parse(core)
            .map_err(|e| SignError::Core(FormatError::Json(e.to_string().to_lowercase())))?;
        let Json::Object(ar) = core else {
            return Err(SignError::Core(FormatError::NotAnObject));
        };
        let (text, ar_hash) = self.sign_object(ar, capacity)?;
        self.advance(ar_hash);
        Ok(text)
    }

    /// Adds the chain fields, `claims_hash` when missing, `ar_hash` and `signature` to `ar` and
    /// writes it out as `serde_json::to_string` writes the equal `Value`; does not advance the
    /// tip.
    fn sign_object(
        &mut self,
        ar: Object<'_>,
        capacity: usize,
    ) -> Result<(String, String), SignError> {
        if let Some(field) = RESERVED_FIELDS.iter().find(|f| ar.contains_key(f)) {
            return Err(SignError::Core(FormatError::Reserved((*field).to_owned())));
        }
        if self.tip.next_depth > MAX_SAFE_INTEGER {
            return Err(SignError::DepthExhausted);
        }
        let claims_hash = check_core(&ar).map_err(SignError::Core)?;
        let binding_hash =
            binding_bytes(&ar, &self.public_key, &self.receipt_sha256).map(|binding| {
                match &self.last_binding {
                    Some((last, hash)) if *last == binding => hash.clone(),
                    _ => {
                        let hash = sha256_hex(&binding);
                        self.last_binding = Some((binding, hash.clone()));
                        hash
                    }
                }
            });

        // Everything added is plain text (hex digits, names): `Text::Raw`.
        let mut ar = ar;
        if !ar.contains_key("claims_hash") {
            ar.insert(Text::Raw("claims_hash"), raw(&claims_hash));
        }
        ar.insert(
            Text::Raw("chain_depth"),
            Json::Number(self.tip.next_depth.into()),
        );
        ar.insert(
            Text::Raw("ar_references"),
            Json::Array(
                self.tip
                    .previous_ar_hash
                    .as_deref()
                    .map(raw)
                    .into_iter()
                    .collect(),
            ),
        );
        ar.insert(
            Text::Raw("signer"),
            Json::Object(Object::new(vec![
                (Text::Raw("public_key"), raw(&self.public_key)),
                (Text::Raw("receipt_sha256"), raw(&self.receipt_sha256)),
            ])),
        );
        if let Some(hash) = &binding_hash {
            ar.insert(Text::Raw("binding_hash"), raw(hash));
        }
        if let Some(splice) = &self.splice {
            ar.insert(
                Text::Raw("splice"),
                Json::Object(Object::new(vec![
                    (Text::Raw("previous_ar_hash"), raw(&splice.previous_ar_hash)),
                    (
                        Text::Raw("previous_public_key"),
                        raw(&splice.previous_public_key),
                    ),
                ])),
            );
        }

        let mut bytes = Vec::with_capacity(capacity);
        write_object_jcs(&ar, &mut bytes);
        let ar_hash = sha256_hex(&bytes);
        let signature = lower_hex(&self.key.sign(&bytes).to_bytes());
        ar.insert(Text::Raw("ar_hash"), raw(&ar_hash));
        ar.insert(Text::Raw("signature"), raw(&signature));
        // One plain serialization: verifiers recompute the canonical bytes anyway.
        bytes.clear();
        json::write_text(&Json::Object(ar), &mut bytes);
        let text = String::from_utf8(bytes).expect("json text is utf-8");
        Ok((text, ar_hash))
    }

    fn advance(&mut self, ar_hash: String) {
        self.tip = Tip {
            next_depth: self.tip.next_depth + 1,
            previous_ar_hash: Some(ar_hash),
        };
        self.splice = None;
        self.fresh = false;
    }
}

/// A string known to hold nothing JSON escapes.
fn raw(s: &str) -> Json<'_> {
    Json::String(Text::Raw(s))
}

impl std::fmt::Debug for ChainSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSigner")
            .field("public_key", &self.public_key)
            .field("tip", &self.tip)
            .finish_non_exhaustive()
    }
}
