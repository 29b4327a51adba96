"""Hand-made cases for the evaluation metrics."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    citation_precision,
    dedupe,
    is_relevant,
    keyword_present,
    keyword_recall,
    mrr_at_k,
    ndcg_at_k,
    normalize_words,
    order_by_score,
    percentile,
    recall_at_k,
)

SOURCE = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"
EVIDENCE = ["Etelä-Karjala 9 kuntaa Väestöpohja 127 000"]


def test_normalize_words_drops_markdown_citations_and_joins_thousands() -> None:
    text = "# Etelä-Karjala\n- **Väestöpohja** 127\u00a0000 [1]\n> _STM:n_ rahoitus • 8/9"
    assert normalize_words(text) == ["etelä", "karjala", "väestöpohja", "127000", "stm", "rahoitus", "8", "9"]


def test_normalize_words_keeps_separate_numbers_apart() -> None:
    assert normalize_words("9 kuntaa, 2024 2025") == ["9", "kuntaa", "2024", "2025"]


def test_is_relevant_needs_source_file_and_evidence_coverage() -> None:
    chunk = "# Etelä-Karjala\n- 9 kuntaa\n- Väestöpohja 127 000\n- Henkilöstö, noin 5500"
    assert is_relevant(SOURCE, chunk, [SOURCE], EVIDENCE)
    assert is_relevant(f"corpus/{SOURCE}", chunk, [SOURCE], EVIDENCE)
    assert not is_relevant("muu.txt", chunk, [SOURCE], EVIDENCE)
    assert not is_relevant(SOURCE, "Henkilöstö, noin 5500", [SOURCE], EVIDENCE)


def test_is_relevant_threshold_is_eighty_percent_of_passage_words() -> None:
    evidence = ["a b c d e f g h i j"]
    assert is_relevant("f.txt", "a b c d e f g h", ["f.txt"], evidence)
    assert not is_relevant("f.txt", "a b c d e f g", ["f.txt"], evidence)
    assert is_relevant("f.txt", "a b c d e f g", ["f.txt"], evidence, threshold=0.7)


def test_is_relevant_counts_repeated_words_only_as_often_as_in_chunk() -> None:
    evidence = ["yhteistyö yhteistyö yhteistyö yhteistyö hyte"]
    assert not is_relevant("f.txt", "yhteistyö hyte", ["f.txt"], evidence)
    assert is_relevant("f.txt", "yhteistyö yhteistyö yhteistyö yhteistyö", ["f.txt"], evidence)


def test_is_relevant_matches_any_evidence_passage() -> None:
    evidence = ["kokonaan muuta tekstiä tässä", "Rahoittajina Kuntaliitto, Hyvil ja STM."]
    assert is_relevant("f.txt", "Rahoittajina Kuntaliitto, Hyvil ja STM.", ["f.txt"], evidence)
    assert not is_relevant("f.txt", "Rahoittajina Kuntaliitto", ["f.txt"], [])


def test_recall_at_k_and_k_larger_than_list() -> None:
    assert recall_at_k([False, False, True], 3) == 1.0
    assert recall_at_k([False, False, True], 2) == 0.0
    assert recall_at_k([False, True], 50) == 1.0
    assert recall_at_k([False, False], 5) == 0.0
    assert recall_at_k([], 5) == 0.0
    with pytest.raises(ValueError, match="k must be at least 1"):
        recall_at_k([True], 0)


def test_mrr_uses_first_relevant_rank_within_k() -> None:
    assert mrr_at_k([False, True, True], 5) == 0.5
    assert mrr_at_k([True], 1) == 1.0
    assert mrr_at_k([False, False, True], 2) == 0.0
    assert mrr_at_k([False, False, False], 10) == 0.0


def test_ndcg_perfect_partial_and_none() -> None:
    assert ndcg_at_k([True, True, False], 3) == pytest.approx(1.0)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k([False, True, True], 3) == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / ideal)
    assert ndcg_at_k([False, False], 2) == 0.0


def test_ndcg_ideal_uses_available_relevant_capped_at_k() -> None:
    # Three relevant passages exist, only one was retrieved at rank 1.
    ideal_three = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([True, False, False], 3, n_relevant=3) == pytest.approx(1 / ideal_three)
    # With k=1 the ideal holds one item, so rank 1 is perfect.
    assert ndcg_at_k([True, False, False], 1, n_relevant=3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n_relevant"):
        ndcg_at_k([True, True], 2, n_relevant=1)


def test_dedupe_counts_a_repeated_chunk_once() -> None:
    relevance = dedupe(["c1", "c1", "c2"], [True, True, False])
    assert relevance == [True, False, False]
    assert ndcg_at_k(relevance, 3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in length"):
        dedupe(["c1"], [True, False])


def test_duplicates_do_not_inflate_ndcg() -> None:
    raw = [True, True, False]
    deduped = dedupe(["c1", "c1", "c2"], raw)
    # One distinct relevant chunk exists; the duplicate at rank 2 earns nothing.
    assert ndcg_at_k(deduped, 3, n_relevant=1) == pytest.approx(1.0)
    assert sum(deduped) == 1


def test_ties_keep_the_callers_order() -> None:
    assert order_by_score([0.5, 0.9, 0.5], [True, False, False]) == [False, True, False]
    assert order_by_score([0.5, 0.5, 0.5], [False, True, False]) == [False, True, False]
    assert mrr_at_k(order_by_score([0.7, 0.7], [False, True]), 2) == 0.5


@pytest.mark.parametrize(
    ("keyword", "answer"),
    [
        ("Kuntaliitto", "Asiasta vastaa Kuntaliitolla projektipäällikkö."),
        ("hyvinvointialue", "hyvinvointialueiden ja kuntien yhteistyö"),
        ("127 000", "Väestöpohja on 127000 asukasta [1]."),
        ("127000", "Väestöpohja on 127\u00a0000."),
        ("127 000", "The population base is 127,000."),
        ("STM", "Rahoittajina ovat Kuntaliitto, Hyvil ja STM:n osuus."),
        ("Lappi", "Lapin pilotin painopisteet"),
        ("Karhunen", "Karhusen mukaan palvelujen pitää toimia"),
        ("Liisa Jurmu", "ota yhteyttä Liisa Jurmuun"),
        ("27.10.", "Foorumi on 27.10. verkossa."),
        ("Kuntien takauskeskus", "Keva, Kuntarahoitus, Kuntien takauskeskuksen [2]"),
        ("Strateginen yhteistyösopimus: ei", "- Strateginen yhteistyösopimus: ei [1]"),
        ("Sami Niemi", "Sami\nNiemi"),
    ],
)
def test_keyword_present_allows_finnish_inflection(keyword: str, answer: str) -> None:
    assert keyword_present(keyword, answer)


@pytest.mark.parametrize(
    ("keyword", "answer"),
    [
        ("9", "Etelä-Karjalassa on 19 kuntaa."),
        ("STM", "STEA rahoittaa"),
        ("Kuntaliitto", "kunta päättää"),
        ("Liisa Jurmu", "Liisa kertoo"),
        ("5500", "noin 550 henkilöä"),
        ("kuntalaki", "hallintolaki"),
        # a keyword of several words is a phrase: its words in order and next to each other
        ("5500 kuntaa", "9 kuntaa. Väestöpohja 127 000. Henkilöstö, noin 5500"),
        ("noin 9", "9 kuntaa. Henkilöstö, noin 5500"),
        ("Niemi Sami", "erityisasiantuntija Sami Niemi"),
        ("Kuntaliiton Niemi", "Kuntaliiton erityisasiantuntija Sami Niemi"),
        ("asiantuntija", "erityisasiantuntija Sami Niemi"),
    ],
)
def test_keyword_present_rejects_near_misses(keyword: str, answer: str) -> None:
    assert not keyword_present(keyword, answer)


def test_keyword_recall_is_share_of_keywords_found() -> None:
    answer = "Rahoittajina ovat Kuntaliitto ja Hyvil [1]."
    assert keyword_recall(["Kuntaliitto", "Hyvil", "STM"], answer) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        keyword_recall([], answer)
    with pytest.raises(ValueError):
        keyword_present(" - ", answer)


def test_answers_read_again_give_the_same_figures() -> None:
    # training reads the same answers and passages under every set of selection numbers it tries, and keeps
    # their words between calls: a passage whose words were looked up stays as it was, and a failure is not kept
    chunk = "Rahoittajina ovat Kuntaliitto, Hyvil ja STM."
    for _ in range(2):
        assert not is_relevant("a.txt", chunk, ["a.txt"], ["Rahoittajina ovat Keva ja Kuntarahoitus"])
        assert is_relevant("a.txt", chunk, ["a.txt"], ["Rahoittajina ovat Kuntaliitto, Hyvil ja STM"])
        assert keyword_present("Kuntaliitto", chunk) and not keyword_present("Keva", chunk)
        with pytest.raises(ValueError):
            keyword_present(" - ", chunk)


def test_percentile_interpolates_linearly() -> None:
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile([10, 20], 95) == pytest.approx(19.5)
    assert percentile([7], 99) == 7
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_citation_precision() -> None:
    assert citation_precision([True, False, True, True]) == pytest.approx(0.75)
    assert citation_precision([False]) == 0.0
    assert citation_precision([]) is None
