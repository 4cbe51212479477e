"""The merge benchmarks' scoring math (``benchmarks/merge_score.py``), the ``bench_merge`` CLI
and the record builder of ``bench_merge_scale``, on small made-up data: no gold, no model."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_merge, bench_merge_scale, why_apart  # noqa: E402
from benchmarks.merge_score import (  # noqa: E402
    GoldLine,
    MergeBuild,
    bcubed,
    best_gold,
    cluster_scores,
    dates_compatible,
    file_name,
    gold_disagreements,
    load_gold_lines,
    match_mentions,
    overlap,
    parse_build,
    parse_manifest,
    score_merge,
    surfaced,
    surfaces,
)
from benchmarks.tm_corpus import Article  # noqa: E402
from briefing.models import CanonicalEvent, Citation, Disagreement, Event, Side  # noqa: E402

# --- builders of made-up records -----------------------------------------------------------------


def cit(file: str, start: int, end: int) -> Citation:
    """A citation of ``[start, end)`` in ``file`` (the quote is filler of the right length)."""
    return Citation(
        source_id="src_" + Path(file).name,
        file=file,
        start=start,
        end=end,
        line=1,
        quote="x" * (end - start),
    )


def mention(mid: str, file: str, *spans: tuple[int, int]) -> Event:
    """One source's event citing ``spans`` of ``file``."""
    return Event(
        id=mid,
        source_id="src_" + Path(file).name,
        type="CONSULT",
        summary=f"made-up event {mid}",
        actors=("Someone",),
        location=None,
        date=None,
        date_basis="none",
        status="occurred",
        role="main",
        citations=tuple(cit(file, a, b) for a, b in spans),
    )


def canonical(cid: str, *mentions: Event, parent: str | None = None) -> CanonicalEvent:
    """A canonical event holding ``mentions``."""
    sources = tuple(sorted({m.source_id for m in mentions}))
    return CanonicalEvent(
        id=cid,
        type="CONSULT",
        summary=f"canonical {cid}",
        actors=("Someone",),
        location=None,
        date=None,
        status="occurred",
        role="main",
        mentions=mentions,
        source_ids=sources,
        independent_sources=len(sources),
        parent_id=parent,
        reasons=(),
    )


def gold_line(
    index: int,
    file: str,
    start: int,
    end: int,
    key: str,
    date: str | None = None,
    note: str | None = None,
) -> GoldLine:
    """A made-up gold line."""
    return GoldLine(index, file, start, end, "q" * (end - start), key, "main", None, date, note)


def disagreement(did: str, *sides: tuple[Citation, ...], field: str = "date") -> Disagreement:
    """A disagreement whose sides cite the given citations."""
    return Disagreement.model_validate(
        {
            "id": did,
            "field": field,
            "subject": "made up",
            "sides": [
                {"value": f"v{i}", "source_ids": [c[0].source_id], "citations": c}
                for i, c in enumerate(sides)
            ],
        }
    )


# --- B-cubed and pairwise ------------------------------------------------------------------------

# (predicted, true): a1 a2 a3 are truly A, b1 b2 truly B.
A3B2 = ["A", "A", "A", "B", "B"]


def labelled(pred: list[int]) -> list[tuple[Any, Any]]:
    return list(zip(pred, A3B2, strict=True))


def test_perfect_clustering_scores_one() -> None:
    s = cluster_scores(labelled([1, 1, 1, 2, 2]))
    assert s.bcubed_precision == s.bcubed_recall == s.bcubed_f1 == 1.0
    assert s.pairwise_precision == s.pairwise_recall == s.pairwise_f1 == 1.0
    assert (s.predicted_pairs, s.true_pairs, s.correct_pairs) == (4, 4, 4)


def test_all_in_one_cluster() -> None:
    # B-cubed precision: each A item 3/5, each B item 2/5 -> (3*3/5 + 2*2/5) / 5 = 13/25.
    # Pairwise: 10 pairs predicted, 3 + 1 true, all 4 true pairs among them.
    s = cluster_scores(labelled([1, 1, 1, 1, 1]))
    assert s.bcubed_precision == pytest.approx(13 / 25)
    assert s.bcubed_recall == 1.0
    assert s.bcubed_f1 == pytest.approx(2 * 0.52 / 1.52)
    assert s.pairwise_precision == pytest.approx(0.4)
    assert s.pairwise_recall == 1.0


def test_all_singletons() -> None:
    # B-cubed recall: each A item 1/3, each B item 1/2 -> (3/3 + 2/2) / 5 = 0.4. No pair was
    # predicted: pairwise precision is vacuously 1.0, recall 0 of 4 true pairs.
    s = cluster_scores(labelled([1, 2, 3, 4, 5]))
    assert s.bcubed_precision == 1.0
    assert s.bcubed_recall == pytest.approx(0.4)
    assert s.pairwise_precision == 1.0
    assert s.pairwise_recall == 0.0
    assert s.pairwise_f1 == 0.0


def test_textbook_example() -> None:
    # Predicted {a1 a2} {a3 b1 b2}.
    # precision: a1 2/2, a2 2/2, a3 1/3, b1 2/3, b2 2/3 -> (1 + 1 + 1/3 + 2/3 + 2/3)/5 = 11/15
    # recall:    a1 2/3, a2 2/3, a3 1/3, b1 2/2, b2 2/2 -> (2/3 + 2/3 + 1/3 + 1 + 1)/5 = 11/15
    # pairs: predicted (a1a2) + 3 in the second = 4; true 3 + 1 = 4; both: a1a2, b1b2 = 2.
    s = cluster_scores(labelled([1, 1, 2, 2, 2]))
    assert s.bcubed_precision == pytest.approx(11 / 15)
    assert s.bcubed_recall == pytest.approx(11 / 15)
    assert s.bcubed_f1 == pytest.approx(11 / 15)
    assert (s.predicted_pairs, s.true_pairs, s.correct_pairs) == (4, 4, 2)
    assert s.pairwise_precision == s.pairwise_recall == 0.5


def test_asymmetric_example() -> None:
    # Predicted {a1 a2 a3 b1} {b2}.
    # precision: 3 A items 3/4, b1 1/4, b2 1/1 -> (9/4 + 1/4 + 1)/5 = 0.7
    # recall:    3 A items 3/3, b1 1/2, b2 1/2 -> (3 + 1/2 + 1/2)/5 = 0.8
    # pairs: predicted 6, true 4, both 3 (the A pairs).
    p, r = bcubed(labelled([1, 1, 1, 1, 2])) or (0.0, 0.0)
    assert p == pytest.approx(0.7)
    assert r == pytest.approx(0.8)
    s = cluster_scores(labelled([1, 1, 1, 1, 2]))
    assert s.pairwise_precision == pytest.approx(0.5)
    assert s.pairwise_recall == pytest.approx(0.75)


def test_no_items() -> None:
    s = cluster_scores([])
    assert s.items == 0
    assert s.bcubed_f1 is None and s.pairwise_f1 is None


# --- spans ---------------------------------------------------------------------------------------


def test_overlap_counts_the_union_of_spans() -> None:
    assert overlap([(0, 10)], 5, 20) == 5
    assert overlap([(0, 10), (5, 12)], 0, 20) == 12  # overlapping citations counted once
    assert overlap([(0, 5), (30, 40)], 3, 35) == 7
    assert overlap([(0, 5)], 5, 9) == 0  # half-open: touching is not overlapping


def test_best_gold_takes_the_largest_overlap_then_the_first() -> None:
    first = gold_line(0, "a.txt", 0, 10, "k1")
    second = gold_line(1, "a.txt", 5, 30, "k2")
    assert best_gold([(8, 20)], [first, second]) == second  # 2 vs 12 characters
    assert best_gold([(0, 6)], [first, second]) == first  # 6 vs 1
    tie_a, tie_b = gold_line(2, "a.txt", 0, 10, "k3"), gold_line(3, "a.txt", 10, 20, "k4")
    assert best_gold([(5, 15)], [tie_b, tie_a]) == tie_a  # 5 each: the first in the gold file
    assert best_gold([(40, 50)], [first, second]) is None


def test_file_name_maps_copies_back_to_the_gold_file() -> None:
    assert file_name("seeds/a.txt") == "a.txt"
    assert file_name("out/sources/page.0123456789ab.txt", ["page.html", "a.txt"]) == "page.html"
    assert file_name("out/sources/page.0123456789ab.txt") == "page.0123456789ab.txt"


def test_match_mentions_by_file_and_span() -> None:
    gold = [
        gold_line(0, "a.txt", 0, 20, "meeting"),
        gold_line(1, "a.txt", 30, 50, "talks"),
        gold_line(2, "b.txt", 0, 20, "meeting"),
    ]
    events = [
        canonical("c1", mention("m1", "in/a.txt", (10, 35)), mention("m2", "in/b.txt", (0, 5))),
        canonical("c2", mention("m3", "in/a.txt", (60, 70)), mention("m4", "in/c.txt", (0, 20))),
    ]
    got = {
        m.mention_id: (m.canonical_id, m.file, m.key, m.overlap)
        for m in match_mentions(events, gold)
    }
    assert got == {
        "m1": ("c1", "a.txt", "meeting", 10),  # 10 characters of "meeting", 5 of "talks"
        "m2": ("c1", "b.txt", "meeting", 5),
        "m3": ("c2", "a.txt", None, 0),  # cites no gold quote
        "m4": ("c2", "c.txt", None, 0),  # a file without gold
    }


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [
        ("2023", "2023-12-08", True),
        ("2023-12", "2023-12-31", True),
        ("2023-12-08", "2023-12-08", True),
        ("2023-12-08", "2023-12-09", False),
        ("2023-12", "2023-11-30", False),
        ("2023", "2024-01", False),
        ("2024-02", "2024-02-29", True),
        (None, "2023-12-08", True),  # no date: nothing to disagree with
        ("sometime", "2023-12-08", True),  # not a date: likewise
    ],
)
def test_dates_compatible(a: str | None, b: str | None, compatible: bool) -> None:
    assert dates_compatible(a, b) is compatible
    assert dates_compatible(b, a) is compatible


# --- gold disagreements --------------------------------------------------------------------------

GOLD_WITH_ISSUES = [
    gold_line(0, "a.txt", 0, 20, "summit", "2020-05-01", note="ERROR: wrong title"),
    gold_line(1, "b.txt", 0, 20, "summit", "2020-05"),
    gold_line(2, "a.txt", 40, 60, "talks", "2020-06-01", note="CONFLATION: wrong host"),
    gold_line(3, "b.txt", 40, 60, "talks", "2020-06-02"),
    gold_line(4, "c.txt", 0, 20, "talks", None),
    gold_line(5, "a.txt", 80, 90, "visit", "2020-07-01", note="a remark, not an error"),
    gold_line(6, "a.txt", 95, 99, "visit", "2020-08-01"),  # same file: not a cross-source conflict
]


def test_gold_disagreements_from_notes_and_dates() -> None:
    items = gold_disagreements(GOLD_WITH_ISSUES)
    assert [(i.kind, i.key, i.files, i.lines) for i in items] == [
        ("error", "summit", ("a.txt",), (0,)),
        ("error", "talks", ("a.txt",), (2,)),
        ("date", "talks", ("a.txt", "b.txt"), (2, 3)),
    ]
    assert items[2].pairs == ((2, 3),)


def test_an_error_is_surfaced_by_a_side_citing_its_quote() -> None:
    error = gold_disagreements(GOLD_WITH_ISSUES)[0]
    hit = disagreement("d1", (cit("x/a.txt", 15, 30),), (cit("x/b.txt", 0, 5),), field="title")
    wrong_file = disagreement("d2", (cit("x/b.txt", 15, 30),), (cit("x/c.txt", 0, 5),))
    no_overlap = disagreement("d3", (cit("x/a.txt", 20, 30),), (cit("x/b.txt", 0, 5),))
    assert surfaces(hit, error, GOLD_WITH_ISSUES)
    assert not surfaces(wrong_file, error, GOLD_WITH_ISSUES)
    assert not surfaces(no_overlap, error, GOLD_WITH_ISSUES)
    result = surfaced([error], [no_overlap, hit], GOLD_WITH_ISSUES)
    assert (result[0].surfaced, result[0].disagreement_id, result[0].field) == (True, "d1", "title")


def test_a_date_conflict_needs_two_sides_citing_the_two_files() -> None:
    conflict = gold_disagreements(GOLD_WITH_ISSUES)[2]
    two_sides = disagreement("d1", (cit("x/b.txt", 45, 50),), (cit("x/a.txt", 50, 55),))
    one_side = disagreement(
        "d2", (cit("x/a.txt", 45, 50), cit("x/b.txt", 45, 50)), (cit("x/c.txt", 0, 5),)
    )
    one_file = disagreement("d3", (cit("x/a.txt", 45, 50),), (cit("x/a.txt", 55, 58),))
    assert surfaces(two_sides, conflict, GOLD_WITH_ISSUES)
    assert not surfaces(one_side, conflict, GOLD_WITH_ISSUES)
    assert not surfaces(one_file, conflict, GOLD_WITH_ISSUES)
    assert not surfaced([conflict], [one_side, one_file], GOLD_WITH_ISSUES)[0].surfaced


# --- a whole (tiny) build ------------------------------------------------------------------------

TINY_GOLD = [
    gold_line(0, "a.txt", 0, 20, "summit", "2020-05-01"),
    gold_line(1, "b.txt", 0, 20, "summit", "2020-05-02"),
    gold_line(2, "c.txt", 0, 20, "summit", "2020-05"),
    gold_line(3, "a.txt", 30, 50, "statement", note="ERROR: misnamed"),
    gold_line(4, "b.txt", 30, 50, "outcome"),
]


def tiny_build() -> MergeBuild:
    summit_ab = canonical(
        "c_summit", mention("m1", "s/a.txt", (0, 20)), mention("m2", "s/b.txt", (0, 20))
    )
    return MergeBuild(
        events=(
            summit_ab,
            canonical("c_summit_c", mention("m3", "s/c.txt", (0, 20))),  # a duplicate row
            canonical("c_statement", mention("m4", "s/a.txt", (30, 50))),
            # An outcome of the summit: its own cluster, not a timeline row.
            canonical("c_outcome", mention("m5", "s/b.txt", (30, 50)), parent="c_summit"),
            canonical("c_noise", mention("m6", "s/b.txt", (60, 70))),
        ),
        disagreements=(disagreement("d1", (cit("s/a.txt", 0, 20),), (cit("s/b.txt", 0, 20),)),),
    )


def test_score_merge_on_a_tiny_build() -> None:
    s = score_merge(tiny_build(), TINY_GOLD)
    assert (s.mentions, s.matched, s.unmatched) == (6, 5, ("m6",))
    assert (s.canonical_events, s.multi_mention_events, s.top_level_rows) == (5, 1, 4)
    # items: summit {m1 m2} {m3}, statement {m4}, outcome {m5}
    # B-cubed P = 1; R = (2/3 + 2/3 + 1/3 + 1 + 1) / 5 = 11/15; pairs: 1 predicted, 3 true.
    assert s.clustering.bcubed_precision == 1.0
    assert s.clustering.bcubed_recall == pytest.approx(11 / 15)
    assert s.clustering.pairwise_recall == pytest.approx(1 / 3)
    (summit,) = s.cross_source
    assert summit.key == "summit" and not summit.merged and summit.spread == 2
    assert [g.files for g in summit.groups] == [("a.txt", "b.txt"), ("c.txt",)]
    assert s.cross_source_merged == 0
    assert [(d.a, d.b, d.keys) for d in s.duplicates] == [("c_summit", "c_summit_c", ("summit",))]
    assert s.disagreements_by_field == {"date": 1}
    # Gold: the ERROR line (not cited by d1) and the summit's 05-01 vs 05-02 (cited by d1).
    assert [(x.item.kind, x.surfaced) for x in s.gold_disagreements] == [
        ("error", False),
        ("date", True),
    ]


def test_one_canonical_event_over_every_file_is_merged() -> None:
    build = MergeBuild(
        events=(
            canonical(
                "c1",
                mention("m1", "a.txt", (0, 20)),
                mention("m2", "b.txt", (0, 20)),
                mention("m3", "c.txt", (0, 20)),
            ),
        )
    )
    s = score_merge(build, TINY_GOLD)
    assert s.cross_source_merged == 1 and s.cross_source[0].merged_found
    assert s.duplicates == ()


# --- files and the CLI ---------------------------------------------------------------------------

TEXT_A = "The council met on Monday. It agreed a budget. Later it adjourned.\n"
TEXT_B = "On Monday the council met. Its budget passed.\n"


def write_inputs(tmp: Path) -> tuple[Path, Path]:
    """Two made-up seed files and a gold file about them."""
    seeds = tmp / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (seeds / "b.txt").write_text(TEXT_B, encoding="utf-8")
    rows = [
        {"file": "a.txt", "quote": "The council met on Monday.", "event_key": "meeting",
         "role": "main", "status": "occurred", "date": "2020-01-06", "note": None},
        {"file": "a.txt", "quote": "It agreed a budget.", "event_key": "budget",
         "role": "main", "status": "occurred", "date": None, "note": "ERROR: made up"},
        {"file": "b.txt", "quote": "On Monday the council met.", "event_key": "meeting",
         "role": "main", "status": "occurred", "date": "2020-01-07", "note": None},
    ]  # fmt: skip
    gold = tmp / "gold.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return seeds, gold


def real_cit(seeds: Path, name: str, quote: str) -> Citation:
    text = (seeds / name).read_text(encoding="utf-8")
    start = text.index(quote)
    return Citation(
        source_id="src_" + name,
        file=str(seeds / name),
        start=start,
        end=start + len(quote),
        line=1,
        quote=quote,
    )


def test_load_gold_lines(tmp_path: Path) -> None:
    seeds, gold = write_inputs(tmp_path)
    lines = load_gold_lines(gold, seeds)
    assert [(g.index, g.file, g.start, g.end, g.key) for g in lines] == [
        (0, "a.txt", 0, 26, "meeting"),
        (1, "a.txt", 27, 46, "budget"),
        (2, "b.txt", 0, 26, "meeting"),
    ]
    assert [g.index for g in load_gold_lines(gold, seeds, {"b.txt"})] == [0]
    gold.write_text(gold.read_text() + json.dumps({"file": "b.txt", "quote": "absent",
                                                    "event_key": "k"}) + "\n")  # fmt: skip
    with pytest.raises(ValueError, match="quote not found"):
        load_gold_lines(gold, seeds)


def write_build(out: Path, seeds: Path, manifest: dict[str, Any] | None) -> None:
    """A made-up build of the two seed files: the meeting merged, with a date disagreement."""

    def ev(mid: str, name: str, quote: str) -> Event:
        return mention(mid, name, (0, 1)).model_copy(
            update={"citations": (real_cit(seeds, name, quote),)}
        )

    meeting = canonical(
        "c_meeting",
        ev("m1", "a.txt", "The council met on Monday."),
        ev("m2", "b.txt", "On Monday the council met."),
    )
    budget = canonical("c_budget", ev("m3", "a.txt", "It agreed a budget."), parent="c_meeting")
    side_a = Side(
        value="2020-01-06", source_ids=("src_a.txt",), citations=meeting.mentions[0].citations
    )
    side_b = Side(
        value="2020-01-07", source_ids=("src_b.txt",), citations=meeting.mentions[1].citations
    )
    dis = Disagreement(
        id="d1", field="date", subject="the meeting", event_id="c_meeting", sides=(side_a, side_b)
    )
    out.mkdir()
    data = {
        "events": [meeting.model_dump(mode="json"), budget.model_dump(mode="json")],
        "actors": [],
        "disagreements": [dis.model_dump(mode="json")],
        "decisions": [],
    }
    (out / "events.json").write_text(json.dumps(data), encoding="utf-8")
    if manifest is not None:
        (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_bench_merge_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds, gold = write_inputs(tmp_path)
    manifest = {
        "timings": {"merge": 2.5},
        "usage_by_source": {"(merge)": {"requests": 4, "prompt_tokens": 900,
                                        "completion_tokens": 60, "seconds": 2.0}},
        "inputs": [{"path": str(seeds / "a.txt"), "status": "read"},
                   {"path": str(seeds / "b.txt"), "status": "read"}],
    }  # fmt: skip
    write_build(tmp_path / "out", seeds, manifest)
    report = tmp_path / "figures.json"
    argv = [
        str(tmp_path / "out"),
        "--gold",
        str(gold),
        "--seeds",
        str(seeds),
        "--json",
        str(report),
    ]
    assert bench_merge.main(argv) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^cross-source keys merged +1/1 \(100%\)$", printed, re.M)
    assert re.search(r"^gold disagreements surfaced +1/2 \(50%\)$", printed, re.M)
    assert re.search(r"^merge LLM tokens +900 in / 60 out$", printed, re.M)
    assert re.search(r"^ +yes +date +meeting +\[a b\]: date \(d1\)", printed, re.M)
    figures = json.loads(report.read_text())
    assert figures["score"]["clustering"]["bcubed_f1"] == 1.0
    assert figures["score"]["top_level_rows"] == 1
    assert figures["merge_cost"]["requests"] == 4


def test_bench_merge_without_manifest_reports_dashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds, gold = write_inputs(tmp_path)
    write_build(tmp_path / "out", seeds, None)
    assert (
        bench_merge.main([str(tmp_path / "out"), "--gold", str(gold), "--seeds", str(seeds)]) == 0
    )
    printed = capsys.readouterr().out
    assert re.search(r"^merge seconds +–$", printed, re.M)
    assert re.search(r"^merge LLM requests +–$", printed, re.M)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{", "is not JSON"),
        ('{"things": []}', 'no "events" list'),
        ('{"events": [{"id": "x"}]}', "events[0] is not a CanonicalEvent"),
    ],
)
def test_bench_merge_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    seeds, gold = write_inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    if content is not None:
        (out / "events.json").write_text(content, encoding="utf-8")
    assert bench_merge.main([str(out), "--gold", str(gold), "--seeds", str(seeds)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_parse_build_and_manifest_defaults() -> None:
    assert parse_build({"events": []}) == MergeBuild(events=())
    cost = parse_manifest({"timings": {"extract": 1.0}, "usage_by_source": {}})
    assert (cost.seconds, cost.requests, cost.inputs) == (None, None, None)
    with pytest.raises(ValueError, match="timings"):
        parse_manifest({"timings": [1]})


# --- the scale run's records ---------------------------------------------------------------------

ARTICLES = [
    Article(
        id="1",
        published="2017-02-07",
        link="https://www.example.org/a",
        title="A made-up headline that is long enough to count as a sentence",
        text=(
            "The Harbour Board met the Fishing Union for six hours on Tuesday in the port. "
            "Short one. "
            "Protesters from Green Coast marched to the town hall to protest the new quay. "
            + "word " * 60
            + "end."
        ),
    ),
    Article(
        id="2",
        published="2017-02-08",
        link="https://news.example.com/b",
        title="Second",
        text="nobody here is named at all, the council said in a statement on Wednesday.",
    ),
]


def test_build_records_is_deterministic(tmp_path: Path) -> None:
    first = bench_merge_scale.build_records(ARTICLES, 10, tmp_path / "one")
    again = bench_merge_scale.build_records(ARTICLES, 10, tmp_path / "two")
    assert [e.id for e in first.events] == [e.id for e in again.events]
    assert (len(first.events), len(first.sources), first.articles) == (4, 2, 2)
    harbour, protest, words, nobody = first.events
    assert harbour.actors == ("Harbour Board", "Fishing Union")
    assert (harbour.type, protest.type) == ("CONSULT", "PROTEST")
    assert protest.actors == ("Green Coast",)  # "Protesters" alone is no name
    assert len(words.summary) <= 160 and words.summary.endswith("word")
    assert nobody.actors == ("news.example.com",)  # the outlet when no name is found
    assert (nobody.date, nobody.date_basis, nobody.status) == (
        "2017-02-08",
        "publication",
        "occurred",
    )
    for e in first.events:
        (c,) = e.citations
        assert Path(c.file).read_text(encoding="utf-8")[c.start : c.end] == c.quote
        assert not c.quote.startswith("A made-up headline")  # the headline line is skipped
    assert len(bench_merge_scale.build_records(ARTICLES, 2, tmp_path / "three").events) == 2


def test_measure_merge_with_a_stand_in() -> None:
    records = bench_merge_scale.Records(events=(), sources=(), articles=0, sentences=0)
    seen: dict[str, Any] = {}

    def stand_in(events: list[Event], sources: list[Any], **kw: Any) -> SimpleNamespace:
        seen.update(kw, n=len(events))
        one = SimpleNamespace(mentions=(1, 2))
        return SimpleNamespace(
            canonical=(one, SimpleNamespace(mentions=(3,))),
            actors=(),
            disagreements=(),
            decisions=(),
            stats={"candidate_pairs": 7, "clusters": 2},
        )

    m = bench_merge_scale.measure_merge(records, lambda: "embedder", stand_in)
    assert seen == {"embedder": "embedder", "judge": None, "n": 0}
    assert (m["canonical_events"], m["multi_mention_events"], m["largest_event"]) == (2, 1, 2)
    assert m["candidate_pairs"] == {"candidate_pairs": 7}
    assert m["peak_rss_merge_mb"] is not None


def test_why_apart_lists_alike_rows_with_the_decisions_between_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def row(rid: str, summary: str, date: str | None, mention: str) -> dict[str, Any]:
        mentions = [{"id": mention, "source_id": rid * 4, "date": date, "date_basis": "stated"}]
        return {"id": rid, "summary": summary, "date": date, "mentions": mentions}

    launch = "North Korea fired a ballistic missile into the Sea of Japan."
    events = [
        row("a", launch, "2017-02-12", "m1"),
        row("b", launch.replace("fired", "launched"), "2017-02-12", "m2"),
        row("c", launch, "2017-03-06", "m3"),  # weeks apart: dates that cannot meet
        row("d", "Malaysia expelled the North Korean ambassador.", None, "m4"),
    ]
    decision = {"a": "m1", "b": "m2", "score": 0.77, "same": False, "decided_by": "budget",
                "reason": "cosine 0.95; in doubt, decided by the score"}  # fmt: skip
    (tmp_path / "events.json").write_text(
        json.dumps({"events": events, "decisions": [decision]}), encoding="utf-8"
    )
    row_of = why_apart.row_of_mentions(events)
    assert row_of["m3"] == "c"
    assert why_apart.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0.77 budget, same=False: cosine 0.95" in out
    assert "1 pairs of rows" in out  # a~b only: c's date cannot meet theirs, d is unlike
