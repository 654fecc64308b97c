"""Every workflow of the PtychoPINN monorepo is a nox session.

    nox -s tests        every package's default (non-slow) tests, each package in its own pytest run
    nox -s lint         ruff, mypy on ptycho-contracts, import-linter layering, shared-version check
    nox -s fixture      rebuild the 64-position test fixture and check its recorded SHA-256
    nox -s wheels       build the five wheels into dist/
    nox -s torch-only   fresh clone: build wheels, run the README's install line (no tensorflow), ptycho-torch tests
    nox -s slow         the tests marked slow
    nox -s ddp          two-process DDP training on CPU against one process (slow-marked, run in CI)
    nox -s parity       TF/Torch/numpy parity suite on CPU (live TensorFlow), writes tests-parity/report/
    nox -s parity-gpu   Torch on CUDA vs live TF or the golden vectors; fails when no CUDA device is visible
    nox -s docs         build the mkdocs site with --strict (runs the examples gallery), test the pages and quickstart
    nox -s demo         the main job: simulate -> train -> reconstruct -> evaluate (PyTorch backend)
    nox -s benchmark    realistic train-on-one-half benchmark with the pty-chi anchor (posargs -> the script)
    nox -s ptychodus    ptychodus 1.7.0 (no GUI) drives its PtychoPINN integrations end to end (tests-ptychodus/)

All sessions install with ``-c constraints.txt`` so torch resolves to the pinned CPU wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
# Dependency order matters for editable installs of local packages.
PACKAGES = ["ptycho-contracts", "ptycho-bridge", "ptycho-torch", "ptycho-tf", "ptycho-cli"]

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


#: Extras installed with each package in the test environments: the logger extras of ptycho-torch are
#: exercised for real (`--logger tensorboard|mlflow`), so they must be present rather than skipped.
TEST_EXTRAS = {"ptycho-torch": "test,tensorboard,mlflow"}


def _editable(session: nox.Session, packages: list[str], extra: str = "test") -> None:
    args: list[str] = []
    for name in packages:
        extras = TEST_EXTRAS.get(name, extra) if extra == "test" else extra
        args += ["-e", f"{ROOT / 'packages' / name}[{extras}]"]
    session.install(*CONSTRAINTS, *args)


def _has_tests(package: str) -> bool:
    return any((ROOT / "packages" / package / "tests").glob("test_*.py"))


def _pytest_env() -> dict[str, str]:
    return {
        "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
    }


@nox.session
def tests(session: nox.Session) -> None:
    """Default test run: each package's tests (not slow) in its own pytest process."""
    _editable(session, PACKAGES)
    ran = 0
    for name in PACKAGES:
        if not _has_tests(name):
            session.log(f"{name}: no tests yet")
            continue
        session.run(
            "pytest", f"packages/{name}/tests", "-m", "not slow and not gpu", "-q",
            *session.posargs, env=_pytest_env(),
        )
        ran += 1
    if not ran:
        session.error("no package has tests")
    # the pure helpers of the benchmarks (a few seconds; the benchmarks themselves are not tests)
    session.run("pytest", "benchmarks/tests", "-q", *session.posargs, env=_pytest_env())
    session.run("pytest", "scripts/tests", "-q", *session.posargs, env=_pytest_env())


@nox.session
def slow(session: nox.Session) -> None:
    """The slow-marked tests (fidelity guards, long training runs)."""
    _editable(session, PACKAGES)
    for name in PACKAGES:
        if _has_tests(name):
            session.run(
                "pytest", f"packages/{name}/tests", "-m", "slow", "-q", *session.posargs,
                env=_pytest_env(), success_codes=[0, 5],
            )


@nox.session
def ddp(session: nox.Session) -> None:
    """Lightning DDP on CPU: two gloo processes train, resume and match one process, and the matrix users run
    (`ptycho train`, ddp/ddp_spawn x progress/--quiet x epochs/--max-time, then --resume; specs/scaling.md §1)."""
    _editable(session, ["ptycho-contracts", "ptycho-bridge", "ptycho-torch", "ptycho-cli"])
    session.run("pytest", "packages/ptycho-torch/tests/test_torch_ddp.py", "-m", "slow", "-q", *session.posargs,
                env=_pytest_env())


@nox.session
def signals(session: nox.Session) -> None:
    """A signalled training run (SIGTERM, SIGINT, SLURM's requeue signal) stops at a safe point and its printed
    command resumes it to the same weights; the TensorFlow backend keeps its checkpoint (specs/reliability.md §8,
    §9). Slow: each case trains twice."""
    _editable(session, PACKAGES)
    session.run("pytest", "packages/ptycho-cli/tests/test_reliability_cli_train_signals.py", "-m", "slow", "-q",
                *session.posargs, env=_pytest_env())


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks: style, types of the contracts package, architecture layering, versions."""
    session.install("ruff==0.17.6", "mypy==2.4.1", "import-linter==2.17")
    session.install(*CONSTRAINTS, "-e", str(ROOT / "packages" / "ptycho-contracts"))
    session.install("--no-deps", *[a for n in PACKAGES[1:] for a in ("-e", str(ROOT / "packages" / n))])
    session.run("ruff", "check", "packages", "benchmarks", "scripts", "examples", "tests-parity", "tests-docs", "noxfile.py")
    session.run("mypy", "packages/ptycho-contracts/src/ptycho")
    session.run("lint-imports")
    session.run("python", "scripts/check_versions.py")
    session.run("python", "scripts/check_architecture.py")  # specs/architecture.md §4, §6


@nox.session
def fixture(session: nox.Session) -> None:
    """Rebuild the 64-position fixture deterministically and verify its recorded SHA-256."""
    session.install(*CONSTRAINTS, "-e", str(ROOT / "packages" / "ptycho-contracts"))
    session.run("python", "scripts/make_fixture.py", "--check", *session.posargs)


def _build_wheels(session: nox.Session, root: Path, outdir: Path) -> list[Path]:
    """Build the five package wheels of the checkout at ``root`` into ``outdir`` (old ptycho wheels removed)."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("ptycho_*.whl"):
        old.unlink()
    session.install("build")
    for name in PACKAGES:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(outdir), str(root / "packages" / name),
                    silent=True)
    return sorted(outdir.glob("ptycho_*.whl"))


def readme_install_line(readme: Path) -> str:
    """The README's one-line install of the PyTorch backend from ``dist/`` (the line under test)."""
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("pip install") and "--find-links dist" in line:
            return line.split("#", 1)[0].strip()
    raise ValueError(f"{readme}: expected a line starting 'pip install' with '--find-links dist', found none")


@nox.session
def wheels(session: nox.Session) -> None:
    """Build the five wheels into dist/ (install from them: the README's `pip install ... --find-links dist`)."""
    built = _build_wheels(session, ROOT, ROOT / "dist")
    session.log("built " + ", ".join(w.name for w in built))


@nox.session(name="torch-only")
def torch_only(session: nox.Session) -> None:
    """The README's install line, run in a fresh clone of the committed HEAD: build the wheels there
    (`nox -s wheels`' recipe), install the PyTorch backend alone exactly as the README says, prove tensorflow
    is absent and `ptycho` works, then run ptycho-torch's tests from the clone. Uncommitted changes are not
    in the clone: commit first."""
    import shlex
    import shutil

    clone = Path(session.create_tmp()).resolve() / "clone"
    shutil.rmtree(clone, ignore_errors=True)
    session.run("git", "clone", "--quiet", str(ROOT), str(clone), external=True)
    head = session.run("git", "-C", str(ROOT), "rev-parse", "HEAD", external=True, silent=True).strip()
    session.run("git", "-C", str(clone), "checkout", "--quiet", head, external=True)
    built = _build_wheels(session, clone, clone / "dist")
    line = readme_install_line(clone / "README.md")
    session.log(f"README install line: {line}")
    session.chdir(clone)
    session.run("python", "-m", *shlex.split(line))
    # the wheels keep version 0.1.0 while their contents change: replace what a reused environment holds
    session.install("--force-reinstall", "--no-deps", *(str(w) for w in built if "ptycho_tf" not in w.name))
    session.run(
        "python", "-c",
        "import importlib.util, sys; "
        "sys.exit('tensorflow is importable in the torch-only environment') "
        "if importlib.util.find_spec('tensorflow') else print('tensorflow absent: OK')",
    )
    session.run("ptycho", "--version")
    session.run("ptycho", "simulate", "-o", "smoke.npz", "--n-positions", "16", "--quiet")
    session.run("ptycho", "validate", "smoke.npz")
    session.install(*CONSTRAINTS, "pytest>=7", "hypothesis>=6.80")
    session.run("pytest", "packages/ptycho-torch/tests", "-m", "not slow and not gpu", "-q",
                *session.posargs, env=_pytest_env())


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the built-in default scan: simulate, train, reconstruct, evaluate, print metrics."""
    session.install(*CONSTRAINTS, *[a for n in ("ptycho-contracts", "ptycho-bridge", "ptycho-torch", "ptycho-cli")
                                    for a in ("-e", str(ROOT / "packages" / n))])
    session.run("ptycho", "demo", *session.posargs, env={"MPLBACKEND": "Agg"})


@nox.session
def ptychodus(session: nox.Session) -> None:
    """ptychodus 1.7.0 (no GUI) beside our packages drives its PtychoPINN integrations end to end.

    ptychodus, the beamline application, trains, reconstructs, saves, reopens and runs in batch mode through
    its own code on a small simulated scan (specs/ptychodus.md §6)."""
    _editable(session, PACKAGES)
    session.install(*CONSTRAINTS, "ptychodus==1.7.0")
    session.run("pytest", "tests-ptychodus", "-q", *session.posargs, env=_pytest_env())


@nox.session
def benchmark(session: nox.Session) -> None:
    """benchmarks/reconstruction_quality.py with the optional pty-chi anchor.

    pty-chi is installed without its dependencies (its torchvision requirement would pull a CUDA wheel
    that fails beside the pinned CPU torch); its other dependencies come from benchmarks/requirements.txt.
    """
    _editable(session, PACKAGES)
    session.install(*CONSTRAINTS, "-r", str(ROOT / "benchmarks" / "requirements.txt"))
    session.install(*CONSTRAINTS, "--no-deps", "ptychi==2.2.0")
    session.run("python", "benchmarks/reconstruction_quality.py", *session.posargs, env={"MPLBACKEND": "Agg"})


DOCS_REQUIREMENTS = (
    "mkdocs>=1.6,<2",
    "mkdocs-material>=9.5",
    "mkdocstrings[python]>=0.26",
    "pymdown-extensions>=10.8",
    "playwright>=1.45",
    "pytest>=7",
    "hypothesis>=6.80",  # the workspace conftest.py registers hypothesis profiles
)


def _ensure_chromium(session: nox.Session) -> None:
    """Debian's Chromium drives the rendered-site test; install it when missing (needs root)."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0:
        session.error("the docs test needs /usr/bin/chromium: run `apt-get install chromium` as root")
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "chromium", external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the mkdocs-material site with --strict (the hook runs the examples gallery: both backends, so
    ptycho-tf is installed too), then check the sources and the built pages, open them in headless Chromium
    and run the quickstart's commands as written (tests-docs/)."""
    session.install(*DOCS_REQUIREMENTS)
    session.install(*CONSTRAINTS, *[a for n in PACKAGES for a in ("-e", str(ROOT / "packages" / n))])
    session.run("mkdocs", "build", "--strict", "--clean", env={"MPLBACKEND": "Agg", **_pytest_env()})
    _ensure_chromium(session)
    session.run("pytest", "tests-docs", "-q", *session.posargs, env=_pytest_env())


@nox.session
def parity(session: nox.Session) -> None:
    """Cross-backend parity on CPU against live TensorFlow (slow properties included)."""
    _editable(session, PACKAGES)
    env = {**_pytest_env(), "CUDA_VISIBLE_DEVICES": ""}
    session.run("pytest", "tests-parity", "-q", "--device", "cpu", "--tf", "require", *session.posargs, env=env)
    session.run("pytest", "packages/ptycho-bridge/tests/test_bridge_mapping.py", "-q", env=_pytest_env())


@nox.session(name="parity-gpu")
def parity_gpu(session: nox.Session) -> None:
    """Torch on CUDA (TF32 off) against live TensorFlow when importable, else the stored golden vectors."""
    _editable(session, PACKAGES)
    env = {**_pytest_env(), "CUDA_VISIBLE_DEVICES": "0", "NVIDIA_TF32_OVERRIDE": "0"}
    session.run("pytest", "tests-parity", "-q", "--device", "cuda", "--tf", "auto", *session.posargs, env=env)
    # the packages' own CUDA tests (marked gpu; deselected by the default run)
    session.run("pytest", "packages/ptycho-torch/tests", "-q", "-m", "gpu", env=env)
