// The question page. Everything from the server (answers, titles, snippets) is inserted
// with textContent or as attributes checked here, never as HTML: a document that contains
// <script> or <img onerror=...> is displayed as text. The server's CSP forbids inline code.
"use strict";

const form = document.getElementById("ask-form");
const input = document.getElementById("question");
const button = document.getElementById("ask-button");
const statusLine = document.getElementById("status");
const result = document.getElementById("result");
const answerBox = document.getElementById("answer");
const meta = document.getElementById("meta");
const list = document.getElementById("citations");

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", Boolean(isError));
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function highlight(n) {
  for (const item of list.children) {
    item.classList.toggle("active", item.id === "cite-" + n);
  }
}

// "text [1] more [2]" -> text nodes and links to the numbered sources
function renderAnswer(text) {
  answerBox.replaceChildren();
  const parts = text.split(/(\[\d+\])/);
  for (const part of parts) {
    const match = /^\[(\d+)\]$/.exec(part);
    if (match) {
      const link = document.createElement("a");
      link.className = "cite";
      link.href = "#cite-" + match[1];
      link.textContent = part;
      link.addEventListener("click", () => highlight(match[1]));
      answerBox.append(link);
    } else {
      answerBox.append(document.createTextNode(part));
    }
  }
}

function renderCitations(citations) {
  list.replaceChildren();
  for (const citation of citations) {
    const item = document.createElement("li");
    item.id = "cite-" + citation.n;
    const url = safeUrl(citation.url || "");
    const title = document.createElement(url ? "a" : "strong");
    title.textContent = citation.title;
    if (url) {
      title.href = url;
      title.rel = "noopener noreferrer";
      title.target = "_blank";
    }
    const source = document.createElement("div");
    source.className = "source";
    source.textContent = citation.source + (citation.anchor ? "#" + citation.anchor : "");
    const snippet = document.createElement("p");
    snippet.className = "snippet";
    snippet.textContent = citation.snippet;
    item.append(title, source, snippet);
    list.append(item);
  }
}

async function ask(question) {
  button.disabled = true;
  setStatus("Searching the documents…");
  try {
    const response = await fetch("/ask", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: question }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : "the question was not accepted";
      throw new Error(detail + " (HTTP " + response.status + ")");
    }
    renderAnswer(body.answer);
    answerBox.classList.toggle("refused", Boolean(body.refused));
    renderCitations(body.citations);
    meta.textContent =
      "retrieval " + body.retrieval_ms.toFixed(1) + " ms · " + body.mode + " · " + body.backend;
    result.hidden = false;
    setStatus("");
  } catch (error) {
    setStatus("Could not answer: " + error.message, true);
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (question) {
    ask(question);
  }
});
