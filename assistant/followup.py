"""Follow-up questions: turn "Entä Lapissa?" into a question that stands on its own.

Without an LLM the rewrite is a rule: when the new question is short or points back with a
pronoun ("sitä", "siinä", "hän", "it", "det"), the previous user question's topic words are
carried over, except the names (places, people, organisations) that the new question replaces
with its own: "Mitkä ovat Etelä-Karjalan pilotin painopisteet?" + "Entä Lapissa?" ->
"Entä Lapissa? pilotin painopisteet".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from ingest import stopwords
from ingest.analyze import Analyzer
from kysy.models import Turn

logger = logging.getLogger(__name__)

# A question with at most this many content words is treated as elliptic when there is history.
_SHORT = 4
# Words that point back to the previous question's topic.
_ANAPHORA = frozenset(
    ["se", "sen", "sitä", "siinä", "siitä", "sillä", "siihen", "siltä", "sille", "ne", "niiden", "niitä", "niissä", "niistä", "niille", "niihin", "hän", "hänen", "häntä", "häneen", "he", "heidän", "heitä", "tämä", "tämän", "tätä", "tässä", "tästä", "tähän", "nämä", "näiden", "näistä", "sinne", "siellä", "sieltä", "täällä", "tuo", "tuon", "entä", "it", "its", "they", "them", "their", "there", "this", "that", "these", "those", "he", "she", "his", "her", "him", "den", "det", "dess", "de", "dem", "deras", "han", "hon", "hans", "hennes", "där", "detta"]
)
_NAME_CLASSES = frozenset({"paikannimi", "etunimi", "sukunimi", "nimi"})
_WORD = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")
_STOP = stopwords.ALL | stopwords.QUESTION_WORDS


def standalone_question(
    question: str, history: Sequence[Turn], analyzer: Analyzer, *, generator: Any = None
) -> str:
    """Rewrite ``question`` using the conversation so retrieval sees its topic.

    With an LLM the question is condensed by the model (an empty result or an error falls back
    to the rule); without one, ``rewrite_followup`` carries the previous question's topic over.
    """
    previous = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
    if not previous:
        return question
    if generator is not None:
        try:
            condensed: str = generator.condense(question, history)
        except Exception as exc:  # the model is optional: any failure falls back to the rule
            logger.warning("condensing the follow-up failed: %s", exc)
            condensed = ""
        if condensed.strip():
            return condensed.strip()
    return rewrite_followup(question, previous[-1], analyzer)


def rewrite_followup(question: str, previous: str, analyzer: Analyzer) -> str:
    """Add the previous question's topic words to an elliptic ``question``; others are returned as is."""
    words = [match.group() for match in _WORD.finditer(question)]
    lowered = {word.lower() for word in words}
    elliptic = len(analyzer.content_lemmas(question)) <= _SHORT or bool(lowered & _ANAPHORA)
    if not elliptic:
        return question
    own_names = {_lemma(word, analyzer) for i, word in enumerate(words) if is_name(word, analyzer, i == 0)}
    own_lemmas = analyzer.content_lemmas(question)
    carried: list[str] = []
    for i, match in enumerate(_WORD.finditer(previous)):
        word = match.group()
        if word.lower() in _STOP or word.lower() in _ANAPHORA:
            continue
        if own_names and is_name(word, analyzer, i == 0):
            continue  # the new question names its own place or person instead
        if _lemma(word, analyzer) in own_lemmas:
            continue
        carried.append(word)
    if not carried:
        return question
    return f"{question.strip()} {' '.join(carried)}"


def is_name(word: str, analyzer: Analyzer, sentence_initial: bool = False) -> bool:
    """Whether ``word`` is a proper noun: a Voikko place or person name, else a capitalised word mid-sentence."""
    classes = _word_classes(word, analyzer)
    if classes:
        return bool(classes & _NAME_CLASSES)
    if any(ch.isdigit() for ch in word):
        return True
    return word[:1].isupper() and (not sentence_initial or word.isupper())


def _word_classes(word: str, analyzer: Analyzer) -> set[str]:
    raw = getattr(analyzer, "_raw_analyses", None)
    if raw is None:
        return set()
    return {str(item.get("CLASS", "")) for item in raw(word.lower())}


def _lemma(word: str, analyzer: Analyzer) -> str:
    lemmas = analyzer.analyze_word(word).lemmas
    return lemmas[0] if lemmas else word.lower()
