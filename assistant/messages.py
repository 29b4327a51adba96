"""User-facing texts of the assistant in Finnish, Swedish and English."""

from __future__ import annotations

from collections.abc import Sequence

_NOT_FOUND = {
    "fi": "Aineistosta ei löydy vastausta tähän kysymykseen.",
    "sv": "Materialet innehåller inget svar på den här frågan.",
    "en": "The materials do not contain an answer to this question.",
}
_SUGGEST = {
    "fi": "Aineisto käsittelee esimerkiksi näitä aiheita:",
    "sv": "Materialet behandlar till exempel dessa ämnen:",
    "en": "The materials do cover, for example, these topics:",
}
_LEAD = {
    "fi": "Aineiston mukaan:",
    "sv": "Enligt materialet:",
    "en": "According to the materials:",
}
# "The materials do not give <the fact>; the closest passages:" by the kind of fact asked.
_PARTIAL = {
    "fi": "Aineistosta ei löydy {what}. Lähimmät kohdat:",
    "sv": "Materialet anger inte {what}. De närmaste ställena:",
    "en": "The materials do not give {what}. The closest passages:",
}
# The same when a passage shown further down does hold such a fact: the lead does not, so the answer stays
# partial, but the opening must not say the materials lack what a quote below mentions.
_PARTIAL_SHOWN = {
    "fi": "Aineistosta ei löydy varmaa vastausta: lähin kohta ei kerro {what}, mutta alempana oleva kohta "
          "mainitsee sellaisen. Lähimmät kohdat:",
    "sv": "Materialet ger inget säkert svar: det närmaste stället anger inte {what}, men ett ställe längre ner "
          "nämner något sådant. De närmaste ställena:",
    "en": "The materials give no certain answer: the closest passage does not give {what}, but a passage further "
          "down mentions one. The closest passages:",
}
_FACTS = {
    "fi": {"count": "kysyttyä lukumäärää", "amount": "kysyttyä summaa", "share": "kysyttyä osuutta",
           "duration": "kysyttyä kestoa", "date": "kysyttyä päivämäärää",
           "day": "kysyttyä päivää", "holder": "kysytyn henkilön nimeä", "time": "kysyttyä kellonaikaa", "year": "kysyttyä vuotta", "person": "kysyttyä henkilöä tai tahoa",
           "contact": "kysyttyjä yhteystietoja", "town": "kysyttyä paikkaa"},
    "sv": {"count": "det efterfrågade antalet", "amount": "den efterfrågade summan", "share": "den efterfrågade andelen",
           "duration": "den efterfrågade tidslängden", "date": "det efterfrågade datumet",
           "day": "den efterfrågade dagen", "holder": "namnet på den efterfrågade personen", "time": "den efterfrågade tiden", "year": "det efterfrågade året", "person": "den efterfrågade personen",
           "contact": "de efterfrågade kontaktuppgifterna", "town": "den efterfrågade platsen"},
    "en": {"count": "the number asked for", "amount": "the amount asked for", "share": "the share asked for",
           "duration": "the duration asked for", "date": "the date asked for",
           "day": "the day asked for", "holder": "the name of the person asked for", "time": "the time asked for", "year": "the year asked for", "person": "the person asked for",
           "contact": "the contact details asked for", "town": "the place asked for"},
}
_AND = {"fi": "eikä", "sv": "eller", "en": "or"}
_QUOTES_NOTE = {
    "fi": "Lainaukset ovat {languages}, kuten lähteissä.",
    "sv": "Citaten är på {languages}, som källorna.",
    "en": "The quotes are in {languages}, as in the sources.",
}
# The sources' languages as each note names them, and the word that joins the last two.
_LANGUAGE_NAMES = {
    "fi": {"fi": "suomeksi", "sv": "ruotsiksi", "en": "englanniksi"},
    "sv": {"fi": "finska", "sv": "svenska", "en": "engelska"},
    "en": {"fi": "Finnish", "sv": "Swedish", "en": "English"},
}
_LANGUAGES_AND = {"fi": "ja", "sv": "och", "en": "and"}
_FALLBACK_NOTE = {
    "fi": "Kielimalli ei ollut käytettävissä, joten vastaus on koottu suoraan lähteistä.",
    "sv": "Språkmodellen var inte tillgänglig, så svaret består av citat ur källorna.",
    "en": "The language model was not available, so the answer quotes the sources directly.",
}
# The reply to a message that asks nothing of the materials (assistant/smalltalk.py).
_HELP = {
    "fi": "Vastaan kysymyksiin tämän palvelun aineistosta ja kerron jokaisen vastauksen lähteen (asiakirjan ja "
          "sivun tai dian). Kysy jotakin, mitä aineisto käsittelee.",
    "sv": "Jag svarar på frågor om materialet i den här tjänsten och anger källan till varje svar (dokument och "
          "sida eller bild). Fråga om något som materialet behandlar.",
    "en": "I answer questions about the materials of this service and give the source of every answer (document "
          "and page or slide). Ask about something the materials cover.",
}
# The reply to "mitä tarkoitat?": the answers are the materials' own words, which their sources show in context.
_CLARIFY = {
    "fi": "Vastaukseni ovat suoria lainauksia aineistosta, joten en selitä niitä omin sanoin. Numeroitu lähde vie "
          "kohtaan, josta lainaus on, ja näyttää sen asiayhteyden. Voit myös kysyä tarkemmin tai pyytää: kerro lisää.",
    "sv": "Mina svar är direkta citat ur materialet, så jag förklarar dem inte med egna ord. Den numrerade källan "
          "leder till stället där citatet står och visar sammanhanget. Du kan också fråga mer precist eller be: "
          "berätta mer.",
    "en": "My answers quote the materials word for word, so I do not explain them in my own words. Each numbered "
          "source opens the place the quote comes from and shows it in context. You can also ask more precisely or "
          "say: tell me more.",
}
_THANKS = {"fi": "Ole hyvä!", "sv": "Varsågod!", "en": "You're welcome!"}
_GREETING = {"fi": "Hei!", "sv": "Hej!", "en": "Hello!"}
_DOCUMENTS = {"fi": "Aineistossa on esimerkiksi:", "sv": "Materialet omfattar till exempel:",
              "en": "The materials include, for example:"}


# The reply to a request to go on ("kerro lisää") when the materials hold nothing past what was quoted already.
_NO_MORE = {
    "fi": "Aineistossa ei ole tästä enempää kuin edellä lainattu.",
    "sv": "Materialet säger inte mer om detta än det som citerades ovan.",
    "en": "The materials say no more about this than what was quoted above.",
}


# A follow-up asking what came later or earlier than the sources quoted (assistant/timeline.py): the line that
# opens its quotes ("latest": from the newest year's documents only), the reply when no document lies on that
# side ("none"), and when some do but none answers ("one" of them, or "many": {count}).
_PERIOD_LEAD = {
    "later": {"fi": "Vuoden {year} jälkeen julkaistujen lähteiden mukaan:", "sv": "Enligt källor publicerade efter {year}:",
              "en": "According to sources published after {year}:"},
    "earlier": {"fi": "Ennen vuotta {year} julkaistujen lähteiden mukaan:", "sv": "Enligt källor publicerade före {year}:",
                "en": "According to sources published before {year}:"},
    "latest": {"fi": "Uusimpien, vuonna {year} julkaistujen lähteiden mukaan:",
               "sv": "Enligt de senaste källorna, publicerade {year}:",
               "en": "According to the most recent sources, published in {year}:"},
}
_PERIOD_NONE = {
    "later": {
        "fi": "Aineistossa ei ole tästä aiheesta vuoden {year} jälkeen julkaistua tietoa. Edellä lainatut lähteet "
              "ovat aineiston uusimpia.",
        "sv": "Materialet innehåller inget om detta som publicerats efter {year}. De källor som citerades ovan är de "
              "senaste i materialet.",
        "en": "The materials have nothing on this published after {year}; the sources quoted above are the most "
              "recent ones.",
    },
    "earlier": {
        "fi": "Aineistossa ei ole tästä aiheesta ennen vuotta {year} julkaistua tietoa. Edellä lainatut lähteet "
              "ovat aineiston vanhimpia.",
        "sv": "Materialet innehåller inget om detta som publicerats före {year}. De källor som citerades ovan är de "
              "äldsta i materialet.",
        "en": "The materials have nothing on this published before {year}; the sources quoted above are the oldest "
              "ones.",
    },
}
_PERIOD_UNCOVERED = {
    ("later", "one"): {"fi": "Vuoden {year} jälkeen julkaistussa lähteessä ei ole tietoa tästä aiheesta.",
                       "sv": "Den enda källa som publicerats efter {year} tar inte upp detta.",
                       "en": "The one source published after {year} does not cover this."},
    ("later", "many"): {"fi": "Vuoden {year} jälkeen julkaistuissa lähteissä ({count}) ei ole tietoa tästä aiheesta.",
                        "sv": "Inga av de {count} källor som publicerats efter {year} tar upp detta.",
                        "en": "None of the {count} sources published after {year} covers this."},
    ("earlier", "one"): {"fi": "Ennen vuotta {year} julkaistussa lähteessä ei ole tietoa tästä aiheesta.",
                         "sv": "Den enda källa som publicerats före {year} tar inte upp detta.",
                         "en": "The one source published before {year} does not cover this."},
    ("earlier", "many"): {"fi": "Ennen vuotta {year} julkaistuissa lähteissä ({count}) ei ole tietoa tästä aiheesta.",
                          "sv": "Inga av de {count} källor som publicerats före {year} tar upp detta.",
                          "en": "None of the {count} sources published before {year} covers this."},
    ("latest", "one"): {"fi": "Uusimmassa, vuonna {year} julkaistussa lähteessä ei ole tietoa tästä aiheesta.",
                        "sv": "Den senaste källan, publicerad {year}, tar inte upp detta.",
                        "en": "The most recent source, published in {year}, does not cover this."},
    ("latest", "many"): {"fi": "Uusimmissa, vuonna {year} julkaistuissa lähteissä ({count}) ei ole tietoa tästä "
                               "aiheesta.",
                         "sv": "Inga av de {count} senaste källorna, publicerade {year}, tar upp detta.",
                         "en": "None of the {count} most recent sources, published in {year}, covers this."},
}


def period_line(language: str, direction: str, year: int, newest: int | None = None) -> str:
    """``lead_line`` of an answer from the documents published after (``direction`` "later") or before
    ("earlier") ``year``, or in the newest year ``newest`` alone."""
    key, shown = _period_key(direction, year, newest)
    return _PERIOD_LEAD[key][_lang(language)].format(year=shown)


def period_refusal(language: str, direction: str, year: int, count: int, newest: int | None = None) -> str:
    """The reply to a follow-up asking what came after (``direction`` "later") or before ("earlier") ``year`` (or
    in the newest year ``newest``), when none of the ``count`` documents there answers it: that the materials
    hold nothing on that side at all, or that those documents do not cover the topic."""
    lang = _lang(language)
    if not count:
        return _PERIOD_NONE[direction][lang].format(year=year)
    key, shown = _period_key(direction, year, newest)
    return _PERIOD_UNCOVERED[key, "one" if count == 1 else "many"][lang].format(year=shown, count=count)


def _period_key(direction: str, year: int, newest: int | None) -> tuple[str, int]:
    """The texts' key of a period and the year they name: "latest" and the newest year, or the direction and
    the year of the edge."""
    return ("latest", newest) if newest is not None else (direction, year)


def no_more_text(language: str) -> str:
    """The reply to "kerro lisää" when every passage on the topic was quoted already."""
    return _NO_MORE[_lang(language)]


def _lang(language: str) -> str:
    return language if language in _NOT_FOUND else "fi"


def not_found_text(language: str, suggestions: Sequence[str] = ()) -> str:
    """The plain 'the materials do not say' answer, with up to three covered topics."""
    lang = _lang(language)
    text = _NOT_FOUND[lang]
    if suggestions:
        text += "\n" + _SUGGEST[lang] + "\n" + "\n".join(f"- {topic}" for topic in suggestions[:3])
    return text


def lead_line(language: str) -> str:
    """The line that introduces quoted sources ("Aineiston mukaan:")."""
    return _LEAD[_lang(language)]


def partial_line(language: str, missing: Sequence[str], *, shown_below: bool = False) -> str:
    """The opening of a partial answer: which asked fact the materials do not give, then the closest quotes
    (``shown_below``: a quote after the first holds such a fact, and the opening says so)."""
    lang = _lang(language)
    facts = [_FACTS[lang][kind] for kind in missing if kind in _FACTS[lang]] or [_FACTS[lang]["count"]]
    what = f" {_AND[lang]} ".join(facts)
    return (_PARTIAL_SHOWN if shown_below else _PARTIAL)[lang].format(what=what)


def quotes_note(language: str, quoted: Sequence[str] = ("fi",)) -> str:
    """A short note that the quotes stay in their sources' languages (``quoted``: each quote's), naming them; empty
    when every quote is in the answer's language ("The quotes are in Finnish, as in the sources.")."""
    lang = _lang(language)
    names = _LANGUAGE_NAMES[lang]
    languages = [code for code in dict.fromkeys(quoted) if code in names]
    if all(code == lang for code in languages):
        return ""
    said = [names[code] for code in languages]
    joined = said[0] if len(said) == 1 else f"{', '.join(said[:-1])} {_LANGUAGES_AND[lang]} {said[-1]}"
    return _QUOTES_NOTE[lang].format(languages=joined)


def fallback_note(language: str) -> str:
    """A note that the language model failed and the answer is extractive."""
    return _FALLBACK_NOTE[_lang(language)]


def smalltalk_text(kind: str, language: str, titles: Sequence[str], limit: int = 3) -> str:
    """The reply to a message of ``kind`` (``smalltalk.smalltalk_kind``): thanks back or a greeting, what the assistant
    answers from, and up to ``limit`` of the documents' ``titles``; to "mitä tarkoitat?" what its answers are."""
    lang = _lang(language)
    if kind == "clarify":
        return _CLARIFY[lang]
    opening = _THANKS[lang] if kind == "thanks" else _GREETING[lang] if kind == "greeting" else ""
    text = f"{opening} {_HELP[lang]}".strip()
    shown = list(dict.fromkeys(title for title in titles if title))[:limit]
    if shown:
        text += "\n" + _DOCUMENTS[lang] + "\n" + "\n".join(f"- {title}" for title in shown)
    return text
