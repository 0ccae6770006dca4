"""Summaries and word counts for short notes."""
import re

__version__ = "1.0.0"

_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def word_count(text):
    return len(_WORD.findall(text))


def summarize(text, limit=60):
    """The text on one line, cut at a word boundary to at most `limit` characters (plus an ellipsis)."""
    line = _SPACE.sub(" ", text).strip()
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
    return cut.rstrip(" ,;:.-") + "…"
