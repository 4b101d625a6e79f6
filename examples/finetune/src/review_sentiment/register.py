"""Register each trained model; move ``champion`` only to a better one; export it to serve.

Every run's fine-tuned model (its ``model/`` artifacts) becomes a new registry version.
The alias ``champion`` moves by ``judge``'s rule, decided on the validation split, never
the test split:
the first version takes it; a smoke run (``make train-smoke``, a tiny subset) never
replaces a champion, and a full run always replaces a smoke champion; between full runs on
the same validation rows (the ``val_split_sha256`` tag) the new one must beat the champion's
validation macro-F1 by ``promote_margin`` (a retrain that differs only by noise should not
replace a model that serves well); on other rows (new data, seed or split size) the scores
cannot be compared, so the champion stays and ``make rollback VERSION=N`` promotes by hand.

``models/champion`` always holds the champion, with ``registry.json`` naming its version:
the service serves that folder and watches that file, so a promotion or a rollback reaches
a running service without a restart. Every move is recorded (``ops/champion.py``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from . import model
from .config import Settings
from .experiment import SMOKE_RUN, SPLIT_TAGS
from .ops import champion

PRIMARY = "val_macro_f1"
SPLIT_TAG = SPLIT_TAGS["val"]
RUN_NAME = "mlflow.runName"  # SMOKE_RUN for `make train-smoke`


@dataclass(frozen=True)
class Registration:
    """The registered version and what happened to the alias (``message`` says why)."""

    version: str
    promoted: bool
    message: str


def register(run_id: str, settings: Settings) -> Registration:
    """Register the run's ``model/`` artifacts; if they win, export them, then promote.

    Export first: if the download fails, the alias has not moved, so the registry and
    ``models/champion`` still agree.
    """
    client = MlflowClient()
    try:
        client.get_registered_model(settings.model_name)
    except MlflowException:
        client.create_registered_model(settings.model_name)
    source = f"{client.get_run(run_id).info.artifact_uri}/model"
    version = str(client.create_model_version(settings.model_name, source, run_id).version)
    wins, reason = judge(client, settings, version, run_id)
    if wins:
        export_champion(settings, version)
        champion.promote(client, settings.model_name, version, reason)
    return Registration(version, wins, reason)


def judge(client: MlflowClient, settings: Settings, version: str, run_id: str) -> tuple[bool, str]:
    """Should ``version`` be champion (the module docstring's rules), and the reason.

    Macro-F1 counts every label the same, so a majority label cannot carry the score."""
    name, margin = settings.model_name, settings.promote_margin
    new = client.get_run(run_id).data
    score = new.metrics[PRIMARY]
    current = champion.champion_version(client, name)
    if current is None:
        return True, f"{name} v{version} is the first champion (val macro-F1 {score:.4f})"
    held = client.get_run(str(client.get_model_version(name, current).run_id)).data
    best = held.metrics.get(PRIMARY, float("-inf"))
    if new.tags.get(RUN_NAME) == SMOKE_RUN:
        return False, f"champion stays v{current}: v{version} is a smoke run (a tiny subset)"
    if held.tags.get(RUN_NAME) == SMOKE_RUN:
        return True, (
            f"{name} v{version} is the new champion: the first full run replaces the smoke "
            f"run v{current} (val macro-F1 {score:.4f}; {best:.4f} came from a tiny subset)"
        )
    if new.tags.get(SPLIT_TAG) != held.tags.get(SPLIT_TAG):
        return False, (
            f"champion stays v{current}: v{version} was validated on other rows (other "
            f"data, seed or split size), so its val macro-F1 {score:.4f} cannot be compared "
            f"with {best:.4f}; make it the champion with `make rollback VERSION={version}`"
        )
    if score >= best + margin:
        return True, (
            f"{name} v{version} is the new champion: val macro-F1 {score:.4f} beats "
            f"v{current}'s {best:.4f} by at least {margin} on the same validation rows"
        )
    return False, (
        f"champion stays v{current} (val macro-F1 {best:.4f}); v{version} scored "
        f"{score:.4f} on the same rows, less than {margin} better, and is registered "
        "without the alias"
    )


def export_champion(settings: Settings, version: str) -> Path:
    """Copy a registered version to ``models/champion`` with ``registry.json`` naming it.

    Staged in a fresh folder beside the target, then two renames (old out, new in): a
    reader sees the old model, the new one or, between the renames, no folder (a service
    starting then answers 503 until it is there), never half of one.
    """
    client = MlflowClient()
    run_id = str(client.get_model_version(settings.model_name, version).run_id)
    target = settings.model_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    mlflow.artifacts.download_artifacts(
        f"models:/{settings.model_name}/{version}", dst_path=str(staging)
    )
    registry = {"model_name": settings.model_name, "version": version, "run_id": run_id}
    (staging / model.REGISTRY_FILE).write_text(json.dumps(registry) + "\n")
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    if target.exists():
        target.replace(old / target.name)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
