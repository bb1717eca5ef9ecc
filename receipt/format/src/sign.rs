//! Signing: one key, one chain tip, one AR at a time.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

use crate::binding::{binding_from, binding_hash};
use crate::canonical::{sha256_hex, signing_bytes};
use crate::check::{check_core, is_lower_hex};
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
    splice: Option<Value>,
    /// Whether `resume` may still be called: only before the first sign, once.
    fresh: bool,
    /// The binding of the last AR signed and its hash: consecutive ARs nearly always share it.
    last_binding: Option<(Value, String)>,
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
        self.splice = Some(json!({
            "previous_public_key": verified.public_key,
            "previous_ar_hash": verified.ar_hash,
        }));
        self.fresh = false;
        Ok(())
    }

    /// Signs one core (a JSON object without reserved fields) and returns the complete AR as
    /// JSON. The tip advances only on success.
    pub fn sign(&mut self, core: &str) -> Result<String, SignError> {
        if core.len() > MAX_CORE_BYTES {
            return Err(SignError::CoreTooLarge(core.len()));
        }
        let core: Value = serde_json::from_str(core)
            .map_err(|e| SignError::Core(FormatError::Json(e.to_string().to_lowercase())))?;
        let Value::Object(ar) = core else {
            return Err(SignError::Core(FormatError::NotAnObject));
        };
        let (ar, ar_hash) = self.sign_object(ar)?;
        // One plain serialization: verifiers recompute the canonical bytes anyway.
        let json = serde_json::to_string(&ar).expect("a json map always serializes");
        self.advance(ar_hash);
        Ok(json)
    }

    /// Adds the chain fields, `claims_hash` when missing, `ar_hash` and `signature` to `ar`;
    /// does not advance the tip.
    fn sign_object(
        &mut self,
        mut ar: Map<String, Value>,
    ) -> Result<(Map<String, Value>, String), SignError> {
        if let Some(field) = RESERVED_FIELDS.iter().find(|f| ar.contains_key(**f)) {
            return Err(SignError::Core(FormatError::Reserved((*field).to_owned())));
        }
        if self.tip.next_depth > MAX_SAFE_INTEGER {
            return Err(SignError::DepthExhausted);
        }
        let claims_hash = check_core(&ar).map_err(SignError::Core)?;
        ar.entry("claims_hash")
            .or_insert(Value::String(claims_hash));
        ar.insert("chain_depth".into(), self.tip.next_depth.into());
        ar.insert(
            "ar_references".into(),
            Value::Array(
                self.tip
                    .previous_ar_hash
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        ar.insert(
            "signer".into(),
            json!({"public_key": self.public_key, "receipt_sha256": self.receipt_sha256}),
        );
        if let Some(binding) = binding_from(&ar, &self.public_key, &self.receipt_sha256) {
            let hash = match &self.last_binding {
                Some((last, hash)) if *last == binding => hash.clone(),
                _ => {
                    let hash = binding_hash(&binding);
                    self.last_binding = Some((binding, hash.clone()));
                    hash
                }
            };
            ar.insert("binding_hash".into(), Value::String(hash));
        }
        if let Some(splice) = &self.splice {
            ar.insert("splice".into(), splice.clone());
        }
        let bytes = signing_bytes(&ar);
        let ar_hash = sha256_hex(&bytes);
        let signature = self.key.sign(&bytes);
        ar.insert("ar_hash".into(), Value::String(ar_hash.clone()));
        ar.insert(
            "signature".into(),
            Value::String(hex::encode(signature.to_bytes())),
        );
        Ok((ar, ar_hash))
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

impl std::fmt::Debug for ChainSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSigner")
            .field("public_key", &self.public_key)
            .field("tip", &self.tip)
            .finish_non_exhaustive()
    }
}
