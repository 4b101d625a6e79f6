"""Stage 1, config: every knob of the project in one typed object, overridable by env vars.

Each field can be set as ``CREDIT_RISK_<FIELD>`` (for example
``CREDIT_RISK_CV_FOLDS=10``) or in a ``.env`` file, so the same code runs on
a laptop, in CI and in a container without edits. Paths are relative to the project root.
One exception: the Dask scheduler is read from Dask's own ``DASK_SCHEDULER_ADDRESS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "CREDIT_RISK_"


class Settings(BaseSettings):
    """Data, training, tracking and serving settings, with this project's defaults."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # data
    data_file: Path = Path("data/raw/credit_data.csv")
    csv_sep: str = ","
    csv_decimal: Literal[".", ","] = "."  # ",": European exports, 1234,56
    target: str = "Status"
    positive_class: str = "bad"  # unused if 3+ classes (argmax)
    drop_columns: list[str] = Field(default_factory=lambda: [])
    categorical_columns: list[str] = Field(
        default_factory=list,
        description="Columns to treat as categories even though every value looks numeric",
    )
    test_size: float = Field(0.2, gt=0, lt=1)
    seed: int = 42

    # training
    cv_folds: int = Field(5, ge=2)
    threshold_objective: Literal["f1", "cost"] = "f1"
    # Your business's costs, not estimated from data; used only if threshold_objective="cost"
    cost_false_negative: float = Field(5.0, gt=0, description="Cost of missing a positive")
    cost_false_positive: float = Field(1.0, gt=0, description="Cost of a false alarm")
    # 'balanced' up-weights the rare class, so probabilities run high (calibration.png)
    class_weight: Literal["balanced", "none"] = "balanced"
    n_estimators: int = Field(200, ge=1)
    n_jobs: int = Field(1, ge=1, description="LightGBM threads; why 1: docs/DESIGN.md")
    promotion_margin: float = Field(
        0.01, ge=0, description="CV PR-AUC to add to the base rate or champion to take the alias"
    )

    # scale-out, for data too big for one process's memory: `make train ENGINE=dask`
    # (ops/scale_out.py, docs/DESIGN.md)
    engine: Literal["local", "dask"] = "local"
    dask_scheduler_address: str | None = Field(
        None,
        validation_alias="DASK_SCHEDULER_ADDRESS",  # the variable dask itself reads
        description="A running cluster (tcp://host:8786); unset: a LocalCluster here",
    )
    dask_workers: int = Field(2, ge=1, description="Processes of the LocalCluster")
    dask_worker_memory: str = Field("2GiB", description="Memory limit of each LocalCluster worker")
    dask_sample_rows: int = Field(
        200_000, ge=1000, description="Bounded sample the linear baseline and the plots use"
    )

    # outputs and tracking
    processed_dir: Path = Path("data/processed")
    reports_dir: Path = Path("reports")
    model_name: str = "credit_risk"

    # serving
    model_dir: Path = Path("models/champion")
    model_uri: str | None = Field(None, description="models:/NAME@champion: served, not model_dir")
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_rows: int = Field(1000, ge=1)
    max_body_bytes: int = Field(2_000_000, ge=1024)
    cors_origins: list[str] = Field(default_factory=list, description="Origins that may call")
    workers: int = Field(2, ge=1, description="Processes of `make serve-prod` and the image")
    reload_interval_s: float = Field(10.0, ge=0, description="Poll for a new model; 0: never")
    admin_token: SecretStr | None = Field(
        None,
        min_length=1,  # empty would let a request without a token through
        description="Enables POST /admin/reload for requests carrying this bearer token",
    )
    admin_allow_remote: bool = Field(False, description="/admin/reload from other machines")

    # monitoring: the prediction log and `make drift`
    prediction_log: bool = Field(False, description="Record requests and predictions (opt-in)")
    prediction_log_dir: Path = Path("logs/predictions")
    prediction_log_allow: list[str] = Field(
        default_factory=list,
        description="Personal-looking columns (name, email, phone, ...) the log may record",
    )
    prediction_log_file_mb: float = Field(10.0, gt=0, description="Start a new file past this")
    prediction_log_max_mb: float = Field(100.0, gt=0, description="Delete the oldest past this")
    drift_psi: float = Field(0.2, gt=0, description="PSI from which a feature can alarm")
    drift_alpha: float = Field(
        0.01, gt=0, lt=1, description="...if its two-sample test's p-value is also below this"
    )
    drift_unseen_share: float = Field(
        0.05, ge=0, le=1, description="Share of never-seen categories that alarms on its own"
    )
    drift_min_rows: int = Field(50, ge=1, description="Fewer current rows give no verdict")

    def path(self, relative: Path) -> Path:
        """An absolute path: settings hold paths relative to the project root."""
        return relative if relative.is_absolute() else PROJECT_ROOT / relative
