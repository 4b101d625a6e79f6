"""``make rollback``: point ``champion`` back at the previous version, and serve it.

The alias moves in the registry (recorded as an event, see ``champion.py``), then
``export_champion`` writes that version to ``models/champion``, whose ``registry.json``
now names it. A running service polls its model source (``hot_reload.py``) and swaps the
version in within one ``reload_interval_s``: no restart, no image rebuild.

    make rollback               # the champion before the current one
    make rollback VERSION=3     # a version by number
"""

from __future__ import annotations

import argparse
import sys

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..config import Settings
from ..register import export_champion
from . import champion, tracking


def roll_back(settings: Settings, to: str | None = None) -> champion.Move:
    """Move the alias back (to ``to`` if given) and export that version for the service."""
    tracking.configure()
    move = champion.rollback(MlflowClient(), settings.model_name, to)
    export_champion(settings, move.current)
    return move


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", metavar="VERSION", help="a registered version number")
    args = parser.parse_args(argv)
    try:
        move = roll_back(Settings(), args.to)
    except (champion.RollbackError, MlflowException) as error:
        sys.exit(f"error: rollback failed: {error}")
    print(move)


if __name__ == "__main__":
    main()
