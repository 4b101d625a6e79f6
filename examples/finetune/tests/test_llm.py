"""The optional LLM track on a tiny random causal LM: prompting, LoRA, merge, serve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from review_sentiment import llm, writeup
from review_sentiment.config import Settings
from review_sentiment.model import bundled_encoder
from review_sentiment.serve import create_app


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide Llama with random weights and MiniLM's tokenizer (no download)."""
    folder = tmp_path_factory.mktemp("tiny-llm")
    tokenizer = AutoTokenizer.from_pretrained(bundled_encoder())
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def llm_settings(settings: Settings, tiny_causal_lm: Path) -> Settings:
    return settings.model_copy(
        update={
            "base_model": str(tiny_causal_lm),
            "llm_train_size": 12,
            "llm_test_size": 6,
            "llm_shots": 2,
            "serve_llm": True,
        }
    )


def test_the_prompt_lists_the_labels_and_ends_before_the_answer() -> None:
    text = llm.prompt("a fine film", ["bad", "good"], [("dull", "bad")])
    assert "one of: bad, good" in text and "Text: dull\nLabel: bad" in text
    assert text.endswith("Text: a fine film\nLabel:")


def test_a_hub_name_shipped_in_a_wheel_resolves_to_its_file_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "weights_wheel"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (package / "model.gguf").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(llm.BUNDLED, "org/model", ("weights_wheel", "model.gguf"))
    assert llm.resolve("org/model") == str(package / "model.gguf")
    assert llm.resolve("org/elsewhere") == "org/elsewhere"


def test_only_answer_tokens_carry_a_loss(tiny_causal_lm: Path) -> None:
    model, tokenizer = llm.load_causal_lm(str(tiny_causal_lm))
    classifier = llm.LLMClassifier(model, tokenizer, ["bad", "good"], shots=[])
    pairs = [classifier._encode("short", "good"), classifier._encode("a longer text", "bad")]
    batch = classifier._batch(pairs)
    for row, (ids, start) in enumerate(pairs):
        targets = batch["labels"][row]
        assert (targets[:start] == -100).all() and (targets[len(ids) :] == -100).all()
        assert (targets[start : len(ids)] != -100).all()


def test_prompting_then_lora_then_merge_then_serve(llm_settings: Settings) -> None:
    metrics = llm.run(llm_settings)
    for key in ("llm_prompted.test_accuracy", "llm_lora.test_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["llm_lora.trainable_params"] > 0
    assert (llm_settings.llm_dir / "model.safetensors").exists()
    logged = writeup._llm_run()
    assert logged is not None
    assert logged["llm_lora.test_accuracy"] == metrics["llm_lora.test_accuracy"]

    reloaded = llm.load_classifier(llm_settings.llm_dir)
    proba = reloaded.predict_proba(["a great film", "a dull film"])
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    with TestClient(create_app(llm_settings)) as client:
        response = client.post("/predict", json={"text": "a charming film"})
        assert response.status_code == 200
        assert response.json()["label"] in reloaded.labels


def test_the_writeup_quotes_the_llm_run_when_there_is_one() -> None:
    metrics = {
        "finetuned.test_accuracy": 0.8,
        "tfidf_lr.test_accuracy": 0.7,
        "finetuned.trainable_params": 1e6,
    }
    llm_run = {
        "run_id": "abc123",
        "base_model": "tiny",
        "shots": "2",
        "n_test": "6",
        "llm_prompted.test_accuracy": 0.5,
        "llm_lora.test_accuracy": 0.625,
    }
    text = writeup._decision(0.05, metrics, llm_run)
    assert "abc123" in text and "0.500" in text and "0.625" in text
    assert "not measured" in writeup._decision(0.05, metrics, None)
