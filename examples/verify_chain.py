#!/usr/bin/env python3
"""Verify a chain of Lucid receipts (lucid-ar/1) without Lucid, and tie it to AMD SEV-SNP reports.

Check it yourself, in three steps (pip install rfc8785 cryptography):

1. Fetch the receipts and a fresh attestation report from the gateway:
       lucid chain export --format jsonl > chain.jsonl
       NONCE=$(openssl rand -hex 32)
       curl -s "http://localhost:8080/v1/attestation?nonce=$NONCE" > attestation.json
2. Verify both, offline:
       python3 examples/verify_chain.py chain.jsonl --attestation attestation.json --nonce $NONCE
   (add --allow-mock for a gateway without SEV-SNP hardware, whose report is signed by a mock
   chain; --require-attested to fail when some AR is not covered by a report).
3. What it proves: every receipt is signed, hash-linked to the one before it and names the binding
   (receipt key, signer component, auditors, plugin set, policy, config, host binary) it was signed
   under; the report is signed by an AMD chip's VCEK, whose certificate chain ends at AMD's root
   key (ARK); and the report's report_data holds that binding's hash and your nonce, so the
   receipts marked "attested" were signed with a key that the attested guest held when you asked.
   Compare the printed launch measurement with the one you expect (--measurement HEX).

Usage: verify_chain.py ARS.jsonl   (one AR per line, in chain order)
       verify_chain.py ARS.jsonl --attestation ATTESTATION.json [--attestation ...]
                       [--nonce HEX]... [--allow-mock] [--require-attested] [--ark PEM]
                       [--certs PEM]... [--measurement HEX]...
Needs: pip install rfc8785 cryptography (and verify_attestation.py beside it for --attestation)
Exit status 0 when every AR verifies (its hashes, signature and binding_hash) and links to the one
before it, and every attestation document given verifies (see verify_attestation.py); 1 otherwise,
naming the AR or document. ARs whose binding no given report covers are listed, and fail the run
only with --require-attested: a new key (a splice) or a new policy needs its own report.
"""
import argparse
import hashlib
import json
import sys

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def binding_of(ar):
    """The attestation binding of an AR (what a report's report_data vouches for), or None."""
    try:
        m = ar["measurements"]
        return {"receipt_public_key": ar["signer"]["public_key"],
                "receipt_sha256": ar["signer"]["receipt_sha256"],
                "auditors": m["auditors"], "plugin_set_hash": m["plugin_set_hash"],
                "policy_hash": ar["policy_hash"], "config_hash": m.get("config_hash"),
                "host_sha256": m.get("host_sha256")}
    except (KeyError, TypeError, AttributeError):
        return None


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
    if "binding_hash" in ar:  # ARs signed before bindings existed have none
        binding = binding_of(ar)
        computed = None if binding is None else hashlib.sha256(rfc8785.dumps(binding)).hexdigest()
        if ar["binding_hash"] != computed:
            return f"binding_hash does not match the AR's binding (computed {computed})"
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


def main(path, args=None):
    """Verifies the chain in `path`; with `args` (parsed options) also ties it to reports."""
    prev, failures, count, ars = None, 0, 0, []
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
            ars.append((number, ar))
            if ar.get("splice"):
                print(f"line {number}: splice: key {ar['signer']['public_key']} takes over "
                      f"from {ar['splice']['previous_public_key']}")
    if failures or count == 0:
        print(f"INVALID: {failures} of {count} receipts failed")
        return 1
    print(f"OK: {count} receipts, chain depth {prev['chain_depth']}, tip {prev['ar_hash']}")
    if args is None or (not args.attestation and not args.require_attested):
        return 0
    return attest(ars, args)


def runs(ars):
    """Consecutive ARs with the same binding_hash: [(binding_hash or None, [(line, ar)])]."""
    out = []
    for number, ar in ars:
        digest = ar.get("binding_hash")
        if out and out[-1][0] == digest:
            out[-1][1].append((number, ar))
        else:
            out.append((digest, [(number, ar)]))
    return out


def attest(ars, args):
    """Checks the attestation documents and says which ARs they cover. Returns the exit status."""
    try:
        import verify_attestation  # the sibling script, only needed here
    except ImportError:
        print("INVALID: --attestation needs verify_attestation.py next to verify_chain.py")
        return 1
    try:
        covered, bad = verify_attestation.verify_files(args.attestation or [], args)
    except (OSError, verify_attestation.Refused) as e:
        print(f"INVALID: {e}")
        return 1
    attested = 0
    for digest, members in runs(ars):
        first, last = members[0], members[-1]
        where = (f"ARs at depth {first[1]['chain_depth']}..{last[1]['chain_depth']}, "
                 f"lines {first[0]}..{last[0]}, key {first[1]['signer']['public_key']}")
        if digest is None:
            print(f"{where}: no binding (signed before bindings): not attestable")
        elif digest in covered:
            attested += len(members)
            print(f"binding {digest}: {where}: attested by {covered[digest]}")
        else:
            print(f"binding {digest}: {where}: has no report")
    carried = {ar.get("binding_hash") for _, ar in ars}
    for digest, name in covered.items():
        if digest not in carried:
            print(f"{name}: note: binding {digest} is carried by no AR of the chain")
    unattested = len(ars) - attested
    print(f"attestation: {len(covered)} reports verified, {bad} failed; "
          f"{attested} of {len(ars)} receipts attested")
    if bad:
        print(f"INVALID: {bad} attestation documents failed")
        return 1
    if unattested and args.require_attested:
        print(f"INVALID: {unattested} receipts are not attested (--require-attested)")
        return 1
    print("OK: every check asked for passed")
    return 0


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ars", metavar="ARS.jsonl", help="one AR per line, in chain order")
    parser.add_argument("--attestation", action="append", metavar="ATTESTATION.json",
                        help="a GET /v1/attestation document (repeatable)")
    parser.add_argument("--require-attested", action="store_true",
                        help="fail unless every AR's binding is covered by a verified report")
    try:
        import verify_attestation
    except ImportError:  # verify_chain.py copied alone: the chain checks still work
        return parser.parse_args(argv)
    verify_attestation.add_options(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    sys.exit(main(options.ars, options))
