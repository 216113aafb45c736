"""Built-in validation sentences: real text (written for this project), mixed lengths, cases and scripts.

Validation runs on text like the text users feed in, not on the random ids of optimum's dummy inputs: a graph
that breaks only on long inputs, accents or padded batches must fail here, before anyone ships it.
"""

from __future__ import annotations

VALIDATION_SENTENCES: tuple[str, ...] = (
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
    "The European Union fined Google 2.4 billion euros.",
    "Shares of Siemens AG rose 3 percent in Frankfurt trading.",
    "Lionel Messi scored twice as Barcelona beat Real Madrid 3-1.",
    "The United Nations Security Council will meet in New York next week.",
    "Dr. Maria Schmidt joined the World Health Organization in Geneva.",
    "U.S. President Joe Biden spoke with Japanese Prime Minister Fumio Kishida.",
    "Renault and Nissan said on Friday they would restructure their alliance.",
    "José Mourinho was appointed manager of AS Roma.",
    "Zürich-based UBS completed its takeover of Credit Suisse.",
    "Søren Kierkegaard was born in Copenhagen in 1813.",
    "Das Auswärtige Amt in Berlin bestätigte den Besuch.",
    "Tokyo (東京) hosted the Olympic Games in 2021.",
    "The Amazon river flows through Brazil, Peru and Colombia.",
    "RESULTS OF THE ENGLISH PREMIER LEAGUE ON SATURDAY",
    "reuters reported that microsoft bought github for $7.5 billion.",
    "Nothing happened here.",
    "Yes.",
    (
        "In a statement released late on Wednesday, the Ministry of Finance in Athens said Greece would repay "
        "its loans from the International Monetary Fund ahead of schedule, a move welcomed by the European "
        "Central Bank in Frankfurt and by investors in London, New York and Hong Kong, who had long doubted "
        "that the country could return to the bond markets before the end of the decade."
    ),
    "Mr. O'Neill, the chief executive of AT&T, told CNN that the deal with Time Warner would close soon.",
)
