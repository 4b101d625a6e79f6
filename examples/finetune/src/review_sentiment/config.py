"""Every knob of the project in one place, read from ``REVIEW_SENTIMENT_*`` env vars.

Why pydantic-settings: the same code runs on a laptop, in CI (``make train-smoke``) and in
a container, and only the environment changes.
``REVIEW_SENTIMENT_MAX_EPOCHS=1 make train`` works without touching code,
and a typo in a value fails at start-up, not an hour in.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "REVIEW_SENTIMENT_"


class Settings(BaseSettings):
    """Data, training, artifact and serving settings (defaults fit a 2-core laptop)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # data ------------------------------------------------------------------------
    data_file: Path = PROJECT_ROOT / "data/raw/rotten_tomatoes.csv"
    csv_sep: str = ","
    text_col: str = "text"
    label_col: str = "label"
    test_size: float = Field(0.15, gt=0, lt=0.5, description="test share: reported only")
    val_size: float = Field(0.1, gt=0, lt=0.5, description="validation share: every decision")
    train_size: int | None = Field(
        2500, ge=8, description="examples every model trains on (None: the whole train split)"
    )
    max_val_size: int | None = Field(1000, ge=4, description="cap on validation rows")
    max_test_size: int | None = Field(2000, ge=4, description="cap on test rows, for speed")
    seed: int = 42

    # model and training ------------------------------------------------------------
    encoder: str = Field("", description="encoder folder; empty = bundled all-MiniLM-L6-v2")
    max_length: int = Field(
        64, ge=8, le=512, description="tokens kept per text; test_truncated_share: how many cut"
    )
    batch_size: int = Field(32, ge=1, le=512)
    learning_rate: float = Field(5e-5, gt=0, lt=1, description="the pre-trained encoder's")
    head_learning_rate: float = Field(
        1e-3, gt=0, lt=1, description="the new classification head's (it starts random)"
    )
    weight_decay: float = Field(0.01, ge=0, lt=1)
    min_train_steps: int = Field(
        150, ge=1, description="optimizer steps to plan at least: small data get more epochs"
    )
    max_epochs: int = Field(20, ge=1, le=100, description="cap on the epochs that plan needs")
    # Stopping needs a plan of patience + 1 epochs: the bundled data's default plan is shorter
    # (best epoch still restored); longer plans use it (small data, more min_train_steps).
    patience: int = Field(
        2, ge=1, description="epochs without validation gain before stopping (1 is noisy)"
    )
    max_train_seconds: float = Field(
        300, gt=0, description="fine-tuning time budget: ends the epoch early on a busy CPU"
    )
    threads: int = Field(2, ge=1, description="torch CPU threads for training")
    lora: bool = Field(True, description="also train LoRA adapters via peft (cheaper fine-tune)")
    lora_max_train_seconds: float = Field(180, gt=0, description="LoRA's time budget")
    lora_rank: int = Field(8, ge=1, le=256)
    lora_learning_rate: float = Field(1e-3, gt=0, lt=1)

    # promotion (register.py) ------------------------------------------------------------
    model_name: str = Field("review_sentiment", description="registered model name")
    promote_margin: float = Field(
        0.01, ge=0, lt=1, description="validation macro-F1 a new run must add to be champion"
    )

    # artifacts -----------------------------------------------------------------------
    model_dir: Path = Field(
        PROJECT_ROOT / "models" / "champion", description="the exported champion, served"
    )
    reports_dir: Path = PROJECT_ROOT / "reports"
    writeup_file: Path = PROJECT_ROOT / "WRITEUP.md"

    # serving ------------------------------------------------------------------------
    serve_threads: int = Field(1, ge=1, description="torch threads per process; scale with workers")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(
        1, ge=1, description="processes of `make serve-prod` and the image (DEPLOY.md: why 1)"
    )
    reload_interval_s: float = Field(
        10.0, ge=0, description="how often each process checks for a new champion; 0: never"
    )
    admin_token: SecretStr | None = Field(
        None,
        min_length=1,  # empty would let a request without a token through
        description="enables POST /admin/reload for requests carrying this bearer token",
    )
    admin_allow_remote: bool = Field(
        False, description="let /admin/reload answer other machines, not only loopback"
    )
    max_text_chars: int = Field(
        2000, ge=1, description="longest text /predict accepts: a request guard, not max_length"
    )
    max_batch_rows: int = Field(64, ge=1, description="most texts /predict/batch accepts")
    max_body_bytes: int = Field(256_000, ge=1024, description="bigger requests get 413")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins that may call the API; none if empty"
    )

    def smoke(self) -> Settings:
        """The same pipeline on a tiny subset: seconds instead of minutes (what CI runs)."""
        tiny = {"train_size": 64, "max_val_size": 32, "max_test_size": 48, "max_epochs": 2}
        fast = {"max_length": 32, "batch_size": 16, "learning_rate": 1e-4}
        return self.model_copy(update={**tiny, **fast})
