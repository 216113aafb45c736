"""The report of one bundle verification: what ``bundle verify --json`` prints, what a
:class:`~offline_ner.bundle.VerifiedBundle` carries, and what a failed verification's error carries as ``report``.

Every signature, file and check gets a verdict, as docs/bundle-format.md ("Verification") describes them::

    signatures: {"keyid", "verdict", "roles"}
    files:      {"path", "size", "sha256", "verdict", "message"?, "role"?}
    checks:     {"check", "verdict", "message"?, "error"?, "exit_code"?}

Example::

    report = verified.report
    report.verified, [f["path"] for f in report.files if f["verdict"] != "ok"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# a data source or base model inside a verified, imported bundle: bundle:<stream>[@<sequence>]/<path> (the train
# and experiment configs, and the CLI, read it; bundle.store resolves it)
BUNDLE_PREFIX = "bundle:"


@dataclass(frozen=True)
class VerificationReport:
    """Everything one verification found; ``verified`` only when no check failed."""

    bundle: str
    verified: bool
    manifest: Mapping[str, Any] = field(default_factory=dict)  # empty until a threshold of signatures vouched
    signatures: tuple[Mapping[str, Any], ...] = ()
    files: tuple[Mapping[str, Any], ...] = ()
    checks: tuple[Mapping[str, Any], ...] = ()

    @property
    def status(self) -> str:
        return "VERIFIED" if self.verified else "REJECTED"

    def failed_checks(self) -> list[Mapping[str, Any]]:
        return [check for check in self.checks if check["verdict"] != "ok"]

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "verified": self.verified,
            "status": self.status,
            "manifest": dict(self.manifest),
            "signatures": [dict(s) for s in self.signatures],
            "files": [dict(f) for f in self.files],
            "checks": [dict(c) for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerificationReport:
        return cls(
            bundle=str(data["bundle"]),
            verified=bool(data["verified"]),
            manifest=dict(data.get("manifest") or {}),
            signatures=tuple(data.get("signatures", ())),
            files=tuple(data.get("files", ())),
            checks=tuple(data.get("checks", ())),
        )
