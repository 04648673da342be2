"""The README and docs/ hold together: every relative link and every repository path they name
exists, the README's test command is the one CI runs, the extras they install exist, and MkDocs
builds docs/ with warnings as errors (an unlisted page, a broken link or anchor fails it)."""

from __future__ import annotations

import glob
import re
import subprocess
import sys
import tomllib
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^ {0,3}```.*?^ {0,3}```[ \t]*$", re.S | re.M)
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """A heading's anchor, as MkDocs' toc extension and GitHub make it (for plain headings)."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text)
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} +(.+?) *$", prose(page.read_text()), re.M)}


def broken_links(page: Path) -> list[str]:
    """Relative links of `page` whose file (or #anchor in it) does not exist."""
    bad = []
    for target in LINK.findall(CODE.sub("", prose(page.read_text()))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    return bad


TOP = {p.name for p in ROOT.iterdir() if not p.name.startswith(".") or p.name == ".ci"} - {".venv"}
EXTS = ("py", "md", "toml", "sh", "ipynb", "yml", "cfg")


def named_paths(text: str) -> set[str]:
    """Backquoted repository paths in prose: names whose first component is a top-level entry
    of the repository (`cosbatch/storage/lean.py`, `benchmarks/results/...`, `.ci/run`), and bare
    file names with a source extension (`test_hostile_input.py`)."""
    out = set()
    for name in CODE.findall(prose(text)):
        name = name.split("::")[0].rstrip(".,;:")
        if " " in name or name.startswith(("http", "--", "$", "/", "~")) or "=" in name:
            continue
        first = name.split("/")[0]
        if ("/" in name and first in TOP) or re.fullmatch(rf"[\w.-]+\.({'|'.join(EXTS)})", name):
            out.add(name)
    return out


def path_exists(name: str) -> bool:
    """`name` exists in the repository; `<x>` and `*` match anything, `{a,b}` either."""
    m = re.search(r"\{([^}]*)\}", name)
    if m:
        return all(path_exists(name[:m.start()] + alt + name[m.end():]) for alt in m[1].split(","))
    pattern = re.sub(r"<[^>]*>", "*", name)
    if "/" not in name:  # a bare file name: anywhere in the repository
        pattern = f"**/{pattern}"
    return any(Path(p).exists() for p in glob.glob(str(ROOT / pattern), recursive=True)
               if "/.venv/" not in p)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_path_exists(page):
    missing = sorted(n for n in named_paths(page.read_text()) if not path_exists(n))
    assert missing == [], f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_the_checks_catch_what_they_should(tmp_path, monkeypatch):
    """A broken link, a missing anchor and a missing path are each reported."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Some heading\n")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md#some-heading) [gone](docs/b.md) [no anchor](docs/a.md#nope)\n"
                    "```\n[in code](nowhere.md)\n```\n[web](https://example.com/x.md)\n")
    assert broken_links(page) == ["README.md: docs/b.md (no such file)",
                                  "README.md: docs/a.md#nope (no such heading)"]
    assert {"cosbatch/nope.py", "cosbatch/lifecycle.py"} <= named_paths(
        "`cosbatch/nope.py` and `cosbatch/lifecycle.py`, not `s3://b/k` nor `results/*.csv`")
    assert not path_exists("cosbatch/nope.py")
    assert slug("1. Copy a bucket") == "1-copy-a-bucket"
    assert slug("Trial runs, incremental copies, estimates") == "trial-runs-incremental-copies-estimates"


def test_real_paths_are_found():
    assert path_exists("cosbatch/lifecycle.py")
    assert path_exists("benchmarks/results/latest.{json,md}")
    assert path_exists("launch/<runner>.py")
    assert path_exists("test_hostile_input.py")
    assert not path_exists("cosbatch/storage/no_such_module.py")


def section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", text, re.S)


def test_the_readme_test_command_is_the_one_ci_runs():
    readme = (ROOT / "README.md").read_text()
    [command] = bash_blocks(section(readme, "Development"))
    assert "pytest" in command and "\n" not in command
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci[-1] == command


def test_the_readme_quickstart_is_one_command():
    [command] = bash_blocks(section((ROOT / "README.md").read_text(), "Quickstart"))
    assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -q -e '.[quickstart]'")
    assert command.endswith(".venv/bin/cosbatch quickstart")


def test_the_common_tasks_are_five():
    tasks = section((ROOT / "README.md").read_text(), "Common tasks")
    assert re.findall(r"^### (\d)\. ", tasks, re.M) == ["1", "2", "3", "4", "5"]


def test_every_extra_named_exists():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {e for page in PAGES for e in re.findall(r"-e '\.\[([\w,-]+)\]'", page.read_text())}
    assert named, "no pip install -e '.[extra]' found"
    unknown = sorted({e for group in named for e in group.split(",")} - set(extras))
    assert unknown == []


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", nav, re.M))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages - listed == set(), "pages missing from mkdocs.yml's nav"
    assert listed - pages == set(), "nav entries without a page"


def test_mkdocs_builds_the_site_strictly(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                          "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "search" / "search_index.json").exists()
