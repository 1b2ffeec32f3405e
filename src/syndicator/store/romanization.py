"""Korean names in the Revised Romanization of Korean (국어의 로마자 표기법, 2000).

The national standard writes what is pronounced, not letter by letter: 의료산업과 is
``uiryosaneopgwa`` (not ``yiryosaneobgwa``) and 신라 is ``silla``. So each syllable's
final consonant and the next syllable's initial are adjusted before they are written:

- liaison: a final moves onto a following silent ㅇ (산업 → sa-neop), with
  palatalisation of ㄷ and ㅌ before 이 (같이 → gachi) and a silent ㅎ dropped (좋아 → joa);
- aspiration: ㅎ before ㄱ, ㄷ, ㅈ (좋고 → joko). In nouns ㅎ after ㄱ, ㄷ, ㅂ stays
  written apart (묵호 → mukho), which is what names need;
- nasalisation: ㄱ, ㄷ, ㅂ before ㄴ or ㅁ (백마 → baengma), and ㄹ after any consonant but
  ㄴ and ㄹ becomes ㄴ (종로 → jongno, 독립 → dongnip);
- lateralisation: ㄴ next to ㄹ is ㄹ (신라 → silla, 설날 → seollal), and ㄹㄹ is ``ll``.

Tensing is not written (the standard says so), and rules that need a dictionary (ㄴ
insertion in compounds, 생산량 → saengsannyang) are out of reach; a name that needs them
still gets a stable, readable slug. korean-romanizer was compared and left out: it misses
nasalisation and lateralisation (종로 → jongro, 신라 → sinra).
"""

from __future__ import annotations

import itertools
import re

__all__ = ["HANGUL_RUN", "romanize_hangul"]

_BASE = 0xAC00
# What romanize_hangul takes: precomposed syllables (text is NFC by the time it is stored).
HANGUL_RUN = re.compile("[\uac00-\ud7a3]+")
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")

_INITIAL_LETTERS = dict(
    zip(
        _INITIALS,
        "g kk n d tt r m b pp s ss - j jj ch k t p h".replace("-", "").split(" "),
        strict=True,
    )
)
_VOWEL_LETTERS = dict(
    zip(
        _VOWELS,
        [
            "a",
            "ae",
            "ya",
            "yae",
            "eo",
            "e",
            "yeo",
            "ye",
            "o",
            "wa",
            "wae",
            "oe",
            "yo",
            "u",
            "wo",
            "we",
            "wi",
            "yu",
            "eu",
            "ui",
            "i",
        ],
        strict=True,
    )
)
# A final as pronounced before a consonant or at the end: one of seven sounds.
_REPRESENTATIVE = {
    **dict.fromkeys("ㄱㄲㄳㄺㅋ", "ㄱ"),
    **dict.fromkeys("ㄴㄵㄶ", "ㄴ"),
    **dict.fromkeys("ㄷㅅㅆㅈㅊㅌㅎ", "ㄷ"),
    **dict.fromkeys("ㄹㄼㄽㄾㅀ", "ㄹ"),
    **dict.fromkeys("ㅁㄻ", "ㅁ"),
    **dict.fromkeys("ㅂㅍㅄㄿ", "ㅂ"),
    "ㅇ": "ㅇ",
    "": "",
}
_FINAL_LETTERS = {
    "ㄱ": "k",
    "ㄴ": "n",
    "ㄷ": "t",
    "ㄹ": "l",
    "ㅁ": "m",
    "ㅂ": "p",
    "ㅇ": "ng",
    "": "",
}
# Two-consonant finals: the first stays, the second moves onto a following vowel.
_SPLIT = {
    "ㄳ": ("ㄱ", "ㅅ"),
    "ㄵ": ("ㄴ", "ㅈ"),
    "ㄺ": ("ㄹ", "ㄱ"),
    "ㄻ": ("ㄹ", "ㅁ"),
    "ㄼ": ("ㄹ", "ㅂ"),
    "ㄽ": ("ㄹ", "ㅅ"),
    "ㄾ": ("ㄹ", "ㅌ"),
    "ㄿ": ("ㄹ", "ㅍ"),
    "ㅄ": ("ㅂ", "ㅅ"),
    # A silent ㅎ: the other consonant moves (않아 → ana, 싫어 → sireo).
    "ㄶ": ("", "ㄴ"),
    "ㅀ": ("", "ㄹ"),
    "ㅎ": ("", ""),
}
_ASPIRATED = {"ㄱ": "ㅋ", "ㄷ": "ㅌ", "ㅈ": "ㅊ"}
_NASAL = {"ㄱ": "ㅇ", "ㄷ": "ㄴ", "ㅂ": "ㅁ"}

Syllable = list[str]  # [initial, vowel, final] as compatibility jamo; final may be ""


def _decompose(char: str) -> Syllable:
    index = ord(char) - _BASE
    initial, rest = divmod(index, 21 * 28)
    vowel, final = divmod(rest, 28)
    return [_INITIALS[initial], _VOWELS[vowel], _FINALS[final]]


def _join(left: Syllable, right: Syllable) -> None:
    """Adjust ``left``'s final and ``right``'s initial as the pair is pronounced."""
    final, initial = left[2], right[0]
    if not final:
        return
    if initial == "ㅇ":
        if final == "ㅇ":
            return
        stay, move = _SPLIT.get(final, ("", final))
        if move in ("ㄷ", "ㅌ") and right[1] == "ㅣ":
            move = "ㅈ" if move == "ㄷ" else "ㅊ"
        left[2], right[0] = stay, move or "ㅇ"
        return
    if final in ("ㅎ", "ㄶ", "ㅀ"):
        if initial in _ASPIRATED:
            left[2], right[0] = _SPLIT[final][1], _ASPIRATED[initial]
            return
        if final == "ㅎ" and initial == "ㅅ":
            left[2], right[0] = "", "ㅆ"
            return
    sound = _REPRESENTATIVE[final]
    if initial == "ㄹ":
        if sound == "ㄴ":
            sound = "ㄹ"
        elif sound != "ㄹ":
            initial = "ㄴ"
    elif initial == "ㄴ" and sound == "ㄹ":
        initial = "ㄹ"
    if initial in ("ㄴ", "ㅁ"):
        sound = _NASAL.get(sound, sound)
    left[2], right[0] = sound, initial


def romanize_hangul(word: str) -> str:
    """A run of Hangul syllables (U+AC00–U+D7A3), romanised as one word, in lower case."""
    syllables = [_decompose(char) for char in word]
    for left, right in itertools.pairwise(syllables):
        _join(left, right)
    letters: list[str] = []
    previous_final = ""
    for initial, vowel, final in syllables:
        # ㄹ is r before a vowel and l after another ㄹ (ll).
        onset = "l" if initial == "ㄹ" and previous_final == "ㄹ" else _INITIAL_LETTERS[initial]
        coda = _REPRESENTATIVE[final]
        letters += [onset, _VOWEL_LETTERS[vowel], _FINAL_LETTERS[coda]]
        previous_final = coda
    return "".join(letters)
