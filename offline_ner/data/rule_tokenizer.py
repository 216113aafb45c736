"""spaCy's rule-based tokenizer, run in plain Python over the rule tables read from a spaCy tokenizer once.

Why: importing spaCy and building its English tokenizer costs 0.6-0.9 s in every process that tokenises text
(``offline-ner predict`` over CoNLL test at one thread spends 7 s inferring; BENCHMARKS.md), while the tokenizer
itself is only data (four regular expressions and a table of special cases) and one short algorithm. The tables
are read from the real spaCy tokenizer (:meth:`RuleTables.from_spacy`) and can be saved as JSON; this module
runs spaCy's algorithm over them with nothing but :mod:`re`, so a process that has the tables never imports spaCy.

The algorithm is spaCy 3's ``Tokenizer.__call__`` (``spacy/tokenizer.pyx``), step for step:

1. split the text into runs of whitespace and non-whitespace; a single space after a token is that token's
   trailing space, any other whitespace run is a token of its own;
2. a run that is a special case becomes its tokens; otherwise prefixes and suffixes are stripped in turn
   (``_split_affixes``: stop at a special case or a ``token_match``; a prefix and a suffix that overlap strip
   only the prefix), and what remains is one token if it is a special case, a ``token_match`` or a URL, else it
   is cut at its infixes (``_attach_tokens``);
3. special cases that contain an affix or a space are also looked for across the tokens of step 2 (spaCy's
   special-case PhraseMatcher pass, ``_apply_special_cases``): longest match first, then leftmost; a match is
   kept when neither its first nor its last token is in a match seen before it; a kept match whose text is
   exactly the special case becomes its tokens.

spaCy memoises step 2 per run; so does this module (:data:`MAX_MEMO` runs). ``tests/data/test_rule_tokenizer.py``
checks the tokens against spaCy's own tokenizer (CoNLL-2003, the probe text and random text), and the
fingerprint recorded in every export (``offline_ner.data.text``) refuses a model whose tokens would differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Pattern = tuple[str, int]  # a regular expression and its flags, as ``re.compile(pattern, flags)`` takes them
SpacyToken = tuple[str, int]  # (text, start): a token of the tokenized string, whitespace tokens included

MAX_MEMO = 100_000  # whitespace-delimited runs whose tokens are remembered (spaCy's cache keeps 10,000)
RUNS = re.compile(r"\s+|\S+")  # \s is str.isspace(), the test spaCy splits runs with


@dataclass(frozen=True)
class RuleTables:
    """What a spaCy tokenizer is made of: its regular expressions and special cases (token texts only)."""

    spacy: str  # the spaCy version the tables were read from
    prefix: Pattern | None
    suffix: Pattern | None
    infix: Pattern | None
    url: Pattern | None
    token_match: Pattern | None
    specials: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_spacy(cls, tokenizer: Any, version: str) -> RuleTables:
        """The tables of a built ``spacy.tokenizer.Tokenizer`` whose callables are compiled regexes' methods.

        Raises:
            TypeError: a callable is not a compiled regular expression's method (a custom function: its rules
                cannot be read, so this module cannot run them).
        """
        from spacy.symbols import ORTH

        def pattern(function: Callable[..., Any] | None, name: str) -> Pattern | None:
            if function is None:
                return None
            regex = getattr(function, "__self__", None)
            if not isinstance(regex, re.Pattern):
                raise TypeError(f"the tokenizer's {name} is not a compiled regular expression's method: {function!r}")
            return regex.pattern, regex.flags

        return cls(
            spacy=version,
            prefix=pattern(tokenizer.prefix_search, "prefix_search"),
            suffix=pattern(tokenizer.suffix_search, "suffix_search"),
            infix=pattern(tokenizer.infix_finditer, "infix_finditer"),
            url=pattern(tokenizer.url_match, "url_match"),
            token_match=pattern(tokenizer.token_match, "token_match"),
            specials={text: tuple(token[ORTH] for token in tokens) for text, tokens in tokenizer.rules.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "spacy": self.spacy,
            **{name: list(value) if value else None for name, value in self._patterns().items()},
            "specials": {text: list(tokens) for text, tokens in sorted(self.specials.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleTables:
        """Tables from :meth:`to_json`'s output. Raises KeyError, TypeError or ValueError on any other shape."""

        def pattern(value: Any) -> Pattern | None:
            if value is None:
                return None
            text, flags = value
            if not isinstance(text, str) or not isinstance(flags, int):
                raise TypeError(f"not a (pattern, flags) pair: {value!r}")
            return text, flags

        specials = data["specials"]
        if not isinstance(specials, dict) or not all(
            isinstance(tokens, list) and all(isinstance(token, str) for token in tokens) for tokens in specials.values()
        ):
            raise TypeError("'specials' must map each text to a list of token texts")
        return cls(
            spacy=str(data["spacy"]),
            prefix=pattern(data["prefix"]),
            suffix=pattern(data["suffix"]),
            infix=pattern(data["infix"]),
            url=pattern(data["url"]),
            token_match=pattern(data["token_match"]),
            specials={text: tuple(tokens) for text, tokens in specials.items()},
        )

    def _patterns(self) -> dict[str, Pattern | None]:
        return {"prefix": self.prefix, "suffix": self.suffix, "infix": self.infix, "url": self.url,
                "token_match": self.token_match}


def _compiled(pattern: Pattern | None) -> re.Pattern[str] | None:
    return re.compile(pattern[0], pattern[1]) if pattern else None


class RuleTokenizer:
    """Tokens of a string as spaCy's tokenizer with these tables gives them: ``tokenizer(text)`` is the
    ``(token.text, token.idx)`` of every token of ``spacy_tokenizer(text)``, whitespace tokens included."""

    def __init__(self, tables: RuleTables) -> None:
        self.tables = tables
        self._prefix = _compiled(tables.prefix)
        self._suffix = _compiled(tables.suffix)
        self._infix = _compiled(tables.infix)
        self._url = _compiled(tables.url)
        self._token_match = _compiled(tables.token_match)
        self._specials = dict(tables.specials)
        self._memo: dict[str, tuple[str, ...]] = {}
        # step 3's patterns: a special case with an affix or a space, as step 2 tokenises it without special cases
        # (spaCy adds these to its PhraseMatcher); keyed by first token, as the matcher only starts there
        self._phrases: dict[str, set[tuple[str, ...]]] = {}
        for text in self._specials:
            if self._prefix_length(text) or self._suffix_length(text) or self._infixes(text) or " " in text:
                tokens = tuple(token for token, _ in self._tokenize(text, with_specials=False))
                self._phrases.setdefault(tokens[0], set()).add(tokens)

    def __call__(self, text: str) -> list[SpacyToken]:
        tokens = self._tokenize(text, with_specials=True)
        return self._apply_special_phrases(text, tokens) if self._phrases else tokens

    # -- step 1 and 2 -----------------------------------------------------------------------------------------

    def _tokenize(self, text: str, with_specials: bool) -> list[SpacyToken]:
        out: list[SpacyToken] = []
        for run in RUNS.finditer(text):
            start, end = run.span()
            if start and text[start] == " ":  # after a token: that token's trailing space, not a token
                start += 1
                if start == end:
                    continue
            for token in self._run(text[start:end], with_specials):
                out.append((token, start))
                start += len(token)
        return out

    def _run(self, run: str, with_specials: bool) -> tuple[str, ...]:
        if with_specials:
            tokens = self._memo.get(run) or self._specials.get(run)
            if tokens is not None:
                return tokens
        prefixes: list[str] = []
        suffixes: list[str] = []
        core = self._split_affixes(run, prefixes, suffixes, with_specials)
        tokens = (*prefixes, *self._attach(core, with_specials), *reversed(suffixes))
        if with_specials:
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[run] = tokens
        return tokens

    def _split_affixes(self, string: str, prefixes: list[str], suffixes: list[str], with_specials: bool) -> str:
        specials = self._specials if with_specials else {}
        last_size = 0
        prefix = suffix = minus_pre = minus_suf = ""
        while string and len(string) != last_size:
            if self._token_match and self._token_match.match(string):
                break
            if string in specials:
                break
            last_size = len(string)
            pre_len = self._prefix_length(string)
            if pre_len:
                prefix, minus_pre = string[:pre_len], string[pre_len:]
                if minus_pre and minus_pre in specials:
                    prefixes.append(prefix)
                    return minus_pre
            suf_len = self._suffix_length(string[pre_len:])
            if suf_len:
                suffix, minus_suf = string[-suf_len:], string[:-suf_len]
                if minus_suf and minus_suf in specials:
                    suffixes.append(suffix)
                    return minus_suf
            if pre_len and suf_len and pre_len + suf_len <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        return string

    def _attach(self, string: str, with_specials: bool) -> tuple[str, ...]:
        if not string:
            return ()
        if with_specials:
            tokens = self._specials.get(string) or self._memo.get(string)
            if tokens is not None:
                return tokens
        if (self._token_match and self._token_match.match(string)) or (self._url and self._url.match(string)):
            return (string,)
        out: list[str] = []
        start = 0
        for match in self._infixes(string):
            infix_start, infix_end = match.span()
            if infix_start == 0:  # an infix at the very start splits nothing off
                continue
            if infix_start != start:
                out.append(string[start:infix_start])
            if infix_start != infix_end:
                out.append(string[infix_start:infix_end])
            start = infix_end
        if string[start:]:
            out.append(string[start:])
        return tuple(out)

    def _prefix_length(self, string: str) -> int:
        match = self._prefix.search(string) if self._prefix else None
        return match.end() - match.start() if match else 0

    def _suffix_length(self, string: str) -> int:
        match = self._suffix.search(string) if self._suffix else None
        return match.end() - match.start() if match else 0

    def _infixes(self, string: str) -> list[re.Match[str]]:
        return list(self._infix.finditer(string)) if self._infix else []

    # -- step 3 -----------------------------------------------------------------------------------------------

    def _apply_special_phrases(self, text: str, tokens: list[SpacyToken]) -> list[SpacyToken]:
        matches = list(self._phrase_matches(tokens))
        if not matches:
            return tokens
        matches.sort(key=lambda span: (span[0] - span[1], span[0]))  # longest first, then leftmost
        seen: set[int] = set()
        kept: dict[int, int] = {}
        for start, end in matches:
            if start not in seen and end - 1 not in seen:
                kept[start] = end
            seen.update(range(start, end))
        out: list[SpacyToken] = []
        i = 0
        while i < len(tokens):
            stop = kept.get(i)
            if stop is None:
                out.append(tokens[i])
                i += 1
                continue
            first = tokens[i][1]
            last_token, last_start = tokens[stop - 1]
            special = self._specials.get(text[first : last_start + len(last_token)])
            if special is None:
                out.extend(tokens[i:stop])
            else:
                for token in special:
                    out.append((token, first))
                    first += len(token)
            i = stop
        return out

    def _phrase_matches(self, tokens: list[SpacyToken]) -> Iterator[tuple[int, int]]:
        texts = [token for token, _ in tokens]
        for i, token in enumerate(texts):
            for phrase in self._phrases.get(token, ()):
                end = i + len(phrase)
                if tuple(texts[i:end]) == phrase:
                    yield i, end
