"""Bundle fixtures: fixed keys (alice and bob trusted, mallory not), a saved trust store, the bundle simulator,
and the environment that points the CLI at this test's trust store, content store and key passphrase."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_ner.bundle import TrustStore
from tests.bundle.simulator import BundleSimulator, Verifier, fixed_key


@pytest.fixture
def alice() -> Ed25519PrivateKey:
    return fixed_key(1)


@pytest.fixture
def bob() -> Ed25519PrivateKey:
    return fixed_key(2)


@pytest.fixture
def mallory() -> Ed25519PrivateKey:
    """A key the trust store does not know."""
    return fixed_key(66)


@pytest.fixture
def trust(tmp_path: Path, alice: Ed25519PrivateKey, bob: Ed25519PrivateKey) -> TrustStore:
    """Saved trust store: alice and bob are 'annotator' (threshold 1, annotations, any path)."""
    store = TrustStore(path=tmp_path / "trust.json")
    store.set_role("annotator", threshold=1, kinds=["annotations"], paths=["*"])
    store.add_key(alice.public_key(), roles=["annotator"], name="alice")
    store.add_key(bob.public_key(), roles=["annotator"], name="bob")
    store.save()
    return store


@pytest.fixture
def sim(tmp_path: Path, alice: Ed25519PrivateKey) -> BundleSimulator:
    out = tmp_path / "bundles"
    out.mkdir()
    return BundleSimulator(root=out, signers=[alice])


@pytest.fixture
def verifier(tmp_path: Path, trust: TrustStore) -> Verifier:
    return Verifier(tmp_path, trust)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "OFFLINE_NER_KEY_PASSPHRASE": "correct horse battery staple",
        "OFFLINE_NER_TRUST_STORE": str(tmp_path / "trust.json"),
        "OFFLINE_NER_STORE": str(tmp_path / "store"),
    }
