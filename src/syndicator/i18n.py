"""The languages residents read: Korean first, English for foreign residents.

Messages are Korean source strings (the msgids), so Korean needs no catalog and a template
reads as the page it renders. English comes from ``locale/en/LC_MESSAGES/messages.po``,
read with Babel and compiled in memory once per process: no generated ``.mo`` is kept in
the repository or needs a build step, and a process always runs the catalog beside it.
"""

from __future__ import annotations

import gettext as _gettext
import re
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "catalog_path",
    "language_or_none",
    "negotiate",
    "template_environment",
    "translate",
    "translations",
]

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# A header longer than this is not a browser's: negotiated as if absent.
_MAX_HEADER = 1024
_TAG = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")
_QUALITY = re.compile(r"^q=(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$", re.IGNORECASE)


def N_(message: str) -> str:
    """Marks a Korean message for extraction where it is defined; whoever shows it
    translates it then (templates with ``_(…)``, code with :func:`translate`)."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> _gettext.NullTranslations:
    """The language's translations; Korean (the msgids) and unknown languages translate
    nothing. Fuzzy entries are left out, as msgfmt leaves them out: a guess is never shown."""
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def template_environment(
    directory: Path, language: str, escaped: tuple[str, ...], *, keep_trailing_newline: bool = False
) -> Environment:
    """A Jinja environment for one templates directory and language, as every template
    here is written: strict about undefined names, blocks trimmed, HTML (the extensions in
    ``escaped``) autoescaped, and the i18n extension's ``{% trans %}`` and ``_("…")``."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(list(escaped)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=keep_trailing_newline,
    )
    # A {% trans %} block's msgid has its whitespace collapsed, as babel.cfg extracts it.
    env.policies["ext.i18n.trimmed"] = True
    # newstyle: `_("… %(name)s", name=x)` escapes x and formats after translating.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def translate(language: str, message: str) -> str:
    """``message`` (Korean) in ``language``, or as it is when the catalog lacks it."""
    return translations(language).gettext(message)


def language_or_none(value: object) -> str | None:
    """``value`` if it names a language residents can choose (``ko``, ``en``)."""
    return value if isinstance(value, str) and value in LANGUAGES else None


def negotiate(accept_language: str | None) -> str:
    """The language an ``Accept-Language`` header prefers among ours (quality values
    honoured, ``q=0`` refused, ``en-US`` taken as ``en``); Korean for anything else,
    a malformed header included."""
    if not accept_language or len(accept_language) > _MAX_HEADER:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        if not _TAG.match(tag):
            continue
        quality = 1.0
        for param in params:
            if _QUALITY.match(param):
                quality = float(param[2:])
            elif param.lower().startswith("q="):
                quality = -1.0  # a quality that is not one: the item is ignored
        if quality > 0:
            ranked.append((-quality, index, tag))
    # A wildcard accepts anything, which is our default.
    preferred = [DEFAULT_LANGUAGE if tag == "*" else tag.lower() for _, _, tag in sorted(ranked)]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="-", aliases={})
    return found if found in LANGUAGES else DEFAULT_LANGUAGE
