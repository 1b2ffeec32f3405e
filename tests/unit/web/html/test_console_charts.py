"""The console's server-side SVG chart, parsed as XML."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st

from syndicator.web.html.console_charts import hourly_chart

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 11, 28, 0, tzinfo=UTC)


def test_one_line_per_channel_with_its_total_in_the_legend() -> None:
    svg = hourly_chart(START, {"email": [0, 3, 1], "webhooks": [2, 0, 0]}, "시도 <수>")
    root = ElementTree.fromstring(svg)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert all(len(line.get("points", "").split()) == 3 for line in lines)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "email (4)" in texts and "webhooks (2)" in texts
    assert root.find(f"{SVG}title").text == "시도 <수>"  # escaped in the markup, parsed back
    assert "style" not in svg  # the console's CSP allows no inline styles


def test_an_empty_day_says_so() -> None:
    root = ElementTree.fromstring(hourly_chart(START, {}, "t"))
    assert root.findall(f"{SVG}polyline") == []
    assert any("no attempts" in (t.text or "") for t in root.iter(f"{SVG}text"))


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s and s.isprintable()),
        st.lists(st.integers(0, 10**7), min_size=24, max_size=24),
        max_size=5,
    )
)
def test_any_counts_and_channel_names_make_well_formed_svg(series: dict[str, list[int]]) -> None:
    root = ElementTree.fromstring(hourly_chart(START, series, "t"))
    for line in root.findall(f"{SVG}polyline"):
        for point in line.get("points", "").split():
            x, y = map(float, point.split(","))
            assert 0 <= x <= 640 and 0 <= y <= 200
