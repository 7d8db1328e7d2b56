"""Writing a site atomically: everything goes into a staging folder beside the output folder, which replaces the
old site only when complete; on any failure the staging folder (and any other file being written) is removed and
the old site is left as it was."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputError
from ..store import StoreWriteError


@dataclass
class Staged:
    """The staging folder of a new site (`folder`) and other files the block is writing (`leftovers`: removed if
    it fails)."""

    out: Path
    folder: Path
    leftovers: list[Path] = field(default_factory=list)

    def publish(self) -> None:
        """Replace the output folder by the staging folder with renames, so a reader never sees a half-written
        site."""
        old = None
        if self.out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
            os.rename(self.out, old / self.out.name)
        os.rename(self.folder, self.out)
        if old is not None:
            shutil.rmtree(old)


def _staging(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; a published site is world-readable
        return staging
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write there ({exc.strerror}); choose a writable folder") from None


@contextlib.contextmanager
def staged_output(out: Path) -> Iterator[Staged]:
    """A staging folder beside `out` for the new site, put in place of `out` when the block ends without an error
    (whatever the block opened inside the folder must be closed by then). If the block fails, the staging folder
    and the files listed in `leftovers` are removed and a write error becomes one line: the old site is left as it
    was."""
    staged = Staged(out, _staging(out))
    try:
        yield staged
        staged.publish()
    except BaseException as exc:
        shutil.rmtree(staged.folder, ignore_errors=True)
        for path in staged.leftovers:
            path.unlink(missing_ok=True)
        if isinstance(exc, (OSError, StoreWriteError)):
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            raise OutputError(f"--out {out}: cannot write the report ({reason}); free some space or "
                              f"choose a writable folder. Nothing was changed") from None
        raise
