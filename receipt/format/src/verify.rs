//! Verification of one AR and of a chain of them.

use std::collections::{BTreeMap, HashMap, HashSet};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::binding::ar_binding_hash;
use crate::canonical::{sha256_hex, signing_bytes};
use crate::check::{check_chain_fields, check_core, hex_top_field};
use crate::{FormatError, VerifyError};

/// What a valid AR says about its place in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedAr {
    pub ar_hash: String,
    pub chain_depth: u64,
    /// `ar_references[0]`; `None` at depth 0.
    pub previous_ar_hash: Option<String>,
    /// `signer.public_key`.
    pub public_key: String,
    /// `splice.previous_public_key`, when the AR carries a splice.
    pub splice_previous_public_key: Option<String>,
    /// `binding_hash`, checked against the AR's own fields; `None` for an AR without one.
    pub binding_hash: Option<String>,
}

/// The result of verifying a chain. `valid` is true exactly when `errors` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub valid: bool,
    /// `chain_depth` of the tip (the deepest AR that verified); `None` when none did.
    pub chain_depth: Option<u64>,
    /// `ar_hash` of the tip.
    pub tip: Option<String>,
    /// Number of ARs given.
    pub length: usize,
    /// For a segment ([`verify_segment`]): the `ar_hash` the first AR references, which was
    /// not given. `None` for a chain that starts at its genesis.
    pub anchor: Option<String>,
    /// Every place where a new key took over the chain. Each needs the new key to be trusted
    /// (its attestation checked) on its own.
    pub splices: Vec<SpliceInfo>,
    /// Every AR referenced by more than one AR (or several genesis ARs).
    pub forks: Vec<Fork>,
    pub errors: Vec<ChainError>,
}

/// An AR that failed, named by its (claimed) `ar_hash` and its position in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainError {
    /// The AR's `ar_hash` field as given; `None` when it has none.
    pub ar_hash: Option<String>,
    /// Index of the AR in the input.
    pub index: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpliceInfo {
    /// The first AR signed by the new key.
    pub ar_hash: String,
    pub chain_depth: u64,
    pub previous_ar_hash: String,
    pub previous_public_key: String,
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fork {
    /// The AR referenced more than once; `None` for several genesis ARs.
    pub previous_ar_hash: Option<String>,
    pub ar_hashes: Vec<String>,
}

/// Verifies one AR on its own: its format, `claims_hash`, `ar_hash`, and its signature against
/// the `signer.public_key` it names. Whether that key is to be trusted is the caller's question
/// (the chain and the attestation of the signer answer it).
pub fn verify_single(ar: &Value) -> Result<VerifiedAr, VerifyError> {
    let object = ar.as_object().ok_or(FormatError::NotAnObject)?;
    if !object.contains_key("claims_hash") {
        return Err(FormatError::Missing("claims_hash".into()).into());
    }
    check_core(object)?;
    let chain = check_chain_fields(object)?;
    let claimed = hex_top_field(object, "ar_hash", 64)?;
    let signature = hex_top_field(object, "signature", 128)?;

    let bytes = signing_bytes(object);
    let computed = sha256_hex(&bytes);
    if computed != claimed {
        return Err(VerifyError::ArHash {
            claimed: claimed.to_owned(),
            computed,
        });
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(chain.public_key, &mut key).map_err(|_| VerifyError::PublicKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| VerifyError::PublicKey)?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(signature, &mut sig).map_err(|_| VerifyError::Signature)?;
    key.verify_strict(&bytes, &Signature::from_bytes(&sig))
        .map_err(|_| VerifyError::Signature)?;
    // The binding is recomputed from the AR alone; ARs signed before bindings existed have none.
    let binding_hash = match object.get("binding_hash") {
        None => None,
        Some(claimed) => {
            let computed = ar_binding_hash(object).unwrap_or_default();
            match claimed.as_str() {
                Some(claimed) if claimed == computed => Some(computed),
                _ => {
                    return Err(VerifyError::BindingHash {
                        claimed: claimed.as_str().unwrap_or("(not a string)").to_owned(),
                        computed,
                    });
                }
            }
        }
    };

    Ok(VerifiedAr {
        ar_hash: computed,
        chain_depth: chain.depth,
        previous_ar_hash: chain.previous.map(str::to_owned),
        public_key: chain.public_key.to_owned(),
        splice_previous_public_key: chain.splice.map(|s| s.previous_public_key.to_owned()),
        binding_hash,
    })
}

/// Verifies a complete chain, from its genesis (`chain_depth` 0) to its tip, in any order.
///
/// Every AR must verify on its own ([`verify_single`]); every AR but the genesis must reference
/// an AR of the input with a depth one less; a change of key needs a matching `splice`; no AR
/// may appear twice (a replay) or be referenced twice (a fork).
pub fn verify_chain(ars: &[Value]) -> ChainReport {
    verify(ars, false)
}

/// Like [`verify_chain`], but the input may be a window of a chain: the shallowest AR may
/// reference an AR that is not given (reported as `anchor`). Every other AR must still have its
/// predecessor in the input, so a missing AR in the middle is an error.
pub fn verify_segment(ars: &[Value]) -> ChainReport {
    verify(ars, true)
}

fn verify(ars: &[Value], segment: bool) -> ChainReport {
    let mut errors = Vec::new();
    let mut fail = |index: usize, reason: String| {
        errors.push(ChainError {
            ar_hash: ars[index]
                .get("ar_hash")
                .and_then(Value::as_str)
                .map(str::to_owned),
            index,
            reason,
        });
    };

    // Each AR on its own. ARs that fail are reported once; their hashes are remembered so the
    // ARs after them are not reported again as having a missing predecessor.
    let mut verified: Vec<(usize, VerifiedAr)> = Vec::with_capacity(ars.len());
    let mut failed_hashes = HashSet::new();
    let mut by_hash: HashMap<String, usize> = HashMap::with_capacity(ars.len());
    for (index, ar) in ars.iter().enumerate() {
        match verify_single(ar) {
            Ok(v) => {
                if let Some(&first) = by_hash.get(&v.ar_hash) {
                    let first_index = verified[first].0;
                    fail(
                        index,
                        format!("duplicate of the ar at index {first_index} (a replay)"),
                    );
                } else {
                    by_hash.insert(v.ar_hash.clone(), verified.len());
                    verified.push((index, v));
                }
            }
            Err(e) => {
                if let Some(h) = ar.get("ar_hash").and_then(Value::as_str) {
                    failed_hashes.insert(h.to_owned());
                }
                fail(index, e.to_string());
            }
        }
    }

    // Linkage, in depth order so the input order does not matter.
    let mut order: Vec<usize> = (0..verified.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&verified[a].1, &verified[b].1);
        (a.chain_depth, &a.ar_hash).cmp(&(b.chain_depth, &b.ar_hash))
    });
    let mut children: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    let mut unlinked = Vec::new();
    let mut splices = Vec::new();
    for &i in &order {
        let (index, ar) = &verified[i];
        if let Some(previous_key) = &ar.splice_previous_public_key {
            splices.push(SpliceInfo {
                ar_hash: ar.ar_hash.clone(),
                chain_depth: ar.chain_depth,
                previous_ar_hash: ar.previous_ar_hash.clone().unwrap_or_default(),
                previous_public_key: previous_key.clone(),
                public_key: ar.public_key.clone(),
            });
        }
        children
            .entry(ar.previous_ar_hash.as_deref())
            .or_default()
            .push(i);
        let Some(previous) = &ar.previous_ar_hash else {
            continue;
        };
        let Some(&p) = by_hash.get(previous) else {
            if !failed_hashes.contains(previous) {
                unlinked.push(i);
            }
            continue;
        };
        let parent = &verified[p].1;
        if ar.chain_depth != parent.chain_depth + 1 {
            fail(
                *index,
                format!(
                    "chain_depth {} does not follow the depth {} of the referenced ar {}",
                    ar.chain_depth, parent.chain_depth, parent.ar_hash
                ),
            );
        }
        match &ar.splice_previous_public_key {
            None if ar.public_key != parent.public_key => fail(
                *index,
                format!(
                    "signer.public_key changes from {} without a splice",
                    parent.public_key
                ),
            ),
            Some(previous_key) if *previous_key != parent.public_key => fail(
                *index,
                format!(
                    "splice.previous_public_key {previous_key} is not the key {} of the referenced ar",
                    parent.public_key
                ),
            ),
            _ => {}
        }
    }

    // Forks: an AR referenced twice, or several genesis ARs.
    let mut forks = Vec::new();
    for (previous, kids) in &children {
        if kids.len() < 2 {
            continue;
        }
        let ar_hashes: Vec<String> = kids
            .iter()
            .map(|&k| verified[k].1.ar_hash.clone())
            .collect();
        for &k in kids {
            let what = match previous {
                Some(p) => format!("fork: {} ars reference {p}", kids.len()),
                None => format!("fork: {} genesis ars", kids.len()),
            };
            fail(verified[k].0, what);
        }
        forks.push(Fork {
            previous_ar_hash: previous.map(str::to_owned),
            ar_hashes,
        });
    }

    // Missing predecessors. A segment may start at one AR whose predecessor was not given, if
    // it is the shallowest AR and there is no genesis.
    let mut anchor = None;
    let has_genesis = children.contains_key(&None);
    let mut unlinked = unlinked.into_iter().peekable();
    if segment
        && !has_genesis
        && let Some(&first) = unlinked.peek()
        && Some(&first) == order.first()
    {
        anchor = verified[first].1.previous_ar_hash.clone();
        unlinked.next();
    }
    for i in unlinked {
        let (index, ar) = &verified[i];
        let previous = ar.previous_ar_hash.as_deref().unwrap_or_default();
        fail(
            *index,
            format!("broken linkage: the referenced ar {previous} is missing"),
        );
    }

    let tip = order.last().map(|&i| &verified[i].1);
    errors.sort_by_key(|e| e.index);
    ChainReport {
        valid: errors.is_empty(),
        chain_depth: tip.map(|t| t.chain_depth),
        tip: tip.map(|t| t.ar_hash.clone()),
        length: ars.len(),
        anchor,
        splices,
        forks,
        errors,
    }
}
