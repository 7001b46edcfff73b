#!/usr/bin/env python3
"""Page latency of the swarmdex site over a large generated catalogue (default 1,000,000).

Two steps, both run by default:

fill     A fresh data dir gets swarmdex's database, migrated as `swarmdex serve` would,
         the default categories (`torrents.services.ensure_default_categories`), uploader
         accounts, tags and COUNT generated torrents: Linux and BSD images, data sets,
         freely licensed films and music, free software, games and mods, conference talks.
         Each has a small valid bencoded info dictionary (its v1 hash is the SHA-1 of it),
         a file list matching it, tags, a Markdown description, a log-normal size, and an
         upload time spread over eleven years (more uploads in later years). The rows go in
         with SQLAlchemy Core executemany in large batches, one transaction each, with the
         search index rows built from the search package's own tokenizer. Before the fill,
         a sample of generated torrents is uploaded through the site's real upload service
         (`torrents.services.upload`, which indexes through the search backend) and rolled
         back: the bulk rows must equal what the site wrote, column for column, or the fill
         stops.
measure  Starts `swarmdex serve` on 127.0.0.1, pinned to SERVER_CPUS, waits for it to print
         `swarmdex: ready`, and times sequential requests over one keep-alive connection
         from CLIENT_CPU: the home page, a category page, page DEEP_PAGE of /browse (reached
         by following its "next" links from the first page), five searches and the detail
         pages of random torrents. Prints p50/p95 per case against the targets, and the
         database's size on disk. A page the site does not have yet is reported as "not
         available".

    .venv/bin/python bench/site_catalogue.py                        # 1,000,000 torrents
    .venv/bin/python bench/site_catalogue.py --count 20000          # a quick run
    .venv/bin/python bench/site_catalogue.py --data-dir D --reuse   # measure a filled dir again
    .venv/bin/python bench/site_catalogue.py --database postgresql  # the same on PostgreSQL

With `--database postgresql` the database is a PostgreSQL cluster of the bench's own
(`catalogue_postgres.py`), kept in DATA_DIR/postgresql so that `--reuse` starts it again,
and stopped at the end (also on Ctrl-C and SIGTERM). It runs with fsync,
synchronous_commit and full_page_writes off: a crash means filling again, and the measured
pages only read. The same generator and seed give the same torrents as on SQLite. The fill
writes them with COPY, one transaction per batch, and the `search_documents` rows from
`search.tsvector`'s own functions over the same token texts; the indexes no constraint
needs (the two GIN indexes among them) are dropped for the load and built again after it,
then VACUUM ANALYZE. The check against the upload service compares the search vectors and
the stored JSON text too. For the measure step the whole cluster is pinned to SERVER_CPUS
with `swarmdex serve --database-url`, as SQLite runs inside the server's process; the
database's size is `pg_database_size`.

Load goes to 127.0.0.1 only. Output (summary.txt, results.json, swarmdex.log) is written to
bench/out/catalogue-<time>/; the default data dir is bench/out/catalogue-data-COUNT/
(catalogue-data-COUNT-postgresql/ for PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import html
import http.client
import json
import math
import multiprocessing
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any, Final
from urllib.parse import urlencode

import catalogue_postgres
import click

REPO: Final = Path(__file__).resolve().parent.parent
OUT_ROOT: Final = REPO / "bench" / "out"
PY: Final = REPO / ".venv" / "bin" / "python"
MARKER: Final = "catalogue.json"  # written into the data dir once a fill has completed
READY_LINE: Final = "swarmdex: ready"
MIB: Final = 1 << 20
GIB: Final = 1 << 30

# p95 targets, milliseconds.
TARGETS: Final = {"listing": 20.0, "search": 30.0, "detail": 20.0}

# --------------------------------------------------------------------------- vocabulary

WORDS: Final = ["amber", "anchor", "apple", "arrow", "autumn", "avalanche", "beacon", "birch", "blue", "bridge", "broken", "bright", "canyon", "cedar", "circle", "citadel", "clockwork", "cloud", "cobalt", "comet", "copper", "coral", "crimson", "crystal", "dancing", "dawn", "delta", "desert", "distant", "dream", "drift", "dusk", "echo", "ember", "emerald", "empty", "endless", "evening", "falcon", "feather", "fern", "field", "fire", "flint", "forest", "fountain", "fox", "frost", "garden", "ghost", "glacier", "glass", "golden", "granite", "gravity", "harbor", "harvest", "hidden", "hollow", "horizon", "island", "ivory", "jade", "journey", "juniper", "kestrel", "lantern", "last", "lemon", "light", "lighthouse", "lily", "lonely", "lost", "lullaby", "lunar", "maple", "marble", "meadow", "midnight", "mirror", "mist", "moon", "morning", "moss", "mountain", "night", "north", "ocean", "olive", "orbit", "orchid", "paper", "pearl", "pebble", "pine", "planet", "polar", "prairie", "quiet", "rain", "raven", "red", "river", "robin", "rust", "saffron", "salt", "sapphire", "scarlet", "shadow", "shore", "silent", "silver", "sky", "slate", "small", "snow", "solar", "sparrow", "spring", "star", "stone", "storm", "summer", "sun", "swift", "thistle", "thunder", "tide", "timber", "twilight", "valley", "velvet", "violet", "wander", "water", "wave", "whisper", "wild", "willow", "wind", "winter", "wolf", "yellow", "zephyr"]
NOUNS: Final = ["atlas", "machine", "garden", "letter", "voyage", "kingdom", "signal", "archive", "engine", "parade", "festival", "harbour", "frontier", "station", "theory", "season", "fortune", "chapter", "library", "mirror", "republic", "orchestra", "railway", "compass", "canvas", "lantern", "carnival", "monument", "orchard", "circus", "empire", "village"]
FIRST: Final = ["Ada", "Alan", "Anna", "Ben", "Carla", "Chen", "David", "Elena", "Emma", "Farid", "Grace", "Hana", "Ivan", "Jonas", "Julia", "Kai", "Kenji", "Lena", "Luca", "Maria", "Mei", "Nadia", "Noah", "Olga", "Omar", "Paula", "Priya", "Rosa", "Sam", "Sara", "Tomas", "Yuki", "Zoe"]
LAST: Final = ["Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ito", "Jansen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Santos", "Schmidt", "Tanaka", "Uddin", "Varga", "Weber", "Xu", "Yilmaz", "Zhang"]
LICENCES: Final = (
    "CC BY 4.0", "CC BY-SA 4.0", "CC BY-NC-SA 3.0", "CC0 1.0", "public domain", "CC BY 3.0",
)

TRACKERS: Final = (
    [],
    [["udp://tracker.opentrackr.org:1337/announce"]],
    [["udp://tracker.opentrackr.org:1337/announce"], ["udp://open.demonii.com:1337/announce"]],
    [["udp://tracker.torrent.eu.org:451/announce"], ["udp://exodus.desync.com:6969/announce"]],
)
DISTRO_TRACKERS: Final = {
    "ubuntu": [["https://torrent.ubuntu.com/announce"], ["https://ipv6.torrent.ubuntu.com/announce"]],
    "debian": [["http://bttracker.debian.org:6969/announce"]],
    "fedora": [["http://torrent.fedoraproject.org:6969/announce"]],
}

FILMS: Final = (
    ("Big Buck Bunny", 2008), ("Elephants Dream", 2006), ("Sintel", 2010),
    ("Tears of Steel", 2012), ("Cosmos Laundromat", 2015), ("Caminandes Llamigos", 2016),
    ("Agent 327 Operation Barbershop", 2017), ("Spring", 2019), ("Sprite Fright", 2021),
    ("Charge", 2022), ("Wing It", 2023), ("Night of the Living Dead", 1968),
    ("Nosferatu", 1922), ("Metropolis", 1927), ("The General", 1926), ("The Kid", 1921),
    ("Sherlock Jr", 1924), ("The Cabinet of Dr Caligari", 1920),
    ("Plan 9 from Outer Space", 1957), ("His Girl Friday", 1940), ("Charade", 1963),
    ("The Little Shop of Horrors", 1960), ("Carnival of Souls", 1962), ("Detour", 1945),
    ("The Phantom of the Opera", 1925), ("A Trip to the Moon", 1902), ("Safety Last", 1923),
    ("The Gold Rush", 1925), ("Pioneer One", 2010), ("Valkaama", 2010),
)
RESOLUTIONS: Final = (("480p", 1), ("576p", 1), ("720p", 4), ("1080p", 8), ("2160p", 2))
SOURCES: Final = ("BluRay", "WEB-DL", "WEBRip", "DVDRip", "Remux", "HDTV")
VCODECS: Final = ("x264", "x265", "HEVC", "AV1", "VP9", "XviD")
ACODECS: Final = ("AAC", "AC3", "DTS", "FLAC", "Opus", "DDP5.1")
GROUPS: Final = ("CCFilm", "OpenFlix", "FREEDOM", "PDMovies", "ARCHiVE", "KLASSIK", "RESTORED",
                 "SILENT", "LibreCine", "NOiR")
LANGS: Final = ("English", "French", "German", "Spanish", "Italian", "Dutch", "Polish",
                "Portuguese", "Russian", "Japanese", "Chinese", "Korean", "Turkish", "Swedish")

ARTISTS: Final = ("Kevin MacLeod", "Chris Zabriskie", "Broke For Free", "Podington Bear",
                  "Josh Woodward", "Jason Shaw", "Scott Holmes", "Lee Rosevere",
                  "Blue Dot Sessions", "Kai Engel", "Komiku", "Nine Inch Nails",
                  "Jonathan Coulton", "Brad Sucks", "Tours", "Monplaisir")
AUDIO_FORMATS: Final = (("FLAC", "flac", 5), ("FLAC 24-96", "flac", 2), ("MP3 320", "mp3", 4),
                        ("MP3 V0", "mp3", 2), ("Opus 160", "opus", 1), ("OGG q8", "ogg", 1))
GENRES: Final = ("ambient", "jazz", "electronic", "classical", "rock", "folk", "hip-hop",
                 "chiptune", "metal", "soundtrack", "piano", "lo-fi", "blues", "world")

CONFERENCES: Final = ("FOSDEM", "DebConf", "37C3", "36C3", "PyCon US", "EuroPython",
                      "linux.conf.au", "Linux Plumbers Conference", "All Systems Go",
                      "Kernel Recipes", "GUADEC", "Akademy", "SciPy", "RustConf",
                      "Open Source Summit", "FrOSCon", "SeaGL", "Chaos Communication Camp")
TOPICS: Final = ("Rust", "the Linux kernel", "Debian packaging", "Wayland", "systemd",
                 "reproducible builds", "PostgreSQL", "SQLite", "BitTorrent", "IPv6", "RISC-V",
                 "eBPF", "Python typing", "WebAssembly", "GNOME", "KDE Plasma", "Nix",
                 "OpenStreetMap", "LibreOffice", "Firefox", "accessibility", "free firmware",
                 "mesh networks", "GPU drivers", "compilers", "fuzzing", "package managers")
TALK_FORMS: Final = ("The state of {t} in {y}", "{t}: lessons from {n} years",
                     "What's new in {t}", "Scaling {t} to a million users",
                     "Debugging {t} in production", "{t} for beginners",
                     "Why {t} is harder than it looks", "Building a community around {t}",
                     "A decade of {t}", "{t} on small computers")


def _pick_weighted(rng: Random, pairs: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _words(rng: Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(low, high)))


def _person(rng: Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _dotted(text: str) -> str:
    """`The Quiet Harbor (2010)` -> `The.Quiet.Harbor.2010`: how release names are spelt."""
    return re.sub(r"[^A-Za-z0-9+-]+", ".", text).strip(".")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(slots=True)
class Release:
    """One generated upload before sizes are given out.

    `files`: (path below the name, fixed size or None, weight): a file with a fixed size
    keeps it, the others share the rest of the total by weight. A single-file torrent has
    one entry whose path is the torrent's name.
    """

    name: str
    title: str
    files: list[tuple[str, int | None, float]]
    single: bool
    tags: list[str]
    description: str
    trackers: list[list[str]]
    size_median: float  # bytes
    size_sigma: float


def _small(rng: Random, low: int = 200, high: int = 40_000) -> int:
    return rng.randint(low, high)


def linux(rng: Random) -> Release:
    kind = rng.random()
    arch = rng.choice(("amd64", "amd64", "amd64", "arm64"))
    x86 = "x86_64" if arch == "amd64" else "aarch64"
    if kind < 0.25:
        flavour = rng.choice(("ubuntu", "ubuntu", "kubuntu", "xubuntu", "lubuntu", "ubuntu-mate"))
        version = rng.choice(("18.04.6", "20.04.6", "22.04.3", "22.04.4", "22.04.5", "23.10.1",
                              "24.04", "24.04.1", "24.04.2", "24.10", "25.04"))
        edition = "desktop" if flavour != "ubuntu" else rng.choice(("desktop", "live-server"))
        iso = f"{flavour}-{version}-{edition}-{arch}.iso"
        title = f"{flavour.replace('-', ' ').title()} {version} {edition.replace('-', ' ')} ({arch})"
        tags = ["ubuntu", arch, "lts" if version[:2] in ("18", "20", "22", "24") else "iso"]
        distro = "ubuntu"
    elif kind < 0.45:
        version = rng.choice(("10.13.0", "11.9.0", "11.11.0", "12.4.0", "12.5.0", "12.6.0",
                              "12.7.0", "12.8.0", "12.9.0", "13.0.0"))
        edition = rng.choice(("netinst", "DVD-1", "live-gnome", "live-kde", "live-xfce"))
        if edition.startswith("live"):
            iso = f"debian-live-{version}-{arch}-{edition[5:]}.iso"
        else:
            iso = f"debian-{version}-{arch}-{edition}.iso"
        title = f"Debian {version} {edition} {arch}"
        tags, distro = ["debian", arch, edition.split("-")[0]], "debian"
    elif kind < 0.6:
        release = rng.randint(33, 42)
        spin = rng.choice(("Workstation-Live", "Server-dvd", "KDE-Live", "Xfce-Live", "Everything-netinst"))
        iso = f"Fedora-{spin}-{x86}-{release}-1.{rng.randint(1, 9)}.iso"
        title = f"Fedora {release} {spin.replace('-', ' ')} {x86}"
        tags, distro = ["fedora", x86], "fedora"
    elif kind < 0.72:
        day = datetime(2015, 1, 1) + timedelta(days=rng.randrange(3800))
        iso = f"archlinux-{day:%Y.%m}.01-x86_64.iso"
        title = f"Arch Linux {day:%Y.%m}.01 x86_64"
        tags, distro = ["archlinux", "rolling"], "arch"
    else:
        iso, title, tags = rng.choice((
            (f"linuxmint-{rng.choice(('20.3', '21.1', '21.2', '21.3', '22', '22.1'))}-"
             f"{rng.choice(('cinnamon', 'mate', 'xfce'))}-64bit.iso", "", ["linuxmint"]),
            (f"openSUSE-Tumbleweed-DVD-x86_64-Snapshot2024{rng.randint(1, 12):02d}"
             f"{rng.randint(1, 28):02d}-Media.iso", "", ["opensuse", "rolling"]),
            (f"Rocky-{rng.choice(('8.9', '8.10', '9.3', '9.4', '9.5'))}-x86_64-dvd.iso", "", ["rocky", "el9"]),
            (f"AlmaLinux-{rng.choice(('8.10', '9.3', '9.4', '9.5'))}-x86_64-dvd.iso", "", ["almalinux"]),
            (f"kali-linux-{rng.randint(2019, 2025)}.{rng.randint(1, 4)}-installer-amd64.iso", "",
             ["kali", "security"]),
            (f"tails-amd64-{rng.randint(4, 6)}.{rng.randint(0, 24)}.img", "", ["tails", "privacy"]),
            (f"pop-os_22.04_amd64_nvidia_{rng.randint(1, 60)}.iso", "", ["popos", "nvidia"]),
            (f"alpine-standard-3.{rng.randint(12, 21)}.{rng.randint(0, 4)}-x86_64.iso", "", ["alpine"]),
            (f"manjaro-kde-{rng.randint(21, 25)}.{rng.randint(0, 2)}.{rng.randint(0, 9)}-linux6{rng.randint(1, 12)}.iso",
             "", ["manjaro", "rolling"]),
            (f"Zorin-OS-17.{rng.randint(0, 3)}-Core-64-bit.iso", "", ["zorin"]),
            (f"nixos-gnome-24.{rng.choice(('05', '11'))}.{rng.randint(1000, 9999)}-x86_64-linux.iso", "",
             ["nixos"]),
            (f"20{rng.randint(20, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}-raspios-"
             f"{rng.choice(('bullseye', 'bookworm'))}-arm64.img.xz", "", ["raspberrypi", "arm64"]),
        ))
        title = title or iso.rsplit(".", 1)[0].replace("_", " ")
        distro = tags[0]
    trackers = DISTRO_TRACKERS.get(distro, rng.choice(TRACKERS))
    description = (f"Official {distro} image, unmodified.\n\nCheck it against the project's "
                   f"published checksums before use:\n\n    sha256sum -c SHA256SUMS\n")
    if rng.random() < 0.6:
        return Release(iso, title, [(iso, None, 1.0)], True, tags, description, trackers, 2.5 * GIB, 0.6)
    folder = iso.rsplit(".", 1)[0]
    files: list[tuple[str, int | None, float]] = [(iso, None, 1.0), ("SHA256SUMS", _small(rng, 90, 600), 0),
                                                  ("SHA256SUMS.gpg", 833, 0)]
    if rng.random() < 0.3:  # a second image of the same release
        files.append((iso.replace(arch, "i386") if arch in iso else "extra-" + iso, None, 0.8))
    return Release(folder, title, files, False, [*tags, "iso"], description, trackers, 3 * GIB, 0.6)


def bsd(rng: Random) -> Release:
    system = rng.random()
    if system < 0.45:
        version = rng.choice(("12.4", "13.2", "13.3", "13.4", "14.0", "14.1", "14.2", "15.0"))
        medium = rng.choice(("disc1", "dvd1", "bootonly", "memstick"))
        ext = "img" if medium == "memstick" else "iso"
        name = f"FreeBSD-{version}-RELEASE-amd64-{medium}.{ext}"
        title, tags = f"FreeBSD {version}-RELEASE amd64 {medium}", ["freebsd", "amd64"]
    elif system < 0.7:
        version = rng.choice(("7.3", "7.4", "7.5", "7.6", "7.7"))
        name = f"install{version.replace('.', '')}.{rng.choice(('iso', 'img'))}"
        title, tags = f"OpenBSD {version} amd64 installer", ["openbsd", "amd64"]
    elif system < 0.9:
        version = rng.choice(("9.3", "9.4", "10.0", "10.1"))
        name = f"NetBSD-{version}-{rng.choice(('amd64', 'evbarm-aarch64', 'i386'))}.iso"
        title, tags = f"NetBSD {version}", ["netbsd"]
    else:
        version = rng.choice(("6.4.0", "6.4.1", "6.4.2"))
        name = f"dfly-x86_64-{version}_REL.iso"
        title, tags = f"DragonFly BSD {version}", ["dragonflybsd"]
    description = f"{title}, as published by the project.\n\nSee the release notes for changes.\n"
    trackers = rng.choice(TRACKERS)
    if rng.random() < 0.7:
        return Release(name, title, [(name, None, 1.0)], True, tags, description, trackers, 1 * GIB, 0.7)
    folder = name.rsplit(".", 1)[0]
    files = [(name, None, 1.0), ("CHECKSUM.SHA512", _small(rng, 200, 900), 0), ("README.txt", _small(rng), 0)]
    return Release(folder, title, files, False, tags, description, trackers, 1.2 * GIB, 0.7)


def datasets(rng: Random) -> Release:
    kind = rng.random()
    day = datetime(2016, 1, 1) + timedelta(days=rng.randrange(3400))
    licence = rng.choice(("CC BY-SA 4.0", "CC BY 4.0", "CC0 1.0", "ODbL 1.0", "public domain"))
    files: list[tuple[str, int | None, float]]
    if kind < 0.25:
        lang = rng.choice(("en", "de", "fr", "es", "ja", "ru", "it", "pt", "zh", "pl", "nl", "sv", "uk", "ar"))
        name = f"{lang}wiki-{day:%Y%m%d}-pages-articles-multistream"
        title = f"Wikipedia {lang} dump {day:%Y-%m-%d} (pages-articles, multistream)"
        parts = rng.randint(1, 27)
        files = [(f"{name}{i}.xml-p{i * 41242}p{(i + 1) * 41242}.bz2", None, 1.0) for i in range(1, parts + 1)]
        files.append((f"{name}-index.txt.bz2", None, 0.05))
        tags = ["wikipedia", "xml", lang]
    elif kind < 0.4:
        name = f"planet-{day:%y%m%d}.osm.pbf"
        title, tags = f"OpenStreetMap planet {day:%Y-%m-%d} (PBF)", ["openstreetmap", "gis"]
        files = [(name, None, 1.0)]
        return Release(name, title, files, True, tags, f"Weekly OpenStreetMap planet file. Licence: {licence}.\n",
                       rng.choice(TRACKERS), 60 * GIB, 0.3)
    elif kind < 0.55:
        crawl = f"CC-MAIN-{day:%Y}-{rng.randint(5, 50):02d}"
        segment = rng.randint(0, 99)
        name = f"common-crawl-{crawl}-wet-segment-{segment:03d}"
        title, tags = f"Common Crawl {crawl} WET segment {segment}", ["common-crawl", "web", "nlp"]
        files = [(f"{crawl}/segments/{rng.randint(10**12, 10**13)}/wet/part-{i:05d}.warc.wet.gz", None, 1.0)
                 for i in range(rng.randint(10, 400 if rng.random() < 0.05 else 50))]
    elif kind < 0.7:
        sites = ("askubuntu.com", "superuser.com", "serverfault.com", "unix.stackexchange.com",
                 "math.stackexchange.com", "stats.stackexchange.com", "tex.stackexchange.com",
                 "english.stackexchange.com", "gis.stackexchange.com", "electronics.stackexchange.com")
        name = f"stackexchange-{day:%Y-%m}"
        title, tags = f"Stack Exchange data dump {day:%Y-%m}", ["stackexchange", "xml"]
        files = [(f"{site}.7z", None, rng.random()) for site in rng.sample(sites, rng.randint(3, len(sites)))]
        files.append(("Sites.xml", _small(rng, 100_000, 900_000), 0))
    elif kind < 0.85:
        year = rng.randint(2011, 2024)
        colour = rng.choice(("yellow", "green", "fhv"))
        name = f"nyc-tlc-{colour}-tripdata-{year}"
        title, tags = f"NYC taxi trip records {year} ({colour})", ["nyc", "taxi", "parquet"]
        files = [(f"{colour}_tripdata_{year}-{m:02d}.parquet", None, 1.0) for m in range(1, 13)]
        files.append(("data_dictionary_trip_records.pdf", _small(rng, 50_000, 200_000), 0))
    else:
        topic = rng.choice(("climate", "genomes", "bird-songs", "speech", "street-images", "satellite",
                            "air-quality", "earthquakes", "books", "court-records", "patents"))
        version = f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}"
        name = f"open-{topic}-corpus-{version}"
        title, tags = f"Open {topic.replace('-', ' ')} corpus {version}", [topic, "corpus", "ml"]
        shards = rng.randint(1, 50) if rng.random() > 0.04 else rng.randint(100, 600)
        files = [(f"data/train-{i:05d}-of-{shards:05d}.parquet", None, 1.0) for i in range(shards)]
        files += [("README.md", _small(rng, 2_000, 20_000), 0), ("LICENSE", _small(rng, 1_000, 20_000), 0)]
    description = (f"{title}.\n\nLicence: {licence}. Files are unmodified from the publisher; "
                   f"see README or the publisher's site for the schema.\n")
    return Release(name, title, files, False, [*tags, "dataset"], description, rng.choice(TRACKERS), 6 * GIB, 1.4)


def films(rng: Random) -> Release:
    if rng.random() < 0.25:
        film, year = rng.choice(FILMS)
    else:
        form = rng.random()
        if form < 0.4:
            film = f"The {_words(rng, 1, 2)}"
        elif form < 0.7:
            film = f"{_words(rng, 1, 1)} {rng.choice(NOUNS).capitalize()}"
        else:
            film = f"{rng.choice(NOUNS).capitalize()} of the {_words(rng, 1, 1)}"
        year = rng.randint(1920, 2025)
    resolution = _pick_weighted(rng, RESOLUTIONS)
    source, vcodec, acodec = rng.choice(SOURCES), rng.choice(VCODECS), rng.choice(ACODECS)
    group = rng.choice(GROUPS)
    name = f"{_dotted(film)}.{year}.{resolution}.{source}.{vcodec}.{_dotted(acodec)}-{group}"
    title = f"{film} ({year}) {resolution} {source} {vcodec} {acodec}"
    ext = rng.choice(("mkv", "mkv", "mp4", "webm"))
    scale = {"480p": 0.4, "576p": 0.5, "720p": 1, "1080p": 2, "2160p": 6}[resolution]
    licence = "public domain" if year < 1930 else rng.choice(LICENCES)
    tags = [resolution, vcodec.lower(), "public-domain" if licence == "public domain" else "creative-commons"]
    if year < 1935:
        tags.append("silent-era")
    description = (f"**{film}** ({year}).\n\n- Video: {resolution} {vcodec}\n- Audio: {acodec}\n"
                   f"- Licence: {licence}\n")
    if rng.random() < 0.35:
        main = f"{name}.{ext}"
        return Release(main, title, [(main, None, 1.0)], True, tags, description, rng.choice(TRACKERS),
                       1.2 * GIB * scale, 0.5)
    files: list[tuple[str, int | None, float]] = [(f"{name}.{ext}", None, 1.0)]
    if rng.random() < 0.5:
        files.append((f"Sample/{name}.sample.{ext}", None, 0.01))
    files.append((f"{name}.nfo", _small(rng, 1_000, 8_000), 0))
    for lang in rng.sample(LANGS, rng.randint(0, 8)):
        files.append((f"Subs/{lang}.srt", _small(rng, 40_000, 120_000), 0))
    if rng.random() < 0.1:
        for i in range(rng.randint(2, 12)):
            files.append((f"Extras/{i + 1:02d} {_words(rng, 2, 4)}.{ext}", None, 0.05))
    return Release(name, title, files, False, tags, description, rng.choice(TRACKERS), 1.5 * GIB * scale, 0.5)


def music(rng: Random) -> Release:
    artist = rng.choice(ARTISTS) if rng.random() < 0.2 else rng.choice((
        f"The {_words(rng, 1, 1)} {rng.choice(NOUNS).capitalize()}s", _person(rng),
        f"{_words(rng, 1, 2)}", f"{_person(rng)} Quartet", f"DJ {_words(rng, 1, 1)}"))
    label, ext, _ = rng.choices(AUDIO_FORMATS, [f[2] for f in AUDIO_FORMATS])[0]
    genre = rng.choice(GENRES)
    per_track = {"flac": 30 * MIB, "mp3": 9 * MIB, "opus": 5 * MIB, "ogg": 7 * MIB}[ext]
    if label == "FLAC 24-96":
        per_track *= 3
    tags = [genre, ext, rng.choice(("cc-by", "cc-by-sa", "cc-by-nc", "cc0"))]
    if rng.random() < 0.03:  # a discography: hundreds of files
        first = rng.randint(1975, 2010)
        last = rng.randint(first + 3, 2025)
        name = f"{artist} - Discography ({first}-{last}) [{label}]"
        files: list[tuple[str, int | None, float]] = []
        for _album in range(rng.randint(8, 30)):
            year = rng.randint(first, last)
            album = f"{year} - {_words(rng, 1, 3)}"
            for n in range(1, rng.randint(8, 16)):
                files.append((f"{album}/{n:02d} - {_words(rng, 1, 4)}.{ext}", None, 1.0))
            files.append((f"{album}/cover.jpg", _small(rng, 80_000, 900_000), 0))
        title = f"{artist} - Discography {first}-{last} [{label}]"
        description = f"Everything {artist} released from {first} to {last}, {label}.\n"
        return Release(name, title, files, False, [*tags, "discography"], description,
                       rng.choice(TRACKERS), per_track * len(files), 0.3)
    album = _words(rng, 1, 3)
    year = rng.randint(1960, 2025)
    name = f"{artist} - {album} ({year}) [{label}]"
    files = []
    discs = 2 if rng.random() < 0.1 else 1
    for disc in range(1, discs + 1):
        prefix = f"CD{disc}/" if discs > 1 else ""
        for n in range(1, rng.randint(6, 20)):
            files.append((f"{prefix}{n:02d} - {_words(rng, 1, 4)}.{ext}", None, 1.0))
    if rng.random() < 0.7:
        files.append(("cover.jpg", _small(rng, 80_000, 2_000_000), 0))
    if ext == "flac" and rng.random() < 0.5:
        files += [(f"{artist} - {album}.cue", _small(rng, 1_000, 4_000), 0),
                  (f"{artist} - {album}.log", _small(rng, 3_000, 12_000), 0)]
    title = f"{artist} - {album} ({year}) [{label}]"
    description = f"*{album}* by {artist}, {year}. {genre.capitalize()}, {label}.\n\nLicence: {rng.choice(LICENCES)}.\n"
    return Release(name, title, files, False, tags, description, rng.choice(TRACKERS), per_track * len(files), 0.3)


SOFTWARE: Final = (
    ("LibreOffice", "LibreOffice_{v}_Linux_x86-64_deb", ("7.6.7", "24.2.4", "24.8.2", "25.2.1"), "office", 40),
    ("Blender", "blender-{v}-linux-x64", ("3.6.12", "4.1.1", "4.2.3", "4.3.0"), "3d", 1),
    ("GIMP", "gimp-{v}-setup", ("2.10.36", "2.10.38", "3.0.0"), "graphics", 1),
    ("Krita", "krita-x64-{v}-setup", ("5.2.2", "5.2.6"), "graphics", 1),
    ("Inkscape", "inkscape-{v}-x64", ("1.3.2", "1.4"), "graphics", 1),
    ("Godot", "Godot_v{v}-stable_linux.x86_64", ("4.2.2", "4.3", "4.4"), "gamedev", 1),
    ("Kdenlive", "kdenlive-{v}-x86_64", ("24.05.1", "24.08.3"), "video", 1),
    ("Audacity", "audacity-linux-{v}-x64", ("3.5.1", "3.7.1"), "audio", 1),
    ("FreeCAD", "FreeCAD_{v}-Linux-x86_64", ("0.21.2", "1.0.0"), "cad", 1),
    ("KiCad", "kicad-{v}-x86_64", ("8.0.3", "8.0.6"), "electronics", 1),
    ("TeX Live", "texlive{v}", ("2023", "2024", "2025"), "tex", 1),
    ("Firefox language packs", "firefox-{v}-langpacks", ("115.12.0esr", "127.0", "128.3.1esr"), "browser", 100),
    ("Qt sources", "qt-everywhere-src-{v}", ("6.5.3", "6.7.1", "6.8.0"), "source", 300),
)


def software(rng: Random) -> Release:
    product, pattern, versions, tag, spread = rng.choice(SOFTWARE)
    version = rng.choice(versions)
    name = pattern.format(v=version)
    title = f"{product} {version}"
    description = f"{product} {version}, the upstream release, with its signatures.\n"
    tags = [tag, "free-software", rng.choice(("linux", "windows", "macos"))]
    if spread == 1 and rng.random() < 0.6:
        ext = rng.choice((".tar.xz", ".AppImage", ".zip", ".exe", ".msi", ".dmg"))
        return Release(name + ext, title, [(name + ext, None, 1.0)], True, tags, description,
                       rng.choice(TRACKERS), 250 * MIB, 0.8)
    count = spread if spread > 1 else rng.randint(2, 6)
    if spread >= 100:
        count = rng.randint(spread // 2, spread * 2)
    files: list[tuple[str, int | None, float]] = []
    for i in range(count):
        stem = _slug(_words(rng, 1, 2)) if spread >= 100 else f"part{i}"
        files.append((f"{name}/{stem}-{i}.{rng.choice(('deb', 'xpi', 'tar.xz', 'zip'))}", None, rng.random()))
    files += [("SHA256SUMS", _small(rng, 100, 9_000), 0), ("SHA256SUMS.asc", 833, 0)]
    return Release(name, title, files, False, tags, description, rng.choice(TRACKERS), 400 * MIB, 1.0)


GAMES: Final = (
    ("OpenTTD", ("13.4", "14.1", "15.0")), ("0 A.D.", ("0.0.25b", "0.0.26", "0.27.0")),
    ("SuperTuxKart", ("1.3", "1.4")), ("Xonotic", ("0.8.5", "0.8.6")), ("Battle for Wesnoth", ("1.16.11", "1.18.2")),
    ("Minetest", ("5.7.0", "5.8.0", "5.9.1")), ("Warzone 2100", ("4.4.2", "4.5.5")),
    ("OpenRA", ("release-20231010", "release-20250303")), ("Cataclysm DDA", ("0.F-3", "0.G", "0.H")),
    ("Mindustry", ("v146", "v147")), ("Freeciv", ("3.0.10", "3.1.3")),
)
MODS: Final = ("Unofficial Patch", "HD Texture Pack", "Community Map Pack", "Music Overhaul",
               "Total Conversion", "Balance Mod", "Campaign Collection", "Tileset Pack")


def games(rng: Random) -> Release:
    game, versions = rng.choice(GAMES)
    version = rng.choice(versions)
    tags = [_slug(game), "open-source-game"]
    if rng.random() < 0.4:
        name = f"{_dotted(game)}-{version}-linux-x86_64.tar.xz"
        return Release(name, f"{game} {version}", [(name, None, 1.0)], True, tags,
                       f"{game} {version}, a free and open source game.\n", rng.choice(TRACKERS),
                       700 * MIB, 0.8)
    mod = rng.choice(MODS)
    release = f"{rng.randint(1, 9)}.{rng.randint(0, 30)}"
    name = f"{game} - {_words(rng, 1, 2)} {mod} {release}"
    many = rng.random() < 0.05
    files: list[tuple[str, int | None, float]] = []
    for _ in range(rng.randint(150, 700) if many else rng.randint(3, 50)):
        folder = rng.choice(("maps", "textures", "sounds", "scripts", "data", "campaigns"))
        ext = {"maps": "map", "textures": "png", "sounds": "ogg", "scripts": "lua", "data": "pk3",
               "campaigns": "cfg"}[folder]
        files.append((f"{folder}/{_slug(_words(rng, 1, 3))}.{ext}", None, rng.random()))
    files = list({path: (path, fixed, weight) for path, fixed, weight in files}.values())
    files += [("README.md", _small(rng), 0), ("LICENSE", _small(rng, 1_000, 35_000), 0)]
    description = (f"{mod} for {game} {version}.\n\nInstall: unpack into the game's data "
                   f"directory.\n\nLicence: {rng.choice(LICENCES)}.\n")
    return Release(name, f"{game} {mod} {release}", files, False, [*tags, "mod"], description,
                   rng.choice(TRACKERS), 800 * MIB, 1.4)


def other(rng: Random) -> Release:
    conference = rng.choice(CONFERENCES)
    year = rng.randint(2012, 2025)
    tags = ["conference", "talk", _slug(conference)]
    talk = rng.choice(TALK_FORMS).format(t=rng.choice(TOPICS), y=year, n=rng.randint(2, 25))
    talk = talk[0].upper() + talk[1:]
    if rng.random() < 0.8:
        speaker = _person(rng)
        name = f"{conference} {year} - {talk} - {speaker} (1080p).webm"
        return Release(name, f"{conference} {year}: {talk} ({speaker})", [(name, None, 1.0)], True,
                       tags, f"Recording of **{talk}** by {speaker} at {conference} {year}.\n",
                       rng.choice(TRACKERS), 450 * MIB, 0.6)
    track = rng.choice(("Main track", "Lightning talks", "Keynotes", "Rust devroom", "Kernel devroom",
                        "Python devroom", "Community devroom", "Security devroom"))
    name = f"{conference} {year} - {track} (complete)"
    files = [(f"{i:02d} - {rng.choice(TALK_FORMS).format(t=rng.choice(TOPICS), y=year, n=i)}.webm",
              None, 1.0) for i in range(1, rng.randint(10, 80))]
    return Release(name, f"{conference} {year} {track}, every talk", files, False, tags,
                   f"Every recorded talk of the {track.lower()} at {conference} {year}.\n",
                   rng.choice(TRACKERS), 450 * MIB * len(files), 0.4)


# Share of the catalogue per default category slug, and the generator of each.
CATEGORY_MIX: Final[dict[str, tuple[float, Callable[[Random], Release]]]] = {
    "linux": (0.10, linux),
    "bsd": (0.03, bsd),
    "datasets": (0.08, datasets),
    "films": (0.24, films),
    "music": (0.25, music),
    "software": (0.10, software),
    "games": (0.10, games),
    "other": (0.10, other),
}

# --------------------------------------------------------------------------- generation


def piece_length_for(total: int, max_pieces: int) -> int:
    """The smallest power of two from 16 KiB to 256 MiB giving at most `max_pieces` pieces
    (more when even 256 MiB pieces are not enough)."""
    length = 16 * 1024
    while length < 256 * MIB and -(-total // length) > max_pieces:
        length *= 2
    return length


def sizes_for(rng: Random, release: Release, cap: int) -> list[int]:
    """File sizes in bytes: fixed ones as given, a log-normal total shared out by weight."""
    median = max(release.size_median, 64 * 1024)
    shared = int(min(rng.lognormvariate(math.log(median), release.size_sigma), cap))
    shared = max(shared, 16 * 1024)
    weights = [w if size is None else 0.0 for _, size, w in release.files]
    total_weight = sum(weights) or 1.0
    sizes = [size if size is not None else max(1, int(shared * w / total_weight))
             for (_, size, _), w in zip(release.files, weights, strict=True)]
    return sizes


@dataclass(slots=True)
class Plan:
    """What every batch of the fill needs to know, the same in every worker."""

    count: int
    seed: int
    batch: int
    max_pieces: int
    start: datetime
    end: datetime
    category_ids: dict[str, int]
    tag_ids: dict[str, int]
    user_ids: list[int]


@dataclass(slots=True)
class Batch:
    first_id: int
    torrents: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    index: list[dict[str, Any]] = field(default_factory=list)
    # Only for the check against the upload service: what a user would have typed.
    uploads: list[dict[str, Any]] = field(default_factory=list)


def created_at(plan: Plan, torrent_id: int, rng: Random) -> datetime:
    """Upload time: rising with the id, denser in later years (the site grows)."""
    span = (plan.end - plan.start).total_seconds()
    fraction = ((torrent_id - 1) + rng.random()) / max(plan.count, 1)
    return plan.start + timedelta(seconds=span * fraction**0.6)


def torrent_bytes(info: bytes, trackers: list[list[str]]) -> bytes:
    """A .torrent file holding `info` byte for byte, with `trackers` as its announce list."""
    from swarmdex.bittorrent.bencode import encode

    if not trackers:
        return b"d4:info" + info + b"e"
    head = encode({b"announce": trackers[0][0], b"announce-list": trackers})
    return head[:-1] + b"4:info" + info + b"e"


class Generator:
    """Makes batch `n` of the catalogue, the same every time for the same plan."""

    def __init__(self, plan: Plan) -> None:
        from swarmdex.search.tokenize import token_text

        self.plan = plan
        self.slugs = list(CATEGORY_MIX)
        self.shares = [CATEGORY_MIX[s][0] for s in self.slugs]
        # The search package's tokenizer, remembered per string: file names, tags and
        # track titles come back often.
        self.tokens = functools.lru_cache(maxsize=1 << 17)(token_text)

    def batch(self, number: int) -> Batch:
        from swarmdex.bittorrent.bencode import encode
        from swarmdex.search.services import MAX_INDEXED_FILES
        from swarmdex.torrents.fields import clean_description, clean_tags

        plan = self.plan
        first = number * plan.batch + 1
        last = min(plan.count, first + plan.batch - 1)
        rng = Random(plan.seed * 1_000_003 + number)
        out = Batch(first)
        users = plan.user_ids
        for torrent_id in range(first, last + 1):
            slug = rng.choices(self.slugs, self.shares)[0]
            release = CATEGORY_MIX[slug][1](rng)
            sizes = sizes_for(rng, release, 2000 * GIB)
            total = sum(sizes)
            piece_length = piece_length_for(total, plan.max_pieces)
            pieces = rng.randbytes(20 * -(-total // piece_length))
            name = release.name
            if release.single:
                info: dict[bytes, object] = {b"length": total, b"name": name}
                paths = [name]
            else:
                paths = [path for path, _, _ in release.files]
                info = {b"files": [{b"length": size, b"path": path.split("/")}
                                   for path, size in zip(paths, sizes, strict=True)], b"name": name}
            info[b"piece length"] = piece_length
            info[b"pieces"] = pieces
            raw = encode(info)
            v1 = hashlib.sha1(raw).digest()
            when = created_at(plan, torrent_id, rng)
            deleted = when + timedelta(days=rng.randint(1, 400)) if rng.random() < 0.005 else None
            roll = rng.random()
            uploader = None if roll < 0.01 else users[int(len(users) * rng.random() ** 3)]
            anonymous = 0.01 <= roll < 0.05
            tags = clean_tags(release.tags)  # as the upload service stores them
            out.torrents.append({
                "id": torrent_id, "info_hash_v1": v1, "info_hash_v2": None, "swarm_key": v1,
                "title": release.title, "name": name, "description": clean_description(release.description),
                "category_id": plan.category_ids[slug], "uploader_id": uploader,
                "anonymous": anonymous, "size": total, "file_count": len(paths),
                "piece_length": piece_length, "info_dict": raw,
                "original_trackers": release.trackers, "created_at": when, "deleted_at": deleted,
            })  # fmt: skip
            out.files.extend(
                {"torrent_id": torrent_id, "position": i, "path": path, "size": size}
                for i, (path, size) in enumerate(zip(paths, sizes, strict=True))
            )
            out.tags.extend({"torrent_id": torrent_id, "tag_id": plan.tag_ids[t]} for t in tags)
            if deleted is None:  # deleting a torrent takes it out of the index
                out.index.append(self.index_row(
                    torrent_id, release.title, name, tags, paths[:MAX_INDEXED_FILES]))
            out.uploads.append({"slug": slug, "tags": release.tags, "uploader": uploader,
                                "anonymous": anonymous, "deleted": deleted is not None})
        return out

    def index_row(self, torrent_id: int, title: str, name: str, tags: Sequence[str],
                  files: Sequence[str]) -> dict[str, Any]:
        """The search_fts row of a torrent, laid out as `search.fts5.Fts5Backend.index`
        writes it, from the search package's own `token_text` (the fill's first step checks
        the two agree, row for row, through the real upload service)."""
        tokens = self.tokens
        return {
            "rowid": torrent_id,
            "title": tokens(title),
            "name": tokens(name),
            "tags": " ".join(tokens(tag) for tag in tags),
            "files": " ".join(tokens(path) for path in files),
        }  # fmt: skip


_GENERATOR: Generator | None = None
_FOR_POSTGRESQL = False


def _init_worker(plan: Plan, postgresql: bool) -> None:
    global _GENERATOR, _FOR_POSTGRESQL
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    # ...with SIGTERM (Pool.terminate): the parent's handler, inherited, would raise in the
    # middle of a batch, the pool would take that for the task's error, and the worker would
    # wait for the next task while the parent waits for it to exit.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    _GENERATOR = Generator(plan)
    _FOR_POSTGRESQL = postgresql


def _make_batch(number: int) -> Batch | catalogue_postgres.Records:
    assert _GENERATOR is not None
    batch = _GENERATOR.batch(number)
    batch.uploads = []  # only the check needs them; spare the pipe
    if _FOR_POSTGRESQL:  # COPY rows and search vectors made here, in parallel
        return catalogue_postgres.records(batch)
    return batch


# --------------------------------------------------------------------------- fill


def tag_vocabulary(samples: int = 5_000) -> list[str]:
    """Every tag the generators hand out, in the form the site stores (`clean_tags`).

    Found by sampling: the rarest tag comes with about 1 release in 500 of its category."""
    from swarmdex.torrents.fields import clean_tags

    rng = Random(0)
    return sorted({tag for _, make in CATEGORY_MIX.values() for _ in range(samples)
                   for tag in clean_tags(make(rng).tags)})


def say(text: str) -> None:
    print(f"catalogue: {text}", flush=True)


def database_path(data_dir: Path) -> Path:
    from swarmdex.db.engine import DATABASE_FILE

    return data_dir / DATABASE_FILE


@dataclass(slots=True)
class Target:
    """Where the catalogue lives: SQLite in the data dir, or the bench's own PostgreSQL
    cluster in DATA_DIR/postgresql (started)."""

    data_dir: Path
    cluster: catalogue_postgres.Cluster | None = None

    @property
    def name(self) -> str:
        return "sqlite" if self.cluster is None else "postgresql"

    @property
    def dsn(self) -> str:
        assert self.cluster is not None
        return self.cluster.dsn()

    def url(self) -> str:
        """The SQLAlchemy URL of the database."""
        from swarmdex.db.engine import database_url

        return database_url(self.data_dir, None) if self.cluster is None else self.cluster.url()


async def prepare(target: Target, count: int, seed: int, batch: int, max_pieces: int,
                  start: datetime, end: datetime) -> Plan:
    """Migrate a new database, create categories, tags and uploader accounts; the plan."""
    from sqlalchemy import insert, select

    from swarmdex.accounts.passwords import hash_password
    from swarmdex.db.engine import create_engine, session_factory, transaction
    from swarmdex.db.migrate import upgrade
    from swarmdex.db.models import Role, Tag, User, fold_name
    from swarmdex.torrents import services as torrents

    engine = create_engine(target.url())
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        # One real argon2 hash of a password nobody knows, shared by the generated accounts.
        password_hash = await hash_password(os.urandom(24).hex())
        rng = Random(seed)
        user_count = max(10, count // 50)
        names: dict[str, str] = {}
        while len(names) < user_count:
            name = f"{rng.choice(WORDS)}{rng.choice(('_', '.', '-', ''))}{rng.choice(NOUNS)}{rng.randint(1, 9999)}"
            names.setdefault(fold_name(name), name)
        span = (end - start).total_seconds()
        async with transaction(sessions) as session:
            await torrents.ensure_default_categories(session)
            await session.flush()
            categories = {c.slug: c.id for c in await torrents.categories(session)}
            missing = set(CATEGORY_MIX) - set(categories)
            if missing:
                raise click.ClickException(f"the site has no categories {sorted(missing)}")
            vocabulary = tag_vocabulary()
            await session.execute(insert(Tag), [{"name": t} for t in vocabulary])
            await session.execute(insert(User), [
                {"name": name, "name_key": key, "password_hash": password_hash,
                 "role": Role.TRUSTED if rng.random() < 0.02 else Role.USER,
                 "created_at": start + timedelta(seconds=span * rng.random() * 0.9)}
                for key, name in names.items()
            ])  # fmt: skip
            tags = {t.name: t.id for t in await session.scalars(select(Tag))}
            user_ids = list(await session.scalars(select(User.id).order_by(User.id)))
    finally:
        await engine.dispose()
    return Plan(count, seed, batch, max_pieces, start, end, categories, tags, user_ids)


async def check_against_upload(target: Target, plan: Plan, samples: int = 24) -> int:
    """Upload generated torrents through `torrents.services.upload` and compare what it
    wrote (torrent row, files, tags, search row) with the bulk rows; roll everything back.
    Raises ClickException on the first difference. Returns the number compared."""
    from sqlalchemy import column, select, table
    from sqlalchemy.ext.asyncio import AsyncSession

    from swarmdex.db.engine import create_engine
    from swarmdex.db.models import Tag, Torrent, TorrentFile, User, torrent_tags
    from swarmdex.search import fts5
    from swarmdex.torrents import services as torrents

    index = table(fts5.TABLE, column("rowid"), *(column(name) for name in fts5.WEIGHTS))
    names_index = table(fts5.NAMES_TABLE, column("rowid"), *(column(name) for name in fts5.NAME_WEIGHTS))
    generated = Generator(plan).batch(0)
    copied = catalogue_postgres.records(generated) if target.cluster is not None else None
    chosen = [i for i, u in enumerate(generated.uploads) if u["uploader"] and not u["deleted"]]
    # Single- and multi-file torrents of every category.
    by_kind: dict[tuple[str, bool], list[int]] = {}
    for i in chosen:
        single = generated.torrents[i]["file_count"] == 1
        by_kind.setdefault((generated.uploads[i]["slug"], single), []).append(i)
    picks = [i for group in by_kind.values() for i in group[:2]][:samples]
    engine = create_engine(target.url())
    compared = 0
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await session.begin()
            try:
                for i in picks:
                    row, meta = generated.torrents[i], generated.uploads[i]
                    uploader = await session.get(User, meta["uploader"])
                    assert uploader is not None
                    torrent = await torrents.upload(
                        session, data=torrent_bytes(row["info_dict"], row["original_trackers"]),
                        uploader=uploader, category_slug=meta["slug"], title=row["title"],
                        description=row["description"], tags=meta["tags"],
                        anonymous=meta["anonymous"], max_size=64 * MIB,
                    )  # fmt: skip
                    stored = await session.get(Torrent, torrent.id)
                    assert stored is not None
                    ours = dict(row, id=torrent.id)
                    for key, value in ours.items():
                        if key in ("created_at", "deleted_at"):
                            continue
                        if getattr(stored, key) != value:
                            raise click.ClickException(
                                f"bulk row differs from the upload service's in {key!r}: "
                                f"{value!r:.120} != {getattr(stored, key)!r:.120}")
                    files = (await session.execute(
                        select(TorrentFile.position, TorrentFile.path, TorrentFile.size)
                        .where(TorrentFile.torrent_id == torrent.id).order_by(TorrentFile.position)
                    )).all()  # fmt: skip
                    want = [(f["position"], f["path"], f["size"]) for f in generated.files
                            if f["torrent_id"] == row["id"]]
                    if [tuple(f) for f in files] != want:
                        raise click.ClickException(f"file rows differ for {row['name']!r}")
                    tag_names = set(await session.scalars(
                        select(Tag.name).join(torrent_tags).where(torrent_tags.c.torrent_id == torrent.id)))
                    want_tags = {plan_tag for plan_tag, tag_id in plan.tag_ids.items()
                                 if {"torrent_id": row["id"], "tag_id": tag_id} in generated.tags}
                    if tag_names != want_tags:
                        raise click.ClickException(f"tags differ: {tag_names} != {want_tags}")
                    if copied is not None:  # PostgreSQL: search_documents and the JSON text
                        vectors = next(r[1:] for r in copied.index if r[0] == row["id"])
                        json_text = copied.torrents[i][catalogue_postgres.TORRENT_COLUMNS.index(
                            "original_trackers")]
                        difference = await catalogue_postgres.search_row_difference(
                            session, torrent.id, vectors, json_text)
                        if difference is not None:
                            raise click.ClickException(
                                f"the search row differs from what search.postgres writes: {difference}")
                        compared += 1
                        continue
                    indexed = (await session.execute(
                        select(index.c.title, index.c.name, index.c.tags, index.c.files)
                        .where(index.c.rowid == torrent.id))).one()  # fmt: skip
                    names = (await session.execute(
                        select(names_index.c.title, names_index.c.name, names_index.c.tags)
                        .where(names_index.c.rowid == torrent.id))).one()  # fmt: skip
                    ours_index = next(r for r in generated.index if r["rowid"] == row["id"])
                    if tuple(indexed) != (ours_index["title"], ours_index["name"],
                                          ours_index["tags"], ours_index["files"]) \
                            or tuple(names) != tuple(indexed)[:3]:
                        raise click.ClickException(
                            "the search row differs from what search.fts5 writes: "
                            f"{tuple(indexed)!r:.200} != {ours_index!r:.200}")
                    compared += 1
            finally:
                await session.rollback()
    finally:
        await engine.dispose()
    return compared


def fill(target: Target, plan: Plan, workers: int, timeout: float) -> dict[str, Any]:
    """Insert the catalogue; return figures for the marker and the report."""
    if target.cluster is not None:
        return fill_postgresql(target, plan, workers, timeout)
    from sqlalchemy import bindparam, column, create_engine, event, insert, table

    from swarmdex.db.models import Torrent, TorrentFile, torrent_tags
    from swarmdex.search import fts5

    path = database_path(target.data_dir)
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _bulk_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # A fresh database nobody else opens until the fill is done: no journal, no syncs.
        # An interrupted fill leaves nothing usable (the marker file is not written).
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1048576",
                       "temp_store = MEMORY", "foreign_keys = ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    index = table(fts5.TABLE, column("rowid"), *(column(name) for name in fts5.WEIGHTS))
    names_index = table(fts5.NAMES_TABLE, column("rowid"), *(column(name) for name in fts5.NAME_WEIGHTS))
    statements = (
        ("torrents", insert(Torrent.__table__)),
        ("files", insert(TorrentFile.__table__)),
        ("tags", insert(torrent_tags)),
        ("index", insert(index)),
        ("index", insert(names_index).values(  # the same rows, names only
            {name: bindparam(name) for name in ("rowid", *fts5.NAME_WEIGHTS)})),
    )
    started = time.monotonic()
    try:
        with engine.connect() as connection:

            def write(batch: Any) -> None:
                with connection.begin():
                    for key, statement in statements:
                        rows = getattr(batch, key)
                        if rows:
                            connection.execute(statement, rows)

            counts = load(plan, workers, timeout, False, write)
            inserted = time.monotonic() - started
            say(f"rows in after {inserted:.0f} s; checkpointing, back to WAL")
            connection.exec_driver_sql("PRAGMA journal_mode = WAL")
    finally:
        engine.dispose()
    return {"fill_seconds": round(time.monotonic() - started, 1),
            "insert_seconds": round(inserted, 1), **counts}


def fill_postgresql(target: Target, plan: Plan, workers: int, timeout: float) -> dict[str, Any]:
    """COPY the catalogue in, then build the indexes and foreign keys set aside, analyze."""
    started = time.monotonic()
    with catalogue_postgres.Loader(target.dsn, workers) as loader:
        say("dropped for the load, made again after it: " + ", ".join(loader.set_aside()))
        counts = load(plan, workers, timeout, True, loader.write)
        inserted = time.monotonic() - started
        say(f"rows in after {inserted:.0f} s")
        after = loader.finish(say)
    return {"fill_seconds": round(time.monotonic() - started, 1),
            "insert_seconds": round(inserted, 1), **after, **counts}


def load(plan: Plan, workers: int, timeout: float, postgresql: bool,
         write: Callable[[Any], None]) -> dict[str, int]:
    """Generate every batch in `workers` processes and `write` each (one transaction);
    the rows written per kind."""
    counts = dict.fromkeys(("torrents", "files", "tags", "index"), 0)
    batches = -(-plan.count // plan.batch)
    deadline = time.monotonic() + timeout
    progress = Progress(plan.count)
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(workers, _init_worker, (plan, postgresql)) as pool:
            for batch in pool.imap(_make_batch, range(batches), chunksize=1):
                write(batch)
                for key in counts:
                    counts[key] += len(getattr(batch, key))
                progress.update(len(batch.torrents))
                if time.monotonic() > deadline:
                    raise click.ClickException(
                        f"fill stopped after {timeout:.0f} s (--fill-timeout) at "
                        f"{counts['torrents']:,} torrents")
    finally:
        progress.close()
    return counts


class Progress:
    """click's progress bar on a terminal; a line every 10% otherwise (logs)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()
        self.tty = sys.stdout.isatty()
        self.bar = click.progressbar(length=total, label="catalogue: filling", show_pos=True,
                                     show_eta=True, width=30) if self.tty else None
        if self.bar is not None:
            self.bar.__enter__()
        self.next_line = total / 10

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.done >= self.next_line or self.done == self.total:
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            say(f"{self.done:,}/{self.total:,} torrents ({rate:,.0f}/s)")
            self.next_line += self.total / 10

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def disk_usage(target: Target) -> dict[str, int]:
    if target.cluster is not None:
        return {f"database {catalogue_postgres.DATABASE} (pg_database_size)":
                catalogue_postgres.database_size(target.dsn)}
    path = database_path(target.data_dir)
    out = {}
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            out[path.name + suffix] = (path.parent / (path.name + suffix)).stat().st_size
    return out


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError


def table_sizes_of(target: Target) -> list[tuple[str, int]]:
    """Bytes per table and index (SQLite's dbstat; PostgreSQL's pg_total_relation_size with
    each table's indexes below it), largest first."""
    if target.cluster is not None:
        return catalogue_postgres.table_sizes(target.dsn)
    with contextlib.closing(sqlite3.connect(f"file:{database_path(target.data_dir)}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    return [(str(name), int(size)) for name, size in rows]


# --------------------------------------------------------------------------- server


class Server:
    """`swarmdex serve` on 127.0.0.1, started by us, stopped by its pid."""

    def __init__(self, data_dir: Path, log_path: Path, cpus: str, port: int, udp_port: int,
                 database_url: str | None = None) -> None:
        self.cmd = ["taskset", "-c", cpus, str(PY), "-m", "swarmdex", "serve",
                    "--data-dir", str(data_dir), "--host", "127.0.0.1",
                    "--port", str(port), "--udp-port", str(udp_port)]  # fmt: skip
        if database_url is not None:
            self.cmd += ["--database-url", database_url]
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.ready = threading.Event()
        self.port: int | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        say("starting " + " ".join(self.cmd))
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Copy the server's output to its log; note its port and its ready line."""
        assert self.proc is not None and self.proc.stdout is not None
        with open(self.log_path, "w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                found = re.match(r"swarmdex: site http://127\.0\.0\.1:(\d+)/", line)
                if found:
                    self.port = int(found[1])
                if line.rstrip("\n") == READY_LINE:
                    self.ready.set()
        self.ready.set()  # end of output: wake the waiter, who sees the process gone

    def wait_ready(self, timeout: float) -> float:
        started = time.monotonic()
        if not self.ready.wait(timeout) or not self.alive():
            why = "exited" if not self.alive() else f"not ready after {timeout:.0f} s"
            raise click.ClickException(f"swarmdex serve {why}; log {self.log_path}:\n{self.tail()}")
        if self.port is None:
            raise click.ClickException(f"swarmdex serve printed no site address; log {self.log_path}")
        return time.monotonic() - started

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join("    | " + x for x in self.log_path.read_text().splitlines()[-n:])
        return ""

    def status(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.proc is None:
            return out
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("Cpus_allowed_list", "VmRSS", "VmHWM"):
                    out[key] = " ".join(value.split())
        return out

    def stop(self) -> int | None:
        """SIGTERM, SIGKILL after 10 s; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                say(f"swarmdex ignored SIGTERM for 10 s; killing pid {self.proc.pid}")
                self.proc.kill()
                self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        return self.proc.returncode


# --------------------------------------------------------------------------- measure


class Client:
    """Sequential GETs over one keep-alive connection to 127.0.0.1."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = -1

    def get(self, path: str) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte read)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.reconnects += 1
            try:
                started = time.perf_counter()
                self.conn.request("GET", path, headers={"Accept": "text/html"})
                response = self.conn.getresponse()
                body = response.read()
                took = time.perf_counter() - started
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, body, took
        raise AssertionError

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass(slots=True)
class Case:
    label: str
    kind: str  # listing | search | detail | walk
    paths: list[str] = field(default_factory=list)  # the timed requests, in order
    note: str = ""
    times: list[float] = field(default_factory=list)
    status: str = "ok"
    matches: int | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "kind": self.kind, "status": self.status,
                               "n": len(self.times), "note": self.note}
        if self.times:
            ms = sorted(t * 1000 for t in self.times)
            out |= {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 95), 2),
                    "max_ms": round(ms[-1], 2)}
        if self.matches is not None:
            out["matches"] = self.matches
        target = TARGETS.get("listing" if self.kind == "walk" else self.kind)
        if target is not None:
            out["target_p95_ms"] = target
        return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


SEARCHES: Final = (
    ("search: two words", {"q": "ubuntu 24.04"}),
    ("search: phrase", {"q": '"big buck bunny"'}),
    ("search: prefix", {"q": "wiki*"}),
    ("search: exclusion", {"q": "debian -netinst"}),
    ("search: in file names", {"q": "lullaby flac", "in_files": "1"}),
)
_NEXT_RE: Final = re.compile(r"<a\b[^>]*\brel=\"next\"[^>]*>")
_HREF_RE: Final = re.compile(r"\bhref=\"([^\"]+)\"")


def next_link(body: bytes) -> str | None:
    tag = _NEXT_RE.search(body.decode("utf-8", "replace"))
    if tag is None:
        return None
    href = _HREF_RE.search(tag[0])
    return html.unescape(href[1]) if href else None


def sample_torrents(target: Target, n: int, seed: int) -> list[str]:
    """Swarm keys (hex, the detail page's address) of `n` random torrents on the site."""
    if target.cluster is not None:
        return catalogue_postgres.sample_torrents(target.dsn, n, seed)
    with contextlib.closing(sqlite3.connect(f"file:{database_path(target.data_dir)}?mode=ro", uri=True)) as db:
        (top,) = db.execute("SELECT max(id) FROM torrents").fetchone()
        rng = Random(seed)
        keys: list[str] = []
        for _ in range(n * 4):  # bounded: deleted ids are skipped
            if len(keys) >= n or not top:
                break
            row = db.execute("SELECT swarm_key FROM torrents WHERE id = ? AND deleted_at IS NULL",
                             (rng.randint(1, top),)).fetchone()
            if row:
                keys.append(row[0].hex())
    return keys


def count_matches(target: Target, params: dict[str, str]) -> int | None:
    """How many torrents the search index matches for a query (capped as the site caps)."""
    if target.cluster is not None:
        return catalogue_postgres.count_matches(target.dsn, params)
    from swarmdex.search import fts5
    from swarmdex.search.backend import MAX_RESULTS
    from swarmdex.search.query import parse

    expression = fts5.match_expression(parse(params["q"]))
    name = fts5.table_for(in_files=params.get("in_files") == "1")
    with contextlib.closing(sqlite3.connect(f"file:{database_path(target.data_dir)}?mode=ro", uri=True)) as db:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {name} WHERE {name} MATCH ? LIMIT ?)"
        (n,) = db.execute(sql, (expression, MAX_RESULTS * 100)).fetchone()
    return int(n)


def build_cases(target: Target, requests: int, warmup: int, seed: int) -> tuple[list[Case], list[str]]:
    cases = [
        Case("home /", "listing", ["/"] * requests),
        Case("category /c/linux", "listing", ["/c/linux"] * requests),
        Case("browse walk: pages 1..N", "walk"),
        Case("browse deep page", "listing"),
    ]
    for label, params in SEARCHES:
        case = Case(f"{label} {params['q']}", "search", ["/search?" + urlencode(params)] * requests)
        with contextlib.suppress(Exception):  # only a figure for the report
            case.matches = count_matches(target, params)
        cases.append(case)
    keys = sample_torrents(target, requests + warmup, seed)
    detail = Case("detail /t/<hash>, random torrents", "detail", [f"/t/{k}" for k in keys[warmup:]])
    cases.append(detail)
    return cases, [f"/t/{k}" for k in keys[:warmup]]


def run_case(client: Client, case: Case, warm: Sequence[str], time_budget: float) -> None:
    """Warm up (untimed), then time every path of the case; stop at the time budget."""
    if not case.paths:
        case.status = "not available"
        return
    status, _, _ = client.get(case.paths[0])
    if status == 404:
        case.status = "not available"
        case.note = f"{case.paths[0].split('?')[0]} answers 404"
        return
    for path in warm:
        client.get(path)
    deadline = time.monotonic() + time_budget
    for path in case.paths:
        if time.monotonic() > deadline:
            case.note = f"stopped at the {time_budget:.0f} s budget"
            break
        status, _, took = client.get(path)
        if status != 200:
            case.status = f"HTTP {status}"
            case.note = f"{path[:80]} answered {status}"
            return
        case.times.append(took)


def walk_to_page(client: Client, walk: Case, deep: Case, page: int, requests: int,
                 time_budget: float) -> None:
    """Follow /browse's "next" links from page 1 to `page`, timing each; the deep case is
    then `requests` requests of that page's address."""
    status, body, took = client.get("/browse")
    if status == 404:
        for case in (walk, deep):
            case.status, case.note = "not available", "/browse answers 404"
        return
    if status != 200:
        walk.status = deep.status = f"HTTP {status}"
        return
    walk.times.append(took)
    reached, path = 1, "/browse"
    deadline = time.monotonic() + time_budget
    while reached < page and time.monotonic() < deadline:
        link = next_link(body)
        if link is None:
            break
        status, body, took = client.get(link)
        if status != 200:
            walk.status, walk.note = f"HTTP {status}", f"page {reached + 1} answered {status}"
            return
        walk.times.append(took)
        reached, path = reached + 1, link
    walk.label = f"browse walk: pages 1..{reached} via next links"
    deep.label = f"browse page {reached}" + ("" if reached == page else f" (last page; {page} asked)")
    deep.note = path if len(path) < 70 else path[:67] + "..."
    deep.paths = [path] * requests


def report(cases: list[Case], info: dict[str, Any]) -> str:
    rows = [c.summary() for c in cases]
    width = max(len(r["label"]) for r in rows)
    lines = [
        f"== swarmdex site over {info['torrents']:,} torrents, {time.strftime('%Y-%m-%d %H:%M:%S')}: "
        f"server on CPU {info['server_cpus']}, client on CPU {info['client_cpu']}, "
        f"{info['requests']} sequential keep-alive requests per case after {info['warmup']} warm-up",
        f"{'case':{width}}  {'n':>4}  {'p50 ms':>8}  {'p95 ms':>8}  {'target':>8}  {'':6}  matches",
    ]
    for r in rows:
        if r["status"] != "ok" or not r["n"]:
            lines.append(f"{r['label']:{width}}  {r['status']}" + (f" ({r['note']})" if r["note"] else ""))
            continue
        target = r.get("target_p95_ms")
        verdict = "" if target is None else ("ok" if r["p95_ms"] <= target else "MISSED")
        lines.append(
            f"{r['label']:{width}}  {r['n']:>4}  {r['p50_ms']:>8.2f}  {r['p95_ms']:>8.2f}  "
            f"{f'<= {target:g}' if target else '':>8}  {verdict:6}  {r.get('matches', '')}".rstrip())
    for r in rows:
        if r["status"] == "ok" and r["note"]:
            lines.append(f"  {r['label']}: {r['note']}")
    if info.get("database"):
        lines.append(f"database: {info['database']}")
    lines.append("database on disk: " + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in info["disk"].items())
                 + f" (total {fmt_bytes(sum(info['disk'].values()))})"
                 + (f"; cluster directory with WAL {fmt_bytes(info['cluster_bytes'])}"
                    if info.get("cluster_bytes") else ""))
    if info.get("fill"):
        f = info["fill"]
        lines.append(
            f"fill: {f['torrents']:,} torrents, {f['files']:,} files, {f['tags']:,} tag links, "
            f"{f['index']:,} search rows in {f['fill_seconds']:.0f} s "
            f"({f['torrents'] / max(f['fill_seconds'], 1e-9):,.0f} torrents/s, {f['workers']} generator "
            f"processes, batches of {f['batch']:,})")
        if "index_seconds" in f:
            lines.append(
                f"fill on PostgreSQL: rows copied in {f['insert_seconds']:.0f} s "
                f"({f['torrents'] / max(f['insert_seconds'], 1e-9):,.0f} torrents/s); then indexes "
                f"built in {f['index_seconds']:.0f} s, foreign keys checked in "
                f"{f['foreign_key_seconds']:.0f} s, VACUUM ANALYZE {f['vacuum_seconds']:.0f} s")
    if info.get("server"):
        lines.append(f"server: ready in {info['ready_s']:.1f} s; {info['server']}")
    if info.get("client_reconnects"):
        lines.append(f"client: the server closed the connection {info['client_reconnects']} times")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


HELP: Final = """Fill a fresh swarmdex data dir with COUNT generated torrents, serve it, and time
the site's pages (p50/p95 against their targets).

Fill: migrate a new database, create the default categories, uploader accounts and tags,
check that generated torrents uploaded through the site's own upload service give exactly
the rows of the bulk insert (then roll that back), and insert COUNT torrents with their
files, tags and search index rows in batches of --batch, generated by --workers processes.

Measure: start `swarmdex serve` on 127.0.0.1 pinned to --server-cpus, wait for `swarmdex:
ready`, and time sequential keep-alive requests from --client-cpu: the home page,
/c/linux, /browse page --deep-page (reached by following "next" links), five searches and
random detail pages. Pages the site does not have yet are reported as "not available".

--database postgresql: the same on a PostgreSQL cluster of the bench's own in
DATA_DIR/postgresql (fsync off: a throwaway cluster), filled with COPY, pinned with the
server to --server-cpus while measuring, stopped at the end.

\b
Examples:
  .venv/bin/python bench/site_catalogue.py                        # 1,000,000 torrents
  .venv/bin/python bench/site_catalogue.py --count 20000          # a quick run
  .venv/bin/python bench/site_catalogue.py --data-dir D --reuse   # measure a filled dir again
  .venv/bin/python bench/site_catalogue.py --database postgresql  # on PostgreSQL
"""


def _pg_settings(_ctx: click.Context, _param: click.Parameter,
                 values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not re.fullmatch(r"[a-z_.]+=.*", value):
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint="--pg-setting")
    return values


def default_data_dir(count: int, database: str) -> Path:
    return OUT_ROOT / (f"catalogue-data-{count}" + ("" if database == "sqlite" else f"-{database}"))


@contextlib.contextmanager
def open_target(data_dir: Path, database: str, pg_settings: Sequence[str],
                reuse: bool) -> Iterator[Target]:
    """The run's database; for PostgreSQL the cluster, made (or started again for --reuse)
    and stopped at the end, whatever ends the run."""
    if database == "sqlite":
        if pg_settings:
            raise click.ClickException("--pg-setting is for --database postgresql")
        yield Target(data_dir)
        return
    try:
        cluster = catalogue_postgres.Cluster(data_dir / catalogue_postgres.CLUSTER_DIR, pg_settings)
    except catalogue_postgres.ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    if reuse and not cluster.exists:
        raise click.ClickException(f"{data_dir} holds no PostgreSQL cluster to reuse")
    if not reuse and cluster.directory.exists():
        raise click.ClickException(
            f"{cluster.directory} exists: the fill needs a fresh data dir "
            "(remove it, choose another --data-dir, or --reuse it)")
    try:
        if reuse:
            cluster.start()
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            cluster.init()
        say(f"{cluster.describe()}, port {cluster.port}: fsync, synchronous_commit and "
            "full_page_writes are off for the fill's speed (a crash means filling again; "
            "the measured pages only read)")
        yield Target(data_dir, cluster)
    except catalogue_postgres.ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if cluster.port is not None:
            say("stopping PostgreSQL")
        cluster.stop()


def cpu_list(text: str) -> set[int]:
    """taskset's CPU list ("0", "0,2", "0-3") as a set."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


class Interrupted(Exception):
    pass


def _interrupt(signum: int, _frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
               help=HELP, epilog="See bench/README.md.")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Data dir to fill (must hold no database yet) and serve. "
                   "Default: bench/out/catalogue-data-COUNT (-postgresql).")
@click.option("--database", type=click.Choice(["sqlite", "postgresql"]), default="sqlite",
              show_default=True, help="SQLite in the data dir, or a PostgreSQL cluster of the "
              "bench's own in DATA_DIR/postgresql.")
@click.option("--pg-setting", "pg_settings", multiple=True, metavar="NAME=VALUE",
              callback=_pg_settings,
              help="A PostgreSQL setting for this run's cluster start (repeatable), e.g. "
                   "jit=off or shared_buffers=4GB.")
@click.option("--count", type=click.IntRange(1, 50_000_000), default=1_000_000, show_default=True,
              help="Torrents to generate.")
@click.option("--reuse", is_flag=True, help="Do not fill: measure DATA_DIR as an earlier run filled it.")
@click.option("--fill-only", is_flag=True, help="Fill, then stop without measuring.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generator.")
@click.option("--batch", type=click.IntRange(100, 100_000), default=5_000, show_default=True,
              help="Torrents per insert transaction.")
@click.option("--workers", type=click.IntRange(1, 64), default=os.cpu_count() or 1, show_default=True,
              help="Processes generating batches while the main one inserts.")
@click.option("--max-pieces", type=click.IntRange(1, 100_000), default=64, show_default=True,
              help="Piece hashes per info dict at most (bigger pieces instead). Real torrents have "
                   "1,000-4,000; 64 keeps the database small.")
@click.option("--fill-timeout", type=float, default=3600.0, show_default=True,
              help="Stop the fill after this many seconds.")
@click.option("--requests", "n_requests", type=click.IntRange(1, 100_000), default=200,
              show_default=True, help="Timed requests per case.")
@click.option("--warmup", type=click.IntRange(0, 10_000), default=20, show_default=True,
              help="Untimed requests before each case.")
@click.option("--deep-page", type=click.IntRange(1, 100_000), default=500, show_default=True,
              help="Which /browse page to time, reached by following 'next' links.")
@click.option("--server-cpus", default="0", show_default=True, help="taskset CPU list for swarmdex.")
@click.option("--client-cpu", type=int, default=1, show_default=True,
              help="CPU the measuring client runs on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="HTTP port on 127.0.0.1 (0: swarmdex picks one).")
@click.option("--udp-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="UDP tracker port on 127.0.0.1 (0: swarmdex picks one).")
@click.option("--ready-timeout", type=float, default=300.0, show_default=True,
              help="Seconds swarmdex may take to print 'swarmdex: ready'.")
@click.option("--case-timeout", type=float, default=120.0, show_default=True,
              help="Time budget of each case; a case stops early when it is spent.")
@click.option("--table-sizes", is_flag=True, help="Also list bytes per table and index (reads the "
              "whole database).")
def main(data_dir: Path | None, database: str, pg_settings: tuple[str, ...], count: int,
         reuse: bool, fill_only: bool, seed: int, batch: int, workers: int, max_pieces: int, fill_timeout: float, n_requests: int, warmup: int,
         deep_page: int, server_cpus: str, client_cpu: int, port: int, udp_port: int,
         ready_timeout: float, case_timeout: float, table_sizes: bool) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    data_dir = (data_dir or default_data_dir(count, database)).absolute()
    with open_target(data_dir, database, pg_settings, reuse) as target:
        cluster = target.cluster
        marker = data_dir / MARKER
        info: dict[str, Any] = {"server_cpus": server_cpus, "client_cpu": client_cpu,
                                "requests": n_requests, "warmup": warmup,
                                "database": (f"SQLite {sqlite3.sqlite_version}" if cluster is None else
                                             cluster.describe() + ", pinned with the server")}
        if reuse:
            if not marker.is_file():
                raise click.ClickException(f"{data_dir} holds no completed fill ({MARKER} missing)")
            filled = json.loads(marker.read_text())
            if filled.get("database", "sqlite") != target.name:
                raise click.ClickException(f"{data_dir} was filled for --database {filled['database']}")
            say(f"reusing {data_dir}: {filled['count']:,} torrents filled {filled['finished_at']}")
            info["torrents"] = filled["count"]
        else:
            if cluster is None and database_path(data_dir).exists():
                raise click.ClickException(
                    f"{database_path(data_dir)} exists: the fill needs a fresh data dir "
                    "(remove it, choose another --data-dir, or --reuse it)")
            data_dir.mkdir(parents=True, exist_ok=True)
            end = datetime.now(UTC).replace(microsecond=0)
            plan = asyncio.run(prepare(target, count, seed, batch, max_pieces,
                                       end - timedelta(days=11 * 365), end))
            compared = asyncio.run(check_against_upload(target, plan))
            say(f"{compared} sample torrents uploaded through torrents.services.upload match the bulk rows")
            say(f"filling {data_dir} with {count:,} torrents ({workers} generator processes, "
                f"batches of {batch:,})")
            try:
                figures = fill(target, plan, workers, fill_timeout) | {"workers": workers, "batch": batch}
            except (KeyboardInterrupt, Interrupted) as exc:
                raise click.ClickException(f"fill interrupted ({type(exc).__name__}): {data_dir} "
                                           "holds no usable catalogue") from None
            info["fill"] = figures
            info["torrents"] = count
            marker.write_text(json.dumps({"count": count, "seed": seed, "max_pieces": max_pieces,
                                          "database": target.name,
                                          "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                          **figures}, indent=1) + "\n")
            say(f"filled in {figures['fill_seconds']:.0f} s: " + ", ".join(
                f"{k} {fmt_bytes(v)}" for k, v in disk_usage(target).items()))
        if table_sizes:
            for name, size in table_sizes_of(target):
                say(f"  {name:40} {fmt_bytes(size):>12}")
        if fill_only:
            return

        outdir = OUT_ROOT / f"catalogue-{time.strftime('%Y%m%d-%H%M%S')}"
        outdir.mkdir(parents=True, exist_ok=True)
        cases, warm_details = build_cases(target, n_requests, warmup, seed)
        server = Server(data_dir, outdir / "swarmdex.log", server_cpus, port, udp_port,
                        None if cluster is None else target.url())
        failed = False
        try:
            os.sched_setaffinity(0, {client_cpu})
            if cluster is not None:
                # SQLite works in the server's process; PostgreSQL gets the same CPUs.
                pinned = cluster.pin(cpu_list(server_cpus))
                say(f"PostgreSQL's {pinned} processes pinned to CPUs {server_cpus}")
            server.start()
            info["ready_s"] = server.wait_ready(ready_timeout)
            assert server.port is not None
            client = Client(server.port)
            say(f"swarmdex ready in {info['ready_s']:.1f} s on port {server.port}; measuring")
            by_label = {c.label: c for c in cases}
            walk, deep = by_label["browse walk: pages 1..N"], by_label["browse deep page"]
            walk_to_page(client, walk, deep, deep_page, n_requests, case_timeout)
            for case in cases:
                if case is walk:
                    continue
                warm = warm_details if case.kind == "detail" else case.paths[:1] * warmup
                run_case(client, case, warm, case_timeout)
                summary = case.summary()
                shown = f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms" if case.times else case.status
                say(f"{case.label}: {shown}")
            info["client_reconnects"] = client.reconnects
            client.close()
            status = server.status()
            info["server"] = (f"pinned to CPUs {status.get('Cpus_allowed_list', '?')}, RSS "
                              f"{status.get('VmRSS', '?')} (peak {status.get('VmHWM', '?')})")
        except (KeyboardInterrupt, Interrupted) as exc:
            say(f"interrupted ({type(exc).__name__} {exc}); stopping swarmdex")
            failed = True
        finally:
            code = server.stop()
            if code not in (None, 0, -signal.SIGTERM):
                say(f"swarmdex exited with code {code}; log {server.log_path}")
        info["disk"] = disk_usage(target)
        if cluster is not None:
            info["cluster_bytes"] = cluster.directory_bytes()
        text = report(cases, info)
        print("\n" + text, flush=True)
        (outdir / "summary.txt").write_text(text + "\n")
        (outdir / "results.json").write_text(json.dumps(
            {"cases": [c.summary() for c in cases], **{k: v for k, v in info.items()}}, indent=1,
            default=str) + "\n")
        say(f"output in {outdir}")
        if failed:
            sys.exit(1)


def iter_batches(plan: Plan) -> Iterator[Batch]:
    """Every batch of `plan` in this process (for tests and small runs)."""
    generator = Generator(plan)
    for number in range(-(-plan.count // plan.batch)):
        yield generator.batch(number)


if __name__ == "__main__":
    main()
