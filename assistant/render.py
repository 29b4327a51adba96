"""The rendering stage: the chosen items laid out as the answer text, with numbered citations.

Layout only, no choosing: the lead (or the lead's list, in the source's order) comes first, then
the other items per source in document order; list items are shown as ``- item [n]`` under their
heading or lead-in when two or more of them are quoted, and a lone list item right after another list's
lines under its own heading (or as a line of its own), so that it does not read as one of them; a quoted
heading right over the item that follows it in its source is shown as that item's label ("Heading:", no
number); a sentence that goes on from another comes after it. Each source gets one number, its citation
quoting its best item (a heading only when nothing else of it is quoted). A ``partial`` answer opens by
saying which fact the materials do not give.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace

from assistant.messages import lead_line, partial_line, quotes_note
from assistant.select import Chosen
from ingest.language import detect_language
from ingest.store import Snapshot
from kysy.models import Chunk, Citation, ScoredChunk


def render(
    chosen: Sequence[Chosen], retrieved: Sequence[ScoredChunk], snapshot: Snapshot, language: str,
    missing: Sequence[str] = (), *, missing_shown_below: bool = False,
) -> tuple[str, tuple[Citation, ...]]:
    """The answer text and its citations (``missing``: the fact kinds a partial answer lacks;
    ``missing_shown_below``: a quote other than the lead holds one of them)."""
    lead = chosen[0]
    order = list(dict.fromkeys(entry.candidate.rank for entry in chosen))
    lead_key = (lead.candidate.rank, lead.candidate.place.run)

    def position(entry: Chosen) -> tuple[int, bool, int]:
        item = entry.candidate
        return order.index(item.rank), (item.rank, item.place.run) != lead_key, item.stored.sentence.ord

    in_list = lead.candidate.place.run >= 0
    ordered = sorted(chosen if in_list else chosen[1:], key=position)
    if not in_list:
        before = [e for e in ordered if e.reason == "continues" and e.candidate.rank == lead.candidate.rank
                  and e.candidate.stored.sentence.ord == lead.candidate.stored.sentence.ord - 1]
        ordered = [*before, lead, *(e for e in ordered if e not in before)]
    citations: dict[int, Citation] = {}
    lines = [partial_line(language, missing, shown_below=missing_shown_below) if missing else lead_line(language)]
    shown_heading: set[tuple[int, int]] = set()
    quoted_headings = {(e.candidate.rank, e.candidate.text) for e in chosen if e.candidate.stored.sentence.is_heading}
    above: tuple[int, str] | None = None  # the heading the list lines just above are shown under
    shown: dict[int, list[str]] = {}  # each source's quoted items, as shown
    for index, entry in enumerate(ordered):
        item = entry.candidate
        shown.setdefault(item.rank, []).append(item.text)
        citation = citations.get(item.rank)
        if citation is None:
            # its card quotes the source's best item that states something: a heading only when nothing else is quoted
            ranked = [e for e in chosen if e.candidate.rank == item.rank]
            best = next((e for e in ranked if not e.candidate.stored.sentence.is_heading), ranked[0])
            citation = citations[item.rank] = _citation(len(citations) + 1, retrieved[item.rank].chunk, best, snapshot)
        if item.stored.sentence.is_list_item or item.place.run >= 0:
            key = (item.rank, item.place.run)
            heading = _lead_in(entry, chosen)
            own = item.place.heading.rstrip(":").strip()
            if not heading and above is not None and above != (item.rank, own):
                # under the list lines above it would read as one of them (slide 9's "Väestöpohja 127 000" under
                # slide 12's "Painopisteet Lapin pilotissa:"): its own heading, or a line of its own
                if not own:
                    above = None
                    lines.append(f"{item.text} [{citation.n}]")
                    continue
                heading = own
            # two lists of one section follow each other under its heading once ("Tausta:" not twice)
            if (key not in shown_heading and heading and (item.rank, heading) not in quoted_headings
                    and (item.rank, heading) != above):
                lines.append(f"{heading}:")
            shown_heading.add(key)
            above = (item.rank, heading) if heading else above
            lines.append(f"- {item.text} [{citation.n}]")
        else:
            above = None
            after = ordered[index + 1].candidate if index + 1 < len(ordered) else None
            if (item.stored.sentence.is_heading and after is not None and after.rank == item.rank
                    and after.stored.sentence.ord == item.stored.sentence.ord + 1):
                # a heading right over what it opens is its label, not a statement of its own
                label = item.text.rstrip()
                lines.append(label if label.endswith((":", "?", "!", ".")) else f"{label}:")
            else:
                lines.append(f"{item.text} [{citation.n}]")
    note = quotes_note(language, [citation.language for citation in citations.values()])
    return "\n".join(lines + ([note] if note else [])), tuple(replace(citation, quotes=tuple(shown[rank]))
                                                           for rank, citation in citations.items())


def _lead_in(entry: Chosen, chosen: Sequence[Chosen]) -> str:
    """The heading a list is shown under: when two of its items are quoted, or lists of two sections."""
    item = entry.candidate
    members = [e for e in chosen if e.candidate.rank == item.rank and e.candidate.place.run == item.place.run]
    sections = {e.candidate.place.section for e in chosen if e.candidate.rank == item.rank and e.candidate.place.run >= 0}
    if len(members) < 2 and len(sections) < 2:
        return ""
    return item.place.heading.rstrip(":").strip()


def _citation(n: int, chunk: Chunk, entry: Chosen, snapshot: Snapshot) -> Citation:
    info = snapshot.documents.get(chunk.doc_id)
    return Citation(
        n=n,
        chunk_id=chunk.id,
        doc_id=chunk.doc_id,
        file=chunk.file,
        title=chunk.title,
        page=chunk.page,
        quote=entry.candidate.text,
        url=citation_url(info.url if info else None, chunk),
        language=passage_language(chunk.text),
    )


@functools.lru_cache(maxsize=4096)
def passage_language(text: str) -> str:
    """The language of a cited passage ("fi", "sv" or "en"; Finnish when unsure), which its quotes are in."""
    return detect_language(text)


def citation_url(document_url: str | None, chunk: Chunk) -> str:
    """The document's own address, else the served file (with ``#page=N`` for a paged document)."""
    if document_url:
        return document_url
    url = f"/api/documents/{chunk.doc_id}/file"
    return f"{url}#page={chunk.page}" if chunk.page else url
