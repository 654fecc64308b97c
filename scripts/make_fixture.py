"""Build the 64-position test fixture, or check that a rebuild reproduces its recorded SHA-256.

    python scripts/make_fixture.py           # (re)write the fixture and its .sha256 file
    python scripts/make_fixture.py --check   # rebuild in a temporary folder; exit 1 on mismatch

The fixture (specs/data-contract.md §9) is `packages/ptycho-contracts/tests/fixtures/
minimal_dataset_v1.npz`: N = 64, 64 Fermat-spiral positions over a 128 x 128 'lines' object,
Poisson noise at 1e9 photons per pattern, all from ``ptycho.simulation.simulate`` with a fixed
seed, so its patterns are the forward model of its own probe, object and positions. It is written
uncompressed with fixed zip timestamps (``ptycho.atomic_io.save_npz_atomic``), so its bytes
depend only on the arrays. Exit codes: 0 success, 1 checksum mismatch, 2 bad usage / error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "packages" / "ptycho-contracts" / "tests" / "fixtures"
FIXTURE_NAME = "minimal_dataset_v1.npz"
SHA_NAME = "minimal_dataset_v1.sha256"

#: Arguments of ptycho.simulation.simulate that define the fixture. Changing any of them is a new
#: fixture version (new file name), not an edit of v1.
SIM_ARGS: dict[str, object] = {
    "object_kind": "lines",
    "N": 64,
    "n_positions": 64,
    "scan": "fermat",
    "nphotons": 1e9,
    "seed": 20240601,
    "object_size": 128,
}

#: Contract keys kept in the file (specs/data-contract.md §2.1); simulator extras are dropped.
KEPT_KEYS = (
    "diffraction",
    "xcoords",
    "ycoords",
    "xcoords_start",
    "ycoords_start",
    "scan_index",
    "probeGuess",
    "objectGuess",
)


def fixture_arrays() -> dict[str, np.ndarray]:
    """Simulate the fixture and return the arrays exactly as they are written."""
    from ptycho.data_contract import validate_arrays
    from ptycho.simulation import simulate

    sim = simulate(**SIM_ARGS)  # type: ignore[arg-type]
    arrays = {key: np.asarray(sim[key]) for key in KEPT_KEYS}
    meta = json.loads(str(sim["_metadata"]))
    meta["fixture"] = {
        "name": FIXTURE_NAME,
        "generator": "scripts/make_fixture.py",
        "simulate_args": SIM_ARGS,
        "spec": "specs/data-contract.md §9",
    }
    arrays["_metadata"] = np.array(json.dumps(meta, sort_keys=True, allow_nan=False))
    validate_arrays(arrays, source="fixture")
    return arrays


def write_fixture(folder: Path) -> str:
    """Write the fixture NPZ into ``folder`` atomically; return its SHA-256 hex digest."""
    from ptycho.atomic_io import save_npz_atomic

    path = folder / FIXTURE_NAME
    save_npz_atomic(path, **fixture_arrays())
    return sha256_of(path)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded_sha(folder: Path = FIXTURE_DIR) -> str:
    """The digest recorded in ``<folder>/minimal_dataset_v1.sha256`` (sha256sum format)."""
    text = (folder / SHA_NAME).read_text().split()
    if len(text) != 2 or text[1] != FIXTURE_NAME or len(text[0]) != 64:
        raise ValueError(f"{folder / SHA_NAME}: expected '<64 hex digits>  {FIXTURE_NAME}', found {' '.join(text)!r}")
    return text[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temp folder and compare with the recorded SHA-256")
    args = parser.parse_args(argv)
    try:
        if args.check:
            expected = recorded_sha()
            with tempfile.TemporaryDirectory() as tmp:
                rebuilt = write_fixture(Path(tmp))
            committed = sha256_of(FIXTURE_DIR / FIXTURE_NAME) if (FIXTURE_DIR / FIXTURE_NAME).exists() else "missing"
            if rebuilt != expected or committed != expected:
                print(
                    f"fixture mismatch: recorded {expected}, rebuilt {rebuilt}, committed file {committed}",
                    file=sys.stderr,
                )
                return 1
            print(f"fixture OK: {FIXTURE_NAME} sha256 {expected} (rebuilt and committed match)")
            return 0
        digest = write_fixture(FIXTURE_DIR)
        from ptycho.atomic_io import save_text_atomic

        save_text_atomic(FIXTURE_DIR / SHA_NAME, f"{digest}  {FIXTURE_NAME}\n")
        print(f"wrote {FIXTURE_DIR / FIXTURE_NAME} sha256 {digest}")
        return 0
    except (OSError, ValueError) as exc:
        print(f"make_fixture: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
