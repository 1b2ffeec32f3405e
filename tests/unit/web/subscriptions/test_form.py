"""The newsletter form's checks: every wrong field gets its Korean message, a right form
becomes preferences."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syndicator.subscriptions.preferences import MODES
from syndicator.web.subscriptions.form import _checked
from syndicator.web.subscriptions.render import FIELD_MESSAGES

DEPARTMENTS = ("위생정책과", "교통정책과")
CATEGORIES = ("교통", "경제")


@given(
    mode=st.sampled_from(MODES),
    departments=st.lists(st.sampled_from(DEPARTMENTS), unique=True),
    categories=st.lists(st.sampled_from(CATEGORIES), unique=True),
)
def test_a_right_form_becomes_its_preferences(mode, departments, categories):
    fields = {
        "email": " Hong@Example.COM ",
        "mode": mode,
        "departments": departments,
        "categories": categories,
    }
    form, prefs = _checked(fields, DEPARTMENTS, CATEGORIES, "ko")
    assert prefs is not None and not form.errors
    assert (prefs.mode, prefs.departments, prefs.categories) == (
        mode,
        tuple(departments),
        tuple(categories),
    )
    assert form.email.endswith("@example.com")


@given(
    email=st.sampled_from(["", "   ", "no-at-sign", "a@"]),
    mode=st.text(max_size=10).filter(lambda m: m not in MODES),
    department=st.text(min_size=1, max_size=10).filter(lambda d: d not in DEPARTMENTS),
)
def test_each_wrong_field_is_named_in_korean(email, mode, department):
    fields = {"email": email, "mode": mode, "departments": [department], "categories": ["교통"]}
    form, prefs = _checked(fields, DEPARTMENTS, CATEGORIES, "ko")
    assert prefs is None
    missing = not email.strip()
    assert form.errors == {
        "email": FIELD_MESSAGES["email_missing" if missing else "email_invalid"],
        "mode": FIELD_MESSAGES["mode"],
        "departments": FIELD_MESSAGES["departments"],
    }
    assert form.departments == (department,)  # what was sent is shown again


@given(language=st.text(max_size=5).filter(lambda value: value not in ("", "ko", "en")))
def test_the_mail_language_is_ko_or_en_and_defaults_to_the_page(language):
    fields = {"email": "a@example.com", "mode": "daily"}
    assert _checked(fields, DEPARTMENTS, CATEGORIES, "en")[0].language == "en"
    chosen, prefs = _checked({**fields, "language": "ko"}, DEPARTMENTS, CATEGORIES, "en")
    assert chosen.language == "ko" and prefs is not None
    form, prefs = _checked({**fields, "language": language}, DEPARTMENTS, CATEGORIES, "ko")
    assert prefs is None and form.errors == {"language": FIELD_MESSAGES["language"]}
    assert form.without_errors().language == "ko"
