"""The ``--decode`` option of ``predict`` and ``evaluate``: how label scores become IOB2 tags.

Its own module, not ``_common``, because its choices come from :mod:`offline_ner.data`, which ``offline-ner
--help`` need not import.
"""

from __future__ import annotations

import click

from offline_ner.data.iob2 import DECODERS, DEFAULT_DECODER

decode_option = click.option(
    "--decode", type=click.Choice(DECODERS), default=DEFAULT_DECODER, show_default=True,
    help="viterbi: each sentence's best-scoring valid IOB2 tags; argmax: each word's own best label, which can "
    "leave an I- tag with no B- before it.",
)
