"""``OutputGuard``: a failed command line run removes what it wrote under its output folder
(specs/torch-cli.md §5)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

__all__ = ["OutputGuard"]


class OutputGuard:
    """Remove what a failed run wrote into its output folder, leaving earlier contents untouched.

    Records every path under ``output_dir`` before the run (and whether the folder existed). On failure
    :meth:`rollback` deletes each path that did not exist before (and the folder itself when this run
    created it). Files written atomically by the run (bundle, NPZ, PNG) are never half-written anyway;
    the guard removes the partial *set* (checkpoints without a bundle, logs of an aborted run).
    """

    def __init__(self, output_dir: str | os.PathLike[str]):
        self.output_dir = Path(output_dir)
        self.existed = self.output_dir.is_dir()
        self.before: set[Path] = set()
        if self.existed:
            self.before = {p.relative_to(self.output_dir) for p in self.output_dir.rglob("*")}

    def rollback(self, keep: tuple[str, ...] = ()) -> None:
        """Delete what the run created; ``keep``: relative paths (e.g. ``'checkpoints'``) left in place,
        with their contents and the folders above them."""
        out = self.output_dir
        if not out.exists():
            return
        if not self.existed and not keep:
            shutil.rmtree(out, ignore_errors=True)
            return
        kept = [out / k for k in keep]

        def protected(p: Path) -> bool:
            return any(p == k or k in p.parents or p in k.parents for k in kept)

        created = [p for p in out.rglob("*") if p.relative_to(out) not in self.before and not protected(p)]
        for p in sorted(created, key=lambda q: len(q.parts), reverse=True):
            with contextlib.suppress(OSError):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()
