"""Fixture prose that stands in for a user's own words in the README walkthrough.

``fill_placeholders`` replaces every ``TODO(you)`` line with a paragraph written for its
section, long enough for a 5-7 minute walkthrough once the run-filled blocks are added,
stating a tradeoff in Action and a reflection in Reflection, and quoting no number (the
numbers live in the auto blocks, which ``make report`` fills).
"""

from __future__ import annotations

from pathlib import Path

PROSE = {
    "Situation": (
        "A lender approves or declines applications every day, and each mistake has a price. "
        "When we approve someone who later defaults we lose the money we lent, and when we "
        "decline a good applicant we lose a customer and the interest they would have paid. "
        "Today an analyst reads every file by hand, which is slow and inconsistent between "
        "analysts, and the expensive mistake is the missed defaulter. The goal of this "
        "project is a model that ranks applications by risk, so the analysts spend their "
        "time on the risky files first and the clear cases move through quickly. I framed "
        "it as a ranking problem first and a decision problem second, because the business "
        "can move the cut-off later without retraining anything. A wrong decline is "
        "cheaper than a wrong approval here, but not free, and that asymmetry shaped every "
        "later choice, from the metric to the threshold. "
    ),
    "Task": (
        "The data is a public table of past applications with the outcome we want to "
        "predict, a mix of numbers and categories, and missing values in several columns. "
        "The positive class is the minority, so accuracy would flatter any model that says "
        "no to nothing. What made it hard was the imbalance, the missing incomes, and "
        "columns that look numeric but are really codes. I split off a stratified test set "
        "once, wrote it to disk and never looked at it while choosing anything, so the "
        "number I quote at the end is an honest estimate of what happens on new data. "
        "Everything else I learned about the data came from the training split alone, "
        "through cross-validation with the same folds for every model. I also dropped "
        "identifier columns, because a model that memorises row numbers looks brilliant in "
        "training and fails the first day it sees a new applicant. "
    ),
    "Action": (
        "I compared a regularised linear model with gradient boosting inside the same "
        "pipeline, so preprocessing is fitted inside each fold and nothing from a "
        "validation fold leaks into training. The tradeoff I made was interpretability "
        "against ranking quality: boosting captures interactions without hand-made "
        "features, but it is harder to explain than a table of coefficients and slower per "
        "prediction, so I chose it only because cross-validation said so instead of "
        "because it is fashionable. To keep serving cheap I compiled the fitted pipeline "
        "to ONNX, which made single predictions far faster than the generic path at the "
        "cost of a converter dependency, and a test proves the compiled model agrees with "
        "the pipeline on every test row. The threshold is picked on out-of-fold predictions "
        "to balance precision and recall, never on the test set. The alternative that lost "
        "is in the table below, with its cross-validated and test scores side by side. "
    ),
    "Result": (
        "The headline below is the number I would defend: it comes from the test set "
        "that no model selection touched, it sits next to the linear baseline and the "
        "majority-class rule, and the run id lets anyone reproduce it from the tracking "
        "store. For the business it means the analysts can review the riskiest files "
        "first and catch most defaulters while reviewing far fewer files than today. "
        "The model is registered, and the champion alias only moves when a new model "
        "beats the current one's cross-validated score by a set margin, so a worse retrain cannot "
        "reach production by accident. I report the ranking metric rather than accuracy "
        "because with a rare positive class accuracy rewards a model that never flags "
        "anyone, and that model is exactly what the majority-class row shows. "
    ),
    "Reflection": (
        "What didn't work: I never searched the boosting settings, so the comparison is "
        "between two reasonable defaults, not two tuned models. Class weights helped recall but "
        "made the probabilities run high, which matters if someone reads them as a risk. "
        "Next time I would calibrate the probabilities on out-of-fold predictions, agree "
        "on the real cost of each kind of mistake with the business before choosing the "
        "threshold, and monitor drift in the inputs and in the predicted risk every week, "
        "rolling back to the previous registered version if the live metrics drop. I would "
        "also collect the outcomes of declined applicants where the law allows, because a "
        "model trained only on approved loans never learns from the people it turned away. "
    ),
}


def fill_placeholders(readme: Path, repeat: int = 1) -> None:
    """Replace every ``TODO(you)`` line of ``readme`` with its section's fixture prose."""
    lines, section = [], ""
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = next((name for name in PROSE if name in line), section)
        if "TODO(you)" in line:
            line = (PROSE[section] * repeat).strip()
        lines.append(line)
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")
