"""Hybrid retrieval: fusion of dense and keyword hits, and search over the bundled corpus."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieve import check_top_k, fuse
from assistant.service import Assistant
from kysy.models import Chunk, ScoredChunk
from kysy.settings import Settings

PDF = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"


def _chunk(name: str) -> Chunk:
    return Chunk(name, "doc", "f.txt", "T", f"text {name}", None, "", 0, 1, name)


def _dense(*names: str) -> list[ScoredChunk]:
    return [
        ScoredChunk(_chunk(n), 0.9 - 0.05 * i, i + 1, "dense", (("dense", 0.9 - 0.05 * i),))
        for i, n in enumerate(names)
    ]


def _keyword(*hits: tuple[str, float, int]) -> list[ScoredChunk]:
    return [
        ScoredChunk(_chunk(n), score, i + 1, "keyword", (("keyword", score), ("matched", float(matched))))
        for i, (n, score, matched) in enumerate(hits)
    ]


@pytest.mark.parametrize("fusion", ["score", "rrf"])
def test_agreement_of_both_retrievers_wins(fusion: str) -> None:
    settings = Settings(fusion=fusion)
    fused = fuse(_dense("a", "b", "c"), _keyword(("b", 9.0, 3), ("a", 2.0, 2)), query_terms=3, settings=settings)
    assert [h.chunk.id for h in fused][:2] == ["b", "a"]
    assert fused[0].retriever == "dense+keyword" and dict(fused[0].scores)["keyword"] == 9.0
    assert [h.rank for h in fused] == list(range(1, len(fused) + 1))


@pytest.mark.parametrize("fusion", ["score", "rrf"])
def test_keyword_hits_without_real_matches_do_not_push_dense_hits_down(fusion: str) -> None:
    settings = Settings(fusion=fusion)
    dense = _dense("good", "second", *(f"other-{i}" for i in range(8)))
    # An English question over Finnish text: the keyword side matches one of six terms, weakly.
    noise = _keyword(("noise-1", 1.1, 1), ("noise-2", 1.0, 1))
    fused = fuse(dense, noise, query_terms=6, settings=settings)
    assert [h.chunk.id for h in fused][:2] == ["good", "second"]


def test_keyword_hits_matching_far_less_than_the_best_are_dropped() -> None:
    fused = fuse([], _keyword(("full", 5.0, 4), ("partial", 4.0, 1)), query_terms=4, settings=Settings())
    assert [h.chunk.id for h in fused] == ["full"]


def test_top_k_is_checked_where_it_enters() -> None:
    assert check_top_k(5) == 5
    with pytest.raises(ValueError, match="top_k must be 1..50, got 500"):
        check_top_k(500)


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


def test_hybrid_finds_the_slide_that_holds_the_answer(assistant: Assistant) -> None:
    [best, *_] = assistant.retriever.search("Mikä on Etelä-Karjalan väestöpohja?", 3)
    assert (best.chunk.file, best.chunk.page) == (PDF, 9)
    assert "dense" in best.retriever and "keyword" in best.retriever


def test_an_english_question_still_finds_the_finnish_slide(assistant: Assistant) -> None:
    hits = assistant.retriever.search("What is the population base of South Karelia?", 3)
    assert (PDF, 9) in {(h.chunk.file, h.chunk.page) for h in hits}


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_every_retriever_returns_scored_ranked_chunks(assistant: Assistant, mode: str) -> None:
    hits = assistant.retriever.search("hyvinvoinnin ja terveyden edistäminen", 4, mode=mode)
    assert 1 <= len(hits) <= 4
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(mode in h.retriever for h in hits) if mode != "hybrid" else all(h.retriever for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_an_unknown_retriever_is_a_clear_error(assistant: Assistant) -> None:
    with pytest.raises(ValueError, match="unknown retriever 'sparse'"):
        assistant.retriever.search("kunta", 3, mode="sparse")


def test_idf_rewards_rare_terms(assistant: Assistant) -> None:
    snapshot = assistant.snapshot
    assert snapshot.keyword.idf("väestöpohja") > snapshot.keyword.idf("kunta")
    assert snapshot.keyword.idf("sanaa-ei-ole") >= snapshot.keyword.idf("väestöpohja")


def test_a_misspelt_word_is_corrected_to_a_word_the_index_holds(corpus_index: Settings) -> None:
    assistant = Assistant(corpus_index)
    query = assistant.retriever.prepare("aluepilottien rahottajat")
    assert "rahoittaja" in query.terms and "rahoittaja" in query.lemmas  # Voikko's first guess is "rehottaja"


def test_a_misspelt_name_reads_as_the_name_the_index_holds(corpus_index: Settings) -> None:
    assistant = Assistant(corpus_index)
    query = assistant.retriever.prepare("Montako kuntaa Etelä-Kajralassa on?")
    assert "etelä-karjala" in query.names and "etelä-kajralassa" not in query.lemmas | query.names
    right = assistant.ask("Montako kuntaa Etelä-Karjalassa on?")
    wrong = assistant.ask("Montako kuntaa Etelä-Kajralassa on?")
    assert wrong.status == right.status == "answered"
    assert (wrong.citations[0].file, wrong.citations[0].page) == (right.citations[0].file, right.citations[0].page)
    unknown = assistant.retriever.prepare("Montako kuntaa Kajaanissa on?")  # a name Voikko knows is kept
    assert "kajaani" in unknown.names


def test_typos_in_loanwords_compounds_and_hyphenated_words_are_read_as_the_sources_write(
    corpus_index: Settings,
) -> None:
    assistant = Assistant(corpus_index)
    prepare = assistant.retriever.prepare
    # an f is no sign of a foreign name in a lower-case word
    assert "yhdyspintafoorumi" in prepare("Millainen tapahtumasarja yhdyspintfaoorumit ovat?").lemmas
    # the sources never write "teemakokonaisuus" whole, but they do write "teema" and "kokonaisuus"
    assert "teemakokonaisuus" in prepare("Mitkä teemakokoanisuudet hanke on asettanut etusijalle?").lemmas
    # a hyphenated word by its misspelt last part ("kerroin", not Voikko's first reading "kertoa")
    assert prepare("hyte-kreroin").lemmas == {"hyte-kerroin"}
    # a hyphenated word whose parts are words is no typo ("TE" is not "E")
    assert "te-uudistus" in prepare("Miten TE-uudistus liittyy yhdyspintoihin?").lemmas


def test_a_typo_reads_as_the_word_the_sources_write_whole_before_one_they_only_write_in_parts(
    corpus_index: Settings,
) -> None:
    prepare = Assistant(corpus_index).retriever.prepare
    # Voikko's first suggestion "yhdyspito" is made of words the sources use; "yhdyspinta" they write whole
    assert "yhdyspinta" in prepare("Mitä Kuntaliitto suosittaa yhdyspnitojen kehittämiseen?").lemmas
    # compounds the sources never write whole, by the parts that begin and end them ("maa" is too short to
    # count, "maakunta" is not)
    assert "maakuntaliitto" in prepare("Mikä rooli maakuntailitoilla on yhteistyössä?").lemmas
    assert "työllisyyspalvelu" in prepare("Miten työllisyysaplvelujen uudistus näkyy?").lemmas
    # a hyphenated word whose whole the sources never write, by its last part, one slip from what was typed
    assert prepare("milloin hyte-yksely tehtiin").lemmas == {"hyte-kysely", "tehdä"}
    assert "hyte-koordinaattori" in prepare("miksi hyte-koordniaattorit ovat tärkeitä?").lemmas


def test_a_hyphenated_word_voikko_does_not_know_reads_as_its_last_pieces_lemma(corpus_index: Settings) -> None:
    assistant = Assistant(corpus_index)
    prepare = assistant.retriever.prepare
    for question, lemma, file in [
        # the sources say "Hyte-kerroin" and "hyte-koordinaattorien"; Voikko knows neither word whole
        ("Mikä on hyte-kertoimen merkitys?", "hyte-kerroin", "kuntien-ja-hyvinvointialueiden-yhteistyo-ja-yhdyspinnat.txt"),
        ("Onko kunnissa hyte-koordinaattoreita?", "hyte-koordinaattori",
         "2023-suositukset-strategiseen-johtamiseen-paivitetty.txt"),
    ]:
        assert lemma in prepare(question).lemmas
        answer = assistant.ask(question)
        assert answer.status == "answered" and answer.citations[0].file == file
    # its misspelling reads the same
    assert prepare("Onko kunnissa hyte-koordianattoreita?").lemmas == prepare("Onko kunnissa hyte-koordinaattoreita?").lemmas
    # a last piece as written is kept: "kerroin" is not Voikko's first reading "kerto"
    assert prepare("hyte-kerroin").lemmas == {"hyte-kerroin"}


def test_a_misspelt_question_is_embedded_as_it_was_meant_to_be_written(corpus_index: Settings) -> None:
    assistant = Assistant(corpus_index)
    for typo, meant in [
        ("Miksi kuntien ja hyvinvoinitalueiden yhteiset asukkaat tekevät yhteistyötä?",
         "Miksi kuntien ja hyvinvointialueiden yhteiset asukkaat tekevät yhteistyötä?"),
        ("Montako kuntaa Etelä-Kajralassa on?", "Montako kuntaa Etelä-Karjalassa on?"),
    ]:
        assert np.array_equal(assistant.retriever.prepare(typo).vector, assistant.retriever.prepare(meant).vector)


def test_an_english_question_searches_with_finnish_terms(corpus_index: Settings) -> None:
    assistant = Assistant(corpus_index)
    query = assistant.retriever.prepare("Who funds the project?")
    assert query.language == "en" and {"rahoittaa", "projekti"} <= set(query.terms)
    assert "funds" not in query.terms  # English words the sources never use do not dilute the keywords
    assert assistant.retriever.hybrid(query, 3)[0].chunk.page == 3


def test_a_retriever_built_from_parts_ranks_as_the_products(assistant: Assistant) -> None:
    from assistant.retrieve import ChunkIndex, Retriever

    snapshot = assistant.snapshot
    sentences = snapshot.sentence_vectors([chunk.id for chunk in snapshot.chunks])
    parts = ChunkIndex(tuple(snapshot.chunks), snapshot.keyword, sentences)
    rebuilt = Retriever(parts, assistant.vectors, assistant.embedder, assistant.analyzer, assistant.settings)
    for question in ("Mikä on Etelä-Karjalan väestöpohja?", "Ketkä rahoittavat yhdyspintaprojektia?"):
        query = assistant.retriever.prepare(question)
        product = assistant.retriever.hybrid(query, 10)
        assert [h.chunk.id for h in rebuilt.hybrid(query, 10)] == [h.chunk.id for h in product]
        deep = rebuilt.ranking(query, "hybrid", 60)
        assert [h.chunk.id for h in deep[:10]] == [h.chunk.id for h in product]
        assert [h.rank for h in deep] == list(range(1, len(deep) + 1))
        assert len({h.chunk.id for h in deep}) == len(deep)


def test_a_question_asked_again_is_not_embedded_again(assistant: Assistant) -> None:
    from assistant.query_cache import QueryCache

    cache = assistant.retriever.embedder
    assert isinstance(cache, QueryCache)
    misses = cache.misses
    assistant.retriever.search("Mikä on Etelä-Karjalan väestöpohja?", 3)
    assistant.retriever.search("Mikä on  Etelä-Karjalan väestöpohja? ", 3)
    assert cache.misses <= misses + 1 and cache.hits >= 1


def test_exact_dense_search_agrees_with_chroma_and_is_the_same_in_every_process(corpus_index: Settings) -> None:
    import subprocess
    import sys

    from assistant.retrieve import Retriever

    assistant = Assistant(corpus_index)
    exact = assistant.retriever
    approximate = Retriever(exact.snapshot, assistant.vectors, assistant.embedder, assistant.analyzer,
                            corpus_index.model_copy(update={"dense_exact_max": 0}))
    questions = ("Mikä on Etelä-Karjalan väestöpohja?", "Ketkä rahoittavat yhdyspintaprojektia?",
                 "Miten hyte-yhteistyö on järjestetty?")
    for question in questions:
        query = exact.prepare(question)
        found = exact.dense(query, 10)
        assert [h.rank for h in found] == list(range(1, 11))
        assert all(a.score >= b.score for a, b in zip(found, found[1:], strict=False))
        chroma = approximate.dense(query, 10)
        # A small collection: Chroma's graph search finds the same chunks, with the same similarities.
        assert [h.chunk.id for h in found[:5]] == [h.chunk.id for h in chroma[:5]]
        assert found[0].score == pytest.approx(chroma[0].score, abs=1e-5)
    assert len(exact.dense(exact.prepare(questions[0]), 50)) == min(50, len(exact.snapshot.chunks))

    script = ("import sys; from kysy.settings import Settings; from assistant.service import Assistant;"
              "a = Assistant(Settings(data_dir=sys.argv[1]));"
              "print([(h.chunk.id, h.score) for q in sys.argv[2:] for h in a.retriever.dense(a.retriever.prepare(q), 20)])")
    runs = {subprocess.run([sys.executable, "-c", script, str(corpus_index.data_dir), *questions], capture_output=True,
                           text=True, check=True).stdout for _ in range(2)}
    assert len(runs) == 1 and runs.pop().count("(") == 3 * 20


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def test_the_index_gives_each_chunk_its_sentences_vectors(assistant: Assistant) -> None:
    snapshot = assistant.snapshot
    ids = [chunk.id for chunk in snapshot.chunks[:4]]
    vectors = snapshot.sentence_vectors([*ids, "no-such-chunk"])
    assert set(vectors) == set(ids)
    for cid in ids:
        stored = snapshot.sentences([cid])[cid]
        assert vectors[cid].shape == (len(stored), 384) and vectors[cid].dtype == np.float32
        # each row is the sentence read under its title and heading, where the index has that vector
        assert np.allclose(vectors[cid][0], stored[0].context if stored[0].context is not None else stored[0].vector)
    assert snapshot.sentence_vectors([]) == {}


def test_a_chunks_dense_score_blends_its_best_sentence_with_its_own_vector(assistant: Assistant) -> None:
    retriever = assistant.retriever
    weight = assistant.settings.dense_sentence_weight
    assert 0 < weight <= 1
    chunks, matrix = retriever._chunk_vectors()
    query = retriever.prepare("Mikä on Etelä-Karjalan väestöpohja?")
    vector = _unit(np.asarray(query.vector, dtype=np.float32))
    sentences = assistant.snapshot.sentence_vectors([chunk.id for chunk in chunks])
    expected = {chunk.id: (1 - weight) * float(matrix[i] @ vector) + weight * float(np.max(_unit(sentences[chunk.id]) @ vector))
                for i, chunk in enumerate(chunks)}
    found = retriever.dense(query, 10)
    assert [hit.chunk.id for hit in found] == sorted(expected, key=lambda cid: (-expected[cid], cid))[:10]
    assert all(hit.score == pytest.approx(expected[hit.chunk.id], abs=1e-5) for hit in found)
    assert found[0].chunk.page == 9  # Etelä-Karjala's slide


def test_weight_zero_ranks_by_the_chunk_vector_alone_and_so_does_an_index_without_sentences(
        assistant: Assistant) -> None:
    from assistant.retrieve import ChunkIndex, Retriever

    settings = assistant.settings.model_copy(update={"dense_sentence_weight": 0.0})
    alone = Retriever(assistant.snapshot, assistant.vectors, assistant.embedder, assistant.analyzer, settings)
    bare = Retriever(ChunkIndex(tuple(assistant.snapshot.chunks), assistant.snapshot.keyword), assistant.vectors,
                     assistant.embedder, assistant.analyzer, assistant.settings)
    chunks, matrix = alone._chunk_vectors()
    for question in ("Mikä on Etelä-Karjalan väestöpohja?", "Miten hyte-yhteistyö on järjestetty?"):
        query = alone.prepare(question)
        similarity = matrix @ _unit(np.asarray(query.vector, dtype=np.float32))
        order = [chunks[i].id for i in sorted(range(len(chunks)), key=lambda i: (-similarity[i], chunks[i].id))][:8]
        assert [hit.chunk.id for hit in alone.dense(query, 8)] == order
        assert [hit.chunk.id for hit in bare.dense(query, 8)] == order


def test_sentence_vectors_kept_between_questions_are_bounded(assistant: Assistant,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import retrieve
    from assistant.retrieve import Retriever

    monkeypatch.setattr(retrieve, "SENTENCE_CACHE", 5)
    retriever = Retriever(assistant.snapshot, assistant.vectors, assistant.embedder, assistant.analyzer,
                          assistant.settings)
    reads: list[int] = []
    original = assistant.snapshot.sentence_vectors

    def counted(chunk_ids: list[str]) -> dict[str, np.ndarray]:
        reads.append(len(chunk_ids))
        return original(chunk_ids)

    monkeypatch.setattr(retriever.snapshot, "sentence_vectors", counted)
    query = retriever.prepare("Mikä on Etelä-Karjalan väestöpohja?")
    first = retriever.dense(query, 3)
    assert reads == [len(assistant.snapshot.chunks)]  # every chunk of the small index, read once
    assert len(retriever._sentences) == len(assistant.snapshot.chunks)  # one question's chunks are all kept
    ids = [chunk.id for chunk in assistant.snapshot.chunks[:3]]
    retriever._sentence_matrices(ids)
    assert len(retriever._sentences) == 5 and list(retriever._sentences)[-3:] == ids
    assert [hit.chunk.id for hit in retriever.dense(query, 3)] == [hit.chunk.id for hit in first]
