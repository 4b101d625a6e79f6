"""The ``champion`` alias: who holds it, every move recorded, and moving it back.

MLflow keeps only where an alias points now, not where it pointed before, so every move
made here is also written to the registry as an event: the registered model's tag
``champion_history`` (a JSON list, newest last, bounded) and a timestamp tag on the version
that gained the alias (``champion_promoted_at`` or ``champion_restored_at``). Both show in
the MLflow UI. The history is a stack: a promotion pushes a version, a rollback pops one,
so rolling back twice after two promotions returns to the first champion.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .tracking import CHAMPION, EXPERIMENT

HISTORY_TAG = "champion_history"
MAX_EVENTS = 20  # a tag value is bounded (a few KB): keep the latest moves only


def served_run(client: MlflowClient, model_name: str, metric: str) -> tuple[Run, str] | None:
    """The run ``make report`` describes: the champion's, else the latest run that logged
    ``metric`` (a training run, not a bench or an evaluation); None when there is none."""
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
        return client.get_run(version.run_id), f"champion v{version.version}"
    except MlflowException:
        pass
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"metrics.`{metric}` >= 0",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return (runs[0], "latest run") if runs else None


class RollbackError(Exception):
    """The alias cannot move back: the message says why and what to do instead."""


@dataclass(frozen=True)
class AliasEvent:
    """One move of the alias, as stored in ``champion_history``."""

    action: str  # "promote" | "rollback" | "pin"
    version: str
    previous: str | None
    at: str
    reason: str


@dataclass(frozen=True)
class Move:
    """Where the alias was and where it points now."""

    model_name: str
    previous: str | None
    current: str

    def __str__(self) -> str:
        before = f"v{self.previous}" if self.previous else "none"
        return f"{CHAMPION}: {before} -> v{self.current}"


def champion_version(client: MlflowClient, model_name: str) -> str | None:
    """The version the alias points at, or None when there is no champion yet."""
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def history(client: MlflowClient, model_name: str) -> list[AliasEvent]:
    """Every recorded move of the alias, oldest first."""
    raw = client.get_registered_model(model_name).tags.get(HISTORY_TAG, "[]")
    return [AliasEvent(**event) for event in json.loads(raw)]


def promote(client: MlflowClient, model_name: str, version: str, reason: str) -> Move:
    """Point the alias at ``version`` and record it as a promotion."""
    return _move(client, model_name, version, "promote", reason)


def rollback(client: MlflowClient, model_name: str, to: str | None = None) -> Move:
    """Point the alias back at the previous champion (or at version ``to``).

    The previous champion comes from the recorded history, replayed as a stack. A move
    made outside this module (the UI, another script) is taken as the current top.
    """
    current = champion_version(client, model_name)
    if current is None:
        raise RollbackError(f"{model_name} has no {CHAMPION} yet: run `make train` first")
    if to is None:
        stack = _champion_stack(history(client, model_name), current)
        if len(stack) < 2:
            raise RollbackError(
                f"no earlier {CHAMPION} recorded for {model_name} (v{current} is the first): "
                "name one with `make rollback VERSION=N`"
            )
        to = stack[-2]
        return _move(client, model_name, to, "rollback", f"rolled back from v{current}")
    client.get_model_version(model_name, to)  # raises if the version does not exist
    return _move(client, model_name, to, "pin", f"set by hand, was v{current}")


def _champion_stack(events: list[AliasEvent], current: str) -> list[str]:
    """The champions in order, like a browser's history: a promotion or a pin pushes its
    version; a rollback pops the version it left, so its target is on top again."""
    stack: list[str] = []
    for event in events:
        if event.action != "rollback":
            stack.append(event.version)
            continue
        if stack:
            stack.pop()  # the version rolled back from
        if not stack or stack[-1] != event.version:  # its target was never recorded
            stack.append(event.version)
    if not stack or stack[-1] != current:  # moved outside this module: take it as the top
        stack.append(current)
    return stack


def _move(client: MlflowClient, model_name: str, version: str, action: str, reason: str) -> Move:
    previous = champion_version(client, model_name)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    event = AliasEvent(action=action, version=version, previous=previous, at=at, reason=reason)
    events = [*history(client, model_name), event][-MAX_EVENTS:]
    client.set_registered_model_tag(
        model_name, HISTORY_TAG, json.dumps([asdict(item) for item in events])
    )
    tag = "champion_promoted_at" if action == "promote" else "champion_restored_at"
    client.set_model_version_tag(model_name, version, tag, at)
    return Move(model_name, previous, version)
