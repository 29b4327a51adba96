"""What kind of fact a text holds: a count, an amount of money, a share, a duration, a date, a day, a time of
day, a year, a person, a way to contact someone, a place. The evidence stage asks it of every candidate item,
so that an item holding what the question asks for (``assistant/intent.py``) can be told from one that does not.

A count is a cardinal number that is not a date ("27.10."), an ordinal ("1."), a year or a share
("8 %"), in digits or as a word ("kolmen alueen"). A share is a percentage, a fraction ("8/9") or a part
named in words ("kolmannes", "valtaosa"); a duration is a unit of time counted ("kahden vuoden ajan",
"36 tuntia", "pari viikkoa"), a plural one ("kuukausia", "vuosikymmeniä") or a span by its ends
("1950-luvulta lähtien", "2024-2025"). A date is a day, a month, a
season, the turn of the year, a year or a century ("1500-luvulla"); a day is a date that names the day
("27.10.", "27. lokakuuta", "October 27", a weekday), which a month or a season does not. A person is a name
of Voikko's person classes, or any capitalised word inside a sentence: "Kuka rahoittaa hanketta?" is
answered by "Rahoittajina Kuntaliitto, Hyvil ja STM." A role's holder ("Kuka on Hyvilin toimitusjohtaja?")
is a person by name: a word of Voikko's person classes, not an organisation. A place is a name of Voikko's
place class.
"""

from __future__ import annotations

import re

from ingest.analyze import Analyzer

# The digits of a year, 1000-2099.
_YEAR_DIGITS = r"(?:1[0-9]|20)\d\d"
# A cardinal number, not a year, its thousands grouped by a space or (as translated English has it,
# "14,000") a comma. A comma or full stop after it ends a clause ("yhteensä 352, mutta", "... on 260."),
# unless a digit follows (a decimal, a time, a section) or a lower-case word (a Finnish ordinal, "Harvardin
# 21. presidentti").
_CARDINAL = re.compile(rf"(?<![\d.,])(?!{_YEAR_DIGITS}\b)\d+(?:[ \u00a0]\d{{3}}|,\d{{3}}(?![\d,]))*(?:/\d+)?"
                       r"(?![\d]|[.,]\d|\.\s*[a-zåäö]|\s*%|-luvu)")
_MONEY = re.compile(
    r"[€$£¥]|\d\s*(?:e|eur|euroa?|milj\.?|mrd|kr|kronor|sek|usd|rmb)\b|\beuro|\bmiljoona|\bmiljardi|\bbiljoona|dollar"
    r"|\bpun(?:ta|na|ti)|\bfrang|\bjuan|\bjeni|\bmarkka|\bmarkan\b|\bkruunu|\brupi|\bkron(?:or|a)|\bpound|\byuan",
    re.IGNORECASE)
# A share: a percentage, a fraction in digits ("8/9") or a part in words ("kolmannes", "joka kymmenes", "valtaosa",
# "two thirds").
_SHARE = re.compile(
    r"%|\d\s*/\s*\d|prosent|percent|procent|\bpuolet\b|\bjoka (?:toinen|kolmas|neljäs|viides|kymmenes|sadas)\b"
    r"|\b(?:kolman|neljän|viiden|kuuden|seitsemän|kahdeksan|yhdeksän|kymmenen)(?:nes|nekse|neks)\w*"
    r"|\b(?:kolmas|neljäs|viides|kuudes|kymmenes|sadas)osa\w*|\bhalf\b|\bthirds?\b|\bquarters?\b|\bhälften\b"
    r"|\b(?:tredje|fjärde|femte|tionde)del(?:ar)?\b|\bandel|\b(?:valtaosa|enemmistö|vähemmistö|majorit|minorit|flertal)"
    r"|\bsuurim\w* osa",
    re.IGNORECASE)
# A unit of time that a number before it makes a duration ("kahden vuoden ajan", "36 tuntia", "three weeks").
_TIME_UNIT = (r"vuo(?:si|de|tt|te|s)\w*|kuukau\w*|vii(?:kko|koa|kon|koj|koi|koks)\w*|päiv(?:ä|ää|än|ässä|äks\w*|iä|ien)"
              r"|tun(?:ti|tia|nin|nissa|niksi|teja)|minuut\w*|sekun\w*|years?|months?|weeks?|days?|hours?|minutes?"
              r"|seconds?|år|månad\w*|veck\w*|dag(?:ar)?|timm\w*|minut\w*")
_DURATION = re.compile(rf"(?:^|\s)(\S+)\s+(?:{_TIME_UNIT})\b", re.IGNORECASE)
# A duration without a number: a plural of a unit ("kuukausia", "vuosikausia"), decades, centuries.
_LONG = re.compile(r"\b(?:vuosia|vuosikaus|vuosikymmen|kuukausia|kuukausien|viikkoja|päiviä|tunteja|decades?|centur"
                   r"|årtionde)\w*", re.IGNORECASE)
# A span of time given by its ends: "1950-luvulta lähtien", "vuodesta 2023", "2024-2025", "since 1957".
_SPAN = re.compile(r"\b\d{3,4}-luvul(?:ta|le)\b|\b(?:19|20)\d\d\s*[-–]\s*(?:19|20)?\d\d\b|\bvuodesta\b"
                   r"|\b(?:lähtien|alkaen|asti|saakka|since|sedan)\b", re.IGNORECASE)
# Words that count units of time as a numeral does ("pari vuotta", "three weeks", "några år"; Voikko reads
# the Finnish numerals).
_COUNTING = frozenset({
    "pari", "parin", "muutama", "muutaman", "puoli", "puolen", "useita", "usean", "monta", "monen",
    "a", "an", "few", "several", "many", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "twelve", "twenty", "några", "flera", "ett", "en", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio",
    "tjugo"})
_MONTH_WORDS = ("tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka", "marras", "joulu")
_FI_MONTH = rf"(?:{'|'.join(_MONTH_WORDS)})kuu"
_EN_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_SV_MONTHS = r"januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"
_DATE = re.compile(
    rf"\b\d{{1,2}}\.\d{{1,2}}\.(?:\d{{2,4}})?|\b{_FI_MONTH}"
    r"|\b(?:kevää|kevät|kesä|syksy|talve|talvi)\w*|\bvuoden\s?vaihtee\w*|\bvuodenvaihtee\w*"
    rf"|\b(?:{_EN_MONTHS})\b",
    re.IGNORECASE,
)
_MONTHS = rf"{_FI_MONTH}\w*|{_SV_MONTHS}|{_EN_MONTHS}"
_DAY = re.compile(
    r"\b\d{1,2}\.\d{1,2}\.(?:\d{2,4})?|\b\d{4}-\d{2}-\d{2}\b"
    rf"|\b\d{{1,2}}(?:\.|st|nd|rd|th)?\s*(?:of\s+)?(?:{_MONTHS})|\b(?:{_MONTHS})\s+\d{{1,2}}\b"
    r"|\b(?:maanantai|tiistai|keskiviikko|torstai|perjantai|lauantai|sunnuntai|måndag|tisdag|onsdag|torsdag|fredag"
    r"|lördag|söndag|monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
    re.IGNORECASE,
)
_TIME = re.compile(r"\bklo\b|\bkello\b|\b\d{1,2}[:.]\d{2}\b(?![.\d])|\b\d{1,2}\s*(?:am|pm)\b", re.IGNORECASE)
_YEAR_NUMBER = rf"\b{_YEAR_DIGITS}\b"
_YEAR = re.compile(rf"{_YEAR_NUMBER}|\b\d{{3,4}}-luvu|\b\d{{1,2}}\.\s*vuosisa", re.IGNORECASE)
# A phone number ("p. 358 50 5899 187", "+358 9 771 2000", "050 123 4567") is a contact, not a count.
_PHONE = re.compile(r"(?:\+358|\bp\.\s*\+?)[\d ]{6,}\d|\b0\d{1,2}[ -]\d{3,4}[ -]?\d{3,4}\b")
_CONTACT = re.compile(r"@|\bp\.\s*\+?\d|\+358|\b\d{2,3}[ -]?\d{3,4}[ -]?\d{3,4}\b")
# A capitalised word that does not open a sentence (nor follow a list dash or a colon).
_INNER_CAPITAL = re.compile(r"(?<![.!?:\n-]\s)(?<!^)(?<=\s)[A-ZÅÄÖ][\w-]+")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PERSON_CLASSES = frozenset({"etunimi", "sukunimi"})
_PLACE_CLASSES = frozenset({"paikannimi"})

KINDS = ("count", "amount", "share", "duration", "date", "day", "time", "year", "person", "holder", "contact", "place", "town")


def holds(kind: str, text: str, analyzer: Analyzer | None = None, given: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` holds a fact of ``kind`` (one of ``KINDS``; other kinds are never held).

    A number, a person or a place among ``given`` (what the question itself states: ``Intent.given``)
    does not count: "Kuinka monta kuntaa on 12 kunnan alueella?" is not answered by the 12.
    """
    if kind == "count":
        return any(re.sub(r"\D", "", match.group()) not in given
                   for match in _CARDINAL.finditer(_PHONE.sub(" ", _DATE.sub(" ", text)))) or _has_numeral(
            text, analyzer, given)
    if kind == "amount":
        return bool(_MONEY.search(text))
    if kind == "share":
        return bool(_SHARE.search(text))
    if kind == "duration":
        return (bool(_LONG.search(text)) or (bool(_SPAN.search(text)) and holds("date", text))
                or any(_counts(match.group(1), analyzer, given) for match in _DURATION.finditer(text)))
    if kind == "date":  # "milloin" is answered by a year or a century as well
        return bool(_DATE.search(text) or _YEAR.search(text))
    if kind == "day":  # one the question states does not count: "Mitä 15.12. käsiteltiin?"
        return any(_new_numbers(match.group(), given) for match in _DAY.finditer(text))
    if kind == "time":
        return bool(_TIME.search(_DATE.sub(" ", text)))
    if kind == "year":
        return bool(_YEAR.search(text))
    if kind == "contact":
        return bool(_CONTACT.search(text))
    if kind in ("person", "holder", "place", "town"):
        return _holds_name(kind, text, analyzer, given)
    return False


def held_kinds(text: str, analyzer: Analyzer | None = None) -> frozenset[str]:
    """Every kind of ``KINDS`` that ``text`` holds."""
    return frozenset(kind for kind in KINDS if holds(kind, text, analyzer))


def _new_numbers(text: str, given: frozenset[str]) -> bool:
    """Whether ``text`` states a number the question does not (or no number at all: a weekday)."""
    numbers = set(re.findall(r"\d+", text))
    return not numbers or not numbers <= given


def _counts(word: str, analyzer: Analyzer | None, given: frozenset[str]) -> bool:
    """Whether ``word``, before a unit of time, counts it: a number (not a year) or a numeral the question does
    not state ("kahden", "36", "pari")."""
    word = word.strip("(,;:").lower()
    if re.fullmatch(r"\d+(?:[.,]\d+)?", word):
        return not re.fullmatch(_YEAR_NUMBER, word) and word not in given
    return word in _COUNTING or _has_numeral(word, analyzer, given)


def _has_numeral(text: str, analyzer: Analyzer | None, given: frozenset[str]) -> bool:
    """A cardinal written as a word ("kolmen hyvinvointialueen"): Voikko's numeral class, not an
    ordinal ("ensimmäinen", "kolmas"), not "yksi" (mostly "one of"), not one the question states."""
    if analyzer is None:
        return False
    for match in _WORD.finditer(text.lower()):
        analysis = analyzer.analyze_word(match.group())
        if "lukusana" in analysis.classes and analysis.lemmas:
            lemma = analysis.lemmas[0]
            # "yhdessä" (together) reads as "yksi" too: no reading of "yksi" counts
            if "yksi" not in analysis.lemmas and not lemma.endswith(("s", "inen")) and lemma not in given:
                return True
    return False


def _new(word: str, analyzer: Analyzer | None, given: frozenset[str]) -> bool:
    """Whether a name is not one the question states (compared as written and by base form)."""
    if not given:
        return True
    lower = word.lower()
    if lower in given or any(part in given for part in lower.split("-")):
        return False
    return analyzer is None or not set(analyzer.analyze_word(lower).lemmas) & given


def _holds_name(kind: str, text: str, analyzer: Analyzer | None, given: frozenset[str]) -> bool:
    """A person (any capitalised word inside a sentence, or a name of Voikko's person classes), a role's
    holder (a name of the person classes: "Liisa Jurmu", not "Kuntaliiton" or "Hyvil"), a place or a town
    (a name of the place class). Without Voikko's classes a holder or a town is any capitalised word inside
    a sentence, and a place none."""
    if kind == "person":
        return _has_inner_capital(text, analyzer, given) or _has_name(text, _PERSON_CLASSES, analyzer, given)
    if kind in ("holder", "town") and (analyzer is None or analyzer.name != "voikko"):
        return _has_inner_capital(text, analyzer, given)
    return _has_name(text, _PERSON_CLASSES if kind == "holder" else _PLACE_CLASSES, analyzer, given)


def _has_inner_capital(text: str, analyzer: Analyzer | None, given: frozenset[str]) -> bool:
    return any(_new(match.group(), analyzer, given) for match in _INNER_CAPITAL.finditer(text))


# The seasons and months a question or a text names, each by one key whatever its language or form (Swedish
# seasons in the definite form, its genitive "höstens", and "i höstas" only: "vår" is also "our").
_SEASONS = (("spring", r"kevä\w*|spring|vårens?|våras"), ("summer", r"kesä(?!kuu)\w*|summer|sommarens?|somras"),
            ("autumn", r"syksy\w*|autumn|höstens?|höstas"), ("winter", r"talv\w*|winter|vinterns?|vintras"))
_PERIOD = re.compile("|".join(
    [rf"(?P<{key}>\b(?:{words})\b)" for key, words in _SEASONS]
    + [rf"(?P<m{n}>\b(?:{fi}kuu\w*|{en}|{sv})\b)" for n, (fi, en, sv) in enumerate(zip(
        _MONTH_WORDS, _EN_MONTHS.split("|"), _SV_MONTHS.split("|"), strict=True), start=1)]
    + [rf"(?P<year>{_YEAR_NUMBER})"]), re.IGNORECASE)


def periods(text: str) -> frozenset[str]:
    """The years ("2025"), seasons ("spring": "keväällä", "in spring", "våren") and months ("m10": "lokakuussa",
    "October", "oktober") that ``text`` names."""
    found = set()
    for match in _PERIOD.finditer(text):
        key = match.lastgroup or ""
        if match.group() == "may":  # the English verb, not the month
            continue
        found.add(match.group() if key == "year" else key)
    return frozenset(found)


def is_place_name(word: str, analyzer: Analyzer | None) -> bool:
    """Whether ``word`` (a lemma) is a name of Voikko's place class ("pirkanmaa"); never without Voikko."""
    return analyzer is not None and bool(set(analyzer.analyze_word(word.lower()).classes) & _PLACE_CLASSES)


def is_only_place_name(word: str, analyzer: Analyzer, min_letters: int = 3) -> bool:
    """Whether every reading of ``word`` is a place name of at least ``min_letters`` letters ("lapin",
    "oulussa"; not "lahden", also a bay, nor the "iin" of "Gbit/s:iin"); never without Voikko's classes."""
    analysis = analyzer.analyze_word(word.lower())
    return set(analysis.classes) == _PLACE_CLASSES and all(len(lemma) >= min_letters for lemma in analysis.lemmas)


def _has_name(text: str, classes: frozenset[str], analyzer: Analyzer | None, given: frozenset[str]) -> bool:
    if analyzer is None:
        return False
    for match in _WORD.finditer(text):
        word = match.group()
        if word[:1].isupper() and set(analyzer.analyze_word(word.lower()).classes) & classes and _new(
                word, analyzer, given):
            return True
    return False
