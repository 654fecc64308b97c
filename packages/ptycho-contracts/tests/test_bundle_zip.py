"""Shared safe reading of bundle zips (specs/bundle-format.md, specs/reliability.md §4)."""

from __future__ import annotations

import zipfile

import pytest

from ptycho.bundle_zip import BundleError, BundleNotFoundError, open_checked, read_json_member, read_member


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt", "a/../../b", "C:/x", "a\\b", "x/../../../etc/passwd"])
def test_unsafe_member_names_are_refused_before_reading(tmp_path, name):
    path = _zip(tmp_path / "b.zip", {name: b"x"})
    with pytest.raises(BundleError, match="unsafe member name"):
        open_checked(path)


def test_declared_total_size_is_bounded(tmp_path):
    path = _zip(tmp_path / "b.zip", {"big.bin": b"\0" * 1_000_000})
    with pytest.raises(BundleError, match="exceeds the limit"):
        open_checked(path, limit=1000)


def test_member_reads_are_bounded_and_json_must_be_an_object(tmp_path):
    path = _zip(tmp_path / "b.zip", {"m.json": b'{"a": 1}', "l.json": b"[1]", "x.bin": b"\0" * 5000})
    with open_checked(path) as zf:
        assert read_json_member(zf, path, "m.json") == {"a": 1}
        with pytest.raises(BundleError, match="must be a JSON object"):
            read_json_member(zf, path, "l.json")
        with pytest.raises(BundleError, match="exceeds the 100-byte size limit"):
            read_member(zf, path, "x.bin", 100)
        with pytest.raises(BundleError, match="'nope' is missing"):
            read_member(zf, path, "nope", 100)


def test_missing_and_non_zip_files(tmp_path):
    with pytest.raises(BundleNotFoundError):
        open_checked(tmp_path / "none.zip")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(BundleError, match="unreadable file"):
        open_checked(bad)
