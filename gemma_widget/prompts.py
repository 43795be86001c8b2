"""EmbeddingGemma's task prompts: the prefix it was trained to see before each kind of text.

From the model card's Sentence Transformers configuration. The widget puts the chosen prefix in
front of the text, so the attention shown is the attention the embedding is computed with.
"""

from __future__ import annotations

PROMPTS: dict[str, str] = {
    "none": "",
    "query": "task: search result | query: ",
    "document": "title: none | text: ",
    "classification": "task: classification | query: ",
    "clustering": "task: clustering | query: ",
    "sentence similarity": "task: sentence similarity | query: ",
    "code retrieval": "task: code retrieval | query: ",
    "summarization": "task: summarization | query: ",
}
