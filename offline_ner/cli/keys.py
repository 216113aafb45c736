"""``offline-ner keys``: create signing keys (connected side). Passphrases never travel in argv."""

from __future__ import annotations

import os
from pathlib import Path

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option

PASSPHRASE_ENV = "OFFLINE_NER_KEY_PASSPHRASE"


def read_passphrase(prompt: str, *, confirm: bool = False) -> bytes:
    """The passphrase from OFFLINE_NER_KEY_PASSPHRASE, else a hidden prompt (never a command-line option)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return value.encode("utf-8")


@click.group(epilog=EXIT_CODES_EPILOG)
def keys() -> None:
    """Create Ed25519 signing keys for bundles."""


@keys.command("generate", epilog=EXIT_CODES_EPILOG)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for NAME.key (encrypted, mode 0600) and NAME.pub.pem.",
)
@click.option("--name", default="signing", show_default=True, help="File name stem of the key pair.")
@json_option
@handles_errors
def generate(out_dir: Path, name: str, as_json: bool) -> None:
    """Generate a key pair; the private key is encrypted with a passphrase (env OFFLINE_NER_KEY_PASSPHRASE or a
    prompt). Give the .pub.pem to the closed side's 'trust add'.

    \b
    Example:
      OFFLINE_NER_KEY_PASSPHRASE=... offline-ner keys generate --out keys/ --name annotator
    """
    from offline_ner.bundle import generate_key

    pair = generate_key(out_dir, passphrase=read_passphrase("Passphrase for the new key", confirm=True), name=name)
    emit(
        {"keyid": pair.keyid, "private_key": str(pair.private_path), "public_key": str(pair.public_path)},
        as_json,
        human=f"key {pair.keyid}\n  private (encrypted): {pair.private_path}\n  public: {pair.public_path}",
    )
