"""The optional LLM track on a tiny random causal LM: prompting, then LoRA, logged beside
the served encoder on the same test texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from review_sentiment import findings, pipeline, writeup
from review_sentiment.config import Settings
from review_sentiment.model import bundled_encoder
from review_sentiment.ops import causal_lm, llm


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
def llm_settings(settings: Settings, tiny_causal_lm: Path) -> llm.LLMSettings:
    return llm.LLMSettings(
        **settings.model_dump(),
        base_model=str(tiny_causal_lm),
        llm_train_size=12,
        llm_test_size=6,
        llm_shots=2,
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
    monkeypatch.setitem(causal_lm.BUNDLED, "org/model", ("weights_wheel", "model.gguf"))
    assert causal_lm.resolve("org/model") == str(package / "model.gguf")
    assert causal_lm.resolve("org/elsewhere") == "org/elsewhere"


def test_only_answer_tokens_carry_a_loss(tiny_causal_lm: Path) -> None:
    model, tokenizer = causal_lm.load_causal_lm(str(tiny_causal_lm))
    classifier = llm.LLMClassifier(model, tokenizer, ["bad", "good"], shots=[])
    pairs = [classifier._encode("short", "good"), classifier._encode("a longer text", "bad")]
    batch = classifier._batch(pairs)
    for row, (ids, start) in enumerate(pairs):
        targets = batch["labels"][row]
        assert (targets[:start] == -100).all() and (targets[len(ids) :] == -100).all()
        assert (targets[start : len(ids)] != -100).all()


def test_prompting_lora_and_the_served_encoder_are_logged_on_the_same_rows(
    settings: Settings, llm_settings: llm.LLMSettings
) -> None:
    pipeline.run(settings)  # the served encoder the LLM is compared with
    scores = llm.run(llm_settings)
    for key in ("llm_prompted.test_accuracy", "llm_lora.test_accuracy", "encoder.test_accuracy"):
        assert 0.0 <= scores[key] <= 1.0
    assert scores["llm_lora.trainable_params"] > 0
    facts = findings.load_facts(MlflowClient(), settings.model_name)
    assert facts.llm is not None
    assert facts.llm["llm_lora.test_accuracy"] == scores["llm_lora.test_accuracy"]
    assert "for the served fine-tuned encoder on the same texts" in writeup._alternatives(facts)


def test_the_writeup_compares_the_llm_with_the_encoder_only_on_the_same_rows() -> None:
    metrics = {"finetuned.test_accuracy": 0.8, "finetuned.trainable_params": 1e6}
    llm_run = {
        "run_id": "abc123",
        "base_model": "tiny",
        "shots": "2",
        "n_test": "6",
        "llm_prompted.test_accuracy": 0.5,
        "llm_prompted.test_accuracy_ci95": 0.4,
        "llm_lora.test_accuracy": 0.625,
        "llm_lora.test_accuracy_ci95": 0.387,
    }
    params = {"n_test": "2000"}
    facts = findings.Facts("run", "latest run", metrics, params, {}, None, llm=llm_run)
    text = writeup._alternatives(facts)
    assert "abc123" in text and "0.500 ± 0.400" in text and "0.625 ± 0.387" in text
    assert "not comparable" in text and "0.800 on all 2,000 test texts" in text
    same_rows = {**llm_run, "encoder.test_accuracy": 0.75, "encoder.test_accuracy_ci95": 0.35}
    facts = findings.Facts("run", "latest run", metrics, params, {}, None, llm=same_rows)
    assert "0.750 ± 0.350 for the served fine-tuned encoder on the same texts" in (
        writeup._alternatives(facts)
    )
    no_llm = findings.Facts("run", "latest run", metrics, params, {}, None)
    assert "Not measured" in writeup._alternatives(no_llm)
