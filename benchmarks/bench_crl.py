"""CRL index benchmark: a 1,000,000-entry CRL, validated and indexed by myna_rp.revocation.

Prints: generation (or cache hit), parse, full validate_crl (signature + checks + index) time, index-only
build time, index peak memory (tracemalloc, Python allocations only) and process max RSS, and per-lookup
microseconds for hits and misses.

Targets (domain: J-LIS publishes a daily CRL): lookup <= 5 us; index peak memory <= 300 MB.

Generating a 1M-entry CRL with ``CertificateRevocationListBuilder`` takes minutes, so this script writes
the TBSCertList DER directly (entries are fixed-shape: 9-octet serial, UTCTime, ~5/6 with a reasonCode),
signs it with an ECDSA P-256 key through cryptography, and caches the DER and the CA certificate under
``$TMPDIR/myna_rp_bench_crl/`` for the next run. Only the benchmark hand-writes DER; the SDK parses
with cryptography. Run: ``.venv/bin/python benchmarks/bench_crl.py [--entries N] [--regenerate]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from myna_rp.revocation import CRLIndex, RevocationPolicy, validate_crl

THIS_UPDATE = datetime(2025, 6, 1, tzinfo=UTC)
NEXT_UPDATE = THIS_UPDATE + timedelta(days=1)
AT = THIS_UPDATE + timedelta(hours=1)
REASONS = (None, 0, 1, 3, 4, 5, 6)  # none, unspecified, keyCompromise, affiliationChanged, superseded, ...
_RC_OID = bytes.fromhex("0603551d15")  # 2.5.29.21 reasonCode
_CRLNUM_OID = bytes.fromhex("0603551d14")  # 2.5.29.20 cRLNumber
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def _utc(moment: datetime) -> bytes:
    return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())


def serial_of(i: int) -> int:
    """The i-th revoked serial: 9 octets, positive, well spread (multiplicative hash of i)."""
    return (0x10 << 64) | ((i * 0x9E3779B97F4A7C15) & ((1 << 64) - 1))


def generate(entries: int) -> tuple[bytes, bytes]:
    """Return ``(crl_der, ca_cert_der)`` for a CRL with ``entries`` revoked serials."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench JPKI-like CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(THIS_UPDATE - timedelta(days=365))
        .not_valid_after(THIS_UPDATE + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    times = [_utc(THIS_UPDATE - timedelta(seconds=s)) for s in range(0, 86400 * 365, 86400 * 365 // 997)]
    reason_ext = {
        r: _tlv(0x30, _tlv(0x30, _RC_OID + _tlv(0x04, _tlv(0x0A, bytes((r,))))))
        for r in REASONS
        if r is not None
    }
    parts: list[bytes] = []
    for i in range(entries):
        body = _tlv(0x02, serial_of(i).to_bytes(9, "big")) + times[i % len(times)]
        reason = REASONS[i % len(REASONS)]
        if reason is not None:
            body += reason_ext[reason]
        parts.append(_tlv(0x30, body))
    crl_number = _tlv(0xA0, _tlv(0x30, _tlv(0x30, _CRLNUM_OID + _tlv(0x04, _tlv(0x02, b"\x07")))))
    tbs = _tlv(
        0x30,
        _tlv(0x02, b"\x01")
        + _ECDSA_SHA256
        + name.public_bytes()
        + _utc(THIS_UPDATE)
        + _utc(NEXT_UPDATE)
        + _tlv(0x30, b"".join(parts))
        + crl_number,
    )
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    crl = _tlv(0x30, tbs + _ECDSA_SHA256 + _tlv(0x03, b"\x00" + signature))
    return crl, ca.public_bytes(serialization.Encoding.DER)


def load_or_generate(entries: int, regenerate: bool) -> tuple[bytes, bytes]:
    folder = Path(tempfile.gettempdir()) / "myna_rp_bench_crl"
    folder.mkdir(exist_ok=True)
    crl_path, ca_path = folder / f"crl-{entries}.der", folder / f"ca-{entries}.der"
    if crl_path.exists() and ca_path.exists() and not regenerate:
        print(f"CRL cache hit: {crl_path} ({crl_path.stat().st_size / 1e6:.1f} MB)")
        return crl_path.read_bytes(), ca_path.read_bytes()
    start = time.perf_counter()
    crl, ca = generate(entries)
    crl_path.write_bytes(crl)
    ca_path.write_bytes(ca)
    print(f"generated {entries:,}-entry CRL in {time.perf_counter() - start:.2f} s -> {crl_path}")
    return crl, ca


def per_call_us(function: Callable[[int], object], serials: list[int]) -> float:
    start = time.perf_counter()
    for serial in serials:
        function(serial)
    return (time.perf_counter() - start) / len(serials) * 1e6


def rss_mb() -> float | None:
    """Current resident set size (Linux /proc), or ``None`` elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    crl_der, ca_der = load_or_generate(args.entries, args.regenerate)
    issuer = x509.load_der_x509_certificate(ca_der)

    start = time.perf_counter()
    crl = x509.load_der_x509_crl(crl_der)
    print(f"parse (load_der_x509_crl):            {time.perf_counter() - start:8.3f} s")

    start = time.perf_counter()
    index = validate_crl(crl_der, issuer, at=AT, policy=RevocationPolicy.CRL_ONLY)
    validate_s = time.perf_counter() - start
    print(f"validate_crl (parse+sig+checks+index): {validate_s:8.3f} s  ({len(index):,} entries)")

    del index
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    index = CRLIndex.build(crl)
    build_s = time.perf_counter() - start
    after = rss_mb()
    print(f"CRLIndex.build (index only):          {build_s:8.3f} s")
    if before is not None and after is not None:
        print(f"RSS growth while building the index (Python + Rust heaps): {after - before:7.1f} MB")

    # Peak memory of building the index, measured on a freshly parsed CRL (Python-level allocations).
    del index
    crl = x509.load_der_x509_crl(crl_der)
    gc.collect()
    tracemalloc.start()
    index = CRLIndex.build(crl)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"index memory (tracemalloc): retained {current / 1e6:7.1f} MB, peak {peak / 1e6:7.1f} MB")
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process max RSS (incl. DER, parsed CRL, interpreter): {max_rss_kb / 1e3:7.1f} MB")

    rng = random.Random(1)
    hits = [serial_of(rng.randrange(args.entries)) for _ in range(200_000)]
    misses = [serial_of(args.entries + rng.randrange(10**9)) for _ in range(200_000)]
    if not all(s in index for s in hits[:1000]) or any(s in index for s in misses[:1000]):
        raise SystemExit("index lookups disagree with the generated serials")
    for _ in range(2):  # warm-up, then measure
        hit_us, miss_us = per_call_us(index.lookup, hits), per_call_us(index.lookup, misses)
        raw_hit_us, raw_miss_us = per_call_us(index.entry, hits), per_call_us(index.entry, misses)
    print(f"lookup() hit : {hit_us:6.2f} us (builds a RevocationStatus REVOKED/ON_HOLD)")
    print(f"lookup() miss: {miss_us:6.2f} us (builds a RevocationStatus GOOD)")
    print(f"entry()  hit : {raw_hit_us:6.2f} us ((time, reason) tuple)")
    print(f"entry()  miss: {raw_miss_us:6.2f} us (None)")
    sample = index.lookup(hits[0])
    print(f"sample hit: {sample.status.value} reason={sample.reason} time={sample.revocation_time}")

    ok = hit_us <= 5 and miss_us <= 5 and peak <= 300e6
    print("targets (lookup <= 5 us, index peak <= 300 MB):", "met" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
