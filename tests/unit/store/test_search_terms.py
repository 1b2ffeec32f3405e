"""Hangul is indexed as syllable bigrams; a query becomes the same bigrams."""

from hypothesis import given
from hypothesis import strategies as st

from syndicator.store.search_terms import QueryTerm, document_terms, plain_text, query_terms


def test_hangul_runs_become_overlapping_bigrams():
    assert document_terms("흰지팡이 교통") == ["흰지", "지팡", "팡이", "교통"]


def test_latin_words_stay_whole_and_lowercase():
    assert document_terms("KTX 2026년") == ["ktx", "2026", "년"]


def test_a_two_syllable_query_is_one_exact_bigram():
    assert query_terms("교통") == [QueryTerm("교통", prefix=False)]


def test_part_of_a_word_is_found_by_its_bigrams():
    assert {t.text for t in query_terms("지팡")} <= set(document_terms("흰지팡이의 날"))


def test_one_syllable_and_latin_queries_match_by_prefix():
    assert query_terms("복 Seoul") == [QueryTerm("복", True), QueryTerm("seoul", True)]


def test_operators_and_punctuation_never_reach_the_index_syntax():
    assert [t.text for t in query_terms('"교통" OR *NEAR(')] == ["교통", "or", "near"]


def test_body_text_drops_tags_and_decodes_entities():
    assert plain_text("<p>교통&amp;복지</p><script>x</script>").startswith("교통&복지")


@given(st.text(alphabet="가나다라마바사아자차카타파하", min_size=2, max_size=12))
def test_every_part_of_a_hangul_word_is_found(word):
    indexed = set(document_terms(word))
    for start in range(len(word) - 1):
        part = word[start : start + 2]
        assert {t.text for t in query_terms(part)} <= indexed
