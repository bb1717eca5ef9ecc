//! The receipt signer component (`lucid:receipt@0.1.0`, world `receipt-signer`).
//!
//! A thin adapter: the key, the chain tip and every rule live in [`lucid_ar::ChainSigner`]; this
//! crate draws the seed from the host's entropy import and maps calls and errors across the
//! boundary. Build it for `wasm32-unknown-unknown` and encode it with `lucid-receipt-componentize`.

use std::cell::RefCell;

use lucid_ar::{ChainSigner, SignError};
use zeroize::Zeroize;

wit_bindgen::generate!({
    path: "../../wit/receipt",
    world: "receipt-signer",
});

use exports::lucid::receipt::signer::{ChainTip, Guest};

thread_local! {
    // One instance, one thread: the component model never enters an instance concurrently, so
    // signing is serialized by construction.
    static SIGNER: RefCell<Option<ChainSigner>> = const { RefCell::new(None) };
}

// Exported only on wasm32: a native build (clippy, `cargo test --workspace`) only type-checks.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ReceiptSigner;

impl Guest for ReceiptSigner {
    fn init(receipt_sha256: String) -> Result<(), String> {
        SIGNER.with_borrow_mut(|signer| {
            if signer.is_some() {
                return Err(SignError::AlreadyInitialised.to_string());
            }
            let mut entropy = lucid::receipt::host::entropy(32);
            let seed = seed_from(&entropy);
            entropy.zeroize();
            let mut seed = seed.map_err(|e| e.to_string())?;
            // `ChainSigner::new` zeroizes the seed; the key itself is zeroized on drop.
            *signer =
                Some(ChainSigner::new(&mut seed, &receipt_sha256).map_err(|e| e.to_string())?);
            Ok(())
        })
    }

    fn public_key() -> Result<String, String> {
        with_signer(|signer| Ok(signer.public_key().to_owned()))
    }

    fn resume(previous_ar: String) -> Result<(), String> {
        with_signer(|signer| signer.resume(&previous_ar))
    }

    fn tip() -> ChainTip {
        SIGNER.with_borrow(|signer| match signer {
            Some(signer) => ChainTip {
                next_depth: signer.tip().next_depth,
                previous_ar_hash: signer.tip().previous_ar_hash.clone(),
            },
            None => ChainTip {
                next_depth: 0,
                previous_ar_hash: None,
            },
        })
    }

    fn sign(core: String) -> Result<String, String> {
        with_signer(|signer| signer.sign(&core))
    }
}

fn with_signer<T>(f: impl FnOnce(&mut ChainSigner) -> Result<T, SignError>) -> Result<T, String> {
    SIGNER.with_borrow_mut(|signer| match signer {
        Some(signer) => f(signer).map_err(|e| e.to_string()),
        None => Err(SignError::NotInitialised.to_string()),
    })
}

/// The 32-byte seed, refusing a short answer or one that is obviously not random (all bytes
/// equal, as a zero-filled buffer from a broken host would be).
fn seed_from(entropy: &[u8]) -> Result<[u8; 32], SignError> {
    let mut seed: [u8; 32] = entropy
        .try_into()
        .map_err(|_| SignError::Entropy(entropy.len()))?;
    if seed.iter().all(|b| *b == seed[0]) {
        seed.zeroize();
        return Err(SignError::Entropy(entropy.len()));
    }
    Ok(seed)
}

#[cfg(target_arch = "wasm32")]
export!(ReceiptSigner);
