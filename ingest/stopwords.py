"""Stopwords: function words that carry no topic, in Finnish, Swedish and English.

The Finnish list holds base forms (checked against Voikko's lemmas) and the common inflected
forms of pronouns and auxiliaries (checked against raw tokens, where no lemmatiser runs).
Content words such as "kunta" or "alue" are never stopwords.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FINNISH: frozenset[str] = _words(
    """
    olla ei en et emme ette eivät ja tai sekä mutta vaan että jotta koska kun kuin jos vaikka
    kunnes sillä joten eli siis myös vielä jo nyt sitten niin näin noin vain ainoastaan aina
    se ne tämä nämä tuo nuo joka jotka mikä mitkä kuka ketkä ken kumpi jokin joku jotain jotakin
    mitään kukaan mikään muu muut itse oma minä sinä hän me te he mä sä
    on ovat oli olivat ollut olleet olisi olisivat olla olen olet olemme olette ole ollaan oltu
    oltiin olevan oleva olevat olemassa
    sen sitä siinä siitä siihen sillä siltä sille sinä niiden niitä niissä niistä niihin niillä
    niiltä niille näiden näitä tämän tätä tässä tästä tähän tällä tältä tälle tuon tuota
    jonka jota jossa josta johon jolla jolta jolle joiden joita joissa joista joihin joilla
    joiden joilta joille jotka minkä mitä missä mistä mihin millä miltä mille minä miksi
    mistä kenen ketä kenellä kenelle keneltä keitä
    minun sinun hänen meidän teidän heidän minua sinua häntä meitä teitä heitä
    hänellä hänelle häneltä heillä heille heiltä meillä meille teillä teille
    voida voi voivat voisi voidaan täytyä
    miten kuinka milloin miksi missä entä
    kanssa mukaan myötä sekä ilman yli alle kautta luona takia vuoksi välillä välissä jälkeen
    ennen aikana asti saakka kohti
    hyvin paljon vähän enemmän eniten kaikki kaikkia kaikkien kaikki jokainen jokaisen
    mm ns esim eli yms jne tms
    kyllä ehkä jopa ainakin lisäksi edelleen kuitenkin siksi sitä
    """
)

SWEDISH: frozenset[str] = _words(
    """
    och i att det som en ett på är av för med till den de om har inte vi var så men
    ska kan från hur vad vem vilka vilken vilket när där här eller också bara nu sig sin sina
    sitt dem deras vara blir blev är varit hade ha han hon hen vi ni jag du man mellan
    efter under över vid inom utan än mot genom alla andra samma detta dessa denna
    """
)

ENGLISH: frozenset[str] = _words(
    """
    a an the and or but if of in on at to for from by with about into over under between
    is are was were be been being am do does did have has had not no it its this that these
    those there here as so than then too very can could should would will shall may might
    must i you he she we they me him her us them my your his our their what which who whom
    whose when where why how also just only all any both each other some such
    """
)

QUESTION_WORDS: frozenset[str] = _words(
    """
    mikä mitkä mitä minkä missä mistä mihin millä miltä mille miksi miten kuinka kuka ketkä
    ken kenen ketä keitä kumpi milloin montako mones paljonko entä
    what which who whom whose how why when where
    vad vilken vilket vilka vem vems hur varför när var vart
    """
)

ALL: frozenset[str] = FINNISH | SWEDISH | ENGLISH
