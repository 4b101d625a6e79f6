"""Refuse or answer: what each value of the sentence threshold trades, on this corpus.

A threshold that refuses more also answers less. Measuring one side alone hides that:
the eval questions are all answerable, so on them the best threshold is "never refuse".
This module asks both kinds together. The answerable ones are the dev split's (the split
that may inform a setting); the unanswerable ones are ``data/eval/unanswerable.jsonl``
(bundled for the Python docs: other languages, tools and everyday topics) or, for a
corpus of your own without that file, ``OTHER_DOMAIN``: questions about cooking, sport,
geography and the sky, which no technical corpus answers.

``sweep`` retrieves and scores each question's sentences once, then replays the two gates
of ``answer.py`` at every value of ``min_sentence_similarity`` in ``THRESHOLDS`` (the
passage gate stays at ``min_confidence``): the share of answerable questions answered
with a gold citation, and the share of unanswerable ones refused. The configured value
is marked on the plot; it is a setting, not fitted here (docs/DESIGN.md says how to move
it). The extractive answerer is what is scored: the chat backend sits behind the same
gates.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..answer import Assistant, Sentence, cited_numbers, quote
from ..config import Settings

THRESHOLDS = tuple(round(0.2 + 0.05 * step, 2) for step in range(11))  # 0.20 ... 0.70
OTHER_DOMAIN = (
    "How long should I rest a steak after grilling it?",
    "What is the offside rule in football?",
    "Which river flows through Budapest?",
    "How many moons does Jupiter have?",
    "What is a good substitute for buttermilk in pancakes?",
    "Who won the first Tour de France?",
    "What is the capital of Australia?",
    "Why is the sky blue at noon and red at sunset?",
    "How often should I water a cactus?",
    "How do I knit a cable stitch?",
    "What temperature should bread dough proof at?",
    "When is the best time to see the Perseid meteor shower?",
    "How many players are on a volleyball team?",
    "What is the tallest mountain in Africa?",
    "How do I remove a red wine stain from a carpet?",
    "What causes the tides?",
    "How do you score a try in rugby?",
    "Which countries border Switzerland?",
    "How long do I boil an egg for a runny yolk?",
    "What is the difference between a comet and an asteroid?",
)


@dataclass(frozen=True)
class Point:
    """Both sides of one threshold value."""

    threshold: float
    answered_correctly: float  # answerable questions answered with a gold citation
    refused_unanswerable: float  # unanswerable questions refused


@dataclass(frozen=True)
class Tradeoff:
    """The sweep, the configured threshold and what the two question sets were."""

    points: list[Point]
    chosen: float
    n_answerable: int
    n_unanswerable: int
    unanswerable_source: str

    def at_chosen(self) -> Point:
        return next(point for point in self.points if point.threshold == self.chosen)

    def metrics(self) -> dict[str, float]:
        """What MLflow and README quote: the configured threshold's two shares."""
        point = self.at_chosen()
        return {
            "dev_answered_correctly_at_threshold": point.answered_correctly,
            "unanswerable_refusal_rate": point.refused_unanswerable,
            "n_unanswerable_questions": self.n_unanswerable,
        }


@dataclass(frozen=True)
class _Scored:
    """One question retrieved and scored once; ``outcome`` replays the gates."""

    confidence: float
    sentences: list[Sentence]  # closest first
    gold: set[int]  # citation numbers of gold passages (empty: unanswerable)


def unanswerable_questions(settings: Settings) -> tuple[list[str], str]:
    """The unanswerable questions and where they came from."""
    path = settings.path(settings.unanswerable_file)
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["question"] for line in lines if line.strip()], path.name
    return list(OTHER_DOMAIN), "other-domain questions (ops/refusal.py)"


def sweep(
    assistant: Assistant, answerable: list[tuple[str, str, str | None]], settings: Settings
) -> Tradeoff:
    """Score every question once (``answerable``: question, gold source, gold anchor or
    None for the whole file), then both shares at every threshold value."""
    unanswerable, where = unanswerable_questions(settings)
    good = [_score(assistant, text, (source, anchor)) for text, source, anchor in answerable]
    bad = [_score(assistant, text, None) for text in unanswerable]
    chosen = settings.min_sentence_similarity
    points = [
        Point(
            threshold,
            _share([_answers_gold(s, threshold, settings) for s in good]),
            _share([_refuses(s, threshold, settings) for s in bad]),
        )
        for threshold in sorted({*THRESHOLDS, chosen})
    ]
    return Tradeoff(points, chosen, len(good), len(bad), where)


def _score(assistant: Assistant, question: str, gold: tuple[str, str | None] | None) -> _Scored:
    retriever, settings = assistant.retriever, assistant.settings
    vector = retriever.embed(question)
    hits = retriever.search(question, settings.top_k, settings.retriever, vector)
    confidence = retriever.confidence(vector, hits) if hits else -1.0
    sentences = assistant.closest_sentences(question, vector, hits) if hits else []
    cited = {
        n
        for n, hit in enumerate(hits, 1)
        if gold and hit.passage.source == gold[0] and gold[1] in (None, hit.passage.anchor)
    }
    return _Scored(confidence, sentences, cited)


def _refuses(scored: _Scored, threshold: float, settings: Settings) -> bool:
    best = scored.sentences[0].similarity if scored.sentences else -1.0
    return scored.confidence < settings.min_confidence or best < threshold


def _answers_gold(scored: _Scored, threshold: float, settings: Settings) -> bool:
    if _refuses(scored, threshold, settings):
        return False
    text = quote(scored.sentences, settings.answer_sentences, threshold)
    return bool(cited_numbers(text) & scored.gold)


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def write(tradeoff: Tradeoff, settings: Settings, run_id: str | None) -> tuple[Path, Path]:
    """``reports/refusal.json`` (with the run id) and ``reports/refusal.png``."""
    folder = settings.path(settings.reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, **asdict(tradeoff)}
    data = folder / "refusal.json"
    data.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return data, plot(tradeoff, folder / "refusal.png")


def plot(tradeoff: Tradeoff, path: Path) -> Path:
    """Both shares against the threshold, the configured value marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [point.threshold for point in tradeoff.points]
    figure, axes = plt.subplots(figsize=(6, 4))
    answered = [point.answered_correctly for point in tradeoff.points]
    refused = [point.refused_unanswerable for point in tradeoff.points]
    good = f"answerable, answered with a gold citation (dev, n={tradeoff.n_answerable})"
    axes.plot(x, answered, "o-", label=good)
    axes.plot(x, refused, "s-", label=f"unanswerable, refused (n={tradeoff.n_unanswerable})")
    chosen = f"min_sentence_similarity = {tradeoff.chosen:g}"
    axes.axvline(tradeoff.chosen, color="grey", linestyle="--", label=chosen)
    axes.set(xlabel="min_sentence_similarity", ylabel="share of questions", ylim=(0, 1.02))
    axes.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
