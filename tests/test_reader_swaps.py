"""Near misses made by swapping a name or number of an answerable question (eval/reader_swaps.py)."""

from __future__ import annotations

from eval.reader_examples import Item, ReaderExample
from eval.reader_swaps import article_pools, swap_examples, swapped
from eval.squad import SquadQuestion

SAIMAA = ("Saimaa on Suomen suurin järvi, ja sen rannalla on Savonlinna. Saimaalla elää noin 480 norppaa. "
          "Kannan suojelu alkoi vuonna 1955. Pielinen ja Päijänne ovat pienempiä.")
TURKU = "Turku oli pääkaupunki vuoteen 1812. Aurajoki virtaa Turun halki."


def question(id_: str, text: str, answers: tuple[str, ...], doc: int, context: str) -> SquadQuestion:
    return SquadQuestion(id_, text, answers, doc, 0, "", context)


def test_a_name_the_item_holds_is_swapped_for_another_of_the_same_article() -> None:
    pools = article_pools([question("q1", "?", ("480",), 1, SAIMAA), question("q2", "?", ("1812",), 2, TURKU)])
    assert "Savonlinna" in pools[1]["name"] and "Turku" not in pools[1]["name"]  # a sentence's first word is no name
    assert pools[1]["year"] == ["1955"] and pools[1]["number"] == ["480"]
    item = "Saimaalla elää noin 480 norppaa."
    new = swapped("Montako norppaa Saimaalla elää?", "q1", item, pools[1])
    assert new is not None and new != "Montako norppaa Saimaalla elää?"
    assert new.startswith("Montako norppaa ") and new.endswith(" elää?")
    replaced = new.removeprefix("Montako norppaa ").removesuffix(" elää?")
    assert replaced in {"Suomen", "Savonlinna", "Pielinen", "Päijänne"}  # never a word the item holds
    assert swapped("Montako norppaa Saimaalla elää?", "q1", item, pools[1]) == new  # the same draw every time


def test_a_year_is_swapped_for_a_year_and_nothing_unheld_is_swapped() -> None:
    pools = {"name": [], "year": ["1955", "1812"], "number": ["480"]}
    assert swapped("Mitä tapahtui vuonna 1955?", "q", "Kannan suojelu alkoi vuonna 1955.", pools) == \
        "Mitä tapahtui vuonna 1812?"
    # The question's name is not in the item: swapping it would not make the item wrong for a reason.
    assert swapped("Mitä Pielinen on?", "q", "Kannan suojelu alkoi vuonna 1955.", pools) is None
    assert swapped("Mitä tapahtui vuonna 1955?", "q", "vuonna 1955", {"name": [], "year": ["1955"]}) is None


def test_swap_examples_pair_the_new_question_with_the_right_items_as_wrong() -> None:
    source = question("q1", "Milloin Saimaan norpan suojelu alkoi vuonna 1955?", ("1955",), 1, SAIMAA)
    right = Item("Saimaa", "Kannan suojelu alkoi vuonna 1955.", 0.9, True)
    wrong = Item("Saimaa", "Pielinen ja Päijänne ovat pienempiä.", 0.2, False)
    example = ReaderExample("squad", "q1", source.question, True, 1, (right, wrong), 2, 0.8)
    unanswerable = ReaderExample("squad", "q2", "Kuka?", False, 1, (wrong,), 1, 0.1)
    made = swap_examples([example, unanswerable], [source])
    assert len(made) == 1
    swap = made[0]
    assert swap.id == "q1-swap" and not swap.answerable and swap.source == "swap" and swap.read == 1
    assert swap.items == (Item(right.context, right.text, right.score, False),)
    assert swap.question != source.question
