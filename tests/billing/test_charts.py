"""The SVG bar chart: one bar per point, every text escaped (labels are model names and key names)."""

from __future__ import annotations

import re

from billing.charts import bar_chart


def test_each_point_is_a_bar_with_its_value_in_a_tooltip():
    chart = bar_chart("Requests per day", [("2026-01-01", 3), ("2026-01-02", 0), ("2026-01-03", 12.5)], unit=" ms")
    titles = re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", chart)
    assert titles == ["2026-01-01: 3 ms", "2026-01-02: 0 ms", "2026-01-03: 12.5 ms"]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', chart)]
    assert heights[1] == 0 and heights[0] < heights[2]


def test_labels_unit_and_colour_are_escaped():
    chart = bar_chart("Cost <b>", [('<script>"x"</script>', 1)], unit=" <i>", colour='"><svg onload=1>')
    assert "<script>" not in chart and "<svg onload" not in chart and "<i>" not in chart and "<b>" not in chart
    assert "&lt;script&gt;&quot;x&quot;&lt;/script&gt;: 1 &lt;i&gt;" in chart
