"""Review: decisions applied to a rebuilt brief, review files, and the review server's checks.

The brief here is made by hand (two key points, two timeline rows, one with an outcome, a
two-sided disagreement, an actor), so each rule of ``review.apply_decisions`` is seen on its
own. The server runs on port 0 in a thread and is asked with urllib, over real HTTP.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from briefing import cli, render, review
from briefing.errors import ReviewError
from briefing.models import (
    ActorEntry,
    Brief,
    Citation,
    Claim,
    Decision,
    DisagreementEntry,
    ReviewAction,
    TimelineEntry,
)
from briefing.render import pdf
from briefing.review import evidence, exchange, page
from briefing.review.server import MAX_BODY, TOKEN_HEADER, ReviewServer
from briefing.store import state

SOURCE = (
    "Leaders meet at Camp David\n"
    "\n"
    "The leaders of Japan, South Korea and the United States met at Camp David on Friday. "
    "They agreed to set up a crisis hotline.\n"
    "\n"
    "Officials said the summit was held on 18 August. Another report put it on 19 August.\n"
)


def cite(quote: str, file: str = "a.txt") -> Citation:
    start = SOURCE.index(quote)
    return Citation(
        source_id="s1",
        file=file,
        start=start,
        end=start + len(quote),
        line=SOURCE.count("\n", 0, start) + 1,
        quote=quote,
    )


def claim(cid: str, section: str, text: str, *quotes: str, file: str = "a.txt") -> Claim:
    return Claim(
        id=cid,
        section=section,  # type: ignore[arg-type]
        text=text,
        event_ids=("e1",),
        citations=tuple(cite(q, file) for q in quotes),
    )


def decision(
    c: Claim, action: ReviewAction, text: str | None = None, at: str = "2024-05-01T10:00:00+00:00"
) -> Decision:
    return Decision(claim_id=c.id, action=action, text=text, claim=c, decided_at=at)


MET = "The leaders of Japan, South Korea and the United States met at Camp David on Friday."
HOTLINE = "They agreed to set up a crisis hotline."
DATE_A = "Officials said the summit was held on 18 August."
DATE_B = "Another report put it on 19 August."


def make_brief(file: str = "a.txt") -> Brief:
    kp1 = claim("kp1", "key_developments", "Leaders met at Camp David.", MET, file=file)
    kp2 = claim("kp2", "key_developments", "They agreed on a hotline.", HOTLINE, file=file)
    row_claim = claim("t1", "timeline", "Trilateral summit at Camp David", MET, file=file)
    outcome = claim("t1o", "timeline", "Agreed to set up a crisis hotline", HOTLINE, file=file)
    row2_claim = claim("t2", "timeline", "Officials describe the summit date", DATE_A, file=file)
    side_a = claim("d1a", "disagreements", "The summit was on 18 August.", DATE_A, file=file)
    side_b = claim("d1b", "disagreements", "The summit was on 19 August.", DATE_B, file=file)
    actor_claim = claim("a1", "actors", "Japan took part in the summit.", MET, file=file)

    def row(event: str, c: Claim, outcomes: tuple[Claim, ...] = ()) -> TimelineEntry:
        return TimelineEntry(
            event_id=event, date="2023-08-18", status="occurred", role="main", type="CONSULT",
            actors=("Japan",), location="Camp David", sources=1, independent_sources=1,
            disputed=(), claim=c, outcomes=outcomes,
        )  # fmt: skip

    return Brief(
        title="Camp David",
        scope="",
        key_points=(kp1, kp2),
        timeline=(row("e1", row_claim, (outcome,)), row("e2", row2_claim)),
        actors=(ActorEntry(name="Japan", kind="country", variants=(), claim=actor_claim),),
        disagreements=(
            DisagreementEntry(
                field="date",
                subject="the Camp David summit",
                sides=(side_a, side_b),
                values=("2023-08-18", "2023-08-19"),
            ),
        ),
        sources=(),
        failures=(),
        notes=(),
    )


def by_id(brief: Brief) -> dict[str, Claim]:
    return {c.id: c for c in brief.claims()}


# --- apply_decisions / match_decisions -----------------------------------------------------------


def test_accept_marks_the_claim() -> None:
    brief = make_brief()
    kp1 = by_id(brief)["kp1"]
    reviewed = review.apply_decisions(brief, [decision(kp1, "accept")])
    assert by_id(reviewed.brief)["kp1"].review == "accepted"
    assert by_id(reviewed.brief)["kp2"].review is None
    assert [d.claim_id for d in reviewed.applied] == ["kp1"]
    assert reviewed.flagged == () and reviewed.orphaned == ()


def test_reject_removes_a_key_point() -> None:
    brief = make_brief()
    reviewed = review.apply_decisions(brief, [decision(by_id(brief)["kp2"], "reject")])
    assert [c.id for c in reviewed.brief.key_points] == ["kp1"]


def test_rejecting_a_timeline_row_removes_its_outcomes_with_it() -> None:
    brief = make_brief()
    reviewed = review.apply_decisions(brief, [decision(by_id(brief)["t1"], "reject")])
    assert [row.event_id for row in reviewed.brief.timeline] == ["e2"]
    assert "t1o" not in by_id(reviewed.brief)


def test_rejecting_an_outcome_keeps_its_row() -> None:
    brief = make_brief()
    reviewed = review.apply_decisions(brief, [decision(by_id(brief)["t1o"], "reject")])
    assert [row.event_id for row in reviewed.brief.timeline] == ["e1", "e2"]
    assert reviewed.brief.timeline[0].outcomes == ()


def test_rejecting_one_side_of_two_removes_the_disagreement() -> None:
    brief = make_brief()
    reviewed = review.apply_decisions(brief, [decision(by_id(brief)["d1b"], "reject")])
    assert reviewed.brief.disagreements == ()
    assert "d1a" not in by_id(reviewed.brief)


def test_edit_replaces_the_text_and_keeps_the_citations() -> None:
    brief = make_brief()
    kp1 = by_id(brief)["kp1"]
    new = "The three leaders met at Camp David on Friday."
    reviewed = review.apply_decisions(brief, [decision(kp1, "edit", new)])
    edited = by_id(reviewed.brief)["kp1"]
    assert edited.text == new and edited.review == "edited"
    assert edited.citations == kp1.citations


def test_an_edited_claim_is_marked_in_markdown_and_html() -> None:
    brief = make_brief()
    kp1 = by_id(brief)["kp1"]
    plain_md, plain_html = render.markdown(brief), render.html(brief)
    assert "edited in review" not in plain_md and "edited in review" not in plain_html
    reviewed = review.apply_decisions(brief, [decision(kp1, "edit", "Leaders met <there>.")])
    md, html = render.markdown(reviewed.brief), render.html(reviewed.brief)
    assert "- Leaders met &lt;there&gt;. *(edited in review)* [^1]" in md
    assert 'Leaders met &lt;there&gt;. <span class="tag mark">(edited in review)</span>' in html
    typst = pdf.document(render._view(reviewed.brief))
    assert typst["key_points"][0]["text"] == "Leaders met <there>. (edited in review)"
    assert typst["key_points"][1]["text"] == "They agreed on a hotline."


def test_a_changed_claim_on_the_same_spans_inherits_the_decision_and_is_flagged() -> None:
    brief = make_brief()
    now = by_id(brief)["kp1"]
    before = now.model_copy(update={"id": "kp1_old", "text": "Leaders gathered at Camp David."})
    made = decision(before, "reject")
    exact, changed, orphaned = review.match_decisions(brief.claims(), [made])
    assert exact == {} and changed == {"kp1": made} and orphaned == []
    reviewed = review.apply_decisions(brief, [made])
    assert "kp1" not in by_id(reviewed.brief)  # still applied: a rejected claim stays out
    assert [(f.decision.claim_id, f.claim.id) for f in reviewed.flagged] == [("kp1_old", "kp1")]


def test_a_changed_claim_in_another_section_does_not_inherit() -> None:
    brief = make_brief()
    # The actor claim cites the same sentence as kp1, but a key point is not an actor entry.
    before = by_id(brief)["kp1"].model_copy(update={"id": "gone", "section": "actors"})
    _, changed, orphaned = review.match_decisions(
        [by_id(brief)["kp1"]], [decision(before, "accept")]
    )
    assert changed == {} and [d.claim_id for d in orphaned] == ["gone"]


def test_a_decision_no_claim_fits_is_orphaned_and_kept(tmp_path: Path) -> None:
    brief = make_brief()
    elsewhere = claim("old", "key_developments", "A claim of an older build.", DATE_B)
    with state.open_state(tmp_path / "out") as st:
        st.save_decision(decision(elsewhere, "accept"))
        st.save_decision(decision(by_id(brief)["kp2"], "accept"))
        reviewed = review.apply_decisions(brief, st.decisions())
        assert [d.claim_id for d in reviewed.orphaned] == ["old"]
        assert [d.claim_id for d in reviewed.applied] == ["kp2"]
        assert {d.claim_id for d in st.decisions()} == {"old", "kp2"}  # nothing dropped
        data = page.decision_state(brief.claims(), st.decisions())
    assert [o["claim_id"] for o in data["orphaned"]] == ["old"]
    assert data["progress"] == {"decided": 1, "changed": 0, "total": 8, "orphaned": 1}


# --- review files --------------------------------------------------------------------------------


def test_export_then_apply_round_trip(tmp_path: Path) -> None:
    brief = make_brief()
    claims = by_id(brief)
    made = [
        decision(claims["kp1"], "accept", at="2024-05-01T10:00:00+00:00"),
        decision(claims["kp2"], "reject", at="2024-05-01T10:01:00+00:00"),
        decision(claims["t1"], "edit", "Summit at Camp David", at="2024-05-01T10:02:00+00:00"),
    ]
    exported = tmp_path / "review.json"
    with state.open_state(tmp_path / "a") as st:
        for d in made:
            st.save_decision(d)
        assert exchange.export_decisions(st, exported) == 3
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["briefing_review"] == 1 and len(document["decisions"]) == 3

    newer = decision(claims["kp1"], "reject", at="2024-06-01T00:00:00+00:00")
    older = decision(claims["kp2"], "accept", at="2024-01-01T00:00:00+00:00")
    with state.open_state(tmp_path / "b") as st:
        st.save_decision(newer)  # decided here after the export: it stays
        st.save_decision(older)  # decided here before: the file's wins
        done = exchange.apply_file(st, exported)
        assert done == exchange.Applied(imported=2, kept=1, same=0)
        kept = {d.claim_id: d for d in st.decisions()}
        assert kept["kp1"] == newer
        assert kept["kp2"] == made[1] and kept["t1"] == made[2]
        assert exchange.apply_file(st, exported) == exchange.Applied(imported=0, kept=1, same=2)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not JSON (line 1"),
        ('{"decisions": []}', 'is not a review file (no "briefing_review" key)'),
        ('{"briefing_review": 2, "decisions": []}', "review file version 2"),
        ('{"briefing_review": 1, "decisions": [{"claim_id": "x"}]}', "decisions[0].action: "),
    ],
)
def test_a_bad_review_file_is_one_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "review.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReviewError) as info:
        exchange.read_review_file(path)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_an_edit_without_text_in_a_review_file_is_refused(tmp_path: Path) -> None:
    d = decision(make_brief().key_points[0], "accept").model_dump(mode="json")
    d.update(action="edit", text="  ")
    path = tmp_path / "review.json"
    path.write_text(json.dumps({"briefing_review": 1, "decisions": [d]}), encoding="utf-8")
    with pytest.raises(ReviewError, match=r"decisions\[0\]: an edit needs the new text"):
        exchange.read_review_file(path)


def test_the_cli_exports_and_applies_and_names_a_bad_file(tmp_path: Path) -> None:
    brief = make_brief()
    with state.open_state(tmp_path / "a") as st:
        st.save_decision(decision(brief.key_points[0], "accept"))
    with state.open_state(tmp_path / "b"):
        pass
    exported = tmp_path / "review.json"
    runner = CliRunner()
    result = runner.invoke(cli.main, ["review", str(tmp_path / "a"), "--export", str(exported)])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 decision(s)" in result.stderr
    result = runner.invoke(cli.main, ["review", str(tmp_path / "b"), "--apply", str(exported)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 decision(s)" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"briefing_review": 1, "decisions": [{"action": "maybe"}]}', encoding="utf-8")
    result = runner.invoke(cli.main, ["review", str(tmp_path / "b"), "--apply", str(bad)])
    assert result.exit_code == 1
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith("error: ") and "bad.json: decisions[0]" in line
    result = runner.invoke(cli.main, ["review", str(tmp_path / "none"), "--export", str(bad)])
    assert result.exit_code == 1 and "no builds in" in result.stderr


# --- evidence ------------------------------------------------------------------------------------


def test_evidence_marks_the_span_inside_its_paragraph(tmp_path: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text(SOURCE, encoding="utf-8")
    c = claim("kp2", "key_developments", "x", HOTLINE, file=str(file))
    (shown,) = evidence.excerpts(c.citations, evidence.SourceTexts())
    assert shown["name"] == "a.txt" and shown["lines"] == [3] and shown["problem"] is None
    assert shown["segments"] == [
        {"text": MET + " ", "mark": False},
        {"text": HOTLINE, "mark": True},
    ]


def test_a_paragraph_is_bounded_by_runs_of_blank_lines_and_trimmed() -> None:
    text = "Title\n\n \n\n  The quote is here. More words.\n\n\nNext.\n"
    start = text.index("The quote")
    first, last = evidence.paragraph_bounds(text, start, start + len("The quote is here."))
    assert text[first:last] == "The quote is here. More words."


def test_evidence_of_a_long_paragraph_is_cut_around_the_span(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    text = f"Title\n\n{words} The quoted sentence is here. {words}\n\nNext paragraph.\n"
    file = tmp_path / "long.txt"
    file.write_text(text, encoding="utf-8")
    quote = "The quoted sentence is here."
    start = text.index(quote)
    c = Citation(
        source_id="s", file=str(file), start=start, end=start + len(quote), line=3, quote=quote
    )
    (shown,) = evidence.excerpts([c], evidence.SourceTexts())
    before, marked, after = shown["segments"]
    assert marked == {"text": quote, "mark": True}
    assert before["text"].startswith("…") and len(before["text"]) <= evidence.CONTEXT_CHARS + 1
    assert after["text"].endswith("…") and len(after["text"]) <= evidence.CONTEXT_CHARS + 1
    assert "Title" not in before["text"] and "Next paragraph" not in after["text"]


def test_evidence_of_a_changed_file_shows_the_stored_quote(tmp_path: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text(SOURCE.replace("hotline", "HOTLINE"), encoding="utf-8")
    c = claim("kp2", "key_developments", "x", HOTLINE, file=str(file))
    (shown,) = evidence.excerpts(c.citations, evidence.SourceTexts())
    assert shown["segments"] == [{"text": HOTLINE, "mark": True}]
    assert "changed since the build" in shown["problem"]


# --- the server ----------------------------------------------------------------------------------


@dataclass
class Running:
    server: ReviewServer
    out: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """A review server on port 0 over a folder whose last run is ``make_brief()``."""
    source = tmp_path / "a.txt"
    source.write_text(SOURCE, encoding="utf-8")
    brief = make_brief(str(source))
    hostile = brief.key_points[1].model_copy(
        update={"text": "A banner read <img src=x onerror=alert(1)> and </script><script>x()"}
    )
    brief = brief.model_copy(update={"key_points": (brief.key_points[0], hostile)})
    out = tmp_path / "out"
    with state.open_state(out) as st:
        st.record_run(
            "2024-05-01T00:00:00+00:00", {}, {}, "", [], brief_record=brief.model_dump(mode="json")
        )
    with ReviewServer(out, 0) as server:
        thread = server.in_thread()
        try:
            yield Running(server, out)
        finally:
            server.shutdown()
            thread.join(5)


def call(
    r: Running,
    path: str,
    body: Any = None,
    *,
    token: str | None = "right",
    host: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request; (status, headers, body), 4xx and 5xx included."""
    sent = {"Host": host or r.host, **(headers or {})}
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
        if token is not None:
            sent[TOKEN_HEADER] = r.server.token if token == "right" else token
    request = urllib.request.Request(r.server.url.rstrip("/") + path, data=data, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_page_has_its_token_escaped_data_and_a_strict_policy(running: Running) -> None:
    status, headers, body = call(running, "/")
    html = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert running.server.token in html
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "<img src=x" not in html and "</script><script>x()" not in html
    assert html.count("<script") == 2  # the JSON data and the page's own script, nothing else
    data = json.loads(call(running, "/api/review")[2])
    assert data["claims"][1]["text"].startswith("A banner read <img src=x onerror=alert(1)>")


def test_a_wrong_host_is_refused_for_pages_and_posts(running: Running) -> None:
    assert call(running, "/", host=f"evil.example:{running.server.port}")[0] == 421
    assert call(running, "/api/review", host="127.0.0.1:1")[0] == 421
    assert call(running, "/", host=f"localhost:{running.server.port}")[0] == 200
    posted = {"claim_id": "kp1", "action": "accept"}
    assert call(running, "/api/decision", posted, host="rebound.example")[0] == 421
    assert_no_decisions(running)


def test_a_post_needs_the_token_and_the_same_origin(running: Running) -> None:
    posted = {"claim_id": "kp1", "action": "accept"}
    assert call(running, "/api/decision", posted, token=None)[0] == 403
    assert call(running, "/api/decision", posted, token="guessed")[0] == 403
    evil = {"Origin": "http://evil.example"}
    assert call(running, "/api/decision", posted, headers=evil)[0] == 403
    assert_no_decisions(running)


def test_bad_bodies_are_refused(running: Running) -> None:
    big = json.dumps({"claim_id": "kp1", "action": "accept", "comment": "x" * MAX_BODY}).encode()
    assert call(running, "/api/decision", raw=big)[0] == 413
    assert call(running, "/api/decision", raw=b"{nope")[0] == 400
    assert call(running, "/api/decision", raw=b"[1]")[0] == 400
    text = {"Content-Type": "text/plain"}
    assert call(running, "/api/decision", {"claim_id": "kp1"}, headers=text)[0] == 415
    status, _, body = call(running, "/api/decision", {"claim_id": "kp1", "action": "maybe"})
    assert status == 400 and json.loads(body)["error"].startswith("action: ")
    status, _, body = call(running, "/api/decision", {"claim_id": "nope", "action": "accept"})
    assert status == 409 and "not in the last build" in json.loads(body)["error"]
    status, _, body = call(running, "/api/decision", {"claim_id": "kp1", "action": "edit"})
    assert status == 409 and "an edit needs the new text" in json.loads(body)["error"]
    assert_no_decisions(running)


def test_a_decision_is_stored_at_once_and_undone(running: Running) -> None:
    posted = {"claim_id": "kp1", "action": "edit", "text": " New words. ", "comment": "tighter"}
    origin = {"Origin": f"http://{running.host}"}
    status, _, body = call(running, "/api/decision", posted, headers=origin)
    assert status == 200
    answer = json.loads(body)
    assert answer["progress"]["decided"] == 1 and answer["decisions"]["kp1"]["action"] == "edit"
    with state.open_state(running.out, exclusive=False, existing=True) as st:
        (stored,) = st.decisions()
    assert (stored.claim_id, stored.text, stored.comment) == ("kp1", "New words.", "tighter")
    assert stored.claim.text == "Leaders met at Camp David."  # the claim as it stood
    assert stored.decided_at.endswith("+00:00")
    status, _, body = call(running, "/api/undo", {"claim_id": "kp1"})
    assert status == 200 and json.loads(body)["undone"] is True
    assert_no_decisions(running)


def test_a_decision_on_an_earlier_wording_is_shown_and_replaced(running: Running) -> None:
    with state.open_state(running.out, exclusive=False, existing=True) as st:
        _, brief = page.generated_brief(st, running.out)
        now = by_id(brief)["kp1"]
        before = now.model_copy(update={"id": "kp1_old", "text": "Leaders gathered."})
        st.save_decision(decision(before, "accept"))
        st.save_decision(decision(claim("gone", "actors", "An actor.", DATE_B), "reject"))
        st.record_check(1, {"claims": [{"claim_id": "kp1", "status": "partly", "reason": "?"}]})
    data = json.loads(call(running, "/api/review")[2])
    shown = data["decisions"]["kp1"]
    assert shown["changed"] is True and shown["previous_text"] == "Leaders gathered."
    assert [o["claim_id"] for o in data["orphaned"]] == ["gone"]
    assert data["progress"] == {"decided": 0, "changed": 1, "total": 8, "orphaned": 1}
    statuses = {c["id"]: c["status"] for c in data["claims"]}
    assert statuses["kp1"] == {"status": "partly", "label": "partly supported", "reason": "?"}
    assert statuses["kp2"]["status"] == "unchecked"
    status, _, body = call(running, "/api/decision", {"claim_id": "kp1", "action": "reject"})
    assert status == 200 and json.loads(body)["progress"]["decided"] == 1
    with state.open_state(running.out, exclusive=False, existing=True) as st:
        assert {d.claim_id: d.action for d in st.decisions()} == {"kp1": "reject", "gone": "reject"}


def test_without_a_check_every_claim_says_so(running: Running) -> None:
    data = json.loads(call(running, "/api/review")[2])
    assert {c["status"]["label"] for c in data["claims"]} == {page.NOT_CHECKED}
    first = data["claims"][0]["evidence"][0]
    assert first["name"] == "a.txt" and {"text": MET, "mark": True} in first["segments"]


def test_a_folder_without_a_build_is_an_error_before_listening(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no builds in"):
        ReviewServer(tmp_path / "empty")


def assert_no_decisions(r: Running) -> None:
    with state.open_state(r.out, exclusive=False, existing=True) as st:
        assert st.decisions() == []
