"""`make train` end to end on a tiny sample: real ingestion, real models, deterministic files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.answerability import Answerability
from assistant.breadth import Breadth
from assistant.engine import AnswerEngine
from assistant.scoring import ItemScorer
from assistant.service import Assistant
from eval.train import train
from kysy.errors import ConfigError
from kysy.settings import Settings
from tests.squad_sample import write_sample

ARTICLES = {
    (1, "Saimaa"): [
        "Saimaa on Suomen suurin järvi. Sen pinta-ala on noin 4 400 neliökilometriä. Järvi sijaitsee Itä-Suomessa.",
        "Saimaalla elää saimaannorppa, joka on erittäin uhanalainen. Norppia on noin 480. Kannan suojelu alkoi 1955.",
        "Saimaan kanava valmistui vuonna 1856. Kanava yhdistää Saimaan Suomenlahteen Viipurin kautta.",
    ],
    (2, "Turku"): [
        "Turku on Suomen vanhin kaupunki. Kaupungin halki virtaa Aurajoki. Turku oli pääkaupunki vuoteen 1812.",
        "Turun tuomiokirkko vihittiin vuonna 1300. Se on Suomen kansallispyhäkkö. Kirkon torni on 101 metriä korkea.",
        "Turun yliopisto perustettiin 1920. Siellä opiskelee noin 20 000 opiskelijaa. Yliopiston rehtori valitaan neljäksi vuodeksi.",
    ],
}
QUESTIONS = [
    (1, 0, "Mikä on Suomen suurin järvi?", "Saimaa"),
    (1, 0, "Kuinka suuri Saimaan pinta-ala on?", "4 400 neliökilometriä"),
    (1, 1, "Montako saimaannorppaa on?", "480"),
    (1, 1, "Milloin norpan suojelu alkoi?", "1955"),
    (1, 2, "Milloin Saimaan kanava valmistui?", "1856"),
    (1, 2, "Mihin Saimaan kanava yhdistää Saimaan?", "Suomenlahteen"),
    (2, 0, "Mikä on Suomen vanhin kaupunki?", "Turku"),
    (2, 0, "Mikä joki virtaa Turun halki?", "Aurajoki"),
    (2, 1, "Milloin Turun tuomiokirkko vihittiin?", "1300"),
    (2, 1, "Kuinka korkea tuomiokirkon torni on?", "101 metriä"),
    (2, 2, "Milloin Turun yliopisto perustettiin?", "1920"),
    (2, 2, "Montako opiskelijaa Turun yliopistossa on?", "20 000"),
]
UNANSWERABLE = [
    (1, 1, "Montako saimaannorppaa syntyi vuonna 2020?"),
    (2, 2, "Kuka on Turun yliopiston nykyinen rehtori?"),
    (2, 0, "Milloin Aurajoen silta rakennettiin?"),
]
DOCS = {
    "lappi.txt": "Lapin hyvinvointialue\n\nLapin pilotissa painopisteinä ovat turvallisuus ja varautuminen.\n\n"
                 "Lapissa on 21 kuntaa, ja välimatkat ovat pitkiä.",
    "karjala.txt": "Etelä-Karjalan malli\n\nEtelä-Karjalassa on 9 kuntaa. Etelä-Karjalan väestöpohja on noin "
                   "127 000 asukasta.\n\nEtelä-Karjalassa yhdyspintatyötä on tehty pitkään ilman sopimuksia.",
}
OWN = [
    {"id": "f1", "question": "Mitkä ovat Lapin pilotin painopisteet?", "answerable": True, "sources": ["lappi.txt"],
     "evidence": ["Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen."],
     "answer_keywords": ["turvallisuus", "varautuminen"], "type": "fact"},
    {"id": "f2", "question": "Mikä on Etelä-Karjalan väestöpohja?", "answerable": True, "sources": ["karjala.txt"],
     "evidence": ["Etelä-Karjalan väestöpohja on noin 127 000 asukasta."], "answer_keywords": ["127 000"],
     "type": "fact"},
    {"id": "f3", "question": "Montako kuntaa Lapissa on?", "answerable": True, "sources": ["lappi.txt"],
     "evidence": ["Lapissa on 21 kuntaa, ja välimatkat ovat pitkiä."], "answer_keywords": ["21"], "type": "number"},
    {"id": "f4", "question": "Montako kuntaa Etelä-Karjalassa on?", "answerable": True, "sources": ["karjala.txt"],
     "evidence": ["Etelä-Karjalassa on 9 kuntaa."], "answer_keywords": ["9"], "type": "number"},
    {"id": "n1", "question": "Paljonko Tampereen raitiotie maksoi euroina?", "answerable": False, "sources": [],
     "evidence": [], "answer_keywords": [], "type": "unanswerable"},
    {"id": "n2", "question": "Kuka voitti jääkiekon maailmanmestaruuden vuonna 1995?", "answerable": False,
     "sources": [], "evidence": [], "answer_keywords": [], "type": "unanswerable"},
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_sample(tmp_path_factory.mktemp("train-sample"), ARTICLES, QUESTIONS, UNANSWERABLE, DOCS, OWN)


def _split(questions: Path) -> list[Path]:
    """The question file as two files (the own set is every question of several files)."""
    lines = questions.read_text(encoding="utf-8").splitlines(keepends=True)
    parts = [questions.with_name("own-a.jsonl"), questions.with_name("own-b.jsonl")]
    parts[0].write_text("".join(lines[:3]), encoding="utf-8")
    parts[1].write_text("".join(lines[3:]), encoding="utf-8")
    return parts


@pytest.mark.slow
def test_training_writes_models_that_answer_and_the_same_models_twice(sample: dict[str, Path]) -> None:
    first, second = sample["root"] / "models-1", sample["root"] / "models-2"
    questions = _split(sample["questions"])
    report = train(sample["dataset"], sample["corpus"], questions, sample["work"], first)
    train(sample["dataset"], sample["corpus"], questions, sample["work"], second)
    for name in ("item_scorer.txt", "answerability.json", "breadth.json", "training.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert report["examples"] == {"train": 15, "dev": 15, "own": 6}
    assert {"cross_validated", "in_sample"} <= set(report["answers"])  # type: ignore[arg-type]
    assert report["objective"]["precision_weight"] == 1.0  # type: ignore[index]
    for fold in range(5):
        for name in (f"item_scorer.{fold}.txt", f"answerability.{fold}.json", f"breadth.{fold}.json"):
            assert (sample["work"] / "folds" / name).is_file(), name
    ItemScorer(first / "item_scorer.txt")
    Answerability(first / "answerability.json")
    assert Breadth.load(first / "breadth.json") is not None
    assert set(report["breadth"]["cross_validated"]) == {"own_recall", "own_precision", "dev_broad"}  # type: ignore[index]
    articles = report["squad_dev_articles"]
    assert set(articles) == {"in_sample", "held_out"}  # type: ignore[arg-type]
    for name in ("answerable_refused", "unanswerable_refused"):  # every article, with the choice made on all of them
        assert articles["in_sample"][name] == pytest.approx(report["refusal"]["squad_dev"][name], abs=1e-4)  # type: ignore[index]
    # a refused question's answer holds no gold answer, which the selection's own figure does not count
    assert articles["in_sample"]["gold_in_answer"] <= report["answers"]["cross_validated"]["dev_gold_in_answer"] + 1e-4  # type: ignore[index]
    for figures in articles.values():  # type: ignore[union-attr]
        assert set(figures) == {"gold_in_answer", "mean_words", "answerable_refused", "unanswerable_refused"}

    settings = Settings(data_dir=sample["work"] / "corpus", corpus_dir=sample["corpus"],
                        embed_cache=sample["work"] / "embeddings.sqlite", llm_base_url="")
    assistant = Assistant(settings)
    assistant.use_engine(AnswerEngine(settings, first / "item_scorer.txt", first / "answerability.json",
                                      first / "breadth.json"))
    answer = assistant.ask("Mikä on Etelä-Karjalan väestöpohja?")
    assert answer.citations and answer.citations[0].file == "karjala.txt"


@pytest.mark.slow
def test_dev_words_are_counted_over_the_questions_the_engine_answers(sample: dict[str, Path]) -> None:
    """The selection's word bound reads the words as `make eval-squad` does: a refused question's quotes,
    which nobody is shown, do not count."""
    from assistant.select import SelectionSettings
    from eval.squad import word_count
    from eval.train import answer_text, answered_ids, build, is_partial, selection_figures

    sets = build(sample["dataset"], sample["corpus"], _split(sample["questions"]), sample["work"])
    dev = [e for e in sets.dev if e.answerable]
    scores = {e.id: np.linspace(1.0, 0.0, len(e.labels)) for e in [*sets.dev, *sets.own]}
    numbers = SelectionSettings.of(Settings())
    words = {e.id: word_count(answer_text(e, scores[e.id], numbers)[0]) for e in dev}
    whole = [e.id for e in dev if not is_partial(e, scores[e.id])]  # asking no fact the best items lack
    first = whole[0]
    assert selection_figures(dev, [], scores, numbers)["dev_mean_words"] == pytest.approx(
        sum(words.values()) / len(words), abs=1e-4)
    assert selection_figures(dev, [], scores, numbers, answered={first})["dev_mean_words"] == words[first]

    probability = {e.id: 0.9 if e.id == first else 0.1 for e in sets.dev}
    assert answered_ids(sets.dev, probability, 0.5, scores) == {first}
    assert answered_ids(sets.dev, probability, 0.05, scores) == set(whole)
    assert len(whole) < len(dev)  # a partial answer is not counted either


def test_the_shipped_numbers_are_those_make_train_chose() -> None:
    report = json.loads((Path(__file__).resolve().parent.parent / "assistant" / "models" / "training.json")
                        .read_text(encoding="utf-8"))
    settings = Settings()
    for name, value in report["selection"].items():
        assert getattr(settings, name) == value, name
    assert Answerability().threshold == report["answerable_threshold"]


def test_the_item_model_is_the_mean_of_its_seeded_rankers(tmp_path: Path) -> None:
    import numpy as np

    from assistant.evidence import FEATURES
    from assistant.scoring import ITEM_MODEL, MEMBER_SEPARATOR, load_rankers, mean_raw
    from eval.fit import ITEM_SEEDS

    text = ITEM_MODEL.read_text(encoding="utf-8")
    rankers = load_rankers(text)
    assert len(rankers) == len(ITEM_SEEDS) == text.count(MEMBER_SEPARATOR) + 1
    rows = np.random.default_rng(0).random((7, len(FEATURES)))
    each = np.array([ranker.predict(rows, num_threads=1) for ranker in rankers])
    assert np.ptp(each, axis=0).max() > 0  # the seeds give different rankers
    assert np.allclose(mean_raw(rankers, rows), each.mean(axis=0))
    single = tmp_path / "one.txt"
    single.write_text(text.split(MEMBER_SEPARATOR)[0], encoding="utf-8")  # one LightGBM text still loads
    ItemScorer(single)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        ItemScorer(empty)


def test_cross_validation_asks_each_question_with_the_models_of_the_fold_its_wording_gives(
        corpus_index: Settings, tmp_path: Path) -> None:
    from assistant.scoring import ITEM_MODEL
    from eval.questionset import TRAINING_SETS, fold_of, load_questions
    from eval.runner import DEPTH, cross_validated_answers, cross_validated_results
    from eval.training import own_examples

    root = Path(__file__).resolve().parent.parent
    for fold in range(5):
        (tmp_path / f"item_scorer.{fold}.txt").write_bytes(ITEM_MODEL.read_bytes())
        (tmp_path / f"answerability.{fold}.json").write_bytes(
            (ITEM_MODEL.parent / "answerability.json").read_bytes())
    questions = [question for path in TRAINING_SETS for question in load_questions(root / path)[:4]]
    assistant = Assistant(corpus_index)
    shipped, used = assistant.engine, []
    use_engine = assistant.use_engine

    def recording(engine: AnswerEngine) -> None:
        used.append(engine)
        use_engine(engine)

    assistant.use_engine = recording  # type: ignore[method-assign]
    metrics = cross_validated_answers(assistant, questions, tmp_path)
    engines = list(dict.fromkeys(used[:-1]))
    assert [engines.index(engine) for engine in used[:-1]] == _first_seen([fold_of(q, 5) for q in questions])
    assert used[-1] is shipped and assistant.engine is shipped
    assert metrics["keyword_recall"] is not None
    assistant.use_engine = use_engine  # type: ignore[method-assign]
    for result in cross_validated_results(assistant, questions[:3], tmp_path):  # the sources ranked by the fold too
        assert [item.rank for item in result.ranked["hybrid"]] == list(range(1, DEPTH + 1))
        assert result.reachable["hybrid"] >= sum(item.relevant for item in result.ranked["hybrid"])
    assert assistant.engine is shipped
    groups = {example.id: example.group for example in own_examples(assistant, questions)}
    assert groups == {q.id: fold_of(q, 5) for q in questions if q.type != "injection"}


def _first_seen(folds: list[int]) -> list[int]:
    """Each fold as the order in which it first appears (engines are told apart by identity)."""
    order = list(dict.fromkeys(folds))
    return [order.index(fold) for fold in folds]
