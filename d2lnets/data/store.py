"""Where datasets live on disk, and proof that a file is the genuine one.

Every dataset (Fashion-MNIST, CIFAR-10, Flowers-102, an image folder) is looked up the same way.
A :class:`DatasetSpec` says which files make the dataset; :func:`locate` searches, in order,
``root`` if given, ``$D2LNETS_DATA``, the repository's ``data/`` (each also in the dataset's
usual sub-folder) and the system folders (``/usr/share/datasets/...``, Debian's convention), and
downloads only when no copy is found. A folder the caller names must hold the data: a missing,
empty or incomplete one is an error, never a silent switch to another copy. :func:`verify_file`
checks a file against :data:`KNOWN_MD5`; a genuine file under another's name (train and test
swapped) is named for what it is. A dataset found nowhere raises one :class:`DataNotFoundError`
naming every folder searched and every way to get the data.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..core.config import data_dir as data_dir_setting  # $D2LNETS_DATA, read in one place
from ..core.paths import checkout

__all__ = ["CACHE", "ChecksumError", "DataNotFoundError", "DatasetSpec", "KNOWN_MD5", "SYSTEM_DATA_DIR",
           "default_data_dir", "download_url", "identify", "locate", "search_dirs", "verify_file"]

# Tensors already loaded in this process, by what identifies their files: each dataset is read once.
CACHE: dict[tuple, dict[str, torch.Tensor]] = {}


# MD5 of each file as stored: "gz" for the compressed files (Debian's set, then torchvision's),
# "raw" for the unpacked bytes, which both sets share.
KNOWN_MD5: dict[str, dict[str, set[str]]] = {
    "train-images-idx3-ubyte": {"gz": {"cf8536b0aa1a6ac5fa3f23001093305c", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
                                "raw": {"f4a8712d7a061bf5bd6d2ca38dc4d50a"}},
    "train-labels-idx1-ubyte": {"gz": {"10bea18fdb374794d4bb42e356e600c9", "25c81989df183df01b3e8a0aad5dffbe"},
                                "raw": {"9018921c3c673c538a1fc5bad174d6f9"}},
    "t10k-images-idx3-ubyte": {"gz": {"f78720b4224f21cce2f2ccf2d7a94c9a", "bef4ecab320f06d8554ea6380940ec79"},
                               "raw": {"8181f5470baa50b63fa0f6fddb340f0a"}},
    "t10k-labels-idx1-ubyte": {"gz": {"0d30e22e447f3c33dab9ed536400ac01", "bb300cfdad3c16e7a12a480ee83cd310"},
                               "raw": {"15d484375f8d13e6eb1aabb0c3f46965"}},
}
# Other datasets' files, checked as stored ("file": the MD5 of the file's bytes; torchvision's values).
KNOWN_MD5.update({
    "cifar-10-python.tar.gz": {"file": {"c58f30108f718f92721af3b95e74349a"}},
    "102flowers.tgz": {"file": {"52808999861908f626f3c1f4e79d11fa"}},
    "imagelabels.mat": {"file": {"e0620be6f572b9609742df49c70aed4d"}},
    "setid.mat": {"file": {"a5357ecc9cb78c4bef273ce3793fc85c"}},
})


SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # where system packages put datasets (Debian's convention)


class ChecksumError(OSError):
    """A dataset file is corrupt, truncated or not the file it claims to be."""


class DataNotFoundError(FileNotFoundError):
    """No copy of the dataset was found and none could be downloaded."""


def default_data_dir() -> Path:
    """Where downloads (and the decoded-image cache) go: the repository's ``data/`` when the package
    runs from a checkout, else ``~/.cache/d2lnets`` (``$XDG_CACHE_HOME/d2lnets``)."""
    repo = checkout()
    if repo is not None and (repo / "data" / "README.md").exists():
        return repo / "data"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "d2lnets"


class DatasetSpec:
    """What makes a dataset on disk, and where and how :func:`locate` looks for it.

    ``files`` maps a key to the file's name; ``subdirs`` are searched below every base folder
    (``root``, ``$D2LNETS_DATA``, ``data/``) after the base folders themselves; ``system_dirs``
    last. ``remedies`` are the ways to get the data, one line each, for the not-found message;
    ``download(target)`` fetches the files into ``target / download_subdir``.
    """

    def __init__(self, name: str, files: dict[str, str], *, subdirs: Sequence[str] = (),
                 system_dirs: Sequence[Path] = (), remedies: Sequence[str] = (), what: str | None = None,
                 listing: str | None = None, download: Callable[[Path], None] | None = None,
                 download_subdir: str = "") -> None:
        self.name, self._files, self.subdirs = name, dict(files), tuple(subdirs)
        self._system_dirs, self.remedies = [Path(d) for d in system_dirs], tuple(remedies)
        self.what = what or (f"the file {next(iter(files.values()))}" if len(files) == 1 else
                             f"the {_NUMBER_WORDS.get(len(files), len(files))} files")
        if listing is None:
            listing = f"{self.what} {', '.join(files.values())}" if len(files) > 1 else next(iter(files.values()))
        self.listing = listing
        self._download, self.download_subdir = download, download_subdir

    @property
    def files(self) -> dict[str, str]:
        return self._files

    def system_dirs(self) -> list[Path]:
        return list(self._system_dirs)

    def present(self, directory: Path) -> dict[str, Path]:
        """Those of the files that ``directory`` holds."""
        return {key: directory / name for key, name in self.files.items() if (directory / name).is_file()}

    def find(self, directory: Path) -> dict[str, Path] | None:
        """All the files in ``directory``, or None if any is missing."""
        found = self.present(directory)
        return found if len(found) == len(self.files) else None

    @property
    def can_download(self) -> bool:
        return self._download is not None

    def download(self, target: Path) -> None:
        self._download(target)

    def __repr__(self) -> str:
        return f"DatasetSpec({self.name!r}, files={list(self.files.values())})"


_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def search_dirs(spec: DatasetSpec, root: str | os.PathLike | None = None) -> list[Path]:
    """Every folder searched for ``spec``'s files, in order."""
    bases: list[Path] = []
    if root is not None:
        bases.append(Path(root))
    env = data_dir_setting()
    if env:
        bases.append(Path(env))
    bases.append(default_data_dir())
    dirs = bases + [base / sub for sub in spec.subdirs for base in bases] + spec.system_dirs()
    return list(dict.fromkeys(d.expanduser() for d in dirs))


def not_in(said: str, folder: Path, spec: DatasetSpec) -> DataNotFoundError:
    """The error for a folder the caller named that does not hold the dataset's files."""
    present = max([spec.present(folder)] + [spec.present(folder / sub) for sub in spec.subdirs], key=len)
    if not folder.is_dir():
        what = "no such folder exists"
    elif not present:
        what = f"the folder holds none of {spec.what}" if len(spec.files) > 1 else f"the folder lacks {spec.what}"
    else:
        missing = [name for key, name in spec.files.items() if key not in present]
        what = (f"the folder holds only {len(present)} of {spec.what}; missing: {', '.join(missing)}")
    inside = f" (or in its {' or '.join(f'{sub}/' for sub in spec.subdirs)})" if spec.subdirs else ""
    return DataNotFoundError(
        f"{spec.name} was not found in {said} ({folder}): {what}. Put {spec.listing} "
        f"there{inside}, or leave it out to use the other copies.")


def locate(spec: DatasetSpec, root: str | os.PathLike | None = None, *, download: bool = True) -> dict[str, Path]:
    """The paths of ``spec``'s files (key -> path), searched in the order of :func:`data_dirs`.

    A folder the caller named (``root``, else ``$D2LNETS_DATA``) must hold them: a missing, empty
    or incomplete one is an error, never a silent switch to another copy -- except that ``root``
    is downloaded into when ``download``. With no copy anywhere the files are downloaded (if the
    dataset has a download and ``download``) into ``root`` or ``data/``; failing that, one
    :class:`DataNotFoundError` names every folder searched and every way to get the data.
    """
    dirs = search_dirs(spec, root)
    env = data_dir_setting()
    named = (f"root={str(root)!r}", Path(root)) if root is not None else (
        ("$D2LNETS_DATA", Path(env)) if env else None)
    paths = None
    if named is not None:  # a folder the caller named must hold the data: never another copy silently
        said, folder = named
        folder = folder.expanduser()
        for candidate in [folder] + [folder / sub for sub in spec.subdirs]:
            paths = spec.find(candidate)
            if paths is not None:
                break
        if paths is None and not (root is not None and download and spec.can_download):
            raise not_in(said, folder, spec)
    else:
        paths = next((p for p in map(spec.find, dirs) if p is not None), None)
    if paths is not None:
        return paths
    if not download:
        reason = "downloading was switched off (download=False)"
    elif not spec.can_download:
        reason = f"{spec.name} has no download"
    else:
        target = Path(root).expanduser() if root is not None else default_data_dir()
        try:
            spec.download(target)
        except Exception as e:  # noqa: BLE001 - any failure leads to the same advice
            reason = f"the download into {target} failed: {type(e).__name__}: {e}"
        else:
            reason = f"the download into {target} did not produce {spec.what}"
        paths = spec.find(target / spec.download_subdir if spec.download_subdir else target)
        if paths is not None:
            return paths
    searched = "\n".join(f"  - {d}" for d in dirs)
    ways = {1: "this way", 2: "either of two ways"}.get(len(spec.remedies), f"any of {len(spec.remedies)} ways")
    looked_for = getattr(spec, "looked_for", None) or ", ".join(spec.files.values())
    raise DataNotFoundError(
        f"{spec.name} was not found. Looked for {looked_for} in:\n{searched}\nand {reason}.\n"
        f"Get the data in {ways}:\n" + "\n".join(f"  - {r}" for r in spec.remedies) +
        f",\nor point $D2LNETS_DATA at a folder that holds {spec.what}."
    )


def verify_file(path: Path, name: str | None = None, *, verify: bool = True) -> None:
    """Check ``path`` against the known MD5s of the genuine file ``name`` (default: its own name).

    Raises :class:`ChecksumError` naming the file: corrupt or truncated, or a genuine file of
    another name (the two were swapped). Reads the file in chunks (large archives stay out of memory).
    """
    if not verify:
        return
    path = Path(path)
    name = name or path.name
    known = KNOWN_MD5.get(name, {}).get("file")
    if known is None:
        raise ChecksumError(f"no checksum is known for {name} ({path}); pass verify=False to read it unchecked")
    md5 = hashlib.md5()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                md5.update(block)
    except OSError as e:
        raise ChecksumError(f"{path} could not be read: {e}") from e
    digest = md5.hexdigest()
    if digest in known:
        return
    genuine = identify(digest)
    if genuine is not None and genuine[0] != name:
        raise ChecksumError(f"{path} is the genuine {genuine[0]} (its MD5 {digest} says so), stored as "
                            f"{path.name}: the files are swapped or misnamed. Rename it to {genuine[0]}.")
    raise ChecksumError(
        f"{path} is corrupt or truncated: its MD5 {digest} matches no known copy of {name} "
        f"(known: {', '.join(sorted(known))}). Delete it and load again; the data will be looked up "
        "elsewhere or downloaded.")


def identify(digest: str) -> tuple[str, str] | None:
    """(file name, "gz" or "raw") of the genuine file with MD5 ``digest``, if it is one."""
    return next(((name, kind) for name, kinds in KNOWN_MD5.items() for kind, digests in kinds.items()
                 if digest in digests), None)


def download_url(url: str, folder: Path, filename: str) -> None:
    """Fetch ``url`` into ``folder/filename`` through torchvision (checksums are checked by the loader afterwards)."""
    from torchvision.datasets.utils import download_url as fetch

    fetch(url, str(folder), filename)
