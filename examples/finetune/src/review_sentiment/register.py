"""Register each trained model; move ``champion`` only to a better one; export it to serve.

Every training run registers its fine-tuned model (safetensors, tokenizer, labels: the
run's ``model/`` artifacts) as a new version. The alias ``champion`` moves to it only when
the comparison is fair and it wins:

- no champion yet: it becomes the first;
- same test rows as the champion (the run's ``test_split_sha256`` tag): it must beat the
  champion's test macro-F1 (every label counts the same, so a majority label cannot carry
  it); a tie keeps the champion;
- different test rows (new data, another seed or split size, a smoke run): the scores
  cannot be compared, so the champion stays and the message says how to promote the new
  version by hand (``make rollback VERSION=N`` points the alias at any version).

``models/finetuned`` always holds the champion, with ``registry.json`` naming its version:
the service serves that folder and watches that file, so a promotion or ``make rollback``
reaches a running service without a restart. Every move is recorded (``champion.py``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from . import champion, model, tracking
from .config import Settings

PRIMARY = "finetuned.test_macro_f1"
SPLIT_TAG = "test_split_sha256"


@dataclass(frozen=True)
class Registration:
    """The registered version and what happened to the alias (``message`` says why)."""

    version: str
    promoted: bool
    message: str


def split_fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 of the test rows, in order: equal only when two runs scored the same rows."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(json.dumps([text, label]).encode())
    return digest.hexdigest()


def register(run_id: str, settings: Settings) -> Registration:
    """Register the run's ``model/`` artifacts; if they win, export them, then promote.

    Export first: if the download fails, the alias has not moved, so the registry and
    ``models/finetuned`` still agree.
    """
    client = MlflowClient()
    try:
        client.get_registered_model(tracking.MODEL_NAME)
    except MlflowException:
        client.create_registered_model(tracking.MODEL_NAME)
    source = f"{client.get_run(run_id).info.artifact_uri}/model"
    version = str(client.create_model_version(tracking.MODEL_NAME, source, run_id).version)
    wins, reason = judge(client, version, run_id)
    if wins:
        export_champion(settings, version)
        champion.promote(client, tracking.MODEL_NAME, version, reason)
    return Registration(version, wins, reason)


def judge(client: MlflowClient, version: str, run_id: str) -> tuple[bool, str]:
    """Apply the rules in the module docstring: (should it be champion, the reason)."""
    name = tracking.MODEL_NAME
    new = client.get_run(run_id).data
    score = new.metrics[PRIMARY]
    current = champion.champion_version(client, name)
    if current is None:
        return True, f"{name} v{version} is the first champion (test macro-F1 {score:.4f})"
    held = client.get_run(str(client.get_model_version(name, current).run_id)).data
    best = held.metrics.get(PRIMARY, float("-inf"))
    if new.tags.get(SPLIT_TAG) != held.tags.get(SPLIT_TAG):
        return False, (
            f"champion stays v{current}: v{version} was scored on other test rows (other "
            f"data, seed or split size), so its macro-F1 {score:.4f} cannot be compared with "
            f"{best:.4f}; make it the champion with `make rollback VERSION={version}`"
        )
    if score > best:
        return True, (
            f"{name} v{version} is the new champion: test macro-F1 {score:.4f} "
            f"beats v{current}'s {best:.4f} on the same test rows"
        )
    return False, (
        f"champion stays v{current} (test macro-F1 {best:.4f}); v{version} scored "
        f"{score:.4f} on the same rows and is registered without the alias"
    )


def export_champion(settings: Settings, version: str) -> Path:
    """Copy a registered version to ``models/finetuned`` with ``registry.json`` naming it.

    Staged in a fresh folder beside the target and renamed into place: a service reading
    the folder sees the old model or the new one, never half of one.
    """
    client = MlflowClient()
    run_id = str(client.get_model_version(tracking.MODEL_NAME, version).run_id)
    target = settings.model_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    mlflow.artifacts.download_artifacts(
        f"models:/{tracking.MODEL_NAME}/{version}", dst_path=str(staging)
    )
    registry = {"model_name": tracking.MODEL_NAME, "version": version, "run_id": run_id}
    (staging / model.REGISTRY_FILE).write_text(json.dumps(registry) + "\n")
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    if target.exists():
        target.replace(old / target.name)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
