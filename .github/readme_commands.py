"""The README's PowerShell set-up, as a script CI runs on Windows, so that those lines are tested.

    python .github/readme_commands.py --python 3.12 --output readme.ps1 ; ./readme.ps1

Standard library only. It takes the ```powershell block of README.md line by line, with the changes
a CI machine needs: `py -3.11` becomes the Python version under test, the line that starts
JupyterLab (a server that would wait forever) sets up and writes the copies, then only asks
JupyterLab for its version, and the
exercise checker runs on the solved chapters. After each line the script stops with that line's
exit code if it failed (PowerShell would carry on).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(language: str = "powershell", readme: Path = README) -> list[str]:
    """The lines of the README's first fenced block in ``language``."""
    text = Path(readme).read_text(encoding="utf-8")
    m = re.search(rf"^```{language}\n(.*?)^```", text, re.S | re.M)
    if m is None:
        raise ValueError(f"{readme} has no ```{language} block")
    return [line for line in m.group(1).splitlines() if line.strip()]


def ci_line(line: str, python: str) -> str:
    """``line`` as CI runs it: the Python version under test; JupyterLab checked, not started; the
    exercise checker run on the solved chapters, where every exercise must pass (on the learner's
    fresh copies it rightly exits 1: nothing is solved yet)."""
    line = re.sub(r"^py -3\.\d+ ", f"py -{python} ", line)
    if re.search(r"d2lnets(\.exe)? lab\b", line):  # set-up and the copies, then JupyterLab: only its version
        line = re.sub(r"(d2lnets(?:\.exe)? lab)\b.*", r"\1 --version   # CI: the server is not started", line)
    m = re.match(r"(.*d2lnets(?:\.exe)? check)\s*(#.*)?$", line)
    if m:
        line = f"{m.group(1)} chapters   # CI: the solved chapters, so every exercise must pass"
    return line


def powershell_script(python: str = "3.11", readme: Path = README) -> str:
    out = ['$ErrorActionPreference = "Stop"']
    for line in readme_block("powershell", readme):
        command = ci_line(line, python)
        out += [f"Write-Host '> {command.replace(chr(39), chr(39) * 2)}'", command,
                "if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.11", help="the Python version for `py -X.Y` (default 3.11)")
    parser.add_argument("--output", type=Path, help="write the script here (default: standard output)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"3\.\d+", args.python):
        parser.error(f"--python {args.python!r}: expected e.g. 3.12")
    script = powershell_script(args.python)
    if args.output:
        args.output.write_text(script, encoding="utf-8")
    sys.stdout.write(script)
    return 0


if __name__ == "__main__":
    sys.exit(main())
