#!/usr/bin/env python3
"""Verify a chain of Lucid receipts (lucid-ar/1) without Lucid.

Usage: verify_chain.py ARS.jsonl   (one AR per line, in chain order)
Needs: pip install rfc8785 cryptography
Exit status 0 when every AR verifies and links to the one before it; 1 otherwise, naming the AR.
"""
import hashlib
import json
import sys

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def check(ar, prev):
    """Returns the reason `ar` fails, or None. `prev` is the AR before it (None for the first)."""
    body = {k: v for k, v in ar.items() if k not in ("ar_hash", "signature")}
    signed = rfc8785.dumps(body)  # RFC 8785 (JCS) bytes
    if hashlib.sha256(signed).hexdigest() != ar.get("ar_hash"):
        return "ar_hash does not match the canonical bytes"
    claims = [c for phase in ar["phases"] for c in phase["claims"]]
    if hashlib.sha256(rfc8785.dumps(claims)).hexdigest() != ar["claims_hash"]:
        return "claims_hash does not match the claims"
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(ar["signer"]["public_key"]))
        key.verify(bytes.fromhex(ar["signature"]), signed)
    except (InvalidSignature, ValueError):
        return "signature does not verify against signer.public_key"
    depth, refs, splice = ar["chain_depth"], ar["ar_references"], ar.get("splice")
    if prev is None:  # the first line: a genesis, or the start of a window of a longer chain
        return None if (depth == 0) == (refs == []) else "malformed chain start"
    if depth != prev["chain_depth"] + 1 or refs != [prev["ar_hash"]]:
        return f"does not follow {prev['ar_hash']} (depth {prev['chain_depth']})"
    key_changed = ar["signer"]["public_key"] != prev["signer"]["public_key"]
    if key_changed and splice != {"previous_public_key": prev["signer"]["public_key"],
                                  "previous_ar_hash": prev["ar_hash"]}:
        return "key changes without a matching splice"
    if not key_changed and splice is not None:
        return "splice without a change of key"
    return None


def main(path):
    prev, failures, count = None, 0, 0
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                ar = json.loads(line)
                reason = check(ar, prev)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                ar, reason = {}, f"not a lucid-ar/1 receipt ({e!r})"
            count += 1
            if reason:
                failures += 1
                print(f"line {number}: ar {ar.get('ar_hash', '?')}: {reason}")
            prev = ar
            if ar.get("splice"):
                print(f"line {number}: splice: key {ar['signer']['public_key']} takes over "
                      f"from {ar['splice']['previous_public_key']}")
    if failures or count == 0:
        print(f"INVALID: {failures} of {count} receipts failed")
        return 1
    print(f"OK: {count} receipts, chain depth {prev['chain_depth']}, tip {prev['ar_hash']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
