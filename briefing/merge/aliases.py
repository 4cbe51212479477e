"""The alias file (``data/actors.toml``) and pycountry's names, ready for lookups.

Everything that says what a string *is* without looking at the rest of the corpus: a country
under any of its names ("U. S.", "ROK", "Seoul" as the government), an organisation, a title
("Prime Minister", "PM"), a demonym, a word that is never part of a person's name. The file is a
small reviewed list, validated with pydantic when it is read; :mod:`briefing.merge.actors`
resolves a corpus's names with it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from ..models import ActorKind
from ..resources import resource_dir

ALIAS_FILE = "actors.toml"
MAX_NAME_PARTS = 4
LOOKUP_CACHE = 200_000  # alias lookups remembered, at most

_QUOTES = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-"})  # one character for one
_SMALL = frozenset(["of", "for", "the", "and", "on", "in", "to", "at"])


# --- the alias file -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Entry(_Strict):
    kind: ActorKind
    aliases: list[str] = Field(default_factory=list)


class _Words(_Strict):
    ambiguous_demonyms: list[str]
    government: list[str]
    organisation: list[str]
    country_bodies: list[str]
    name_particles: list[str]
    not_names: list[str]


class _Titles(_Strict):
    titles: list[str] = Field(min_length=1)
    honorifics: list[str] = Field(default_factory=list)
    synonyms: dict[str, str] = Field(default_factory=dict)


class AliasFile(_Strict):
    """The shape of ``data/actors.toml``."""

    usual_names: dict[str, str]
    actors: dict[str, _Entry]
    demonyms: dict[str, str]
    words: _Words
    titles: _Titles
    bodies: dict[str, str] = Field(default_factory=dict)


def _clean(text: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).split())
    return re.sub(r"^the\s+", "", text, flags=re.I)


def _keys(text: str) -> list[str]:
    """Lookup keys: "U. S." and "US" share one; abbreviations of <= 3 letters only in capitals."""
    parts = _clean(text).replace(".", " ").split()
    compact = "".join(parts)
    capitals = compact.isalpha() and compact.isupper()
    abbreviation = capitals and (len(parts) == 1 or all(len(p) == 1 for p in parts))
    keys = ["=" + compact] if abbreviation else []
    return [*keys, " ".join(parts).casefold()] if not abbreviation or len(compact) > 3 else keys


def _part(token: str) -> str:
    return token.casefold().strip(".")


def _fold_title(title: str) -> str:
    return " ".join(title.casefold().replace(".", "").replace("-", " ").split())


def _title_case(text: str) -> str:
    words = text.split()
    return " ".join(
        w[:1].upper() + w[1:] if w.islower() and (i == 0 or w not in _SMALL) else w
        for i, w in enumerate(words)
    )


_POSSESSIVE = re.compile(r"'s?$")


def _possessive(text: str) -> str:
    return _POSSESSIVE.sub("", text) if "'" in text else text


class Aliases:
    """The alias file and pycountry's names, ready for lookups."""

    def __init__(self, spec: AliasFile, path: Path) -> None:
        self.names: dict[str, tuple[str, ActorKind]] = {}  # lookup key -> canonical, kind
        self._looked_up: dict[str, tuple[str, ActorKind] | None] = {}  # text -> lookup(text)
        for canonical, entry in spec.actors.items():
            for alias in (canonical, *entry.aliases):
                for key in _keys(alias):
                    if self.names.setdefault(key, (canonical, entry.kind))[0] != canonical:
                        raise ConfigError(f"{path}: {alias!r} is listed under two actors")
        countries = {c.name: c for c in pycountry.countries}
        if unknown := sorted(set(spec.usual_names) - set(countries)):
            raise ConfigError(f"{path}: usual_names not in pycountry: {', '.join(unknown)}")
        for c in countries.values():
            usual = spec.usual_names.get(c.name) or getattr(c, "common_name", None) or c.name
            for written in (usual, c.name, getattr(c, "official_name", None) or usual):
                for key in _keys(written):
                    self.names.setdefault(key, (usual, "country"))  # the file wins
        self.demonyms = {d.casefold(): country for d, country in spec.demonyms.items()}
        if bad := sorted(c for c in self.demonyms.values() if self.country(c) != c):
            raise ConfigError(f"{path}: demonyms of unknown countries: {', '.join(bad)}")
        words = spec.words
        self.demonyms |= {d.casefold(): "" for d in words.ambiguous_demonyms}  # "": ambiguous
        self.government = frozenset(w.casefold() for w in words.government)
        self.organisation = frozenset(w.casefold() for w in words.organisation)
        self.bodies = frozenset(w.casefold() for w in words.country_bodies)
        self.particles = frozenset(words.name_particles)
        # Words that make a string no person's name: "Japanese", "Ministry", "The".
        self.not_names = frozenset(self.demonyms) | self.organisation
        self.not_names |= {w.casefold() for w in words.not_names}
        self.body_synonyms = {k.casefold(): v for k, v in spec.bodies.items()}
        self.title_synonyms = {
            _fold_title(k): _fold_title(v) for k, v in spec.titles.synonyms.items()
        }
        self.honorifics = frozenset(_fold_title(h) for h in spec.titles.honorifics)
        titles = sorted({*spec.titles.titles, *spec.titles.honorifics}, key=lambda t: (-len(t), t))
        escaped = (re.escape(t).replace(r"\.", r"\.?") for t in titles)
        pattern = "|".join(e.replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]+") for e in escaped)
        self.title_start = re.compile(rf"(?:{pattern})(?=\s)", re.I)
        self.title_end = re.compile(rf"(?<![\w.])(?:{pattern})\s+$", re.I)
        # Every word of a name, title or keyword above: never a person's name, never misspelt.
        texts = [*spec.actors, *spec.demonyms, *words.ambiguous_demonyms, *words.government]
        texts += [*(a for e in spec.actors.values() for a in e.aliases), *words.organisation]
        texts += [n for n, _ in self.names.values()]
        # Short abbreviations stay out: "UN" must not make the "Un" of "Kim Jong Un" a common
        # word. A title that is one ("PM") counts, as do the words that are never names.
        found = [w for t in texts for w in re.findall(r"[^\W\d_][\w'-]*", t)]
        found = [
            w
            for w in found + [w for t in titles for w in t.split()]
            if not w.isupper() or len(w) > 3
        ]
        self.words = frozenset(map(_part, [*found, *titles, *words.not_names]))

    def lookup(self, text: str) -> tuple[str, ActorKind] | None:
        """The canonical name and kind ``text`` is an alias of, if any."""
        # Cached: a corpus asks about the same words (every capitalised word it cites) often.
        # The aliases live as long as the process; the cache is emptied before it grows large.
        if text not in self._looked_up:
            if len(self._looked_up) >= LOOKUP_CACHE:
                self._looked_up.clear()
            self._looked_up[text] = next(
                (self.names[k] for k in _keys(text) if k in self.names), None
            )
        return self._looked_up[text]

    def mentions(self, text: str, name: str, written: Iterable[str] = ()) -> bool:
        """Whether ``text`` names the actor ``name``: as ``name`` or a way it was ``written``,
        by an alias ("Seoul", "ROK" for South Korea) or a demonym ("South Korean"), or a
        person by their surname."""
        text = text.replace("’", "'")
        forms = {name, *written}
        if name.count(" ") and name.split()[-1][:1].isupper() and self.lookup(name) is None:
            forms.add(name.split()[-1])  # a person: "Kishida"
        if any(re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text) for f in forms if f):
            return True
        tokens = re.findall(r"[\w.'\-]+", text)
        for n in range(1, MAX_NAME_PARTS + 3):  # "Democratic People's Republic of Korea"
            for i in range(len(tokens) - n + 1):
                words = _possessive(" ".join(tokens[i : i + n]).strip(".'"))
                hit = self.lookup(words)
                if (hit and hit[0] == name) or self.country(words) == name:
                    return True
        return False

    def country(self, text: str) -> str | None:
        """The country ``text`` names (an alias or a demonym), if any."""
        hit = self.lookup(text)
        if hit and hit[1] == "country":
            return hit[0]
        return self.demonyms.get(_clean(text).casefold()) or None

    def country_prefix(self, tokens: Sequence[str]) -> tuple[int, str | None]:
        """How many leading tokens name a country, possessive allowed, and which (None: unsure)."""
        for n in range(min(MAX_NAME_PARTS, len(tokens)), 0, -1):
            words = _possessive(" ".join(tokens[:n]))
            if (found := self.country(words)) or words.casefold() in self.demonyms:
                return n, found
        return 0, None

    def title_key(self, title: str) -> str:
        """A title as compared across sources: "PM" == "Prime Minister"."""
        return self.title_synonyms.get(_fold_title(title), _fold_title(title))

    def formal(self, title: str | None) -> str | None:
        """``title`` if it is one to compare: capitalised, not "Mr." ("leader Kim" is a role)."""
        ok = title and title[0].isupper() and _fold_title(title) not in self.honorifics
        return title if ok else None

    def title_before(self, text: str, end: int) -> str | None:
        """The title written right before ``text[end:]``, if any ("Prime Minister")."""
        m = self.title_end.search(text[max(0, end - 80) : end])  # titles are shorter than that
        return " ".join(m.group().split()) if m else None

    def country_before(self, text: str, end: int) -> str | None:
        """The country written before the title that ends at ``text[end:]``, if any: "Japanese
        Prime Minister ", "Japan's Director General ", "Republic of Korea (ROK) Vice Minister "."""
        head = text[max(0, end - 100) : end].translate(_QUOTES)
        m = self.title_end.search(head)
        if m is None:
            return None  # no title, no claim: "talks in Tokyo, Kishida said" says nothing
        head = re.sub(r"\s*\([^()]*\)$", "", head[: m.start()].rstrip())
        if not head or not (head[-1].isalnum() or head.endswith("'s")):
            return None  # "Japan, Prime Minister …": a list, not an adjective
        tokens = head.split()[-MAX_NAME_PARTS:]
        for n in range(len(tokens), 0, -1):  # longest first: "South Korea" before "Korea"
            if found := self.country(_possessive(" ".join(tokens[-n:]))):
                return found
        return None

    def strip_titles(self, text: str) -> tuple[str | None, str]:
        """("PM", "Fumio Kishida") for "Japanese PM Fumio Kishida"; (None, text) without a title."""
        title, rest = None, text
        while True:
            before, rest = rest, re.sub(r"^the\s+", "", rest, flags=re.I)
            tokens = rest.split()
            n, _ = self.country_prefix(tokens)
            if n and self.title_start.match(" ".join(tokens[n:])):
                rest = " ".join(tokens[n:])
            if m := self.title_start.match(rest):
                title, rest = m.group(), rest[m.end() :].lstrip()
                if of := re.match(r"(?:of|for)\s+(?:the\s+)?", rest, re.I):  # "Envoy for the DPRK"
                    n, _ = self.country_prefix(tail := rest[of.end() :].split())
                    rest = " ".join(tail[n:]) if n else rest
            if rest == before:
                return title, rest

    def person_like(self, name: str, least: int) -> bool:
        """Whether ``name`` reads as a person's name of ``least`` to 4 capitalised parts."""
        parts = [t for t in name.split() if t not in self.particles]
        return (
            least <= len(parts) <= MAX_NAME_PARTS
            and self.lookup(name) is None
            and all(t[0].isupper() and all(c.isalpha() or c in "'.-" for c in t) for t in parts)
            and not any(_part(t) in self.not_names for t in parts)
        )

    def government_of(self, text: str) -> str | None:
        """The country of "Japanese government", "the government of Japan", "the Japanese"."""
        words = "|".join(map(re.escape, sorted(self.government)))
        if m := re.fullmatch(rf"(?:{words})\s+(?:of|in)\s+(?:the\s+)?(.+)", text, re.I):
            return self.country(m[1])
        tokens = text.split()
        if len(tokens) >= 2 and tokens[-1].casefold() in self.government:
            return self.country(_possessive(" ".join(tokens[:-1])))
        low = text.casefold()  # "the Japanese", "the Russians"
        return self.demonyms.get(low) or self.demonyms.get(low.removesuffix("s")) or None

    def body_name(self, text: str) -> str:
        """One spelling for an organisation; a country's own bodies as "<Country>'s <Body>"."""
        country, body, tokens = None, text, text.split()
        if (m := re.fullmatch(r"(.+?)'s?\s+(.+)", text)) and self.country(m[1]):
            country, body = self.country(m[1]), m[2]
        elif (n := self.country_prefix(tokens))[1] and n[0] < len(tokens):
            country, body = n[1], " ".join(tokens[n[0] :])
        elif (m := re.fullmatch(r"(.+)\s+of\s+(?:the\s+)?(.+)", text, re.I)) and self.country(m[2]):
            country, body = self.country(m[2]), m[1]
        body = self.body_synonyms.get(body.casefold(), _title_case(body))
        if country and body.split()[-1].casefold() in self.bodies:
            mark = "'" if country.endswith("s") else "'s"
            return f"{country}{mark} {body}"
        return _title_case(text)


def load_aliases(path: Path | None = None) -> Aliases:
    """Read and check the alias file (``data/actors.toml`` by default); ConfigError if malformed."""
    return _load(path or resource_dir("data") / ALIAS_FILE)


@cache
def _load(path: Path) -> Aliases:
    try:
        spec = AliasFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise ConfigError(f"{path} is malformed: {where}") from exc
    return Aliases(spec, path)
