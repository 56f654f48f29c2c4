"""The HTML report: one self-contained page, a plot per platform in each section, the
same axes for every what-if, and no text from the input that could become markup."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

from mlkube.plan.html import render
from mlkube.plan.types import PoolResult

from .results import plan_result

EVIL = '<script>alert("x")</script>&'


class Page(HTMLParser):
    """What the report's reader sees: SVGs per section, tags, and text."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.svgs: dict[str, int] = {}
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag == "section":
            self.section = dict(attrs).get("id")
        if tag == "svg" and self.section:
            self.svgs[self.section] = self.svgs.get(self.section, 0) + 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_one_plot_per_platform_in_each_section_and_one_cost_plot() -> None:
    results = [plan_result("base"), plan_result("more a100", seed=2), plan_result("spot", seed=3)]
    page = parse(render(results))
    assert page.svgs == {"wait": 3, "utilisation": 3, "cost": 1}
    # each platform heads a column of the summary, in the order given
    text = "".join(page.text)
    assert text.index("base") < text.index("more a100") < text.index("spot")


def test_self_contained_no_script_no_external_resource() -> None:
    page = parse(render([plan_result()]))
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    urls = [v for k, v in page.attrs if k in {"src", "href"} and v]
    assert urls == []
    assert "http" not in "".join(page.text)


def test_every_input_name_is_escaped() -> None:
    result = plan_result(EVIL, teams=(EVIL, "ok"))
    result = replace(
        result,
        pools=[replace(p, name=EVIL + p.name) for p in result.pools],
        queues=[replace(q, name=EVIL) for q in result.queues],
        cost=replace(result.cost, currency=EVIL),
    )
    page_text = render([result])
    page = parse(page_text)
    assert "script" not in page.tags  # never markup
    assert EVIL in "".join(page.text)  # but shown as it was written
    assert "<script>" not in page_text


def test_what_ifs_share_their_time_axis() -> None:
    short, long = plan_result("short", span=86400.0), plan_result("long", span=4 * 86400.0)
    text = render([short, long])
    _, _, util = text.partition('<section id="utilisation">')
    labels = re.findall(r">(\d+(?:\.\d+)? d)</text>", util.split("</section>")[0])
    # both plots run to the longer span, tick for tick
    assert labels[: len(labels) // 2] == labels[len(labels) // 2 :]
    assert labels[len(labels) // 2 - 1] == "4 d"


def test_the_best_of_several_platforms_is_marked_and_a_tie_is_not() -> None:
    better = plan_result("better", wait_scale=60.0)
    worse = plan_result("worse", wait_scale=6000.0)
    text = render([worse, better])
    row = re.search(r"<tr><th>wait p50</th>(.*?)</tr>", text)
    assert row is not None
    assert re.findall(r"<td( class=best)?>", row.group(1)) == ["", " class=best"]
    cost = re.search(r"<tr><th>cost</th>(.*?)</tr>", text)  # the same fake cost: a tie
    assert cost is not None and "best" not in cost.group(1)


def test_a_dense_utilisation_curve_is_drawn_with_bounded_steps() -> None:
    result = plan_result()
    steps = [(float(t), (t % 2) * 1.0) for t in range(100_000)]
    pool = PoolResult("busy", 8, False, 0.5, 0.0, steps)
    text = render([replace(result, pools=[pool], span=100_000.0)])
    (path,) = re.findall(r'<path d="([^"]*)" fill="#', text)
    assert path.count("H") <= 601
    # the time-weighted mean of a 0/1 alternation is one half, not a block of 0 and 1
    heights = {float(v) for v in re.findall(r"V([\d.]+)", path)[1:-1]}
    assert len(heights) <= 3


def test_no_results_and_no_jobs_still_render() -> None:
    assert "<html" in render([])
    empty = replace(plan_result(), jobs=[], pools=[], teams=[], queues=[])
    page = parse(render([empty]))
    assert page.svgs == {"wait": 1, "utilisation": 1, "cost": 1}
