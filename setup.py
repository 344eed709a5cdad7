"""The wheel carries the chapters: ``chapters/*.ipynb`` become the package data ``d2lnets/_chapters/``.

Everything else is in pyproject.toml. This is here only because pyproject.toml can name the
packages to find or list them, not both: the packages are found, and ``d2lnets._chapters`` is the
checkout's ``chapters/`` folder under another name, so the chapters are committed once and copied
into the wheel when it is built (``pip install .``, ``make dist``'s sdist then wheel). An editable
install reads them where they are (``d2lnets.core.paths.chapters_dir``). A wheel built without
them would install a course with nothing to copy: the build stops instead.
"""
from pathlib import Path

if not list(Path(__file__).resolve().parent.glob("chapters/[0-9][0-9]_*.ipynb")):
    raise SystemExit("setup.py: no chapters/NN_name.ipynb beside setup.py: the wheel would carry no chapters")

from setuptools import find_packages, setup  # noqa: E402 - after the check, which needs no setuptools

setup(
    packages=[*find_packages(include=["d2lnets", "d2lnets.*"]), "d2lnets._chapters"],
    package_dir={"d2lnets._chapters": "chapters"},
    package_data={"d2lnets._chapters": ["[0-9][0-9]_*.ipynb"]},
)
