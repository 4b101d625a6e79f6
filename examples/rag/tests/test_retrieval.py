"""Retrieval and answering on the fixture corpus: each retriever finds the right section,
answers cite it, unsure questions are refused, and the chat backend speaks the OpenAI API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from python_docs_qa.answer import Assistant, LLMError
from python_docs_qa.chunking import split_sentences
from python_docs_qa.config import Settings
from python_docs_qa.evaluate import load_questions, mcnemar_p, ranks, retrieval_metrics
from python_docs_qa.ops.synthetic import held_out, synthetic_questions
from python_docs_qa.retrieval import tokenize


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_retriever_finds_the_copying_section(assistant: Assistant, mode: str) -> None:
    hits = assistant.retriever.search("copy a file with shutil", 3, mode)  # type: ignore[arg-type]
    assert hits[0].passage.anchor == "copying-files"


def test_dense_finds_a_paraphrase_that_shares_no_word(assistant: Assistant) -> None:
    hits = assistant.retriever.search("duplicate a document", 1, "dense")
    assert hits[0].passage.anchor == "copying-files"


def test_hybrid_is_reciprocal_rank_fusion_with_the_standard_constant(
    assistant: Assistant,
) -> None:
    retriever, question = assistant.retriever, "socket timeout"
    k, n = retriever.settings.rrf_k, retriever.settings.candidates
    assert (k, retriever.settings.dense_weight) == (60, 1.0)  # untuned: see docs/DESIGN.md
    bm25 = retriever.search(question, n, "bm25")
    dense = retriever.search(question, n, "dense")
    expected: dict[int, float] = {}
    for ranking in (bm25, dense):
        for rank, hit in enumerate(ranking, start=1):
            expected[hit.index] = expected.get(hit.index, 0) + 1 / (k + rank)
    hybrid = retriever.search(question, 3, "hybrid")
    best = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:3]
    assert [(h.index, pytest.approx(h.score)) for h in hybrid] == best


def test_tokenizer_splits_dotted_names_and_drops_stopwords() -> None:
    assert tokenize("How do I use shutil.copyfile?") == ["use", "shutil", "copyfile"]


def test_extractive_answer_cites_numbered_passages(assistant: Assistant) -> None:
    answer = assistant.ask("How do I copy a file?", k=3)
    assert not answer.refused
    assert "[1]" in answer.answer
    assert answer.citations[0].source == "guide/files.md"
    assert [c.n for c in answer.citations] == [1, 2, 3]


def test_off_topic_question_is_refused(assistant: Assistant) -> None:
    answer = assistant.ask("Who won the football world cup in 2018?")
    assert answer.refused
    assert answer.answer.startswith("I can't answer that from these documents")


def test_eval_metrics_on_the_fixture_questions(assistant: Assistant) -> None:
    questions = load_questions(assistant.settings.path(assistant.settings.eval_file))
    metrics = retrieval_metrics(ranks(assistant.retriever, questions, "hybrid"))
    assert metrics["recall_at_5"] == 1.0
    assert 0 < metrics["mrr_at_10"] <= 1


def test_mcnemar_counts_only_the_questions_one_retriever_misses() -> None:
    assert mcnemar_p([1, 2, None], [1, 2, None]) == 1.0  # no discordant question
    assert mcnemar_p([1] * 10, [None] * 10) == pytest.approx(2 / 2**10)  # 10 wins, 0 losses
    assert mcnemar_p([1, 9, None, 3], [1, 2, 4, None]) == 1.0  # 1 win, 1 loss: a coin flip


def test_synthetic_questions_come_from_their_gold_passage(assistant: Assistant) -> None:
    passages = assistant.retriever.index.passages
    for question, source, anchor in synthetic_questions(passages, 3, seed=0):
        gold = [p for p in passages if (p.source, p.anchor) == (source, anchor)]
        assert any(question in p.text for p in gold)


def test_synthetic_questions_are_searched_without_their_own_sentence(
    assistant: Assistant,
) -> None:
    questions = synthetic_questions(assistant.retriever.index.passages, 3, seed=0)
    asked = {question for question, _, _ in questions}
    cloze = held_out(assistant, asked, assistant.settings).retriever.index
    original = assistant.retriever.index
    assert len(cloze.passages) == len(original.passages)
    for passage in cloze.passages:
        assert not asked & {sentence[:300] for sentence in split_sentences(passage.text)}
    changed = [i for i, p in enumerate(cloze.passages) if p.text != original.passages[i].text]
    assert changed  # and only those passages were embedded again:
    unchanged = sorted(set(range(len(cloze.passages))) - set(changed))
    assert (cloze.embeddings[unchanged] == original.embeddings[unchanged]).all()
    assert not (cloze.embeddings[changed] == original.embeddings[changed]).all(axis=1).any()


class _FakeChat(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions that echoes what it was sent."""

    requests: list[dict[str, object]] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        _FakeChat.requests.append({"path": self.path, "auth": self.headers.get("authorization"),
                                   "body": body})  # fmt: skip
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            return
        reply = {"choices": [{"message": {"role": "assistant", "content": "Use shutil [1]."}}]}
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_chat() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_openai_backend_sends_numbered_passages(
    assistant: Assistant, fake_chat: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        assistant.settings.path(assistant.settings.corpus_dir).parent,
        answer_backend="openai",
        llm_base_url=fake_chat,
        llm_model="tiny",
        llm_api_key="secret",
    )
    chat = Assistant(assistant.retriever, settings)
    answer = chat.ask("How do I copy a file?", k=2)
    assert answer.answer == "Use shutil [1]."
    sent = _FakeChat.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer secret"
    messages = sent["body"]["messages"]  # type: ignore[index]
    assert "[1] Working with files" in messages[1]["content"]
    broken = settings.model_copy(update={"llm_model": "broken"})
    with pytest.raises(LLMError, match="chat backend"):
        Assistant(assistant.retriever, broken).ask("How do I copy a file?")
