"""Set-up beyond pip: ``d2lnets setup`` (``make setup`` calls it; so do the other routes).

1. **Fashion-MNIST.** A local copy (the package's search order), else the download through
   torchvision (with a connect timeout, so a firewalled network fails in seconds), else — where the
   machine has ``apt-get`` and we are root (containers, CI) — Debian's ``dataset-fashion-mnist``
   package, saying so. Where all of that fails it prints the one clear message and exits 1.
2. **JupyterLab's course settings** in the environment's settings overrides
   (``<env>/share/jupyter/lab/settings/overrides.json``, never the learner's home folder): no
   "get notified about Jupyter news?" prompt over the first chapter, no update check.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from .. import data
from ..core.paths import atomic_write_text

__all__ = ["LAB_SETTINGS", "ensure_data", "lab_overrides_path", "write_lab_settings"]

CONNECT_TIMEOUT = 15  # seconds
APT_PACKAGE = "dataset-fashion-mnist"
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def _load(download: bool) -> None:
    """Load the dataset (so its checksums are verified); raises DataNotFoundError when it is nowhere."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(CONNECT_TIMEOUT)
    try:
        data.load_fashion_mnist_tensors(download=download)
    finally:
        socket.setdefaulttimeout(previous)


def _apt_install(say) -> bool:
    """Install Debian's package where we may (root, apt-get present); True if the command succeeded."""
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    say(f"Fashion-MNIST is not on this machine and could not be downloaded; installing Debian's "
        f"{APT_PACKAGE} package with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quick = ["-o", "Acquire::Retries=0", "-o", f"Acquire::http::Timeout={CONNECT_TIMEOUT}",
             "-o", f"Acquire::https::Timeout={CONNECT_TIMEOUT}", "-qq"]
    install = ["apt-get", *quick, "install", "-y", APT_PACKAGE]
    for attempt in (install, ["apt-get", *quick, "update"], install):
        done = subprocess.run(attempt, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode == 0 and attempt is install:
            return True
    return False


def ensure_data(*, download: bool = True, install: bool = True, say=print) -> None:
    """Make sure Fashion-MNIST is present; raise :class:`~d2lnets.data.DataNotFoundError` (saying
    everywhere it looked and why the download failed) if it cannot be."""
    try:
        return _load(download)
    except data.DataNotFoundError as e:
        error = e
    if install and _apt_install(say):
        try:
            _load(False)
        except data.DataNotFoundError:
            pass
        else:
            return say(f"installed {APT_PACKAGE}: Fashion-MNIST is in {data.fashion_mnist.DEBIAN_DIR}")
    raise error


def lab_overrides_path(prefix: str | os.PathLike | None = None) -> Path:
    """JupyterLab's settings overrides of the environment at ``prefix`` (default: this one)."""
    return Path(sys.prefix if prefix is None else prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def write_lab_settings(prefix: str | os.PathLike | None = None) -> Path:
    """Merge the course's JupyterLab settings into the environment's overrides; return the file."""
    path = lab_overrides_path(prefix)
    settings = {}
    if path.exists():
        try:
            settings = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); fix or delete it, then run set-up again") from e
    for plugin, values in LAB_SETTINGS.items():
        settings.setdefault(plugin, {}).update(values)
    atomic_write_text(path, json.dumps(settings, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="d2lnets setup", description=__doc__.splitlines()[0])
    parser.add_argument("--no-download", action="store_true", help="use only a local copy of the data")
    parser.add_argument("--no-install", action="store_true", help="never install the Debian package")
    args = parser.parse_args(argv)
    write_lab_settings()
    try:
        ensure_data(download=not args.no_download, install=not args.no_install)
    except (OSError, ValueError) as e:  # not found, corrupt, or a bad $D2LNETS_DATA: one clear message
        print(f"set-up stopped: {e}", file=sys.stderr)
        return 1
    print("set-up done: Fashion-MNIST found; JupyterLab's course settings written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
