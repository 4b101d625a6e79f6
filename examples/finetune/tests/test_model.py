"""Code tests for the model and the training loop, on a tiny random encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight

from review_sentiment import data, experiment, model, train
from review_sentiment.config import Settings


def _predictor(settings: Settings, labels: list[str]) -> model.Predictor:
    net, tokenizer = model.build(settings.encoder, labels)
    return model.Predictor(net, tokenizer, settings.max_length)


def test_mean_pool_ignores_padding() -> None:
    hidden = torch.tensor([1.0, 1.0, 3.0, 3.0, 100.0, 100.0]).reshape(1, 3, 2)
    mask = torch.tensor([1, 1, 0]).reshape(1, 3)
    pooled = model.mean_pool(hidden, mask)
    assert torch.allclose(pooled, torch.tensor([2.0, 2.0]).reshape(1, 2))


def test_save_then_load_gives_the_same_predictions(settings: Settings, tmp_path: Path) -> None:
    predictor = _predictor(settings, ["a", "b", "c"])
    texts = ["a short text", "another, longer text with more words in it"]
    before = predictor.predict_proba(texts)
    loaded = model.load(model.save(predictor, tmp_path / "saved"))
    assert loaded.labels == ["a", "b", "c"]
    np.testing.assert_allclose(loaded.predict_proba(texts), before, atol=1e-5)
    assert (tmp_path / "saved" / model.WEIGHTS).exists()
    assert not list((tmp_path / "saved").glob("*.bin")) and not list(
        (tmp_path / "saved").glob("*.pkl")
    )


def test_small_data_get_more_epochs_for_the_same_number_of_steps(settings: Settings) -> None:
    plan = settings.model_copy(update={"batch_size": 32, "min_train_steps": 150, "max_epochs": 20})
    assert train.plan_epochs(791, plan) == 6  # 25 steps an epoch
    assert train.plan_epochs(2500, plan) == 2  # 79 steps an epoch
    assert train.plan_epochs(50_000, plan) == 1
    assert train.plan_epochs(40, plan) == 20  # capped by max_epochs


def test_class_weights_match_scikit_learns_balanced_weights() -> None:
    labels = ["a"] * 12 + ["b"] * 3 + ["c"]
    classes = ["a", "b", "c"]
    targets = torch.tensor([classes.index(label) for label in labels])
    expected = compute_class_weight("balanced", classes=np.array(classes), y=labels)
    np.testing.assert_allclose(train.class_weights(targets, len(classes)), expected, rtol=1e-6)


def test_truncated_share_counts_test_texts_longer_than_max_length(settings: Settings) -> None:
    splits = data.split(data.load(settings), settings)
    for max_length, share in ((8, 1.0), (64, 0.0)):  # every toy text is 10 to 13 tokens
        capped = settings.model_copy(update={"max_length": max_length})
        predictor = experiment.candidate(capped, splits.labels)
        assert experiment._truncated_share(predictor, splits) == share


def test_the_new_head_learns_faster_than_the_encoder(settings: Settings) -> None:
    net = _predictor(settings, ["a", "b"]).model
    body, head = train.parameter_groups(net, settings.model_copy(update={"learning_rate": 1e-5}))
    assert (body["lr"], head["lr"]) == (1e-5, settings.head_learning_rate)
    assert head["params"] == list(net.head.parameters())
    grouped = len(body["params"]) + len(head["params"])
    assert grouped == len([p for p in net.parameters() if p.requires_grad])


def test_fine_tuning_learns_the_toy_task(settings: Settings) -> None:
    train.seed_everything(settings.seed)
    splits = data.split(data.load(settings), settings)
    predictor = _predictor(settings, splits.labels)
    history = train.fine_tune(predictor, splits.train, splits.val, settings)
    assert 1 <= len(history) <= settings.max_epochs
    assert history[-1].train_loss < history[0].train_loss
    predicted = predictor.predict(splits.test[data.TEXT].tolist())
    accuracy = np.mean(np.array(predicted) == splits.test[data.LABEL].to_numpy())
    assert accuracy > 0.8, f"a one-word task should be learnt, got {accuracy:.2f}"


def test_early_stopping_keeps_the_best_validation_epoch(settings: Settings) -> None:
    splits = data.split(data.load(settings), settings)
    predictor = _predictor(settings, splits.labels)
    history = train.fine_tune(predictor, splits.train, splits.val, settings)
    label_ids = {label: i for i, label in enumerate(splits.labels)}
    _, _, macro_f1 = train.validate(predictor, splits.val, label_ids, settings.batch_size)
    assert macro_f1 == max(epoch.val_macro_f1 for epoch in history)


def test_lora_trains_only_adapters_and_the_head(settings: Settings) -> None:
    splits = data.split(data.load(settings), settings)
    predictor = _predictor(settings, splits.labels)
    full = predictor.model.trainable_parameters()
    model.add_lora(predictor.model, rank=4)
    assert 0 < predictor.model.trainable_parameters() < full / 10
    one_epoch = settings.model_copy(update={"max_epochs": 1})
    assert len(train.fine_tune(predictor, splits.train, splits.val, one_epoch)) == 1


def test_the_time_budget_stops_training_and_says_so(settings: Settings) -> None:
    splits = data.split(data.load(settings), settings)
    predictor = _predictor(settings, splits.labels)
    rushed = settings.model_copy(update={"max_train_seconds": 1e-6, "max_epochs": 5})
    history = train.fine_tune(predictor, splits.train, splits.val, rushed)
    assert len(history) == 1 and history[0].out_of_time
