"""Benchmark: full bundle verification vs ``sha256sum`` of the same file, side by side in one run.

Builds a model bundle with one random payload file of ``--size-gib`` GiB in a temporary folder, then times three
child processes, each under GNU ``/usr/bin/time`` so it reports its own peak RSS: ``sha256sum BUNDLE`` (read and
hash once), the same in Python's hashlib (OpenSSL's SHA-256, which uses the CPU's SHA extensions where coreutils
may not), and ``verify_bundle`` (read, check signatures, hash, and write every byte into staging). The file is read
once beforehand so all start from the page cache. Everything is deleted afterwards.

Usage::

    python scripts/bench_verify.py --size-gib 1 --repeat 3 [--tmp /var/tmp] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore, create_bundle

HASHLIB_CHILD = """
import hashlib, sys
digest = hashlib.sha256()
with open(sys.argv[1], "rb") as handle:
    while chunk := handle.read(1 << 20):
        digest.update(chunk)
print(digest.hexdigest())
"""
VERIFY_CHILD = """
import sys
from pathlib import Path
from offline_ner.bundle import TrustStore, verify_bundle
trust = TrustStore.load(Path(sys.argv[1]))
with verify_bundle(Path(sys.argv[2]), trust, staging_root=Path(sys.argv[3])) as verified:
    assert verified.report["verified"]
"""


def _make_source(folder: Path, size_bytes: int) -> None:
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert", "architectures": ["BertForTokenClassification"]}')
    chunk = os.urandom(1 << 24)  # 16 MiB of random bytes, repeated: hashing cost does not depend on content
    with open(folder / "model.safetensors", "wb") as handle:
        written = 0
        while written < size_bytes:
            step = min(len(chunk), size_bytes - written)
            handle.write(chunk[:step])
            written += step


def _timed_child(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child, from GNU time's %M (the child's own peak after exec)."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed with exit code {proc.returncode}: {proc.stderr[-500:]}")
    return elapsed, int(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tmp", type=Path, default=None, help="where to build the bundle (needs ~3x the size)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size_bytes = int(args.size_gib * 2**30)
    work = Path(tempfile.mkdtemp(prefix="bench-verify-", dir=args.tmp))
    try:
        _make_source(work / "model", size_bytes)
        key = Ed25519PrivateKey.generate()
        trust = TrustStore(path=work / "trust.json")
        trust.set_role("release", threshold=1, kinds=["model"])
        trust.add_key(key.public_key(), roles=["release"])
        trust.save()
        start = time.perf_counter()
        bundle = create_bundle(
            work / "model",
            kind="model",
            stream="bench",
            sequence=1,
            keys=[key],
            out=work / "bench.bundle",
            created=datetime.now(timezone.utc),
        )
        create_s = time.perf_counter() - start
        shutil.rmtree(work / "model")
        bundle_bytes = bundle.stat().st_size
        subprocess.run(["cat", str(bundle)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        staging = work / "staging"
        staging.mkdir()
        commands = {
            "sha256sum": ["sha256sum", str(bundle)],
            "python_hashlib": [sys.executable, "-c", HASHLIB_CHILD, str(bundle)],
            "verify_bundle": [sys.executable, "-c", VERIFY_CHILD, str(trust.path), str(bundle), str(staging)],
        }
        results = {}
        for name, argv in commands.items():
            runs = [_timed_child(argv) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            results[name] = {
                "median_s": round(seconds, 3),
                "mib_per_s": round(bundle_bytes / 2**20 / seconds, 1),
                "peak_rss_mib": round(max(r[1] for r in runs) / 1024, 1),
            }
        results["verify_bundle"]["relative_to_sha256sum"] = round(
            results["sha256sum"]["median_s"] / results["verify_bundle"]["median_s"], 3
        )
        summary = {
            "bundle_bytes": bundle_bytes,
            "create_s": round(create_s, 2),
            "repeat": args.repeat,
            "cpus": os.cpu_count(),
            "results": results,
        }
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"bundle: {bundle_bytes / 2**30:.2f} GiB, created in {create_s:.1f} s; median of {args.repeat}")
            print(f"{'command':<15}{'seconds':>10}{'MiB/s':>10}{'peak RSS MiB':>14}")
            for name, row in results.items():
                print(f"{name:<15}{row['median_s']:>10}{row['mib_per_s']:>10}{row['peak_rss_mib']:>14}")
            print(f"verify throughput = {results['verify_bundle']['relative_to_sha256sum']:.2f} x sha256sum")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
