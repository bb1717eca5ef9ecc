"""Tests of examples/verify_chain.py and examples/verify_attestation.py: pure Python, no network.

Run: python -m unittest discover -s examples/tests   (needs rfc8785 and cryptography)

A fake chain of ARs is signed here with Ed25519 keys, and a fake SEV-SNP report with a P-384
ARK → ASK → VCEK chain (the gateway's mock mode) or an RSA-PSS ARK → ASK chain pinned with --ark
(the shape of AMD's). AMD's real Milan ARK and ASK (amd_milan_ark_ask.pem, public certificates
from https://kdsintf.amd.com/vcek/v1/Milan/cert_chain) check the RSA-PSS path on AMD's own bytes.
"""
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.dirname(HERE)
sys.path.insert(0, EXAMPLES)

import verify_attestation  # noqa: E402
import verify_chain  # noqa: E402

NONCE = bytes(range(32))


def sha256_jcs(value):
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def raw_key(private):
    return private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw).hex()


def sign_ar(ar, private):
    """Adds claims_hash, ar_hash and signature to `ar` (which has everything else)."""
    ar["claims_hash"] = sha256_jcs([c for p in ar["phases"] for c in p["claims"]])
    body = {k: v for k, v in ar.items() if k not in ("ar_hash", "signature")}
    signed = rfc8785.dumps(body)
    ar["ar_hash"] = hashlib.sha256(signed).hexdigest()
    ar["signature"] = private.sign(signed).hex()
    return ar


def make_chain(keys, per_key=3, policy="p" * 64, with_binding=True):
    """A chain of len(keys) * per_key ARs; each new key splices onto the previous one's chain."""
    ars, prev = [], None
    for private in keys:
        for _ in range(per_key):
            depth = len(ars)
            ar = {
                "version": "lucid-ar/1",
                "request_id": f"req-{depth}",
                "timestamp": "2026-01-01T00:00:00Z",
                "scope": {"org": "o", "workspace": "w", "agent": "a"},
                "phases": [{"phase": "request", "decision": {"effect": "allow", "reasons": [],
                                                             "errors": []},
                            "claims": [{"auditor": "pii", "auditor_sha256": "a" * 64,
                                        "name": "pii.score", "type": "score_normalized",
                                        "value": 0.25, "confidence": 1}]}],
                "decision": "allow",
                "policy_hash": policy,
                "measurements": {"auditors": {"pii": "a" * 64}, "plugin_set_hash": "s" * 64,
                                 "config_hash": "c" * 64},
                "chain_depth": depth,
                "ar_references": [] if prev is None else [prev["ar_hash"]],
                "signer": {"public_key": raw_key(private), "receipt_sha256": "r" * 64},
            }
            if prev is not None and prev["signer"]["public_key"] != ar["signer"]["public_key"]:
                ar["splice"] = {"previous_public_key": prev["signer"]["public_key"],
                                "previous_ar_hash": prev["ar_hash"]}
            if with_binding:
                ar["binding_hash"] = sha256_jcs(verify_chain.binding_of(ar))
            prev = sign_ar(ar, private)
            ars.append(ar)
    return ars


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(subject, subject_key, issuer, issuer_key, ca, rsa_pss=False):
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if rsa_pss:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
        return builder.sign(issuer_key, hashes.SHA384(), rsa_padding=pss)
    return builder.sign(issuer_key, hashes.SHA384())


class Pki:
    """An ARK → ASK → VCEK chain: all P-384 (the mock), or RSA-PSS ARK and ASK (AMD's shape)."""

    def __init__(self, rsa_pss=False):
        if rsa_pss:  # 2048 bits keeps the test fast; AMD's are 4096
            ark_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            ask_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            ark_key, ask_key = ec.generate_private_key(ec.SECP384R1()), \
                ec.generate_private_key(ec.SECP384R1())
        self.vcek_key = ec.generate_private_key(ec.SECP384R1())
        self.ark = make_cert("ARK", ark_key, "ARK", ark_key, True, rsa_pss)
        self.ask = make_cert("ASK", ask_key, "ARK", ark_key, True, rsa_pss)
        self.vcek = make_cert("VCEK", self.vcek_key, "ASK", ask_key, False, rsa_pss)

    def pems(self):
        pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
        return {"vcek": pem(self.vcek), "ask": pem(self.ask), "ark": pem(self.ark)}


def make_report(pki, report_data, policy=0x30000):
    raw = bytearray(verify_attestation.REPORT_SIZE)
    raw[0:4] = (2).to_bytes(4, "little")
    raw[0x08:0x10] = policy.to_bytes(8, "little")
    raw[0x34:0x38] = (1).to_bytes(4, "little")
    raw[0x50:0x90] = report_data
    raw[0x90:0xC0] = bytes([0x5A]) * 48  # the launch measurement
    der = pki.vcek_key.sign(bytes(raw[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    raw[0x2A0:0x2A0 + 72] = r.to_bytes(72, "little")
    raw[0x2E8:0x2E8 + 72] = s.to_bytes(72, "little")
    return bytes(raw)


def make_document(pki, binding, nonce=NONCE, mode="mock", **report_args):
    digest = sha256_jcs(binding)
    raw = make_report(pki, bytes.fromhex(digest) + (nonce or bytes(32)), **report_args)
    return {"mode": mode, "report": base64.b64encode(raw).decode(), "binding": binding,
            "binding_hash": digest, "certificates": pki.pems(),
            "generated_at": "2026-01-01T00:00:00Z"}


def flip(doc, byte, bit=0):
    raw = bytearray(base64.b64decode(doc["report"]))
    raw[byte] ^= 1 << bit
    return dict(doc, report=base64.b64encode(bytes(raw)).decode())


class Run:
    """Writes files into a temporary directory and runs the scripts on them."""

    def __init__(self, test):
        self.dir = tempfile.mkdtemp()
        test.addCleanup(lambda: [os.remove(os.path.join(self.dir, f)) for f in
                                 os.listdir(self.dir)] and os.rmdir(self.dir))

    def write(self, filename, content):
        path = os.path.join(self.dir, filename)
        with open(path, "w", encoding="utf-8") as f:
            if filename.endswith(".jsonl"):
                f.write("".join(json.dumps(ar) + "\n" for ar in content))
            elif isinstance(content, str):
                f.write(content)
            else:
                json.dump(content, f)
        return path

    def chain(self, ars, *args, docs=()):
        """Runs verify_chain.py; returns (exit status, output)."""
        argv = [self.write("chain.jsonl", ars)]
        for i, doc in enumerate(docs):
            argv += ["--attestation", self.write(f"attestation{i}.json", doc)]
        return self.run("verify_chain.py", argv + list(args))

    def run(self, script, argv):
        out = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)] + argv,
                             capture_output=True, text=True, check=False)
        return out.returncode, out.stdout + out.stderr


class ChainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = [Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()]
        cls.ars = make_chain(cls.keys)
        cls.pki = Pki()

    def test_the_chain_alone_verifies_as_before(self):
        status, out = Run(self).chain(self.ars)
        self.assertEqual(status, 0, out)
        self.assertIn(f"OK: 6 receipts, chain depth 5, tip {self.ars[-1]['ar_hash']}", out)
        self.assertIn("line 4: splice: key", out)
        self.assertNotIn("attestation", out)

    def test_ars_without_a_binding_are_accepted(self):
        status, out = Run(self).chain(make_chain(self.keys[:1], with_binding=False))
        self.assertEqual(status, 0, out)
        status, out = Run(self).chain(make_chain(self.keys[:1], with_binding=False),
                                      "--allow-mock", "--nonce", NONCE.hex(),
                                      docs=[make_document(
                                          self.pki, verify_chain.binding_of(self.ars[0]))])
        self.assertEqual(status, 0, out)
        self.assertIn("no binding (signed before bindings)", out)
        self.assertIn("is carried by no AR of the chain", out)

    def test_a_signed_but_wrong_binding_hash_fails_the_chain_check_alone(self):
        ars = make_chain(self.keys[:1])
        ars[1]["policy_hash"] = "q" * 64  # the binding changes; binding_hash still the old one
        sign_ar(ars[1], self.keys[0])
        ars[2]["ar_references"] = [ars[1]["ar_hash"]]
        sign_ar(ars[2], self.keys[0])
        status, out = Run(self).chain(ars)
        self.assertEqual(status, 1, out)
        self.assertIn(f"line 2: ar {ars[1]['ar_hash']}: binding_hash does not match", out)
        self.assertIn("INVALID: 1 of 3 receipts failed", out)

    def test_a_report_attests_the_ars_of_its_binding_and_lists_the_others(self):
        binding = verify_chain.binding_of(self.ars[-1])  # the second key's
        doc = make_document(self.pki, binding)
        run = Run(self)
        status, out = run.chain(self.ars, "--nonce", NONCE.hex(), "--allow-mock", docs=[doc])
        self.assertEqual(status, 0, out)
        first, second = self.ars[0]["binding_hash"], self.ars[-1]["binding_hash"]
        self.assertIn(f"binding {first}: ARs at depth 0..2, lines 1..3, key "
                      f"{self.ars[0]['signer']['public_key']}: has no report", out)
        self.assertIn(f"binding {second}: ARs at depth 3..5", out)
        self.assertIn("attested by", out)
        self.assertIn("3 of 6 receipts attested", out)
        self.assertIn("OK: every check asked for passed", out)
        # The spliced-in key needs its own report: --require-attested fails without one ...
        status, out = run.chain(self.ars, "--nonce", NONCE.hex(), "--allow-mock",
                                "--require-attested", docs=[doc])
        self.assertEqual(status, 1, out)
        self.assertIn("INVALID: 3 receipts are not attested", out)
        # ... and passes with both (one nonce for both documents).
        docs = [make_document(self.pki, verify_chain.binding_of(self.ars[0])), doc]
        status, out = run.chain(self.ars, "--nonce", NONCE.hex(), "--allow-mock",
                                "--require-attested", docs=docs)
        self.assertEqual(status, 0, out)
        self.assertIn("6 of 6 receipts attested", out)

    def test_a_report_without_a_nonce_holds_zeros(self):
        doc = make_document(self.pki, verify_chain.binding_of(self.ars[0]), nonce=None)
        status, out = Run(self).chain(self.ars, "--allow-mock", docs=[doc])
        self.assertEqual(status, 0, out)
        self.assertIn("no --nonce: the report's freshness is not checked", out)
        status, out = Run(self).chain(self.ars, "--allow-mock", "--nonce", NONCE.hex(),
                                      docs=[doc])
        self.assertEqual(status, 1, out)

    def test_refusals(self):
        binding = verify_chain.binding_of(self.ars[0])
        good = make_document(self.pki, binding)
        other_binding = dict(binding, policy_hash="q" * 64)
        nonce, mock = ["--nonce", NONCE.hex()], ["--allow-mock"]
        cases = {
            "mock without --allow-mock": (good, nonce, "refused without --allow-mock"),
            "a mock chain claiming sev-snp": (dict(good, mode="sev-snp"), nonce,
                                              "is not an AMD root"),
            "a wrong nonce": (good, ["--nonce", "ff" * 32] + mock, "is not the given nonce"),
            "no nonce given": (good, mock, "is not 32 zero bytes"),
            "a binding_hash not of the binding": (dict(good, binding=other_binding),
                                                  nonce + mock, "is not the hash of the binding"),
            "a report of another binding": (dict(make_document(self.pki, other_binding),
                                                 binding=binding,
                                                 binding_hash=good["binding_hash"]),
                                            nonce + mock, "report_data does not hold"),
            "a VCEK of another chain": (dict(good, certificates=dict(
                good["certificates"], vcek=Pki().pems()["vcek"])), nonce + mock,
                "the signature does not verify against the VCEK"),
            "an ASK of another chain": (dict(good, certificates=dict(
                good["certificates"], ask=Pki().pems()["ask"])), nonce + mock,
                "VCEK: the signature does not verify"),
            "no VCEK": (dict(good, certificates={"vcek": None, "ask": None, "ark": None}),
                        nonce + mock, "no VCEK certificate"),
            "no ARK without --allow-mock": (dict(good, mode="sev-snp", certificates=dict(
                good["certificates"], ark=None)), nonce, "no ARK"),
            "a short report": (dict(good, report=base64.b64encode(b"\0" * 100).decode()),
                               nonce + mock, "100 bytes"),
            "an unknown mode": (dict(good, mode="tdx"), nonce + mock, "neither"),
        }
        for what, (doc, args, reason) in cases.items():
            with self.subTest(what):
                status, out = Run(self).chain(self.ars, *args, docs=[doc])
                self.assertEqual(status, 1, out)
                self.assertIn(reason, out)
                self.assertIn("INVALID: 1 attestation documents failed", out)

    def test_any_one_bit_flip_in_the_report_fails(self):
        binding = verify_chain.binding_of(self.ars[0])
        doc = make_document(self.pki, binding)
        digest, _, _ = verify_attestation.verify_document(doc, NONCE, allow_mock=True)
        self.assertEqual(digest, sha256_jcs(binding))
        for byte in range(verify_attestation.REPORT_SIZE):
            bit = byte % 8
            with self.subTest(byte=byte):
                with self.assertRaises(verify_attestation.Refused):
                    verify_attestation.verify_document(flip(doc, byte, bit), NONCE,
                                                       allow_mock=True)
        status, out = Run(self).chain(self.ars, "--nonce", NONCE.hex(), "--allow-mock",
                                      docs=[flip(doc, 0x95)])
        self.assertEqual(status, 1, out)
        self.assertIn("the signature does not verify against the VCEK", out)


class AmdShapedTest(unittest.TestCase):
    def test_amds_milan_ark_is_known_and_signs_its_ask_with_rsa_pss(self):
        with open(os.path.join(HERE, "amd_milan_ark_ask.pem"), "rb") as f:
            ark, ask = verify_attestation.load_pems(f.read())
        self.assertEqual(verify_attestation.AMD_ARKS[verify_attestation.spki_sha256(ark)],
                         "ARK-Milan")
        verify_attestation.check_issued_by(ark, ark, "ARK")
        verify_attestation.check_issued_by(ask, ark, "ASK")
        with self.assertRaises(verify_attestation.Refused):
            verify_attestation.check_issued_by(ark, ask, "ARK")  # the ASK did not sign the ARK
        self.assertEqual(verify_attestation.classify([ask, ark]), {"ark": ark, "ask": ask})

    def test_an_rsa_pss_chain_pinned_with_ark_needs_no_allow_mock(self):
        keys = [Ed25519PrivateKey.generate()]
        ars = make_chain(keys)
        pki = Pki(rsa_pss=True)
        doc = make_document(pki, verify_chain.binding_of(ars[0]), mode="sev-snp")
        run = Run(self)
        ark = run.write("ark.pem", pki.pems()["ark"])
        status, out = run.chain(ars, "--nonce", NONCE.hex(), "--ark", ark, docs=[doc])
        self.assertEqual(status, 0, out)
        self.assertIn("root the --ark root", out)
        self.assertIn("3 of 3 receipts attested", out)
        # Without the pin the root is nobody's; another pin is refused.
        status, out = run.chain(ars, "--nonce", NONCE.hex(), docs=[doc])
        self.assertEqual(status, 1, out)
        self.assertIn("is not an AMD root", out)
        other = run.write("other.pem", Pki().pems()["ark"])
        status, out = run.chain(ars, "--nonce", NONCE.hex(), "--ark", other, docs=[doc])
        self.assertEqual(status, 1, out)
        self.assertIn("is not the --ark key", out)
        # The certificates may come from files (AMD KDS's cert_chain) instead of the document.
        bare = dict(doc, certificates={"vcek": None, "ask": None, "ark": None})
        chain = run.write("cert_chain.pem", pki.pems()["ask"] + pki.pems()["ark"])
        vcek = run.write("vcek.pem", pki.pems()["vcek"])
        status, out = run.chain(ars, "--nonce", NONCE.hex(), "--ark", ark, "--certs", chain,
                                "--certs", vcek, docs=[bare])
        self.assertEqual(status, 0, out)
        # A debuggable guest proves nothing about its memory.
        debug = make_document(pki, verify_chain.binding_of(ars[0]), mode="sev-snp",
                              policy=0x30000 | verify_attestation.POLICY_DEBUG)
        status, out = run.chain(ars, "--nonce", NONCE.hex(), "--ark", ark, docs=[debug])
        self.assertEqual(status, 1, out)
        self.assertIn("allows debugging", out)

    def test_the_measurement_can_be_required(self):
        ars = make_chain([Ed25519PrivateKey.generate()], per_key=1)
        pki = Pki()
        doc = make_document(pki, verify_chain.binding_of(ars[0]))
        run = Run(self)
        args = ["--nonce", NONCE.hex(), "--allow-mock", "--measurement"]
        status, out = run.chain(ars, *args, "5a" * 48, docs=[doc])
        self.assertEqual(status, 0, out)
        self.assertIn("measurement " + "5a" * 48, out)
        status, out = run.chain(ars, *args, "5b" * 48, docs=[doc])
        self.assertEqual(status, 1, out)
        self.assertIn("is none of --measurement", out)

    def test_the_attestation_script_runs_alone(self):
        ars = make_chain([Ed25519PrivateKey.generate()], per_key=1)
        run = Run(self)
        path = run.write("a.json", make_document(Pki(), verify_chain.binding_of(ars[0])))
        status, out = run.run("verify_attestation.py",
                              [path, "--nonce", NONCE.hex(), "--allow-mock"])
        self.assertEqual(status, 0, out)
        self.assertIn("OK: 1 attestation documents", out)
        status, out = run.run("verify_attestation.py", [path, "--nonce", NONCE.hex()])
        self.assertEqual(status, 1, out)
        self.assertIn("refused without --allow-mock", out)


if __name__ == "__main__":
    unittest.main()
