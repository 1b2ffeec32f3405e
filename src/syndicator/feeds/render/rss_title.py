"""Plain text for an RSS ``<title>`` that reads the same in HTML and plain-text readers.

RSS never says whether a title is HTML. feedparser, ``reader`` and Feedly decode it as HTML
when it looks like HTML (a tag, or an entity reference such as ``&amp;``); newsboat shows
it as it is. Text that contains neither reads the same in both, so:

- ASCII ``<`` and ``>`` become the Korean title brackets 〈 〉, the form Korean typesetting
  uses for titles of works anyway (``<백조의 호수>`` → ``〈백조의 호수〉``);
- ``&`` stays a single ``&`` (the XML writer escapes it once); only where it would start an
  entity reference (``&amp;`` typed into the CMS) an invisible U+2060 WORD JOINER follows
  it, so no reader decodes it and every reader shows the characters that were typed.
"""

from __future__ import annotations

import re

__all__ = ["WORD_JOINER", "rss_title"]

WORD_JOINER = "\u2060"
_BRACKETS = str.maketrans({"<": "〈", ">": "〉"})
# What HTML readers take for a character or entity reference (feedparser's own test).
_REFERENCE = re.compile(r"&(?=#?\w+;)")


def rss_title(text: str) -> str:
    return _REFERENCE.sub("&" + WORD_JOINER, text.translate(_BRACKETS))
