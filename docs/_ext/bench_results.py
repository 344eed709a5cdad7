"""``{bench-results}``: the bench's measurements as tables, read from the files the bench writes.

The performance page holds no hand-copied numbers. This directive renders every committed result,
``benchmarks/results/*.json`` (one file per machine: ``cpu.json``, ``cuda-h100.json``, ...; see
``benchmarks/results/README.md``), through the same :func:`report.format_table` that ``make bench``
prints with. While none is committed it shows this checkout's last ``make bench``
(``bench-results.json``, git-ignored), saying so; with neither, it says how to make one. A file that
is not a bench result stops the build (a warning, an error under ``-W``) with what is wrong in it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
RESULTS = "benchmarks/results"
LOCAL = "bench-results.json"


def _report_module():
    """benchmarks/report.py: standard library only, imported by path (benchmarks/ is no package)."""
    folder = str(Path(__file__).resolve().parents[2] / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import report
    return report


class BenchResults(SphinxDirective):
    has_content = False
    optional_arguments = 1          # the folder, relative to the source folder (the repository)

    def run(self) -> list[nodes.Node]:
        srcdir = Path(self.env.srcdir)
        report = _report_module()
        folder = srcdir / (self.arguments[0] if self.arguments else RESULTS)
        files = sorted(folder.glob("*.json"))
        note = None
        if not files and (srcdir / LOCAL).is_file():
            files = [srcdir / LOCAL]
            note = (f"No result is committed in `{RESULTS}/` yet: these are this checkout's last `make bench` "
                    f"(`{LOCAL}`).")
        if not files:
            note = (f"No result is committed in `{RESULTS}/` yet. `make bench` measures this machine and "
                    f"writes `{LOCAL}`; `{RESULTS}/README.md` says how a result is committed.")
        lines = [note, ""] if note else []
        for path in files:
            self.env.note_dependency(str(path))
            name = path.relative_to(srcdir).as_posix()
            try:
                result = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                logger.warning(f"{name} is not a bench result: it does not read as JSON ({error})",
                               location=self.get_location())
                continue
            wrong = report.problems(result)
            if not wrong:
                try:
                    tables = report.format_table(result)
                except (KeyError, TypeError, ValueError) as error:
                    wrong = [f"a row lacks or mistypes {error}"]
            if wrong:
                logger.warning(f"{name} is not a bench result ({'; '.join(wrong)}): expected the JSON that "
                               f"`python benchmarks/run.py --out {name}` writes", location=self.get_location())
                continue
            lines += [f"**`{path.name}`**", "", *tables.splitlines(), ""]
        container = nodes.container(classes=["bench-results"])
        self.state.nested_parse(StringList(lines, source=str(folder)), self.content_offset, container)
        return [container]


def setup(app) -> dict:
    app.add_directive("bench-results", BenchResults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
