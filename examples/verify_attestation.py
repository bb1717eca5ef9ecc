#!/usr/bin/env python3
"""Verify a Lucid attestation document (GET /v1/attestation) without Lucid: an AMD SEV-SNP report
that vouches for a receipt *binding* (receipt key, signer component, auditors, plugins, policy,
config, host binary) and, with a nonce, for its freshness.

Usage: verify_attestation.py ATTESTATION.json [--nonce HEX] [--allow-mock] [--ark PEM]
                             [--certs PEM]... [--measurement HEX]...
To tie the receipts of a chain to reports, use verify_chain.py ARS.jsonl --attestation ...
Needs: pip install rfc8785 cryptography
Exit status 0 when the document verifies; 1 otherwise, with one line per failed check.

Checked: the document's `binding` hashes (SHA-256 of its RFC 8785 bytes) to its `binding_hash`;
the report's report_data is binding_hash ‖ nonce (32 zero bytes without --nonce); the report is
signed (ECDSA P-384, SHA-384) by the VCEK; the VCEK is signed by the ASK, the ASK by the ARK, the
ARK by itself; the ARK is one of AMD's (Milan, Genoa, Turin) or the one given with --ark. A chain
that does not end at such an ARK (the gateway's `mock` mode, or any other) is refused unless
--allow-mock. The report's launch measurement is printed, and compared with --measurement when
given. Not checked: the VCEK's TCB and hwID extensions against the report's reported_tcb and
chip_id, certificate validity periods and revocation (AMD's CRL), VLEK-signed reports, and what
the launch measurement should be.
"""
import argparse
import base64
import binascii
import hashlib
import json
import sys

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import SignatureAlgorithmOID

# The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI specification, table "ATTESTATION_REPORT").
REPORT_SIZE = 0x4A0
SIGNED_SIZE = 0x2A0  # the signature covers bytes [0, 0x2A0)
VERSION = slice(0x00, 0x04)
GUEST_SVN = slice(0x04, 0x08)
POLICY = slice(0x08, 0x10)
VMPL = slice(0x30, 0x34)
SIGNATURE_ALGO = slice(0x34, 0x38)
SIGNER_INFO = slice(0x48, 0x4C)
REPORT_DATA = slice(0x50, 0x90)
MEASUREMENT = slice(0x90, 0xC0)
HOST_DATA = slice(0xC0, 0xE0)
CHIP_ID = slice(0x1A0, 0x1E0)
SIG_R = slice(0x2A0, 0x2A0 + 72)  # little-endian, only the low 48 bytes significant
SIG_S = slice(0x2E8, 0x2E8 + 72)
SIG_RESERVED = slice(0x330, REPORT_SIZE)  # must be zero
POLICY_DEBUG = 1 << 19
ECDSA_P384_SHA384 = 1

# SHA-256 of the SubjectPublicKeyInfo (DER) of AMD's SEV-SNP root keys, from the ARK
# certificates AMD publishes at https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain.
AMD_ARKS = {
    "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9": "ARK-Milan",
    "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831": "ARK-Genoa",
    "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08": "ARK-Turin",
}

_ECDSA = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: hashes.SHA512,
}
_RSA_PKCS1 = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512: hashes.SHA512,
}


class Refused(Exception):
    """A check that failed; its text is the one-line reason."""


def binding_hash(binding):
    """SHA-256 (lowercase hex) of the binding's RFC 8785 (JCS) bytes."""
    return hashlib.sha256(rfc8785.dumps(binding)).hexdigest()


def spki_sha256(cert):
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def check_issued_by(cert, issuer, what):
    """Raises Refused unless `issuer`'s key signed `cert`, by the cert's signature algorithm."""
    if cert.issuer != issuer.subject:
        raise Refused(f"{what}: issuer {cert.issuer.rfc4514_string()!r} is not "
                      f"{issuer.subject.rfc4514_string()!r}")
    oid, key = cert.signature_algorithm_oid, issuer.public_key()
    try:
        if oid == SignatureAlgorithmOID.RSASSA_PSS:
            pss = cert.signature_algorithm_parameters  # padding.PSS with the cert's salt and MGF
            if not isinstance(key, rsa.RSAPublicKey) or not isinstance(pss, padding.PSS):
                raise Refused(f"{what}: RSA-PSS signature but the issuer key is not RSA")
            key.verify(cert.signature, cert.tbs_certificate_bytes, pss,
                       cert.signature_hash_algorithm)
        elif oid in _ECDSA:
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise Refused(f"{what}: ECDSA signature but the issuer key is not EC")
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(_ECDSA[oid]()))
        elif oid in _RSA_PKCS1:
            if not isinstance(key, rsa.RSAPublicKey):
                raise Refused(f"{what}: RSA signature but the issuer key is not RSA")
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       _RSA_PKCS1[oid]())
        else:
            raise Refused(f"{what}: unsupported signature algorithm {oid.dotted_string}")
    except InvalidSignature:
        raise Refused(f"{what}: the signature does not verify") from None
    except (UnsupportedAlgorithm, ValueError, TypeError) as e:
        raise Refused(f"{what}: cannot check the signature ({e})") from None


def load_pems(data):
    """The certificates of a PEM text (bytes)."""
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise Refused(f"not a PEM certificate ({e})") from None


def classify(certs):
    """{"ark"|"ask"|"vcek": cert} of loose certificates: self-signed → ARK, CA → ASK, else VCEK."""
    found = {}
    for cert in certs:
        try:
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        found["ark" if cert.issuer == cert.subject else "ask" if ca else "vcek"] = cert
    return found


def parse_report(raw):
    """The fields of a raw report that the checks and the summary use."""
    if len(raw) != REPORT_SIZE:
        raise Refused(f"report: {len(raw)} bytes, not {REPORT_SIZE}")
    le = lambda s: int.from_bytes(raw[s], "little")  # noqa: E731
    return {
        "version": le(VERSION), "guest_svn": le(GUEST_SVN), "policy": le(POLICY),
        "vmpl": le(VMPL), "signature_algo": le(SIGNATURE_ALGO),
        "signing_key": (le(SIGNER_INFO) >> 2) & 7,
        "report_data": raw[REPORT_DATA], "measurement": raw[MEASUREMENT].hex(),
        "host_data": raw[HOST_DATA].hex(), "chip_id": raw[CHIP_ID].hex(),
    }


def check_report_signature(raw, vcek):
    """Raises Refused unless the VCEK (ECDSA P-384) signed the report's first 0x2A0 bytes."""
    key = vcek.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise Refused("VCEK: not an ECDSA P-384 key")
    r, s = raw[SIG_R], raw[SIG_S]
    if any(r[48:]) or any(s[48:]) or any(raw[SIG_RESERVED]):
        raise Refused("report: bytes of the signature field that must be zero are not")
    der = encode_dss_signature(int.from_bytes(r, "little"), int.from_bytes(s, "little"))
    try:
        key.verify(der, raw[:SIGNED_SIZE], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise Refused("report: the signature does not verify against the VCEK") from None


def hex32(text, what):
    try:
        value = bytes.fromhex(text)
    except (ValueError, TypeError):
        value = b""
    if len(value) != 32:
        raise Refused(f"{what}: not 64 hex digits")
    return value


def verify_document(doc, nonce=None, allow_mock=False, ark_pin=None, extra_certs=(),
                    measurements=()):
    """Checks an attestation document (the JSON of GET /v1/attestation, parsed).

    Returns (binding_hash, facts, notes) when every check passes, with `facts` a dict for the
    summary and `notes` lines worth printing; raises Refused naming the first failed check.
    `nonce` is 32 bytes or None (then report_data must end in 32 zero bytes); `ark_pin` a trusted
    ARK certificate; `extra_certs` certificates used where the document has none.
    """
    notes = []
    if not isinstance(doc, dict):
        raise Refused("not an attestation document (a JSON object)")
    mode = doc.get("mode")
    if mode not in ("mock", "sev-snp"):
        raise Refused(f"mode {mode!r} is neither 'mock' nor 'sev-snp'")
    if mode == "mock" and not allow_mock:
        raise Refused("mode is 'mock' (no hardware vouches for it): refused without --allow-mock")
    binding, claimed = doc.get("binding"), doc.get("binding_hash")
    if not isinstance(binding, dict):
        raise Refused("no binding")
    computed = binding_hash(binding)
    if claimed != computed:
        raise Refused(f"binding_hash {claimed} is not the hash of the binding ({computed})")
    try:
        raw = base64.b64decode(doc.get("report") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise Refused("report: not base64") from None
    report = parse_report(raw)
    if report["signature_algo"] != ECDSA_P384_SHA384:
        raise Refused(f"report: signature_algo {report['signature_algo']}, not 1 (ECDSA P-384)")
    if report["signing_key"] != 0:
        raise Refused(f"report: signed by key kind {report['signing_key']}, not the VCEK (0)")
    if report["report_data"][:32].hex() != computed:
        raise Refused(f"report: report_data does not hold binding_hash {computed} "
                      f"(it holds {report['report_data'][:32].hex()})")
    expected_nonce = nonce if nonce is not None else bytes(32)
    if report["report_data"][32:] != expected_nonce:
        what = "the given nonce" if nonce is not None else "32 zero bytes (no --nonce given)"
        raise Refused(f"report: report_data's nonce {report['report_data'][32:].hex()} "
                      f"is not {what}")

    # The certificates: the document's, else the ones given on the command line.
    certs, given = {}, doc.get("certificates") or {}
    if not isinstance(given, dict):
        raise Refused("certificates: not an object")
    for name in ("vcek", "ask", "ark"):
        if given.get(name):
            try:
                certs[name] = x509.load_pem_x509_certificate(given[name].encode())
            except (ValueError, AttributeError) as e:
                raise Refused(f"{name.upper()}: not a PEM certificate ({e})") from None
    fallback = classify(extra_certs)
    if ark_pin is not None:
        fallback["ark"] = ark_pin
    for name, cert in fallback.items():
        certs.setdefault(name, cert)
    if "vcek" not in certs:
        raise Refused("no VCEK certificate (neither in the document nor given with --certs)")
    check_report_signature(raw, certs["vcek"])

    # The chain VCEK → ASK → ARK → ARK, as far as it goes; then whose root it is.
    root = None
    if "ask" in certs:
        check_issued_by(certs["vcek"], certs["ask"], "VCEK")
        if "ark" in certs:
            check_issued_by(certs["ask"], certs["ark"], "ASK")
            check_issued_by(certs["ark"], certs["ark"], "ARK")
            root = certs["ark"]
    if root is None:
        reason = "no ASK" if "ask" not in certs else "no ARK"
        if not allow_mock:
            raise Refused(f"{reason}: the VCEK is not tied to AMD: refused without --allow-mock")
        notes.append(f"{reason}: the VCEK is not tied to a root (allowed by --allow-mock)")
        root_name = "none"
    else:
        fingerprint = spki_sha256(root)
        if ark_pin is not None and fingerprint != spki_sha256(ark_pin):
            raise Refused(f"ARK: key {fingerprint} is not the --ark key {spki_sha256(ark_pin)}")
        root_name = AMD_ARKS.get(fingerprint) or ("the --ark root" if ark_pin is not None else None)
        if root_name is None:
            if not allow_mock:
                raise Refused(f"ARK: key {fingerprint} is not an AMD root "
                              f"(mode {mode}): refused without --allow-mock")
            root_name = f"not AMD (key {fingerprint[:16]}…, allowed by --allow-mock)"
    genuine = root_name.startswith(("ARK-", "the --ark"))
    if report["policy"] & POLICY_DEBUG:
        if genuine:
            raise Refused("report: the guest policy allows debugging (the host can read and "
                          "change the guest's memory)")
        notes.append("the guest policy allows debugging")
    if measurements and report["measurement"] not in measurements:
        raise Refused(f"report: measurement {report['measurement']} is none of --measurement")
    if nonce is None:
        notes.append("no --nonce: the report's freshness is not checked")
    facts = dict(report, mode=mode, root=root_name, genuine=genuine, binding=binding,
                 generated_at=doc.get("generated_at"))
    facts.pop("report_data")
    return computed, facts, notes


def load_options(args):
    """(nonces, ark_pin, extra_certs, measurements) from parsed arguments; raises Refused."""
    nonces = [hex32(n, "--nonce") for n in args.nonce or []]
    ark_pin = None
    if args.ark:
        with open(args.ark, "rb") as f:
            pems = load_pems(f.read())
        if len(pems) != 1:
            raise Refused(f"--ark {args.ark}: {len(pems)} certificates, not one")
        ark_pin = pems[0]
    extra = []
    for path in args.certs or []:
        with open(path, "rb") as f:
            extra += load_pems(f.read())
    measurements = set()
    for m in args.measurement or []:
        if len(m) != 96 or any(c not in "0123456789abcdefABCDEF" for c in m):
            raise Refused("--measurement: not 96 hex digits")
        measurements.add(m.lower())
    return nonces, ark_pin, extra, measurements


def add_options(parser):
    parser.add_argument("--nonce", action="append", metavar="HEX",
                        help="the 64-hex-digit nonce the report was asked for (once for all "
                             "documents, or once per document in order)")
    parser.add_argument("--allow-mock", action="store_true",
                        help="accept a chain not rooted in AMD's ARK (the gateway's mock mode)")
    parser.add_argument("--ark", metavar="PEM", help="trust only this ARK certificate")
    parser.add_argument("--certs", action="append", metavar="PEM",
                        help="certificates (VCEK, ASK, ARK; e.g. AMD KDS's cert_chain) to use "
                             "where a document has none")
    parser.add_argument("--measurement", action="append", metavar="HEX",
                        help="an expected launch measurement (96 hex digits)")


def describe(name, digest, facts, notes):
    lines = [f"{name}: OK: binding {digest} (key {facts['binding'].get('receipt_public_key')}), "
             f"mode {facts['mode']}, root {facts['root']}, measurement {facts['measurement']}, "
             f"policy {facts['policy']:#x}, generated {facts['generated_at']}"]
    return lines + [f"{name}: note: {n}" for n in notes]


def pair_nonces(nonces, count):
    if len(nonces) > 1 and len(nonces) != count:
        raise Refused(f"{len(nonces)} --nonce for {count} documents (give one, or one each)")
    return nonces * count if len(nonces) == 1 else nonces or [None] * count


def verify_files(paths, args):
    """Verifies each document; prints one line each. Returns ({binding_hash: path}, failures)."""
    nonces, ark_pin, extra, measurements = load_options(args)
    covered, failures = {}, 0
    for path, nonce in zip(paths, pair_nonces(nonces, len(paths))):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            digest, facts, notes = verify_document(doc, nonce, args.allow_mock, ark_pin, extra,
                                                   measurements)
        except (OSError, ValueError, Refused) as e:
            failures += 1
            print(f"{path}: INVALID: {e}")
            continue
        except (TypeError, KeyError, AttributeError) as e:
            failures += 1
            print(f"{path}: INVALID: not an attestation document ({e!r})")
            continue
        for line in describe(path, digest, facts, notes):
            print(line)
        covered.setdefault(digest, path)
    return covered, failures


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("attestation", nargs="+", metavar="ATTESTATION.json")
    add_options(parser)
    args = parser.parse_args(argv)
    try:
        _, failures = verify_files(args.attestation, args)
    except (OSError, Refused) as e:
        print(f"INVALID: {e}")
        return 1
    if failures:
        print(f"INVALID: {failures} of {len(args.attestation)} attestation documents failed")
        return 1
    print(f"OK: {len(args.attestation)} attestation documents")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
