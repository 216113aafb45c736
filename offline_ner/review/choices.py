"""The review rankings a user (or an experiment arm) picks from; names only, so configs read them without numpy."""

from __future__ import annotations

# signals computed from a gold-trained teacher's word probabilities (offline_ner.review.ranking):
#   entity-errors: expected entity errors (false + missed spans) of the LLM's labels, per the teacher's probabilities
#   token-errors: expected word-tag errors, the sum over words of 1 - p(LLM tag)
#   span-disagreement: the number of spans the LLM and the teacher's argmax tags do not share (no probabilities)
#   uncertainty: the teacher's total word entropy (Settles & Craven 2008's "total token entropy"): where the gold
#                data left the teacher unsure, whatever the LLM said; a correction there teaches what the gold
#                phase cannot, where a confident disagreement is an error the gold phase fixes anyway
SIGNALS = ("uncertainty", "entity-errors", "token-errors", "span-disagreement")
# the default is what the student gains most from (EXPERIMENTS.md, issue 31: uncertainty-ranked review of 1,000
# sentences 0.831 test F1 over 3 seeds, random review 0.827, entity-errors 0.826); entity-errors finds the most
# label errors (46% of them in the top 1,000), for auditing labels rather than training on them
DEFAULT_SIGNAL = "uncertainty"
# the control: sentences in a seeded random order (what reviewing without a ranking gives)
RANDOM = "random"
RANKINGS = (*SIGNALS, RANDOM)
# the key under which a review task's data says why it is queued, and a reviewed record's provenance who reviewed it
REVIEW_KEY = "review"
