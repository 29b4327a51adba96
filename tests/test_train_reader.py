"""`make train-reader` end to end on a tiny sample: real indexes, real frozen layers, deterministic files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from assistant.reader import Reader, ReaderShape
from eval.reader_fit import FitSettings
from eval.train_reader import train_reader
from ingest.embed import make_embedder
from tests.squad_sample import write_sample

PARAGRAPHS = {
    (1, "Saimaa"): [
        "Saimaa on Suomen suurin järvi. Sen pinta-ala on noin 4 400 neliökilometriä. Järvi sijaitsee Itä-Suomessa.",
        "Saimaalla elää saimaannorppa. Norppia on noin 480. Kannan suojelu alkoi vuonna 1955.",
    ],
    (2, "Turku"): [
        "Turku on Suomen vanhin kaupunki. Kaupungin halki virtaa Aurajoki. Turku oli pääkaupunki vuoteen 1812.",
        "Turun yliopisto perustettiin 1920. Siellä opiskelee noin 20 000 opiskelijaa.",
    ],
}
ANSWERABLE = [
    (1, 0, "Mikä on Suomen suurin järvi?", "Saimaa"),
    (1, 0, "Kuinka suuri Saimaan pinta-ala on?", "4 400 neliökilometriä"),
    (1, 1, "Montako saimaannorppaa on?", "480"),
    (1, 1, "Milloin norpan suojelu alkoi?", "1955"),
    (2, 0, "Mikä joki virtaa Turun halki?", "Aurajoki"),
    (2, 0, "Mihin vuoteen asti Turku oli pääkaupunki?", "1812"),
    (2, 1, "Milloin Turun yliopisto perustettiin?", "1920"),
    (2, 1, "Montako opiskelijaa Turun yliopistossa on?", "20 000"),
]
UNANSWERABLE = [
    (1, 1, "Montako saimaannorppaa syntyi vuonna 2020?"),
    (2, 1, "Kuka on Turun yliopiston rehtori?"),
    (2, 0, "Milloin Aurajoen silta rakennettiin?"),
]
DOCS = {
    "lappi.txt": "Lapin hyvinvointialue\n\nLapin pilotissa painopisteinä ovat turvallisuus ja varautuminen.\n\n"
                 "Lapissa on 21 kuntaa, ja välimatkat ovat pitkiä.",
    "karjala.txt": "Etelä-Karjalan malli\n\nEtelä-Karjalassa on 9 kuntaa. Etelä-Karjalan väestöpohja on noin "
                   "127 000 asukasta.",
}
OWN = [
    {"id": "f1", "question": "Mitkä ovat Lapin pilotin painopisteet?", "answerable": True, "sources": ["lappi.txt"],
     "evidence": ["Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen."],
     "answer_keywords": ["turvallisuus"], "type": "fact"},
    {"id": "f2", "question": "Mikä on Etelä-Karjalan väestöpohja?", "answerable": True, "sources": ["karjala.txt"],
     "evidence": ["Etelä-Karjalan väestöpohja on noin 127 000 asukasta."], "answer_keywords": ["127 000"],
     "type": "fact"},
    {"id": "n1", "question": "Paljonko Tampereen raitiotie maksoi?", "answerable": False, "sources": [],
     "evidence": [], "answer_keywords": [], "type": "unanswerable"},
]
SHAPE = ReaderShape(cut=2, layers=1)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_sample(tmp_path_factory.mktemp("reader-sample"), PARAGRAPHS, ANSWERABLE, UNANSWERABLE, DOCS, OWN)


@pytest.mark.slow
def test_training_writes_a_reader_that_reads_and_the_same_reader_twice(sample: dict[str, Path]) -> None:
    first, second = sample["root"] / "reader-1", sample["root"] / "reader-2"
    settings = FitSettings(epochs=2, batch=8, threads=1)
    kwargs = {"shape": SHAPE, "settings": settings, "negatives": 3}
    markdown = sample["root"] / "reader.md"
    report = train_reader(sample["dataset"], sample["corpus"], sample["questions"], sample["questions"], sample["work"],
                          first, report_path=markdown, **kwargs)  # type: ignore[arg-type]
    fitted = sorted(sample["work"].glob("fitted-*.npz"))
    assert len(fitted) == 1  # the fitted layers are kept: choosing the numbers again refits nothing
    fitted[0].unlink()  # fitted afresh, the same bytes
    train_reader(sample["dataset"], sample["corpus"], sample["questions"], sample["questions"], sample["work"], second,
                 **kwargs)  # type: ignore[arg-type]
    assert fitted[0].is_file()
    for name in ("reader.npz", "reader.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    examples = cast(dict[str, int], report["examples"])
    swaps = examples.pop("swap")  # near misses made from the 8 answerable training questions
    assert examples == {"train": 11, "dev": 11, "own": 3, "holdout": 3} and 0 < swaps <= 8
    with np.load(first / "reader.npz") as archive:
        assert sorted(archive.files)[:2] == ["head.b", "head.w"]
        assert {name.split(".")[0] for name in archive.files} == {"head", "l2"}  # only the fine-tuned layer ships
    config = json.loads((first / "reader.json").read_text(encoding="utf-8"))
    assert config["shape"]["cut"] == 2 and 0.0 <= config["threshold"] <= 1.0
    dev = config["training"]["figures"]["dev"]
    assert {"item_auc", "question_auc_by_items", "lead_right", "refusal"} <= set(dev)
    written = markdown.read_text(encoding="utf-8")
    assert "| squad2fi-qa dev articles (chosen on) |" in written and "## Refusal trade-off" in written
    assert "## Cost" in written and "| None |" not in written

    reader = Reader(make_embedder("e5-onnx", threads=1), first / "reader.npz", first / "reader.json")  # type: ignore[arg-type]
    probabilities = reader.probabilities("Mikä on Suomen suurin järvi?", [("Saimaa", "Saimaa on Suomen suurin järvi."),
                                                                          ("Turku", "Turku on Suomen vanhin kaupunki.")])
    assert probabilities.shape == (2,) and np.all((probabilities > 0) & (probabilities < 1))


@pytest.mark.slow
def test_the_sweep_exports_the_training_pairs_and_fits_a_whole_reader_whose_frozen_layers_are_e5s(
        sample: dict[str, Path]) -> None:
    import torch

    from eval.reader_sweep import Exported, build_model, export, fit, own_folds
    from eval.train_reader import SHAPE as PRODUCT_SHAPE
    from eval.train_reader import build, pairs
    from ingest.embed_onnx import OnnxE5Embedder

    exported_path = sample["root"] / "pairs.npz"
    counts = export(sample["work"], exported_path, sample["dataset"], sample["corpus"], sample["questions"],
                    sample["questions"], negatives=3)
    sets = build(sample["dataset"], sample["corpus"], sample["questions"], sample["questions"], sample["work"])
    exact = OnnxE5Embedder("fp32", threads=1)
    original = pairs(exact, sets["train"], PRODUCT_SHAPE.limits, negatives=3)
    assert counts["train"] == len(original.labels) and counts["dev"] == sum(e.read for e in sets["dev"])
    exported = Exported(exported_path)
    train = exported.sets["train"]
    assert [len(s) for s in train.sequences] == [len(s) for s in original.sequences]
    assert np.array_equal(train.labels, original.labels) and not train.answerable.all()

    # The torch model's frozen part is e5: its states after two layers are onnxruntime's float32 ones.
    model = build_model(exported, 2, 1, 0.0).eval()
    captured: list[torch.Tensor] = []
    model.layers[0].register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0]))
    with torch.no_grad():
        ids = torch.from_numpy(np.asarray(train.sequences[0], dtype=np.int64))[None]
        model(ids, torch.tensor([float(ids.shape[1])]))
    expected = exact.states_of_ids([original.sequences[0]], layer=2)[0]
    assert np.allclose(captured[0][0].numpy(), expected, atol=2e-3)

    before = {name: value.clone() for name, value in build_model(exported, 2, 1, 0.1).state_dict().items()}
    fitted, history = fit(exported, 2, 1, learning_rate=1e-4, epochs=2, device="cpu", batch=8)
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(0.0 <= float(row["dev_item_auc"]) <= 1.0 for row in history)  # type: ignore[arg-type]
    after = fitted.state_dict()
    assert torch.equal(after["frozen.1.q.weight"], before["frozen.1.q.weight"])  # frozen stays frozen
    assert not torch.equal(after["layers.0.q.weight"], before["layers.0.q.weight"])  # the top layer learned
    assert float(after["head.weight"].abs().sum()) > 0

    # Trained also on the other folds of the question set, and then on the whole of it.
    own = own_folds(exported, 2, 1, learning_rate=1e-4, epochs=1, device="cpu", batch=8)
    assert set(own) == {"question_set_without", "question_set_crossed", "held_out_without",
                        "held_out_trained_on_question_set", "dev_without", "dev_trained_on_question_set"}
    assert all(value is None or 0.0 <= float(value) <= 1.0 for value in own.values())  # type: ignore[arg-type]
    assert own["question_set_crossed"] is not None  # the sample's question set has both kinds
