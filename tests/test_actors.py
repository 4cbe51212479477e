"""One canonical name per actor (briefing/merge/actors.py): countries, organisations, people,
short forms, misspellings found in the cited text, and the disagreements they make.

Sources are real ``Source`` objects read from small files; events cite their sentences with
``ground.cite``, so every quote is an exact slice, as in a build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from itertools import count
from pathlib import Path

import pytest

from briefing.errors import ConfigError
from briefing.extract.ground import cite
from briefing.merge.actors import ActorNames, actor_id, actor_records, resolve_actors
from briefing.merge.aliases import load_aliases
from briefing.models import Event, Source
from briefing.read.sources import read_source
from briefing.resources import resource_dir

SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))
_ids = count()


def source(tmp_path: Path, *sentences: str) -> Source:
    """A source whose sentences are ``sentences``, one paragraph each, after a headline."""
    path = tmp_path / f"source_{next(_ids):03d}.txt"
    path.write_text("A headline for the test\n\n" + "\n\n".join(sentences) + "\n", encoding="utf-8")
    return read_source(path)


def event(src: Source, needle: str, *actors: str) -> Event:
    """An event of ``src`` with ``actors``, citing the sentence that contains ``needle``."""
    number = next(s.number for s in src.sentences if needle in s.text)
    return Event(
        id=f"ev_{next(_ids):06d}",
        source_id=src.id,
        type="CONSULT",
        summary="A test event summary.",
        actors=actors,
        location=None,
        date=None,
        date_basis="none",
        status="occurred",
        role="main",
        citations=(cite(src, number, src.path),),
    )


def spelling_variants(names: ActorNames) -> list[str]:
    return [v.text for vs in names.variants.values() for v in vs if v.kind == "spelling"]


# --- countries and organisations ----------------------------------------------------------------

COUNTRIES = {
    "United States": [
        "US", "U.S.", "U. S.", "USA", "United States", "United States of America", "America",
        "Washington", "the US", "US government", "the American government", "Americans",
    ],
    "South Korea": [
        "South Korea", "S. Korea", "ROK", "Republic of Korea", "Seoul", "Korea, Republic of",
        "South Korean government", "Seoul's government",
    ],
    "North Korea": [
        "North Korea", "N. Korea", "DPRK", "Democratic People's Republic of Korea",
        "Democratic People’s Republic of Korea", "Pyongyang", "North Korean regime",
    ],
    "Japan": ["Japan", "Tokyo", "Japanese government", "the government of Japan", "the Japanese"],
    "China": ["China", "PRC", "Beijing", "People's Republic of China", "Chinese government"],
    "Russia": ["Russia", "Moscow", "Russian Federation", "the Russians"],
    "Vietnam": ["Viet Nam", "Vietnam"],
}  # fmt: skip


def test_country_variants_share_one_name(tmp_path: Path) -> None:
    src = source(tmp_path, "The leaders met in the capital on Thursday.")
    raws = [raw for forms in COUNTRIES.values() for raw in forms]
    names = resolve_actors([event(src, "leaders", raw) for raw in raws], [src])
    for country, forms in COUNTRIES.items():
        assert {raw: names.canonical[raw] for raw in forms} == dict.fromkeys(forms, country)
        assert names.kinds[country] == "country"
    written = {v.text: v.kind for v in names.variants["United States"]}
    assert written["United States"] == "canonical"
    assert written["U. S."] == written["Washington"] == "alias"


def test_case_and_ambiguity_are_respected(tmp_path: Path) -> None:
    src = source(tmp_path, "The leaders met in the capital on Thursday.")
    raws = ["us", "Korea", "Korean government", "NATO", "Nato", "UN", "IAEA"]
    names = resolve_actors([event(src, "leaders", raw) for raw in raws], [src])
    assert names.canonical["us"] == "us"  # only "US" in capitals is the country
    assert names.canonical["Korea"] == "Korea"  # North, South or the peninsula: left alone
    assert names.canonical["Korean government"] == "Korean government"
    assert names.canonical["Nato"] == names.canonical["NATO"] == "NATO"
    assert names.kinds["NATO"] == names.kinds["United Nations"] == names.kinds["IAEA"]
    assert names.kinds["NATO"] == "organisation"


def test_ministries_stay_organisations_under_one_spelling(tmp_path: Path) -> None:
    src = source(tmp_path, "The ministry said the talks went well.")
    raws = [
        "Seoul's Foreign Ministry",
        "South Korea’s Foreign Ministry",
        "South Korean Foreign Ministry",
        "Ministry of Foreign Affairs of South Korea",
        "Yonhap news agency",
        "Japan's prime minister's office",
    ]
    names = resolve_actors([event(src, "ministry", raw) for raw in raws], [src])
    ministry = "South Korea's Foreign Ministry"
    assert {names.canonical[raw] for raw in raws[:4]} == {ministry}
    assert names.kinds[ministry] == "organisation"
    assert names.canonical["Yonhap news agency"] == "Yonhap"
    assert names.canonical["Japan's prime minister's office"] == "Japan's Prime Minister's Office"
    assert {v.text for v in names.variants[ministry]} == set(raws[:4])


# --- people -------------------------------------------------------------------------------------


def test_a_place_the_model_lists_as_an_actor_is_no_person(tmp_path: Path) -> None:
    # 50 news articles: "Kuala Lumpur International Airport" was a person, and so one side of a
    # "who took part" disagreement about Kim Jong Nam's killing.
    src = source(
        tmp_path, "Kim Jong Nam died after an attack at Kuala Lumpur International Airport."
    )
    names = resolve_actors(
        [event(src, "died", "Kim Jong Nam", "Kuala Lumpur International Airport")], [src]
    )
    assert names.kinds["Kuala Lumpur International Airport"] != "person"
    assert names.kinds["Kim Jong Nam"] == "person"


def test_titles_come_off_and_short_forms_are_completed(tmp_path: Path) -> None:
    a = source(
        tmp_path,
        "US President Joe Biden hosted South Korean President Yoon Suk Yeol at Camp David.",
        "Biden and Yoon agreed to meet every year.",
    )
    b = source(tmp_path, "Secretary of State Antony Blinken met Gen. Charles Brown in Washington.")
    events = [
        event(a, "hosted", "Joe Biden", "Yoon Suk Yeol"),
        event(a, "agreed", "Biden", "Yoon", "President Joe Biden"),
        event(b, "Blinken", "Secretary of State Antony Blinken", "Gen. Charles Brown"),
    ]
    names = resolve_actors(events, [a, b])
    assert names.canonical["Biden"] == names.canonical["President Joe Biden"] == "Joe Biden"
    assert names.canonical["Yoon"] == "Yoon Suk Yeol"
    assert names.canonical["Secretary of State Antony Blinken"] == "Antony Blinken"
    assert names.canonical["Gen. Charles Brown"] == "Charles Brown"
    assert names.kinds["Joe Biden"] == names.kinds["Yoon Suk Yeol"] == "person"
    yoon = {v.text: v for v in names.variants["Yoon Suk Yeol"]}
    assert yoon["Yoon"].kind == "short"
    assert yoon["Yoon Suk Yeol"].kind == "canonical"
    # "Yoon" is written in the cited sentence: the variant points at it.
    assert any("Biden and Yoon agreed" in c.quote for c in yoon["Yoon"].citations)
    assert names.of(events[1]) == ("Joe Biden", "Yoon Suk Yeol")  # de-duplicated, in order


def test_a_short_form_two_people_share_stays_as_written(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "North Korean leader Kim Jong Un met his half-brother Kim Jong Nam once.",
        "Kim said the launch had succeeded.",
    )
    events = [
        event(src, "half-brother", "Kim Jong Un", "Kim Jong Nam"),
        event(src, "launch", "Kim"),
    ]
    names = resolve_actors(events, [src])
    assert names.canonical["Kim"] == "Kim"
    assert names.kinds["Kim"] == "person"
    assert names.canonical["Kim Jong Un"] != names.canonical["Kim Jong Nam"]


def test_a_hyphenated_given_name_is_the_same_person_spaced(tmp_path: Path) -> None:
    # Sources write Korean given names both ways; 50 news articles of 2017 had Kim Jong-nam and
    # Kim Jong Nam as two people, and "Kim Jong Un" against "Kim Jong-un" as a disagreement.
    one = source(tmp_path, "Kim Jong-nam was killed at the airport in Kuala Lumpur.")
    two = source(tmp_path, "Malaysia said Kim Jong Nam died on the way to hospital.")
    three = source(
        tmp_path,
        "North Korean leader Kim Jong-un watched the test with Kim Jong-chol.",
        "The passport named him Kim Chol.",
    )
    events = [
        event(one, "killed", "Kim Jong-nam"),
        event(two, "died", "Kim Jong Nam", "Malaysia"),
        event(three, "watched", "Kim Jong-un", "Kim Jong-chol"),
        event(three, "passport", "Kim Chol"),
    ]
    names = resolve_actors(events, [one, two, three])
    assert names.canonical["Kim Jong-nam"] == names.canonical["Kim Jong Nam"]
    person = names.canonical["Kim Jong Nam"]
    assert {"Kim Jong-nam", "Kim Jong Nam"} <= {v.text for v in names.variants[person]}
    # A run of the name's parts is a short form, two of three apart are not: Kim Chol (the name
    # on Kim Jong-nam's passport) is not Kim Jong-chol, nor is Kim Jong-un "Kim Jong".
    assert names.canonical["Kim Chol"] == "Kim Chol"
    assert names.canonical["Kim Jong-chol"] == "Kim Jong-chol"
    assert names.canonical["Kim Jong-un"] == "Kim Jong-un"


def test_a_short_form_stays_when_the_text_names_another_person_with_it(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "Kim Jong Un watched the launch with his sister Kim Yo Jong.",
        "Kim said the launch had succeeded.",
    )
    events = [event(src, "watched", "Kim Jong Un"), event(src, "succeeded", "Kim")]
    assert resolve_actors(events, [src]).canonical["Kim"] == "Kim"


def test_a_full_name_can_come_from_a_titled_name_in_the_cited_text(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "North Korean leader Kim Jong Un met UN officials in Pyongyang.",
        "Kim said the launch had succeeded.",
    )
    events = [event(src, "officials", "Kim", "UN"), event(src, "succeeded", "Kim")]
    names = resolve_actors(events, [src])
    assert names.canonical["Kim"] == "Kim Jong Un"
    assert names.canonical["UN"] == "United Nations"
    written = {v.text: v for v in names.variants["Kim Jong Un"]}
    assert written["Kim"].kind == "short"
    assert written["Kim Jong Un"].citations[0].quote.startswith("North Korean leader")


# --- misspellings and disagreements -------------------------------------------------------------

KASHIDA = "Japanese President Kashida and Korean President Yoon attended the NATO Summit in 2022."
KISHIDA = "Japanese Prime Minister Fumio Kishida met US President Joe Biden at the White House."


def kashida_corpus(tmp_path: Path) -> tuple[list[Source], list[Event]]:
    a = source(tmp_path, KASHIDA)
    b = source(tmp_path, KISHIDA)
    c = source(tmp_path, "Japanese PM Fumio Kishida and President Yoon Suk Yeol spoke by phone.")
    events = [
        # The model wrote the right name for a sentence that spells it wrong.
        event(a, "Kashida", "Fumio Kishida", "Yoon Suk Yeol", "NATO"),
        event(b, "Kishida", "Fumio Kishida", "Joe Biden"),
        event(c, "phone", "Japanese PM Fumio Kishida", "Yoon Suk Yeol"),
    ]
    return [a, b, c], events


def test_a_misspelling_in_the_cited_text_is_a_spelling_variant(tmp_path: Path) -> None:
    sources, events = kashida_corpus(tmp_path)
    names = resolve_actors(events, sources)
    variants = {v.text: v for v in names.variants["Fumio Kishida"]}
    kashida = variants["Kashida"]
    assert kashida.kind == "spelling"
    assert kashida.source_ids == (sources[0].id,)
    assert [c.quote for c in kashida.citations] == [KASHIDA]
    assert names.canonical["Fumio Kishida"] == "Fumio Kishida"  # never silently corrected
    assert spelling_variants(names) == ["Kashida"]


def test_name_and_title_differences_make_one_disagreement(tmp_path: Path) -> None:
    sources, events = kashida_corpus(tmp_path)
    names = resolve_actors(events, sources)
    (dis,) = [d for d in names.disagreements if d.actor_id == actor_id("Fumio Kishida")]
    assert dis.field == "name"
    assert dis.subject == "Fumio Kishida's name and title"
    assert dis.event_id is None
    assert [s.value for s in dis.sides] == ["Prime Minister Fumio Kishida", "President Kashida"]
    assert dis.sides[0].source_ids == (sources[1].id, sources[2].id)  # "PM" is "Prime Minister"
    assert dis.sides[1].source_ids == (sources[0].id,)
    assert [c.quote for c in dis.sides[1].citations] == [KASHIDA]
    assert KISHIDA in [c.quote for c in dis.sides[0].citations]
    payload = json.dumps(["name", actor_id("Fumio Kishida"), sorted(s.value for s in dis.sides)])
    assert dis.id == "dg_" + hashlib.sha256(payload.encode()).hexdigest()[:12]
    # Yoon is "President" everywhere: nothing to report.
    assert not [d for d in names.disagreements if d.actor_id == actor_id("Yoon Suk Yeol")]


def test_a_title_difference_alone_is_a_title_disagreement(tmp_path: Path) -> None:
    a = source(tmp_path, "Prime Minister Fumio Kishida arrived in Seoul on Sunday.")
    b = source(tmp_path, "President Fumio Kishida arrived in Seoul on Sunday.")
    c = source(tmp_path, "Japanese PM Kishida arrived in Seoul on Sunday.")
    events = [event(s, "arrived", "Fumio Kishida") for s in (a, b, c)]
    (dis,) = resolve_actors(events, [a, b, c]).disagreements
    assert (dis.field, dis.subject) == ("title", "Fumio Kishida's title")
    assert [s.value for s in dis.sides] == [
        "Prime Minister Fumio Kishida",
        "President Fumio Kishida",
    ]
    assert [s.source_ids for s in dis.sides] == [(a.id, c.id), (b.id,)]


def test_a_misspelt_actor_string_is_reported_too(tmp_path: Path) -> None:
    a = source(tmp_path, "Fumio Kishida spoke first.", "Fumio Kishida spoke again.")
    b = source(tmp_path, "Then Kashida left the room.")
    events = [event(a, "first", "Fumio Kishida"), event(b, "left", "Kashida")]
    names = resolve_actors(events, [a, b])
    assert names.canonical["Kashida"] == "Fumio Kishida"
    assert {v.text: v.kind for v in names.variants["Fumio Kishida"]}["Kashida"] == "spelling"
    (dis,) = names.disagreements
    assert [s.value for s in dis.sides] == ["Fumio Kishida", "Kashida"]


def test_no_false_misspellings(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "Korean President Moon Jae-in met Korea experts and the Korean community.",
        "US Deputy Special Representative Jung Pak met Park Jin, and Park praised the talks.",
        "German minister Hans Schmidt and former chancellor Helmut Schmitt attended.",
        "Schmitt spoke about Schmidt at length.",
        "Kimm and Kim did not attend.",
    )
    events = [
        event(src, "Moon", "Moon Jae-in", "Korea", "South Korea"),
        event(src, "Jung Pak", "Jung Pak"),
        event(src, "Hans", "Hans Schmidt", "Helmut Schmitt"),
        event(src, "at length", "Schmitt", "Schmidt"),
        event(src, "Kimm", "Kim Jong Un"),
    ]
    names = resolve_actors(events, [src])
    assert spelling_variants(names) == []
    assert names.disagreements == ()
    assert names.canonical["Korea"] == "Korea"
    assert names.canonical["Schmitt"] == "Helmut Schmitt"
    assert names.canonical["Schmidt"] == "Hans Schmidt"
    assert "Park" not in {v.text for v in names.variants["Jung Pak"]}


def test_a_full_name_one_misspelt_part_away_is_the_better_attested_person(tmp_path: Path) -> None:
    a = source(tmp_path, "Fumio Kishida spoke first.")
    b = source(tmp_path, "Fumio Kishida spoke second.")
    c = source(tmp_path, "Fumio Kashida spoke third.")
    events = [
        event(s, "spoke", name)
        for s, name in zip((a, b, c), ("Fumio Kishida",) * 2 + ("Fumio Kashida",), strict=True)
    ]
    names = resolve_actors(events, [a, b, c])
    assert names.canonical["Fumio Kashida"] == "Fumio Kishida"
    assert [s.value for s in names.disagreements[0].sides] == ["Fumio Kishida", "Fumio Kashida"]


def test_a_variant_cites_each_source_once_before_a_second_sentence(tmp_path: Path) -> None:
    a = source(
        tmp_path, "Fumio Kishida spoke first.", "Fumio Kishida spoke again.", "Fumio Kishida left."
    )
    b = source(tmp_path, "Fumio Kishida spoke in Seoul.")
    events = [event(a, n, "Fumio Kishida") for n in ("first", "again", "left")]
    names = resolve_actors([*events, event(b, "Seoul", "Fumio Kishida")], [a, b])
    (variant,) = names.variants["Fumio Kishida"]
    # Three citations at most: both sources, then the next sentence of the first, in source order.
    assert [c.quote for c in variant.citations] == [
        "Fumio Kishida spoke first.",
        "Fumio Kishida spoke again.",
        "Fumio Kishida spoke in Seoul.",
    ]
    assert variant.source_ids == (a.id, b.id)


# --- determinism, records, the alias file ---------------------------------------------------------


def test_the_same_inputs_give_the_same_names(tmp_path: Path) -> None:
    sources, events = kashida_corpus(tmp_path)
    first = resolve_actors(events, sources)
    assert resolve_actors(events, sources) == first
    assert resolve_actors(list(reversed(events)), sources) == first


def test_actor_records_most_events_first(tmp_path: Path) -> None:
    sources, events = kashida_corpus(tmp_path)
    names = resolve_actors(events, sources)
    records = actor_records(names, {"Fumio Kishida": ["c1", "c2"], "NATO": ["c1"]})
    assert [a.name for a in records[:2]] == ["Fumio Kishida", "NATO"]
    assert (
        records[0].id
        == actor_id("Fumio Kishida")
        == "ac_" + hashlib.sha256(b"Fumio Kishida").hexdigest()[:12]
    )
    assert records[0].variants == names.variants["Fumio Kishida"]
    assert {a.name for a in records[2:]} == {"Joe Biden", "Yoon Suk Yeol"}


SHIPPED = (resource_dir("data") / "actors.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "text",
    [
        "this is = not toml",
        "[usual_names]\n[actors]\n[demonyms]\n",  # sections missing
        SHIPPED + '\n[extra]\nkey = "value"\n',  # an unknown section
        SHIPPED.replace('"Japan" = { kind = "country"', '"Japan" = { kind = "nation"'),
        SHIPPED.replace('"Japanese" = "Japan"', '"Japanese" = "Nippon"'),  # no such country
        SHIPPED.replace('"Viet Nam" = "Vietnam"', '"Vietnam, Socialist Republic of" = "Vietnam"'),
        SHIPPED.replace('aliases = ["Tokyo"]', 'aliases = ["Tokyo", "Seoul"]'),  # two actors
    ],
)
def test_a_malformed_alias_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "actors.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"actors\.toml"):
        load_aliases(path)


def test_the_shipped_alias_file_loads() -> None:
    aliases = load_aliases()
    assert aliases.lookup("U. S.") == ("United States", "country")
    assert aliases.lookup("Korea, Republic of") == ("South Korea", "country")


# --- the real seeds -------------------------------------------------------------------------------


def test_the_seeds_show_kashida_and_the_disagreement() -> None:
    seeds: Sequence[Source] = [read_source(p) for p in SEEDS]
    kishida = "Japanese Prime Minister Fumio Kishida"
    events = [
        event(seeds[0], "Japanese President Kashida", "Fumio Kishida", "Yoon Suk Yeol"),
        event(seeds[0], "In this meeting, President Joe Biden", "President Joe Biden", "DPRK"),
        event(seeds[1], "agreement reached among", "Yoon Suk Yeol", "Joe Biden", "Fumio Kishida"),
        event(seeds[1], "Seoul’s Foreign Ministry said", "S. Korea", "Seoul's Foreign Ministry"),
        event(seeds[2], f"{kishida}, US President", kishida, "Biden"),
        event(seeds[3], "Both Pyongyang and Moscow", "Pyongyang", "Moscow"),
        event(
            seeds[4],
            "Kritenbrink convened",
            "Republic of Korea",
            "Democratic People's Republic of Korea",
        ),
    ]
    names = resolve_actors(events, seeds)
    kashida = {v.text: v for v in names.variants["Fumio Kishida"]}["Kashida"]
    assert kashida.kind == "spelling"
    assert kashida.source_ids == (seeds[0].id,)
    assert "Japanese President Kashida" in kashida.citations[0].quote
    assert (
        seeds[0].text[kashida.citations[0].start : kashida.citations[0].end]
        == kashida.citations[0].quote
    )
    (dis,) = [d for d in names.disagreements if d.actor_id == actor_id("Fumio Kishida")]
    assert dis.field == "name"
    assert [s.value for s in dis.sides] == ["Prime Minister Fumio Kishida", "President Kashida"]
    assert set(dis.sides[0].source_ids) >= {seeds[1].id, seeds[2].id}
    assert dis.sides[1].source_ids == (seeds[0].id,)
    assert {names.canonical[r] for r in ("S. Korea", "Republic of Korea")} == {"South Korea"}
    assert {names.canonical[r] for r in ("Pyongyang", "Democratic People's Republic of Korea")} == {
        "North Korea"
    }
    assert names.canonical["Moscow"] == "Russia"
    assert names.canonical["Seoul's Foreign Ministry"] == "South Korea's Foreign Ministry"
    assert names.canonical["Biden"] == "Joe Biden"


def test_a_title_alone_is_the_one_person_the_sources_give_it(tmp_path: Path) -> None:
    one = source(tmp_path, "Japanese Prime Minister Fumio Kishida met the envoys in Tokyo.")
    two = source(tmp_path, "The Japanese PM said the talks were of great significance.")
    events = [
        event(one, "Kishida", "Fumio Kishida"),
        event(two, "Japanese PM", "Japanese PM"),
    ]
    names = resolve_actors(events, [one, two])
    assert names.canonical["Japanese PM"] == "Fumio Kishida"
    assert ("Japanese PM", "alias") in {(v.text, v.kind) for v in names.variants["Fumio Kishida"]}
    assert "Japanese PM" not in names.kinds
    # Given to nobody in the cited words, the title stays as written.
    alone = resolve_actors([event(two, "Japanese PM", "Japanese PM")], [two])
    assert alone.canonical["Japanese PM"] == "Japanese PM"


def test_a_persons_country_comes_from_the_words_before_their_title(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "Japanese Prime Minister Fumio Kishida arrived.",
        "Japan's Director General Namazu Hiroyuki spoke.",
        "Republic of Korea (ROK) Vice Foreign Minister Cho Koo-rae agreed.",
        "Assistant Secretary of State Daniel Kritenbrink convened the talks.",
        "In Tokyo, Prime Minister Sato Ken said nothing.",
    )
    events = [
        event(src, "Kishida", "Fumio Kishida"),
        event(src, "Namazu", "Namazu Hiroyuki"),
        event(src, "Cho", "Cho Koo-rae"),
        event(src, "Kritenbrink", "Daniel Kritenbrink"),
        event(src, "Sato", "Sato Ken"),
    ]
    names = resolve_actors(events, [src])
    assert names.countries == {
        "Fumio Kishida": "Japan", "Namazu Hiroyuki": "Japan", "Cho Koo-rae": "South Korea",
    }  # fmt: skip
    assert names.with_countries(["Fumio Kishida", "Sato Ken"]) == {
        "Fumio Kishida", "Japan", "Sato Ken",
    }  # fmt: skip


def test_a_person_given_two_countries_equally_has_none(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "Japanese Ambassador Mark Hale spoke.",
        "British Ambassador Mark Hale replied.",
    )
    events = [event(src, "Japanese", "Mark Hale"), event(src, "British", "Mark Hale")]
    names = resolve_actors(events, [src])
    assert "Mark Hale" not in names.countries


def test_a_misspelt_side_cites_the_sentence_that_spells_it(tmp_path: Path) -> None:
    a = source(tmp_path, "Fumio Kishida spoke first.", "Fumio Kishida spoke again.")
    b = source(tmp_path, "The talks in Tokyo ended late.", "Afterwards President Kashida left.")
    two = event(b, "ended", "President Kashida")
    two = two.model_copy(
        update={"citations": (*two.citations, event(b, "Afterwards").citations[0])}
    )
    names = resolve_actors([event(a, "first", "Fumio Kishida"), two], [a, b])
    (dis,) = names.disagreements
    side = next(s for s in dis.sides if "Kashida" in s.value)
    assert side.citations and all("Kashida" in c.quote for c in side.citations)
