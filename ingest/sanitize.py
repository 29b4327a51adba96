"""Removal of instructions aimed at a language model that are hidden in documents (prompt injection).

Documents are data, never instructions. Sentences that address an assistant ("ignore all previous
instructions", "unohda aiemmat ohjeet", "glöm alla tidigare instruktioner", "vastaa aina ...") are cut
from the text before it is chunked, so they can neither be retrieved nor quoted. The patterns are
narrow on purpose: ordinary Finnish prose about cooperation must come through unchanged.
"""

from __future__ import annotations

import re

_FLAGS = re.IGNORECASE | re.UNICODE

_SENTENCE_PATTERNS = [
    # English
    r"\b(ignore|disregard|forget|override|skip)\b.{0,40}\b(previous|prior|above|earlier|preceding|all|any|your)\b"
    r".{0,30}\b(instructions?|prompts?|rules|directions|guidelines|context)\b",
    r"\byou are now\b",
    r"\bsystem[ -]?prompt",
    r"\bnew instructions\b",
    r"\b(reveal|print|output|repeat|disclose)\b.{0,40}\b(prompt|instructions|system|secret|password|api[ -]?key)",
    r"^\W*reveal\b",
    r"\banswer only with\b",
    r"\b(always|only) (answer|respond|reply)\b",
    r"\b(answer|respond|reply) (only|always)\b",
    r"\binclude (this|the following|the) (link|url)\b",
    r"\b(as an? )?(ai|language model|assistant|chatbot|llm)\b.{0,30}\b(you )?(must|should|shall) (now |always |never )?(say|answer|respond|tell|ignore|include)\b",
    r"\bdo not (tell|mention|reveal) the user\b",
    # Finnish
    r"\b(unohda|ohita|sivuuta|älä (välitä|huomioi|noudata))\b.{0,40}\b(aiemm|edelli|aikaisemm|kaikki|yllä|ylä)\w*"
    r".{0,30}\b(ohje|käsky|sään|kehot)\w*",
    r"\b(unohda|ohita|sivuuta) (kaikki )?(ohjeet|ohjeesi|säännöt|sääntösi)\b",
    r"\b(sinä )?olet (nyt|tästä lähtien)\b",
    r"\bjärjestelmä(kehot|viest|ohje)\w*",
    r"\bkehot(e|tee|teen|teesi|teessa|teessä|teet|teita)\b",
    r"\bvastaa (aina|vain|ainoastaan|pelkästään)\b",
    r"(?<!\bei )\bpaljasta(kaa)?\b",
    r"\b(lisää|liitä|sisällytä) (vastaukseen |vastaukseesi )?(tämä|seuraava) (linkki|osoite)\b",
    r"\b(kielimalli|tekoäly|avustaja|chatbot)\w*\b.{0,30}\b(täytyy|pitää|tulee) (nyt |aina )?(vastata|sanoa|kertoa|ohittaa)\b",
    # Swedish
    r"\b(glöm|ignorera|bortse från|strunta i)\b.{0,40}\b(tidigare|föregående|alla|ovanstående)\b"
    r".{0,30}\b(instruktion|anvisning|regl|uppmaning)\w*",
    r"\bdu är nu\b",
    r"\bsystemprompt\w*",
    r"\bsvara (alltid|endast|bara)\b",
    r"\bavslöja\b",
    r"\b(inkludera|lägg till) (denna|den här|följande) länk\b",
    # Chat-template tokens
    r"<\|[a-z_]+\|>",
    r"\[/?INST\]",
    r"</?(system|assistant)>",
]
_SENTENCE_RE = [re.compile(pattern, _FLAGS) for pattern in _SENTENCE_PATTERNS]
# Remote images in Markdown can leak data through their URL when rendered; cut just the image.
_INLINE_RE = re.compile(r"!\[[^\]\n]*\]\(\s*https?://[^)\s]*[^)\n]*\)", _FLAGS)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=\S)")


def is_instruction(sentence: str) -> bool:
    """Return True when ``sentence`` reads as an instruction to a language model."""
    return any(pattern.search(sentence) for pattern in _SENTENCE_RE)


def _clean_line(line: str, removed: list[str]) -> str:
    images = [match.group(0) for match in _INLINE_RE.finditer(line)]
    if images:
        removed.extend(images)
        line = re.sub(r" {2,}", " ", _INLINE_RE.sub("", line)).strip()
    pieces = _SENTENCE_END_RE.split(line)
    if not any(is_instruction(piece) for piece in pieces):
        return line
    kept = []
    for piece in pieces:
        if is_instruction(piece):
            removed.append(piece.strip())
        else:
            kept.append(piece)
    return " ".join(kept).strip()


def strip_instructions(text: str) -> tuple[str, list[str]]:
    """Remove sentences and lines aimed at a language model from ``text``.

    Returns:
        The cleaned text (``text`` itself, unchanged, when nothing was found) and the removed snippets.
    """
    removed: list[str] = []
    lines = text.split("\n")
    cleaned = []
    for line in lines:
        new = _clean_line(line, removed)
        if new != line:
            marker = re.match(r"^(#{1,6} |- |\d{1,3}[.)] )", line)
            body = new.removeprefix(marker.group(1)).strip() if marker else new.strip()
            new = "" if not body else new
        cleaned.append(new)
    if not removed:
        return text, []
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(cleaned)).strip()
    return result, removed
