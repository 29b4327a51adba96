"""Where quotable items sit in a chunk: sections, list runs, and the lines that introduce a list."""

from __future__ import annotations

from assistant.layout import layout
from ingest.chunk import split_sentences
from ingest.store import StoredSentence
from kysy.models import Chunk

TEXT = """# Yhdyspintafoorumit

Järjestämme webinaarisarjan. Se on kaikille avoin.

Syksyn yhdyspintafoorumit:

- Palveluverkko 29.9.
- Ikäihmisten palvelut 27.10.

Lisää aiheesta

- Esitysmateriaali 23.8.

## Yhteystiedot

Liisa Jurmu"""


def _places() -> list[tuple[str, int, str, bool]]:
    chunk = Chunk("c", "d", "f.txt", "T", TEXT, None, "Yhdyspintafoorumit", 0, len(TEXT), "h")
    items = [StoredSentence(s, (), None) for s in split_sentences(chunk)]
    return [(i.sentence.text, p.run, p.heading, p.introduces) for i, p in zip(items, layout(chunk, items), strict=True)]


def test_a_line_ending_in_a_colon_introduces_the_list_after_it() -> None:
    places = {text: (run, heading, introduces) for text, run, heading, introduces in _places()}
    assert places["Syksyn yhdyspintafoorumit:"][2] is True
    first, second = places["Palveluverkko 29.9."], places["Ikäihmisten palvelut 27.10."]
    assert first[0] == second[0] >= 0 and first[1] == "Syksyn yhdyspintafoorumit"


def test_a_short_line_between_two_lists_starts_a_new_list() -> None:
    places = {text: (run, heading, introduces) for text, run, heading, introduces in _places()}
    assert places["Lisää aiheesta"][2] is True
    assert places["Esitysmateriaali 23.8."][0] != places["Palveluverkko 29.9."][0]
    assert places["Esitysmateriaali 23.8."][1] == "Lisää aiheesta"


def test_prose_is_no_list_and_headings_open_sections() -> None:
    places = {text: (run, heading, introduces) for text, run, heading, introduces in _places()}
    assert places["Järjestämme webinaarisarjan."][0] == -1
    assert places["Järjestämme webinaarisarjan."][1] == "Yhdyspintafoorumit"
    assert places["Liisa Jurmu"][1] == "Yhteystiedot"
