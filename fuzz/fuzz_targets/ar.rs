//! ARs and cores (`lucid-ar`), from arbitrary bytes: parsed as JSON, canonicalised, verified
//! alone and as a chain, signed as a core and resumed from. Checked beyond "no panic":
//! - canonical bytes are JSON whose canonical bytes are the same (JCS is idempotent);
//! - an AR that verifies still verifies, with the same `ar_hash`, after being written out as JSON
//!   and read back (what every store and client does);
//! - whatever core the signer accepts, the AR it returns verifies, and a second signer resumed
//!   from it continues a chain that `verify_chain` accepts with one splice.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lucid_ar::{
    ChainSigner, ar_hash, canonical_bytes, verify_chain, verify_segment, verify_single,
};
use serde_json::Value;

/// The SHA-256 the signer writes as `signer.receipt_sha256`.
const RECEIPT: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    // The component's entry points take text, and refuse what is not JSON.
    let mut signer = signer(1);
    let signed = signer.sign(text);
    let resumed = signer_resumes(text);

    let Ok(value) = serde_json::from_str::<Value>(text) else {
        assert!(signed.is_err() && resumed.is_none());
        return;
    };

    let canonical = canonical_bytes(&value);
    let again: Value = serde_json::from_slice(&canonical).expect("canonical bytes are json");
    assert_eq!(
        canonical_bytes(&again),
        canonical,
        "canonicalisation is not stable"
    );
    let _ = ar_hash(&value);

    if let Ok(verified) = verify_single(&value) {
        let written = serde_json::to_string(&value).expect("a value serialises");
        let read: Value = serde_json::from_str(&written).expect("written json parses");
        let reverified = verify_single(&read).expect("a verified ar verifies once re-read");
        assert_eq!(reverified, verified);
    }
    if let Value::Array(ars) = &value {
        for report in [verify_chain(ars), verify_segment(ars)] {
            assert_eq!(report.valid, report.errors.is_empty());
            assert_eq!(report.length, ars.len());
        }
    }

    if let Ok(ar) = signed {
        let first: Value = serde_json::from_str(&ar).expect("a signed ar is json");
        let verified = verify_single(&first).expect("a signed ar verifies");
        assert_eq!(verified.chain_depth, 0);
        assert_eq!(
            Some(&verified.ar_hash),
            signer.tip().previous_ar_hash.as_ref()
        );
        // A restarted signer continues the chain from it, with the same core.
        let mut next = self::signer(2);
        next.resume(&ar).expect("a signed ar can be resumed from");
        let second = next.sign(text).expect("the same core signs again");
        let second: Value = serde_json::from_str(&second).expect("a signed ar is json");
        let report = verify_chain(&[first, second]);
        assert!(report.valid, "{report:?}");
        assert_eq!(report.splices.len(), 1);
        assert_eq!(report.chain_depth, Some(1));
    }
});

fn signer(seed: u8) -> ChainSigner {
    ChainSigner::new(&mut [seed; 32], RECEIPT).expect("a valid receipt hash")
}

/// Whether a fresh signer accepts `text` as the AR to continue from; its next depth if so.
fn signer_resumes(text: &str) -> Option<u64> {
    let mut signer = signer(3);
    signer.resume(text).ok()?;
    let depth = signer.tip().next_depth;
    assert!(depth >= 1);
    Some(depth)
}
