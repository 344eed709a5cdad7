"""The course website (docs/, `make docs`): it builds offline from a clean clone with warnings as
errors, every internal link and anchor resolves, every link to the repository uses the one address
the package names, cells tagged `remove-input` show only their output, the bench's result files
become tables, and in headless Chromium a chapter's figures load and equations render, with no
request leaving the machine.

Needs the `docs` extra (`make test-docs` installs it): skipped without it, failed instead in CI.
"""
import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS_PACKAGES = ("sphinx", "myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def repository() -> str:
    """REPOSITORY as the package defines it (read, not imported: importing d2lnets imports torch)."""
    for name in ("d2lnets/colab.py", "d2lnets/tools/colab.py"):
        path = ROOT / name
        if path.is_file():
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "REPOSITORY" for t in node.targets):
                    return node.value.value.rstrip("/")
    raise AssertionError("no REPOSITORY in the package")


@pytest.fixture(scope="module")
def docs_extra(not_here):
    missing = [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        not_here(f"needs the docs extra ({', '.join(missing)} missing): pip install -e '.[docs]' "
                 "(make test-docs installs it)", "docs")


def clean_clone(target: Path) -> Path:
    """What a clean clone of this work tree holds: the files git tracks or would track (never
    exercises/, runs/, data/ or a local bench-results.json), copied with their current contents."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no clean clone to build from")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def offline_env() -> tuple[list[str], dict]:
    """A command prefix and environment with no network: a network namespace of its own where the
    kernel allows one (`unshare -rn`), and in any case proxies that lead nowhere."""
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"], env
    return [], env


def sphinx_build(source: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    prefix, env = offline_env()
    return subprocess.run([*prefix, sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-c",
                           str(source / "docs"), "-d", str(out.parent / (out.name + "-doctrees")), *options,
                           str(source), str(out)], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def site(docs_extra, tmp_path_factory):
    """The website built offline from a clean clone, with warnings as errors, as `make docs` does."""
    clone = clean_clone(tmp_path_factory.mktemp("clone"))
    out = tmp_path_factory.mktemp("site") / "html"
    start = time.perf_counter()
    done = sphinx_build(clone, out)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, f"the website did not build cleanly:\n{done.stderr[-4000:]}"
    print(f"\nthe website built in {seconds:.1f} s")
    return out


# --- the build ------------------------------------------------------------------------------------

def test_every_chapter_and_page_is_built_with_no_warning(site):
    chapters = sorted(p.stem for p in (ROOT / "chapters").glob("*.ipynb"))
    assert chapters and all((site / "chapters" / f"{c}.html").is_file() for c in chapters)
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md") if p.name != "README.md")
    wanted = {"index", "package", "data", "profiles", "checkpoints", "distributed", "testing", "performance"}
    assert wanted <= set(pages)
    assert all((site / "docs" / f"{p}.html").is_file() for p in pages)
    assert 'url=docs/index.html' in (site / "index.html").read_text()     # the front door
    assert "CC BY-SA 4.0" in (site / "LICENSE-content.html").read_text(encoding="utf-8")   # the text's licence
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()       # served with the site


def test_chapters_are_shown_as_committed_without_the_colab_cell(site):
    nb = nbformat.read(ROOT / "chapters" / "01_lenet.ipynb", as_version=4)
    html = (site / "chapters" / "01_lenet.html").read_text(encoding="utf-8")
    assert "Google Colab only" not in html                                  # tagged remove-cell on the site
    printed = next(o["text"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream" and len(o.get("text", "")) > 40)
    assert printed.splitlines()[0].strip()[:40] in html.replace("&#39;", "'").replace("&quot;", '"')


LICENCE_LINE = ("*This chapter's text and figures are licensed under [CC BY-SA 4.0](../LICENSE-content.md), its code "
                "under the [MIT licence](../LICENSE). Its recipes and vocabulary come from [*Dive into Deep "
                "Learning*](https://d2l.ai) by Aston Zhang, Zachary C. Lipton, Mu Li and Alexander J. Smola "
                "(CC BY-SA 4.0).*")


@pytest.mark.parametrize("chapter", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_ends_with_its_licence_line(chapter):
    last = nbformat.read(chapter, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and last.source == LICENCE_LINE, (
        f"{chapter.name}: the last cell must be the licence line (tests/test_docs.py: LICENCE_LINE)")


def test_the_licence_line_links_to_the_licences_on_the_site(site):
    html = (site / "chapters" / "01_lenet.html").read_text(encoding="utf-8")
    assert 'href="../LICENSE-content.html"' in html and "CC BY-SA 4.0" in html
    assert "Aston Zhang, Zachary C. Lipton, Mu Li and Alexander J. Smola" in html


# --- links ----------------------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") in ("canonical",)):
                self.links.append(attrs[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(site: Path) -> list[str]:
    """Every local href/src of every page that names no file, or no anchor in the file it names."""
    pages = [p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts]
    parsed = {p: _parse(p) for p in pages}
    broken = []
    for page, found in parsed.items():
        for link in found.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue                                   # http(s), mailto, data: not local
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: {link}"
            if not target.is_file():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken


def test_no_broken_internal_links_or_anchors(site):
    broken = broken_links(site)
    assert not broken, "broken links:\n" + "\n".join(broken[:50])


def test_the_link_checker_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html">b</a><a href="a.html#nowhere">x</a>'
                                     '<a href="#top">t</a><img src="_images/gone.png">')
    assert sorted(broken_links(tmp_path)) == ["a.html: _images/gone.png (no such file)",
                                              "a.html: a.html#nowhere (no anchor #nowhere)",
                                              "a.html: b.html (no such file)"]


GITHUB = re.compile(r"https?://(?:www\.)?github\.com/([\w.-]+/[\w.-]+)", re.I)
COLAB = re.compile(r"https?://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)", re.I)


def other_repositories(text: str, repository: str) -> set[str]:
    """The repositories that ``text`` links to other than ``repository`` (GitHub and Colab links)."""
    ours = urlsplit(repository).path.strip("/").lower()
    found = {m.group(1).lower().removesuffix(".git") for pattern in (GITHUB, COLAB) for m in pattern.finditer(text)}
    return {slug for slug in found if slug != ours}


def test_every_link_to_the_repository_uses_the_packages_address(site):
    ours = repository()
    pages = [p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts]
    wrong = {str(p.relative_to(site)): other_repositories(p.read_text(encoding="utf-8"), ours) for p in pages}
    # the sources that name it too: the pages, the README, the changelog, the licence, the metadata
    sources = [*(ROOT / "docs").glob("*.md"), ROOT / "README.md", ROOT / "CHANGELOG.md",
               ROOT / "LICENSE-content.md", ROOT / "pyproject.toml", ROOT / "docs" / "conf.py"]
    wrong.update({str(p.relative_to(ROOT)): other_repositories(p.read_text(encoding="utf-8"), ours)
                  for p in sources if p.is_file()})
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, f"links to a repository other than REPOSITORY ({ours}): {wrong}"
    assert f'href="{ours}"' in (site / "docs" / "index.html").read_text()   # the theme's button


def test_the_address_check_catches_another_repository():
    ours = "https://github.com/d2lnets/d2lnets"
    assert other_repositories(f"[x]({ours}/blob/main/README.md) {ours}.git", ours) == set()
    assert other_repositories("see https://github.com/someone/d2lnets/issues", ours) == {"someone/d2lnets"}
    colab = "https://colab.research.google.com/github/old/name/blob/main/x.ipynb"
    assert other_repositories(colab, ours) == {"old/name"}


def test_the_package_metadata_names_the_same_repository():
    import tomllib

    from d2lnets.tools import colab

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert colab.REPOSITORY == repository()
    assert urls == colab.project_urls(), ("pyproject.toml's [project.urls] are not those made from REPOSITORY: "
                                          "paste what `python -m d2lnets.tools.colab --project-urls` prints")


def test_colab_opens_each_chapter_where_the_readme_does(site):
    """The theme's launch button: the chapter at the release's tag, as the README's links."""
    from d2lnets.tools import colab

    for chapter in sorted((ROOT / "chapters").glob("*.ipynb")):
        html = (site / "chapters" / f"{chapter.stem}.html").read_text(encoding="utf-8")
        launch = set(re.findall(r"https://colab\.research\.google\.com/github/[^\"'<>\s]+", html))
        assert launch == {colab.colab_url(chapter)}, f"{chapter.stem}: {launch}"


def readme_site_links(readme: str, website: str, site: Path) -> list[str]:
    """The README's links into the website that name no page, or no anchor, of the built ``site``."""
    page = site / "_readme_links.html"
    links = [url.removeprefix(website) or "index.html" for url in re.findall(r"\(([^)\s]+)\)", readme)
             if url.startswith(website)]
    page.write_text("".join(f'<a href="{link}">x</a>' for link in links), encoding="utf-8")
    try:
        return [f"{website}{b.split(': ', 1)[1]}" for b in broken_links(site) if b.startswith(page.name + ":")]
    finally:
        page.unlink()


def test_the_readmes_links_to_the_website_resolve(site):
    from d2lnets.tools import colab

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"]({colab.website()})" in readme and f"]({colab.website()}docs/package.html)" in readme
    broken = readme_site_links(readme, colab.website(), site)
    assert not broken, f"README: links to pages or anchors the website lacks: {broken}"
    missing = readme_site_links(f"[a]({colab.website()}docs/nowhere.html) [b]({colab.website()}docs/data.html#nope)",
                                colab.website(), site)
    assert len(missing) == 2, missing                                       # the check finds both


# --- small builds: remove-input and the bench's results ------------------------------------------

def mini_site(tmp_path: Path, files: dict) -> tuple[subprocess.CompletedProcess, Path]:
    """The website's configuration over a folder of a few pages of our own (index first)."""
    source = tmp_path / "src"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    out = tmp_path / "html"
    prefix, env = offline_env()
    done = subprocess.run([*prefix, sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                           "-c", str(ROOT / "docs"), "-D", "root_doc=index",
                           "-D", "include_patterns=" + ",".join(files), "-D", "exclude_patterns=",
                           str(source), str(out)], capture_output=True, text=True, env=env, timeout=300)
    return done, out


def test_a_cell_tagged_remove_input_shows_only_its_output(docs_extra, tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Fixture"),
                nbformat.v4.new_code_cell("print('hidden_source_marker')", metadata={"tags": ["remove-input"]},
                                          outputs=[nbformat.v4.new_output("stream", text="shown_output_marker\n")]),
                nbformat.v4.new_code_cell("print('visible_source_marker')",
                                          outputs=[nbformat.v4.new_output("stream", text="second_output\n")])]
    done, out = mini_site(tmp_path, {"index.ipynb": nbformat.writes(nb)})
    assert done.returncode == 0, done.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "shown_output_marker" in html and "hidden_source_marker" not in html
    assert "visible_source_marker" in html and "second_output" in html


def test_a_chapter_that_is_not_a_notebook_is_one_error_naming_it(docs_extra, tmp_path):
    """A chapter cut short (a save that did not finish) fails the build with one line that names the
    file and what is wrong, not a crash of Sphinx; the other pages are built."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter")])
    whole = nbformat.writes(nb)
    index = "# Course\n\n```{toctree}\nchapters/01_x\nchapters/02_y\n```\n"
    done, out = mini_site(tmp_path, {"index.md": index, "chapters/01_x.ipynb": whole,
                                     "chapters/02_y.ipynb": whole[:40]})
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, done.stderr
    assert "chapters/02_y.ipynb is not a notebook that can be read (NotJSONError" in errors[0]
    assert "Exception occurred" not in done.stderr and "Traceback" not in done.stderr
    assert (out / "chapters" / "01_x.html").is_file()


def _bench_result() -> dict:
    return {"device": "cpu", "machine": "x86_64 2 cores", "torch": "2.9.0", "peaks_gflops": {"fp32": 150.0},
            "conv_speedup": 2.1,
            "models": [{"model": "LeNet (modern)", "size": 28, "batch_size": 256, "ours_default": 15144.7,
                        "ours_fp32": 13436.7, "book": 11656.2, "speedup": 1.3, "fp32_vs_book": 1.15,
                        "achieved_gflops": 34.0, "share_of_peak": 0.1, "loader_to_model": 57.0}],
            "data": [{"size": 28, "ours": 861274.0, "book": 20682.0, "speedup": 41.6, "augmented": False}],
            "batch_sizes": [{"batch_size": 32, "examples_per_sec": 62.6, "peak_mb": 879.0}],
            "accuracy": [{"model": "LeNet (modern)", "size": 28, "num_train": 60000, "num_test": 10000, "epochs": 3,
                          "auto": {"test_acc": 0.88}, "fp32": {"test_acc": 0.883}}]}


def test_committed_bench_results_become_tables(docs_extra, tmp_path):
    page = "# Performance\n\n```{bench-results} results\n```\n"
    done, out = mini_site(tmp_path, {"index.md": page, "results/cpu.json": json.dumps(_bench_result())})
    assert done.returncode == 0, done.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "cpu.json" in html and "<table" in html
    assert "15144.7" in html and "861274" in html and "0.883" in html


@pytest.mark.parametrize("text, says", [("{not json", "does not read as JSON"),
                                        (json.dumps({"device": "cpu"}), "no 'models'"),
                                        (json.dumps({**_bench_result(), "models": [{"model": "x"}]}), "a row lacks")])
def test_a_file_that_is_not_a_bench_result_stops_the_build(docs_extra, tmp_path, text, says):
    page = "# Performance\n\n```{bench-results} results\n```\n"
    done, _ = mini_site(tmp_path, {"index.md": page, "results/cuda-h100.json": text})
    assert done.returncode != 0
    assert "results/cuda-h100.json is not a bench result" in done.stderr and says in done.stderr


# --- in a browser ---------------------------------------------------------------------------------

RAW_MATH = r"""() => {
    const article = document.querySelector('article') || document.body;
    const copy = article.cloneNode(true);
    copy.querySelectorAll('pre, code, .highlight, mjx-container, script, style').forEach(e => e.remove());
    return copy.textContent;
}"""


def test_a_chapter_and_a_reference_page_show_their_figures_and_equations(site, chromium):
    import playwright.sync_api as playwright

    with_math = [p for p in sorted(site.rglob("*.html")) if "_static" not in p.parts
                 and 'class="math' in p.read_text(encoding="utf-8")]
    assert with_math, "no page has an equation to render"
    pages = sorted({site / "chapters" / "01_lenet.html", *with_math})
    outside, failed = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: r.url.startswith("file:") or outside.append(r.url))
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
        for path in pages:
            name = str(path.relative_to(site))
            page.goto(path.as_uri(), wait_until="load")
            math = page.locator(".math").count()
            if math:
                page.wait_for_function(f"document.querySelectorAll('mjx-container').length >= {math}", timeout=30_000)
                assert not page.locator("mjx-merror").count(), f"{name}: MathJax could not read an equation"
                left = re.findall(r"\$[^$\s][^$]*\$|\\\(|\\\[", page.evaluate(RAW_MATH))
                assert not left, f"{name}: raw TeX left in the page: {left[:3]}"
            widths = page.evaluate("Array.from(document.querySelectorAll('article img')).map(i => i.naturalWidth)")
            if name == "chapters/01_lenet.html":
                assert len(widths) >= 5, f"{name}: expected the chapter's figures, found {len(widths)} images"
            assert all(w > 0 for w in widths), f"{name}: images that did not load: {widths}"
        browser.close()
    assert not outside, f"requests that left the machine: {outside[:5]}"
    assert not failed, f"requests that failed: {failed[:5]}"
