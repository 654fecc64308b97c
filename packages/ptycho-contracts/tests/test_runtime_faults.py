"""ptycho.runtime.faults: an OSError of the environment is one line naming the path and the cause
(specs/reliability.md §7); any other error is not an environment fault."""

from __future__ import annotations

import errno
import os

import pytest

from ptycho.runtime.faults import environment_fault


def test_a_real_missing_file_names_its_path_and_cause(tmp_path):
    missing = tmp_path / "gone.npz"
    with pytest.raises(OSError) as info:
        open(missing, "rb")
    assert environment_fault(info.value) == f"{missing}: {os.strerror(errno.ENOENT)}"


def test_full_disk_rename_and_pathless_errors():
    assert environment_fault(OSError(errno.ENOSPC, "No space left on device", "/out/x.npz")) == (
        "/out/x.npz: No space left on device")
    assert environment_fault(OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")) == (
        "/a -> /b: Invalid cross-device link")
    assert environment_fault(OSError(errno.EROFS, "Read-only   file\nsystem")) == "Read-only file system"


@pytest.mark.parametrize("exc", [OSError("h5py: unable to open (no errno)"), ValueError("bad"), KeyboardInterrupt()])
def test_errors_without_an_errno_are_not_environment_faults(exc):
    assert environment_fault(exc) is None
