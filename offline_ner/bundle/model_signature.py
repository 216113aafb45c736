"""OpenSSF Model Signing (v1.0, key mode) for model bundles: a ``model.sig`` that ``model_signing verify key`` accepts.

The format (sigstore/model-transparency, ``model_signing`` on PyPI): a Sigstore bundle (JSON, media type
:data:`BUNDLE_MEDIA_TYPE`) holding a DSSE envelope over an in-toto Statement v1 whose predicate lists every file of
the model folder with its SHA-256 (``resources``) and whose subject is the folder's name with the SHA-256 of those
digests in name order. Key mode signs the DSSE pre-authentication encoding with an ECDSA key and records the SHA-256
of the PEM public key as a hint; no transparency log, no certificate: a plain public key verifies it offline.

Two directions, both on the connected side in ``bundle create --kind model``:

- **sign** (:func:`sign_payload`): the bundle gains ``model.sig`` over the folder's files, so the folder imported on
  the closed side verifies with ``model_signing verify key --signature model.sig --public_key KEY.pub FOLDER``;
- **check** (:func:`verified_digests`): a folder its publisher signed with ``model_signing sign key`` is accepted only
  when ``model.sig`` verifies with the publisher's public key and names exactly the folder's files and digests;
  the signer (key hash and PEM) goes into the signed provenance and ``model.sig`` travels in the payload.

Only ECDSA P-256 with SHA-256 (:data:`CURVE`): the spec's key mode and the reference verifier use NIST curves, and
Ed25519 (our bundle keys) is not among them, so a model signature is a second, separate key (docs/model-signing.md).
The format is written and read here with ``cryptography``: the reference library cannot be imported next to
cryptography 51 (it needs pyOpenSSL, whose releases all cap cryptography below 51), so the tests run the real
``model_signing`` tool from its own environment against what this module writes and reads.

Example::

    sig = sign_payload("model", folder_digests(Path("model")), load_ec_private_key(Path("ms.key")))
    verified_digests(Path("model"), load_ec_public_key(Path("ms.pub")))   # -> {"config.json": "ab12...", ...}
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from offline_ner._fs import sha256_file
from offline_ner.errors import BundleError, KeyFileError, SignatureError

SIGNATURE_FILE = "model.sig"  # model_signing's default signature path, inside the model folder
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
CURVE = ec.SECP256R1  # ECDSA P-256 with SHA-256: the spec's key mode
CURVE_NAME = "ECDSA P-256"
# what model_signing leaves out of a folder when it signs and verifies (its signature and the git files)
IGNORED = (SIGNATURE_FILE, ".git", ".gitattributes", ".github", ".gitignore")
MAX_SIGNATURE_BYTES = 16 * 2**20  # one resource line per file: a model folder's model.sig is a few kB


@dataclass(frozen=True)
class ModelSigning:
    """What ``bundle create --kind model`` does with OpenSSF Model Signing: sign the folder, or check its signer."""

    sign_with: ec.EllipticCurvePrivateKey | None = None  # write model.sig into the bundle, signed with this key
    upstream_key: ec.EllipticCurvePublicKey | None = None  # the folder's model.sig must verify with this key


NO_MODEL_SIGNING = ModelSigning()  # the default: neither sign nor check (a model.sig in the folder is refused)


def _check_curve(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey | object, path: Path) -> None:
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) or not isinstance(
        key.curve, CURVE
    ):
        raise KeyFileError(
            f"{path}: model signatures use {CURVE_NAME} keys (OpenSSF Model Signing key mode), not "
            f"{type(key).__name__.lstrip('_')}; make one with 'openssl ecparam -name prime256v1 -genkey -noout "
            "-out model-signing.key' (docs/model-signing.md)"
        )


def load_ec_private_key(path: Path, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """A PEM ECDSA P-256 private key (PKCS#8 or SEC1, as openssl writes it).

    Raises:
        KeyFileError: unreadable, wrong passphrase, or not a P-256 key.
    """
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), passphrase)
    except (OSError, ValueError, TypeError) as err:
        raise KeyFileError(f"{path}: not a readable PEM private key ({err})") from err
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_ec_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """A PEM ECDSA P-256 public key (SubjectPublicKeyInfo, as ``openssl ec -pubout`` writes it).

    Raises:
        KeyFileError: unreadable or not a P-256 key.
    """
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        raise KeyFileError(f"{path}: not a readable PEM public key ({err})") from err
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """The key's identifier in the format: the SHA-256 of its PEM encoding (model_signing's ``publicKey.hint``)."""
    return hashlib.sha256(_public_pem(key)).hexdigest()


def pae(payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of an in-toto payload: what the ECDSA signature covers."""
    return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)


def _is_ignored(name: str) -> bool:
    return any(name == item or name.startswith(item + "/") for item in IGNORED)


def folder_digests(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` that a model signature covers (POSIX relative path -> sha256), in name order."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    names = {p.relative_to(folder).as_posix(): p for p in files}
    return {name: sha256_file(path) for name, path in sorted(names.items()) if not _is_ignored(name)}


def statement(model_name: str, digests: dict[str, str]) -> dict[str, Any]:
    """The in-toto Statement v1 of a model folder: subject = name + SHA-256 over the file digests in name order."""
    root = hashlib.sha256(b"".join(bytes.fromhex(digests[name]) for name in sorted(digests))).hexdigest()
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                              "ignore_paths": list(IGNORED)},
            "resources": [{"name": name, "algorithm": "sha256", "digest": digests[name]} for name in sorted(digests)],
        },
    }


def sign_payload(model_name: str, digests: dict[str, str], key: ec.EllipticCurvePrivateKey) -> bytes:
    """The bytes of ``model.sig`` over the files ``digests`` (path -> sha256) of the model ``model_name``."""
    payload = json.dumps(statement(model_name, digests), sort_keys=True).encode()
    signature = key.sign(pae(payload), ec.ECDSA(hashes.SHA256()))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(key.public_key())}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
    return (json.dumps(bundle, indent=2, sort_keys=True) + "\n").encode()


def _signed_statement(data: bytes, key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The statement inside ``model.sig`` once its ECDSA signature verifies with ``key``.

    Raises:
        SignatureError: not a key-mode signature, another key's, or one that does not verify.
    """
    try:
        bundle = json.loads(data)
        envelope = bundle["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
        media_type, payload_type = bundle["mediaType"], envelope["payloadType"]
        hint = (bundle["verificationMaterial"].get("publicKey") or {}).get("hint")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        raise SignatureError(f"{SIGNATURE_FILE} is not a model_signing key-mode signature ({err!r})") from err
    if media_type != BUNDLE_MEDIA_TYPE or payload_type != PAYLOAD_TYPE or len(signatures) != 1:
        raise SignatureError(f"{SIGNATURE_FILE}: expected one DSSE signature over {PAYLOAD_TYPE} in a "
                             f"{BUNDLE_MEDIA_TYPE} (key mode), got {media_type} / {payload_type}")
    if hint is not None and hint != key_hint(key):
        raise SignatureError(f"{SIGNATURE_FILE} was signed by key {str(hint)[:16]}, not by {key_hint(key)[:16]}")
    try:
        key.verify(signatures[0], pae(payload), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise SignatureError(f"{SIGNATURE_FILE}: the signature does not verify with key {key_hint(key)[:16]}") from err
    try:
        signed = json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise SignatureError(f"{SIGNATURE_FILE}: the signed statement is not JSON ({err})") from err
    if not isinstance(signed, dict) or signed.get("_type") != STATEMENT_TYPE:
        raise SignatureError(f"{SIGNATURE_FILE}: the signed payload is not an in-toto {STATEMENT_TYPE}")
    return signed


def verified_digests(folder: Path, key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """Check ``folder/model.sig`` against ``key`` and the folder's files; return the digests it signs (path -> sha256).

    The folder passes only when the signature verifies and the signed statement lists exactly the folder's files
    (``model.sig``, git files and the statement's own ``ignore_paths`` left out) with the same SHA-256.

    Raises:
        SignatureError: no, a broken or a foreign signature; a file added, missing or changed since signing.
    """
    path = Path(folder) / SIGNATURE_FILE
    if not path.is_file() or path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise SignatureError(f"{path}: no {SIGNATURE_FILE} (or one over {MAX_SIGNATURE_BYTES} bytes) to check")
    signed = _signed_statement(path.read_bytes(), key)
    try:
        predicate = signed["predicate"]
        serialization_args = predicate["serialization"]
        resources = {r["name"]: r["digest"] for r in predicate["resources"] if r["algorithm"] == "sha256"}
        ignored = [str(p) for p in serialization_args.get("ignore_paths", [])]
        claimed_root = signed["subject"][0]["digest"]["sha256"]
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise SignatureError(f"{SIGNATURE_FILE}: the statement is not a {PREDICATE_TYPE} predicate ({err!r})") from err
    if predicate["serialization"].get("method") != "files" or len(resources) != len(predicate["resources"]):
        raise SignatureError(f"{SIGNATURE_FILE}: only whole-file SHA-256 signatures are accepted (model_signing's "
                             "default 'files' serialization), not shards or other hashes")
    if statement(signed["subject"][0].get("name", ""), resources)["subject"][0]["digest"]["sha256"] != claimed_root:
        raise SignatureError(f"{SIGNATURE_FILE}: the subject digest does not match the listed files")
    actual = {name: digest for name, digest in folder_digests(folder).items()
              if not any(name == p or name.startswith(p.rstrip("/") + "/") for p in ignored)}
    changed = sorted(name for name in actual.keys() & resources.keys() if actual[name] != resources[name])
    added, missing = sorted(actual.keys() - resources.keys()), sorted(resources.keys() - actual.keys())
    if changed or added or missing:
        raise SignatureError(f"{folder} does not match its {SIGNATURE_FILE}: changed {changed[:5]}, not signed "
                             f"{added[:5]}, missing {missing[:5]}")
    return resources


def record(key: ec.EllipticCurvePublicKey, *, files: int, origin: str) -> dict[str, Any]:
    """The manifest provenance of a model signature: who signed (key hash and PEM), the format, how many files.

    ``origin`` is ``upstream`` (the folder came signed and was checked) or ``bundle`` (signed at bundle creation).
    """
    return {
        "signature": SIGNATURE_FILE,
        "format": f"OpenSSF Model Signing v1.0, key mode ({CURVE_NAME}, SHA-256)",
        "origin": origin,
        "public_key_sha256": key_hint(key),
        "public_key_pem": _public_pem(key).decode(),
        "files": files,
    }


@dataclass(frozen=True)
class Signed:
    """What model signing adds to a model bundle: a new ``model.sig``, the signer's provenance record, and the
    digests the signature covers (``create`` refuses a file that no longer has its digest)."""

    signature: bytes | None = None
    record: dict[str, Any] | None = None
    digests: dict[str, str] = field(default_factory=dict)


def apply(folder: Path, names: list[str], options: ModelSigning) -> Signed:
    """Sign ``folder`` (files ``names``) or check its upstream ``model.sig``, as ``options`` ask; an empty
    :class:`Signed` when the folder is neither signed nor to be signed.

    Raises:
        BundleError: a ``model.sig`` without a key to check it, a key without a ``model.sig``, or both options.
        SignatureError: the folder does not verify against its ``model.sig``.
    """
    has_signature = SIGNATURE_FILE in names
    if options.sign_with is not None and (has_signature or options.upstream_key is not None):
        raise BundleError(f"{folder} is signed upstream ({SIGNATURE_FILE}) or an upstream key was given: keep that "
                          "signature or sign with your own key, not both")
    if options.sign_with is not None:
        digests = folder_digests(folder)
        data = sign_payload(Path(folder).resolve().name, digests, options.sign_with)
        return Signed(data, record(options.sign_with.public_key(), files=len(digests), origin="bundle"), digests)
    if has_signature and options.upstream_key is None:
        raise BundleError(f"{folder} holds {SIGNATURE_FILE}: give the publisher's public key "
                          "(--upstream-public-key) to check it, or remove it")
    if options.upstream_key is not None:
        if not has_signature:
            raise BundleError(f"{folder} has no {SIGNATURE_FILE} to check with the upstream public key")
        digests = verified_digests(folder, options.upstream_key)
        return Signed(None, record(options.upstream_key, files=len(digests), origin="upstream"), digests)
    return Signed()
