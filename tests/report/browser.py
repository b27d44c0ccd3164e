"""Open a report page in headless Chromium (the distribution's package) and check what it rendered.

``make browser`` installs Chromium (Debian package ``chromium``); ``CHROMIUM``
names another binary.  Each call gets its own profile directory, so calls can
run in parallel (pytest-xdist, the demo).

:func:`check_page` reads the DOM Chromium dumped (after the page's script
ran) and returns the problems it finds, so that a test can assert both that a
good page has none and that a broken one (a table removed, the script broken)
is caught.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser")
WINDOW = "1400,2000"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Chromium's --enable-logging=stderr prints every console message as "...:CONSOLE(...)] ..." or "...:CONSOLE:N] ...";
# an uncaught exception is such a message starting with "Uncaught".
CONSOLE = re.compile(r":CONSOLE[(:]|Uncaught")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def find_chromium() -> str | None:
    named = os.environ.get("CHROMIUM")
    if named:
        return named
    return next((found for found in map(shutil.which, CHROMIUM_NAMES) if found), None)


@dataclass
class BrowserRun:
    stdout: str
    stderr: str
    returncode: int

    @property
    def console(self) -> list[str]:
        """Console messages and uncaught errors the page produced."""
        return [line for line in self.stderr.splitlines() if CONSOLE.search(line)]


def run_chromium(url: str, *args: str, timeout: int = 90) -> BrowserRun:
    """``chromium --headless=new ... <args> <url>`` with a throwaway profile."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium not found: run `make browser` (installs the Debian package chromium) or set CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        cmd = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *args, url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, "HOME": profile})
    return BrowserRun(proc.stdout, proc.stderr, proc.returncode)


def file_url(path: Path, fragment: str = "") -> str:
    return path.resolve().as_uri() + (f"#{fragment}" if fragment else "")


def dump_dom(path: Path, fragment: str = "") -> BrowserRun:
    """The DOM after the page's script ran (``--dump-dom``)."""
    return run_chromium(file_url(path, fragment), "--dump-dom")


def screenshot(path: Path, png: Path, window: str = WINDOW) -> BrowserRun:
    return run_chromium(file_url(path), f"--screenshot={png}", f"--window-size={window}", "--hide-scrollbars")


def is_png(png: Path, min_bytes: int = 20_000) -> bool:
    return png.is_file() and png.stat().st_size >= min_bytes and png.read_bytes()[:8] == PNG_MAGIC


# -- the DOM -----------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def ancestors(self) -> list[Element]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    @property
    def hidden(self) -> bool:
        """Hidden by the page's filters (class ``off`` on it or an ancestor)."""
        return any("off" in node.classes for node in [self, *self.ancestors()])

    def inside(self, tag: str, **attrs: str) -> bool:
        return any(node.tag == tag and all(node.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()) for node in self.ancestors())

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)


class Dom(HTMLParser):
    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.elements: list[Element] = []
        self._open = self.root
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self._open)
        self._open.children.append(element)
        self.elements.append(element)
        if tag not in VOID:
            self._open = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self._open)
        self._open.children.append(element)
        self.elements.append(element)

    def handle_endtag(self, tag: str) -> None:
        node = self._open
        while node is not self.root and node.tag != tag:
            node = node.parent  # type: ignore[assignment]
        if node is not self.root:
            self._open = node.parent  # type: ignore[assignment]

    def handle_data(self, data: str) -> None:
        self._open.text.append(data)

    def find(self, tag: str | None = None, **attrs: str | None) -> list[Element]:
        """Elements with ``tag`` and these attributes (``data_state="failed"``; ``None``: present with any value)."""
        out = []
        for element in self.elements:
            if tag and element.tag != tag:
                continue
            if all((k.replace("_", "-") in element.attrs) if v is None else element.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(element)
        return out

    @property
    def body(self) -> Element:
        found = self.find("body")
        return found[0] if found else Element("body", {})

    @property
    def title(self) -> str:
        found = self.find("title")
        return found[0].all_text() if found else ""


@dataclass
class Expected:
    """What the page must show, taken from the run's JSON reports (not from the page)."""

    scopes: int
    pairs: int  # pairs and orphans of every scope
    failed_pairs: int
    failures: int  # summary errors of every scope (pairs, orphans, instances, failed calls)
    instances: int
    conflicts: int
    dry_run: bool


def expected_from_reports(reports: list[dict]) -> Expected:
    pairs = [p for r in reports for p in list(r.get("pairs") or []) + list(r.get("orphans") or [])]
    instances = [i for r in reports for i in r.get("instances") or []]
    return Expected(
        scopes=len(reports),
        pairs=len(pairs),
        failed_pairs=len([p for p in pairs if p.get("error")]),
        failures=sum(len(r["summary"]["errors"]) for r in reports),
        instances=len(instances),
        conflicts=len([i for i in instances if i.get("code") == "vpc_conflict"]),
        dry_run=any(r.get("check_mode") for r in reports),
    )


def check_page(dom_text: str, expected: Expected, filtered: bool = False) -> list[str]:
    """Problems of the rendered page (an empty list when it shows what ``expected`` says).

    ``filtered``: the page was opened with filters in the address, so only the counts
    of rows in the DOM are checked, not that every one is visible.
    """
    dom = Dom(dom_text)
    problems = []
    body = dom.body
    if body.attrs.get("data-ready") != "1":
        problems.append("the page's script did not run to the end (no data-ready=1 on body)")
    pair_tables = dom.find("table", data_table="pairs")
    if not pair_tables and expected.pairs:
        problems.append("no pairs table (table[data-table=pairs])")
    rows = dom.find("tr", data_pair=None)
    if len(rows) != expected.pairs:
        problems.append(f"{len(rows)} pair rows (tr[data-pair]), expected {expected.pairs}")
    loose = [row for row in rows if not row.inside("table", data_table="pairs")]
    if loose:
        problems.append(f"{len(loose)} pair rows outside a pairs table")
    failed = [row for row in rows if row.attrs.get("data-state") == "failed"]
    if len(failed) != expected.failed_pairs:
        problems.append(f"{len(failed)} failed pair rows, expected {expected.failed_pairs}")
    failures = dom.find("tr", data_failure=None)
    if len(failures) != expected.failures:
        problems.append(f"{len(failures)} failure rows (tr[data-failure]), expected {expected.failures}")
    if expected.failures and not dom.find("table", data_table="failures"):
        problems.append("no failures table (table[data-table=failures])")
    instances = dom.find("tr", data_instance=None)
    if len(instances) != expected.instances:
        problems.append(f"{len(instances)} instance rows (tr[data-instance]), expected {expected.instances}")
    conflicts = dom.find("tr", data_conflict="1")
    if len(conflicts) != expected.conflicts:
        problems.append(f"{len(conflicts)} conflict rows, expected {expected.conflicts}")
    overview = dom.find("tr", data_overview=None)
    if len(overview) < expected.scopes:
        problems.append(f"{len(overview)} scopes in the overview table, expected {expected.scopes}")
    svgs = [svg for svg in dom.find("svg") if "mapping" in svg.classes]
    if expected.pairs and not svgs:
        problems.append("no mapping picture (svg.mapping)")
    if len(svgs) != len(pair_tables):
        problems.append(f"{len(svgs)} mapping pictures for {len(pair_tables)} pairs tables")
    nodes = [g for svg in svgs for g in svg.children if g.tag == "g" and g.attrs.get("data-node") == "pair"]
    if len(nodes) != len(rows):
        problems.append(f"{len(nodes)} pairs in the pictures, {len(rows)} in the tables")
    dry_banner = dom.find("div", data_banner="dry-run")
    if expected.dry_run != ("DRY RUN" in dom.title) or expected.dry_run != bool(dry_banner):
        problems.append("the page is %smarked dry run (title %r, banner %s)" % ("not " if expected.dry_run else "", dom.title, bool(dry_banner)))
    if body.attrs.get("data-dry-run") != ("true" if expected.dry_run else "false"):
        problems.append(f"body data-dry-run={body.attrs.get('data-dry-run')!r}")
    if not filtered:
        hidden = [row for row in rows if row.hidden]
        if hidden:
            problems.append(f"{len(hidden)} pair rows hidden with every filter on")
        if body.attrs.get("data-shown") != str(len(rows)):
            problems.append(f"the filters count {body.attrs.get('data-shown')!r} pairs shown, {len(rows)} in the page")
    external = [e for e in dom.elements for k in ("src", "href") if re.match(r"\s*(https?:)?//", e.attrs.get(k, ""))]
    if external:
        problems.append(f"{len(external)} elements load from the network")
    return problems
