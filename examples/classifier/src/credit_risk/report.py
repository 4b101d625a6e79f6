"""Fill the README's machine-written blocks from the champion's (or latest) MLflow run.

``make report`` rewrites only what sits between ``<!-- auto:NAME -->`` markers in
README.md (the dataset card, the model comparison, the headline number and the interview
questions answered from the run, ``ops/answers.py``) and writes
``reports/walkthrough.json`` for ``mlportfolio check``. It first copies the run's
``reports/`` artifacts back into ``reports/``, so each evidence link opens that run's
file. Every number comes from the run or the data file; running it twice changes nothing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from .config import PROJECT_ROOT, Settings
from .data import read_raw
from .evaluate import COLUMNS as METRICS
from .evaluate import MAJORITY
from .ops import answers, champion, tracking
from .ops.readme_blocks import SUMMARY_FILE, ReadmeBlockError, markdown_table, publish

COLUMNS = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "f1": "F1", "brier": "Brier (lower is better)"}
REPRODUCE = "make install train report"
MODEL_NAMES = {"lightgbm": "LightGBM", "logistic_regression": "logistic-regression"}


class ReportError(RuntimeError):
    """There is nothing to report yet, or the README cannot take the report."""


@dataclass(frozen=True)
class RunFacts:
    """What the README says about one training run."""

    run_id: str
    source: str  # "champion vN" or "latest run"
    selected: str
    test: dict[str, dict[str, float]]  # model -> metric -> value, selected model first
    cv_pr_auc: dict[str, float]
    params: dict[str, str]

    @property
    def best_alternative(self) -> str | None:
        """The strongest other trained model (the majority-class rule does not count)."""
        others = [name for name in self.test if name not in (self.selected, MAJORITY)]
        return max(others, key=lambda name: self.test[name]["pr_auc"], default=None)


def find_run(client: MlflowClient, settings: Settings) -> tuple[Run, str]:
    """The run behind the ``champion`` alias, else the latest finished training run."""
    found = champion.served_run(client, settings.model_name, "test_pr_auc")
    if found is None:
        raise ReportError("no training run found: run `make train` first")
    return found


def run_facts(run: Run, source: str) -> RunFacts:
    """Group the run's flat metric names (``test_<metric>[_<model>]``) by model."""
    metrics, params = run.data.metrics, run.data.params
    selected = params.get("selected_model", "selected")
    test: dict[str, dict[str, float]] = {selected: {}}
    cv_pr_auc: dict[str, float] = {}
    for key, value in metrics.items():
        if key.startswith("cv_pr_auc_"):
            cv_pr_auc[key.removeprefix("cv_pr_auc_")] = value
            continue
        rest = key.removeprefix("test_")
        metric = next((m for m in METRICS if rest == m or rest.startswith(f"{m}_")), None)
        if rest == key or metric is None:
            continue
        model = selected if rest == metric else rest.removeprefix(f"{metric}_")
        test.setdefault(model, {})[metric] = value
    return RunFacts(run.info.run_id, source, selected, test, cv_pr_auc, params)


def dataset_block(settings: Settings, facts: RunFacts) -> str:
    """The dataset card: file, size, label balance, missing values."""
    frame = read_raw(settings)
    shares = frame[settings.target].value_counts(normalize=True)
    balance = ", ".join(f"`{label}` {share:.1%}" for label, share in shares.items())
    features = [column for column in frame.columns if column != settings.target]
    missing = frame[features].isna().mean()
    worst = missing.idxmax() if missing.max() > 0 else None
    ids = ", ".join(settings.drop_columns)
    dropped = f"; dropped as IDs: {ids}" if ids else ""
    most_missing = f"; most in `{worst}` ({missing.max():.1%})" if worst else ""
    split = f"{_count(facts, 'n_train')} train, {_count(facts, 'n_test')} test"
    rows = [
        ("data", f"`{settings.data_file.as_posix()}`"),
        ("rows", f"{len(frame):,} ({split}, the test split written once)"),
        ("target", f"`{settings.target}`: {balance}"),
        ("features", f"{len(features)} columns{dropped}"),
        ("missing values", f"{missing.mean():.1%} of cells{most_missing}"),
    ]
    return markdown_table(("", ""), rows)


def comparison_block(facts: RunFacts) -> str:
    """Every model's test-split metrics beside its cross-validation PR-AUC."""
    header = ("model", "CV PR-AUC", *(f"test {title}" for title in COLUMNS.values()))
    rows = []
    for model, values in facts.test.items():
        name = f"**{model}** (selected)" if model == facts.selected else model
        cv = facts.cv_pr_auc.get(model)
        cells = [f"{values[key]:.3f}" if key in values else "" for key in COLUMNS]
        rows.append((name, f"{cv:.3f}" if cv is not None else "n/a", *cells))
    threshold = facts.params.get("threshold")
    note = (
        f"Selected by {facts.params.get('cv_folds', '?')}-fold CV PR-AUC on the training split; "
        + (
            f"decision threshold {float(threshold):.3f} chosen on out-of-fold predictions "
            f"({facts.params.get('threshold_objective', '?')}), never on the test split."
            if threshold not in (None, "None")
            else "multiclass: the label is the most likely class."
        )
    )
    return markdown_table(header, rows) + "\n\n" + note


def headline_block(facts: RunFacts) -> str:
    """One sentence with the headline number, its baselines and where it comes from."""
    ours = facts.test[facts.selected]["pr_auc"]
    parts = [f"**Test PR-AUC {ours:.3f}** for {facts.selected}"]
    if alternative := facts.best_alternative:
        parts.append(f"vs {facts.test[alternative]['pr_auc']:.3f} for {alternative}")
    if MAJORITY in facts.test:
        parts.append(f"and {facts.test[MAJORITY]['pr_auc']:.3f} for the majority-class rule")
    return (
        " ".join(parts)
        + f", on {_count(facts, 'n_test')} test rows that no decision saw.\n\n"
        + f"MLflow run `{facts.run_id}` ({facts.source}); reproduce with `{REPRODUCE}`."
    )


def resume_bullets(facts: RunFacts, settings: Settings) -> list[str]:
    """Two resume lines built only from the run's numbers.

    The comparison names the other model only when ours beat it on the test split; when
    it did not (CV picked ours, the test split disagreed within its noise), a resume line
    claims the lift over chance, which the majority-class rule measures.
    """
    ours = facts.test[facts.selected]["pr_auc"]
    versus = ""
    alternative = facts.best_alternative
    if alternative and facts.test[alternative]["pr_auc"] < ours:
        versus = f" vs {facts.test[alternative]['pr_auc']:.3f} for {_name(alternative)}"
    elif MAJORITY in facts.test:
        versus = f" vs {facts.test[MAJORITY]['pr_auc']:.3f} for the majority-class baseline"
    rows = sum(int(facts.params.get(key, 0)) for key in ("n_train", "n_test"))
    return [
        f"Built a {_name(facts.selected)} classifier for `{settings.target}` on {rows:,} rows: "
        f"test PR-AUC {ours:.3f}{versus}, with a leak-free scikit-learn pipeline, "
        f"{facts.params.get('cv_folds', '?')}-fold CV and a threshold chosen on out-of-fold "
        "predictions.",
        "Tracked every run in MLflow with a model registry whose `champion` alias moves only "
        "on a cross-validated PR-AUC gain over a set margin, and served the champion over "
        "FastAPI as the pipeline compiled to ONNX.",
    ]


def _name(model: str) -> str:
    return MODEL_NAMES.get(model, model)


def quotable_metrics(facts: RunFacts) -> dict[str, float]:
    """The numbers a user may quote, named as in the comparison table."""
    quotable = {f"cv_pr_auc.{model}": value for model, value in facts.cv_pr_auc.items()}
    for model, values in facts.test.items():
        quotable.update({f"test.{model}.{key}": value for key, value in values.items()})
    return quotable


def report(settings: Settings, readme: Path) -> tuple[RunFacts, bool]:
    """Fill ``readme`` and the summary file; return the facts used and whether README changed."""
    tracking.configure()
    run, source = find_run(MlflowClient(), settings)
    facts = run_facts(run, source)
    evidence = answers.restore_reports(facts.run_id, settings.path(settings.reports_dir))
    blocks = {
        "dataset": dataset_block(settings, facts),
        "comparison": comparison_block(facts),
        "headline": headline_block(facts),
    }
    flagged = evidence.get("leakage", {}).get("flagged", [])
    warnings = [f"possible leak: {name}" for name in flagged]
    try:
        changed = publish(
            readme,
            blocks,
            summary=PROJECT_ROOT / SUMMARY_FILE,
            run_id=facts.run_id,
            metrics=quotable_metrics(facts),
            resume_bullets=resume_bullets(facts, settings),
            warnings=warnings,
            answers=answers.build(facts, run.data.metrics, evidence),
        )
    except ReadmeBlockError as error:
        raise ReportError(str(error)) from error
    return facts, changed


def _count(facts: RunFacts, param: str) -> str:
    value = facts.params.get(param, "?")
    return f"{int(value):,}" if value.isdigit() else value


def main() -> None:
    """``make report``: print what was filled, or one line saying what is missing."""
    try:
        facts, changed = report(Settings(), PROJECT_ROOT / "README.md")
    except ReportError as error:
        sys.exit(f"error: {error}")
    state = "updated" if changed else "already up to date"
    print(f"README.md {state} from MLflow run {facts.run_id} ({facts.source})")


if __name__ == "__main__":
    main()
