//! Chain verification: every kind of tampering fails and names the AR.

use lucid_ar::{verify_chain, verify_segment, verify_single};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::util::{chain, hash_of, names, resign, signer, spliced_chain};

#[test]
fn a_chain_verifies() {
    let ars = chain(20);
    let report = verify_chain(&ars);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.chain_depth, Some(19));
    assert_eq!(report.length, 20);
    assert_eq!(report.tip.as_deref(), Some(hash_of(&ars[19]).as_str()));
    assert_eq!(report.anchor, None);
    assert!(report.splices.is_empty() && report.forks.is_empty() && report.errors.is_empty());
}

#[test]
fn an_empty_chain_is_valid_and_has_no_depth() {
    let report = verify_chain(&[]);
    assert!(report.valid);
    assert_eq!((report.chain_depth, report.length), (None, 0));
}

#[test]
fn the_report_is_json_with_stable_names() {
    let mut ars = chain(3);
    ars[1]["request_id"] = "changed".into();
    let report = serde_json::to_value(verify_chain(&ars)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["chain_depth"], 2);
    assert_eq!(report["length"], 3);
    assert_eq!(report["errors"][0]["ar_hash"], hash_of(&ars[1]));
    assert_eq!(report["errors"][0]["index"], 1);
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("ar_hash ")
    );
    for key in ["tip", "anchor", "splices", "forks"] {
        assert!(report.get(key).is_some(), "{key}");
    }
}

#[test]
fn input_order_does_not_matter() {
    let mut ars = spliced_chain(6, 6);
    ars.reverse();
    ars.swap(2, 9);
    let report = verify_chain(&ars);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.chain_depth, Some(11));
    assert_eq!(report.splices.len(), 1);
}

#[test]
fn a_spliced_chain_verifies_and_reports_the_splice() {
    let ars = spliced_chain(10, 10);
    let report = verify_chain(&ars);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.chain_depth, Some(19));
    let [splice] = report.splices.as_slice() else {
        panic!("one splice expected: {report:?}");
    };
    assert_eq!(splice.ar_hash, hash_of(&ars[10]));
    assert_eq!(splice.chain_depth, 10);
    assert_eq!(splice.previous_ar_hash, hash_of(&ars[9]));
    assert_eq!(splice.previous_public_key, ars[9]["signer"]["public_key"]);
    assert_eq!(splice.public_key, ars[10]["signer"]["public_key"]);
}

#[test]
fn two_splices_verify() {
    let mut ars = spliced_chain(3, 3);
    let mut third = signer(3);
    third.resume(&ars[5].to_string()).unwrap();
    ars.extend(crate::util::sign_many(&mut third, 6, 3));
    let report = verify_chain(&ars);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.splices.len(), 2);
    assert_eq!(report.chain_depth, Some(8));
}

/// Every single-byte change of an AR's text that still parses as a different JSON value fails
/// verification. (Changes that do not parse fail before verification; changes that parse to
/// the same value, like `e` to `E` in an exponent, change nothing.)
#[test]
fn every_byte_of_an_ar_is_covered() {
    let ars = spliced_chain(2, 2);
    for ar in &ars[1..3] {
        let text = serde_json::to_string(ar).unwrap();
        let mut changed = 0;
        for at in 0..text.len() {
            for bit in [0x01, 0x20] {
                let mut bytes = text.clone().into_bytes();
                bytes[at] ^= bit;
                let Ok(flipped) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                if flipped == *ar {
                    continue;
                }
                changed += 1;
                assert!(
                    verify_single(&flipped).is_err(),
                    "flipping bit {bit:#x} of byte {at} ('{}') went unnoticed",
                    text.as_bytes()[at] as char
                );
            }
        }
        assert!(changed > text.len() / 2, "only {changed} changes parsed");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_flipped_bit_anywhere_is_named(which in 0..8_usize, at in any::<prop::sample::Index>(), bit in 0..8_u8) {
        let ars = spliced_chain(4, 4);
        let text = serde_json::to_string(&ars[which]).unwrap();
        let mut bytes = text.into_bytes();
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        let flipped: Value = match serde_json::from_slice(&bytes) {
            Ok(v) if v != ars[which] => v,
            _ => return Ok(()),
        };
        let mut tampered = ars.clone();
        tampered[which] = flipped;
        let report = verify_chain(&tampered);
        prop_assert!(!report.valid);
        prop_assert!(report.errors.iter().any(|e| e.index == which), "{:?}", report.errors);
    }

    #[test]
    fn any_order_of_a_valid_chain_verifies(order in Just((0..10).collect::<Vec<usize>>()).prop_shuffle()) {
        let ars = spliced_chain(5, 5);
        let shuffled: Vec<Value> = order.iter().map(|&i| ars[i].clone()).collect();
        let report = verify_chain(&shuffled);
        prop_assert!(report.valid, "{:?}", report);
        prop_assert_eq!(report.chain_depth, Some(9));
    }
}

#[test]
fn a_changed_ar_is_the_only_one_named() {
    let mut ars = chain(10);
    ars[4]["request_id"] = "req-changed".into();
    let report = verify_chain(&ars);
    assert!(!report.valid);
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(names(&report, 4, "ar_hash"));
    assert_eq!(
        report.errors[0].ar_hash.as_deref(),
        Some(hash_of(&ars[4]).as_str())
    );
}

#[test]
fn claims_that_do_not_match_claims_hash_are_named() {
    let mut ars = chain(3);
    // Even re-signed by the right key, claims and claims_hash must agree.
    ars[1]["phases"][0]["claims"][0]["value"] = 0.5.into();
    resign(&mut ars[1], 1);
    let report = verify_chain(&ars);
    assert!(
        names(&report, 1, "does not match the claims in phases"),
        "{report:?}"
    );
}

#[test]
fn a_deleted_ar_in_the_middle_is_named_by_its_successor() {
    let mut ars = chain(10);
    let removed = ars.remove(5);
    let report = verify_chain(&ars);
    assert!(!report.valid);
    // The AR that was at 6 is now at 5; it names the hash of the missing one.
    assert!(names(&report, 5, "broken linkage"), "{report:?}");
    assert!(report.errors[0].reason.contains(&hash_of(&removed)));
    assert_eq!(report.errors.len(), 1);
    // A segment cannot hide a hole either.
    assert!(!verify_segment(&ars).valid);
}

#[test]
fn a_missing_genesis_is_named_but_a_segment_may_start_later() {
    let ars = chain(10);
    let report = verify_chain(&ars[3..]);
    assert!(names(&report, 0, "broken linkage"), "{report:?}");

    let segment = verify_segment(&ars[3..]);
    assert!(segment.valid, "{segment:?}");
    assert_eq!(segment.anchor, Some(hash_of(&ars[2])));
    assert_eq!(segment.chain_depth, Some(9));
}

#[test]
fn reordering_two_ars_is_named() {
    // Make ARs 4 and 5 claim each other's place in the chain.
    let mut ars = chain(10);
    let (depth4, refs4) = (
        ars[4]["chain_depth"].clone(),
        ars[4]["ar_references"].clone(),
    );
    let (depth5, refs5) = (
        ars[5]["chain_depth"].clone(),
        ars[5]["ar_references"].clone(),
    );
    ars[4]["chain_depth"] = depth5;
    ars[4]["ar_references"] = refs5;
    ars[5]["chain_depth"] = depth4;
    ars[5]["ar_references"] = refs4;
    let report = verify_chain(&ars);
    assert!(
        names(&report, 4, "ar_hash") && names(&report, 5, "ar_hash"),
        "{report:?}"
    );
}

#[test]
fn a_replayed_ar_is_named() {
    let mut ars = chain(10);
    ars.push(ars[3].clone());
    let report = verify_chain(&ars);
    assert!(!report.valid);
    assert!(
        names(&report, 10, "duplicate of the ar at index 3"),
        "{report:?}"
    );
    assert_eq!(report.errors.len(), 1);
}

#[test]
fn swapped_signatures_are_named() {
    let mut ars = chain(10);
    let sig4 = ars[4]["signature"].clone();
    ars[4]["signature"] = ars[9]["signature"].clone();
    ars[9]["signature"] = sig4;
    let report = verify_chain(&ars);
    assert!(names(&report, 4, "signature does not verify"), "{report:?}");
    assert!(names(&report, 9, "signature does not verify"), "{report:?}");
}

#[test]
fn a_signature_by_another_key_is_named() {
    use ed25519_dalek::{Signer as _, SigningKey};
    let mut ars = chain(5);
    // Another key signs AR 2 (with a correct ar_hash) but it still names the chain's key.
    ars[2]["request_id"] = "req-forged".into();
    let bytes = lucid_ar::signing_bytes(ars[2].as_object().unwrap());
    ars[2]["ar_hash"] = lucid_ar::sha256_hex(&bytes).into();
    let forger = SigningKey::from_bytes(&crate::util::seed(7));
    ars[2]["signature"] = hex::encode(forger.sign(&bytes).to_bytes()).into();
    let report = verify_chain(&ars);
    assert!(names(&report, 2, "signature does not verify"), "{report:?}");
}

#[test]
fn a_change_of_key_without_a_splice_is_named() {
    let mut ars = spliced_chain(5, 5);
    ars[5].as_object_mut().unwrap().remove("splice");
    resign(&mut ars[5], 2);
    // The ARs after it reference the new hash.
    let new_hash = hash_of(&ars[5]);
    for i in 6..10 {
        if i == 6 {
            ars[i]["ar_references"] = json!([new_hash]);
        } else {
            ars[i]["ar_references"] = json!([hash_of(&ars[i - 1])]);
        }
        resign(&mut ars[i], 2);
    }
    let report = verify_chain(&ars);
    assert!(names(&report, 5, "without a splice"), "{report:?}");
    assert_eq!(report.errors.len(), 1);
}

#[test]
fn a_splice_naming_another_key_is_named() {
    let mut ars = spliced_chain(5, 1);
    ars[5]["splice"]["previous_public_key"] = ars[5]["signer"]["public_key"].clone();
    resign(&mut ars[5], 2);
    // A splice from a key to itself is malformed on its own.
    assert!(verify_single(&ars[5]).is_err());

    let mut ars = spliced_chain(5, 1);
    let other = signer(9).public_key().to_owned();
    ars[5]["splice"]["previous_public_key"] = other.into();
    resign(&mut ars[5], 2);
    let report = verify_chain(&ars);
    assert!(names(&report, 5, "is not the key"), "{report:?}");
}

#[test]
fn a_skipped_depth_is_named() {
    let mut ars = chain(5);
    ars[4]["chain_depth"] = 5.into();
    resign(&mut ars[4], 1);
    let report = verify_chain(&ars);
    assert!(
        names(&report, 4, "does not follow the depth 3"),
        "{report:?}"
    );
}

#[test]
fn a_fork_is_reported_and_both_branches_named() {
    let mut ars = chain(5);
    let mut other = ars[3].clone();
    other["request_id"] = "req-other".into();
    resign(&mut other, 1);
    ars.push(other);
    let report = verify_chain(&ars);
    assert!(!report.valid);
    let [fork] = report.forks.as_slice() else {
        panic!("one fork expected: {report:?}");
    };
    assert_eq!(fork.previous_ar_hash, Some(hash_of(&ars[2])));
    assert_eq!(fork.ar_hashes.len(), 2);
    assert!(
        names(&report, 3, "fork") && names(&report, 5, "fork"),
        "{report:?}"
    );
}

#[test]
fn two_genesis_ars_are_a_fork() {
    let mut ars = chain(2);
    let mut other = signer(1);
    ars.extend(crate::util::sign_many(&mut other, 9, 1));
    let report = verify_chain(&ars);
    assert_eq!(report.forks.len(), 1);
    assert_eq!(report.forks[0].previous_ar_hash, None);
    assert!(
        names(&report, 0, "genesis") && names(&report, 2, "genesis"),
        "{report:?}"
    );
}

#[test]
fn a_non_object_is_named_by_index() {
    let mut ars = chain(3);
    ars.push(json!("not an ar"));
    let report = verify_chain(&ars);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].index, 3);
    assert_eq!(report.errors[0].ar_hash, None);
}
