"""``python -m offline_ner`` runs the CLI."""

from offline_ner.cli.main import main

main()
