"""Unit checks of the CLI helpers against closed forms (specs/cli.md §3, §5, §6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho_cli.errors import UserError, one_line, report_exception


def test_report_exception_classifies() -> None:
    import io

    buf = io.StringIO()
    assert report_exception(ValueError("bad\nvalue"), "ptycho x", False, buf) == 2
    assert buf.getvalue() == "ptycho x: error: bad value\n"
    buf = io.StringIO()
    assert report_exception(RuntimeError("boom"), "ptycho x", False, buf) == 1
    assert buf.getvalue().count("\n") == 1 and "internal error: RuntimeError: boom" in buf.getvalue()
    assert one_line("a \n\t b") == "a b"


def test_choose_backend_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from ptycho_bridge import backend_selector
    from ptycho_cli import backends

    monkeypatch.setattr(backend_selector, "available_backends", lambda: ("pytorch",))
    assert backends.choose_backend(None) == ("pytorch", "the only installed backend")
    with pytest.raises(UserError, match="not installed"):
        backends.choose_backend("tensorflow")
    monkeypatch.setattr(backend_selector, "available_backends", lambda: ("tensorflow", "pytorch"))
    assert backends.choose_backend(None)[0] == "tensorflow"  # canonical default (specs/config.md §3)
    assert backends.choose_backend(None, default="pytorch")[0] == "pytorch"
    assert backends.choose_backend("torch") == ("pytorch", "--backend")
    with pytest.raises(UserError, match="expected one of"):
        backends.choose_backend("jax")
    monkeypatch.setattr(backend_selector, "available_backends", lambda: ())
    with pytest.raises(UserError, match="no backend installed"):
        backends.choose_backend(None)


def test_torch_route_gets_configs_for_train_and_infer() -> None:
    """specs/cli.md §4: the PyTorch route of train gets configs (flags > recipe > defaults, ``--quiet`` = no
    progress bar, the torch command line's own flags parsed here); so does infer (the flags over the bundle's
    stored config); no argv."""
    from pathlib import Path

    from ptycho.config.config import InferenceConfig, ModelConfig, TrainingConfig
    from ptycho_bridge.execution import PyTorchExecutionConfig
    from ptycho_cli.delegate import inference_configs, training_configs
    from ptycho_cli.main import build_parser

    args, extra = build_parser().parse_known_args(
        ["train", "--train-data-file", "a.npz", "--output_dir", "o", "--epochs", "3", "--seed", "7", "--quiet",
         "--accelerator", "cpu", "--logger", "none", "--early-stop-patience", "4"])
    assert extra == []
    cfg, ex = training_configs(args, 64, "pytorch")
    assert (cfg.nepochs, cfg.subsample_seed, cfg.model.n_filters_scale, cfg.model.input_refine_passes,
            cfg.model.input_projections, cfg.teacher) == (3, 7, 1, 5, 0, "refine")
    assert (cfg.backend, str(cfg.train_data_file), str(cfg.output_dir), cfg.model.N) == ("pytorch", "a.npz", "o", 64)
    assert (ex.accelerator, ex.logger_backend, ex.early_stop_patience, ex.enable_progress_bar) == ("cpu", "none", 4,
                                                                                                 False)
    args, extra = build_parser().parse_known_args(
        ["infer", "--model_path", "m", "--test_data", "t.npz", "--output_dir", "o", "--n_groups", "5",
         "--accelerator", "cpu", "--quiet"])
    assert extra == []
    stored = TrainingConfig(model=ModelConfig(N=64, gridsize=2), batch_size=8, neighbor_count=6, subsample_seed=3)
    cfg, ex = inference_configs(args, stored, "pytorch")
    assert cfg == InferenceConfig(model=stored.model, model_path=Path("m"), test_data_file=Path("t.npz"),
                                  output_dir=Path("o"), n_groups=5, neighbor_count=6, subsample_seed=3,
                                  backend="pytorch")
    assert ex == PyTorchExecutionConfig(accelerator="cpu", inference_batch_size=8, enable_progress_bar=False)


def test_max_time_flag_reaches_both_backends_configs(tmp_path) -> None:
    """specs/cli.md §4: ``ptycho train --max-time DD:HH:MM:SS`` sets TrainingConfig.max_time for the PyTorch route
    (through the torch command's destination) and the TensorFlow entry; a malformed budget is exit 2, one line."""
    import subprocess
    import sys

    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser
    from ptycho_cli.tf_entry import build_training_config

    args, _ = build_parser().parse_known_args(
        ["train", "--train-data-file", "a.npz", "--output_dir", "o", "--max-time", "00:00:14:00"])
    assert training_configs(args, 64, "pytorch")[0].max_time == "00:00:14:00"
    assert build_training_config(args, 64).max_time == "00:00:14:00"
    proc = subprocess.run([sys.executable, "-m", "ptycho_cli", "train", "--train-data-file", "a.npz", "--output_dir",
                           str(tmp_path / "o"), "--max-time", "14 minutes"], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "argument --max-time: expected a positive wall-clock budget DD:HH:MM:SS" in lines[-1]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_train_recipe_fills_unset_fields_only(tmp_path) -> None:
    """specs/cli.md §4.1: ``ptycho train`` uses n_filters_scale 1 unless the flag or the --config file sets it;
    both backends' configs receive it. input_refine_passes 5 and teacher 'refine' go to the PyTorch route with the CNN
    only; explicit --input-projections replaces the recipe's refined estimate."""
    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser
    from ptycho_cli.recipe import TRAIN_RECIPE
    from ptycho_cli.tf_entry import build_training_config

    def torch_config(*argv: str):
        args, extra = build_parser().parse_known_args([*base, *argv])
        assert extra == []
        return training_configs(args, 64, "pytorch")[0]

    def torch_model(*argv: str):
        return torch_config(*argv).model

    assert TRAIN_RECIPE == {"n_filters_scale": 1, "input_refine_passes": 5, "teacher": "refine"}
    base = ["train", "--train-data-file", "a.npz", "--output_dir", "o"]
    args, extra = build_parser().parse_known_args(base)
    assert (torch_model().n_filters_scale, torch_model().input_refine_passes, torch_model().input_projections) == (
        1, 5, 0)
    assert (torch_model().gridsize, torch_model().object_big) == (1, False)
    assert (torch_model("--gridsize", "2").gridsize, torch_model("--gridsize", "2").object_big) == (2, True)
    assert (torch_model("--input-projections", "20").input_projections,
            torch_model("--input-projections", "20").input_refine_passes) == (20, 0)
    (tmp_path / "p.yaml").write_text("model:\n  input_projections: 8\n")
    assert torch_model("--config", str(tmp_path / "p.yaml")).input_refine_passes == 0  # the file's choice wins too
    assert build_training_config(args, 64).model.input_refine_passes == 0  # the TF generator reads the amplitude
    assert torch_model("--architecture", "fno").input_refine_passes == 0
    assert torch_config().teacher == "refine"
    assert build_training_config(args, 64).teacher == "none"  # the teacher exists only in ptycho_torch
    assert torch_config("--teacher", "none").teacher == "none"
    assert build_training_config(args, 64).model.n_filters_scale == 1
    assert build_training_config(args, 64).model.input_projections == 0  # the TF generator reads the amplitude
    assert torch_model("--architecture", "fno").input_projections == 0
    assert torch_config("--architecture", "fno").teacher == "none"
    assert torch_model("--input-projections", "0").input_projections == 0
    assert torch_model("--n_filters_scale", "2").n_filters_scale == 2
    args, extra = build_parser().parse_known_args(base + ["--n_filters_scale", "2"])
    assert build_training_config(args, 64).model.n_filters_scale == 2
    (tmp_path / "c.yaml").write_text("model:\n  n_filters_scale: 3\n  architecture: fno\n")
    from_file = torch_model("--config", str(tmp_path / "c.yaml"))
    assert (from_file.n_filters_scale, from_file.architecture, from_file.input_projections) == (3, "fno", 0)
    (tmp_path / "d.yaml").write_text("batch_size: 4\n")
    assert torch_model("--config", str(tmp_path / "d.yaml")).n_filters_scale == 1  # the file leaves it: the recipe


def test_a_time_budget_alone_trains_until_the_budget() -> None:
    """specs/cli.md §4.1: with --max-time and no --max-epochs, ptycho train trains until the budget (canonical
    nepochs None, no placeholder epoch count) in both backends; an explicit --max-epochs still wins; without a
    budget the canonical 50 stands."""
    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser
    from ptycho_cli.tf_entry import build_training_config

    base = ["train", "--train-data-file", "a.npz", "--output-dir", "o"]
    args, extra = build_parser().parse_known_args(base + ["--max-time", "00:00:10:00"])
    assert training_configs(args, 64, "pytorch")[0].nepochs is None
    config = build_training_config(args, 64)
    assert config.nepochs is None and config.max_time_s == 600.0
    args, extra = build_parser().parse_known_args(base + ["--max-time", "00:00:10:00", "--epochs", "7"])
    assert training_configs(args, 64, "pytorch")[0].nepochs == 7
    assert build_training_config(args, 64).nepochs == 7
    args, extra = build_parser().parse_known_args(base)
    assert training_configs(args, 64, "pytorch")[0].nepochs == 50
    assert build_training_config(args, 64).nepochs == 50


def test_multiprocess_flags_reach_the_torch_route_and_are_refused_by_tensorflow(tmp_path) -> None:
    """specs/cli.md §4, specs/scaling.md §1: ``--strategy/--devices/--num-nodes`` go to the torch command's
    destinations; with the TensorFlow backend they are exit 2, one line, before anything is written."""
    import subprocess
    import sys
    from pathlib import Path

    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser

    args, extra = build_parser().parse_known_args(
        ["train", "--train-data-file", "a.npz", "--output_dir", "o", "--strategy", "ddp", "--devices", "4",
         "--num-nodes", "2"])
    ex = training_configs(args, 64, "pytorch")[1]
    assert (ex.strategy, ex.devices, ex.num_nodes) == ("ddp", 4, 2) and extra == []
    fixture = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
    proc = subprocess.run([sys.executable, "-m", "ptycho_cli", "train", "--backend", "tensorflow", "--train-data-file",
                           str(fixture), "--output_dir", str(tmp_path / "o"), "--strategy", "ddp", "--devices", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "--strategy, --devices: multi-process training needs --backend pytorch, found tensorflow")
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_validate_accepts_an_hdf5_scan_and_names_its_damage(tmp_path) -> None:
    """specs/scaling.md §2: ``ptycho validate`` reads HDF5 scans through the one scan reader."""
    from pathlib import Path

    from ptycho.data_contract import read_npz, validate_arrays
    from ptycho.scan_hdf5 import write_scan_hdf5
    from ptycho_cli.main import main

    fixture = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
    arrays = validate_arrays(read_npz(fixture), source=str(fixture))
    good, bad = tmp_path / "good.h5", tmp_path / "bad.h5"
    write_scan_hdf5(good, arrays)
    arrays["diffraction"][5, 0, 0] = -2.0
    write_scan_hdf5(bad, arrays)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["validate", str(good), str(bad)])
    lines = out.getvalue().strip().splitlines()
    assert rc == 2
    assert lines[0].startswith(f"{good}: OK (64 positions, N=64")
    assert lines[1] == (f"{bad}: key 'diffraction': expected non-negative amplitudes sqrt(counts), "
                        "found minimum -2 in pattern 5")


def test_demo_trains_on_a_budget_unless_told_an_epoch_count() -> None:
    """specs/cli.md §7: the default demo trains until DEMO_TRAINING_BUDGET (nepochs None); --epochs alone trains
    that many epochs with no budget; --max-time alone replaces the budget; both: whichever comes first."""
    from ptycho_cli.demo import DEMO_TRAINING_BUDGET, _training_config, demo_preset
    from ptycho_cli.main import build_parser

    def preset(*flags: str):
        return demo_preset(build_parser().parse_args(["demo", *flags]))

    default = preset()
    assert (default.epochs, default.max_time) == (None, DEMO_TRAINING_BUDGET)
    config = _training_config(default, Path("o"), 1, "pytorch", 512)
    assert config.nepochs is None and config.max_time_s == 120.0
    assert (preset("--epochs", "3").epochs, preset("--epochs", "3").max_time) == (3, None)
    assert (preset("--max-time", "00:00:00:30").epochs, preset("--max_time", "00:00:00:30").max_time) == (
        None, "00:00:00:30")
    both = preset("--epochs", "3", "--max-time", "00:00:00:30")
    assert (both.epochs, both.max_time) == (3, "00:00:00:30")
    assert (preset("--fast").epochs, preset("--fast").max_time) == (1, None)
    assert default.training_text() == "train for 2 min 00 s (a wall-clock budget)"


def test_evaluate_scores_the_scanned_region_only(tmp_path: Path) -> None:
    """specs/cli.md §5, specs/metrics.md §5: a canvas exact inside the scanned region and holding unconstrained
    values (the flat start, 1 + 0j) in the corners of a round scan's bounding box scores as exact when the
    ground-truth file carries the scan positions (SSIM 1, FRC at the last ring, PSNR at its cap); SSIM, PSNR and
    FRC then agree. A bare object file (no positions) keeps the old rectangle, corners included, and scores
    lower on every measure."""
    from ptycho_cli.evaluation import evaluate_files

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:160, 0:160]
    truth = (0.6 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 5.0) + 0.05 * rng.standard_normal((160, 160))) * np.exp(
        1j * 0.5 * np.sin(xx / 4.0 + yy / 7.0))
    t = np.linspace(0, 40 * np.pi, 300)
    r = np.sqrt(np.linspace(0.0, 1.0, 300)) * 40
    positions = np.stack([80 + r * np.cos(t), 80 + r * np.sin(t)], axis=1)
    origin = np.array([30.0, 30.0])
    canvas = np.ones((100, 100), complex)  # pixels the scan never constrained keep the flat start
    from ptycho.metrics import scanned_mask

    inside = scanned_mask(positions, canvas.shape, origin)
    canvas[inside] = truth[30:130, 30:130][inside]
    recon = tmp_path / "recon.npz"
    np.savez(recon, object=canvas, origin_xy=origin)
    scan, bare = tmp_path / "scan.npz", tmp_path / "object.npz"
    np.savez(scan, objectGuess=truth, xcoords=positions[:, 0], ycoords=positions[:, 1])
    np.savez(bare, objectGuess=truth)
    good = evaluate_files(recon, scan, tmp_path / "good", register=False)
    old = evaluate_files(recon, bare, tmp_path / "old", register=False)
    assert good["placement"]["scanned_region"] and not old["placement"]["scanned_region"]
    for part in ("amplitude", "phase"):
        assert good[part]["ssim"] > 0.999 and good[part]["psnr"] >= 60
        assert good[part]["frc50"] >= len(good["frc_curve"][part]) - 2
        assert old[part]["ssim"] < good[part]["ssim"] and old[part]["psnr"] < 40


def test_every_usage_line_is_kebab_case_and_the_guides_spellings_still_parse() -> None:
    """specs/cli.md §1: usage and help show only kebab-case flags; every hidden spelling (the seed guide's
    snake_case, refine's former short names) parses to the same destination as the shown one."""
    import re

    from ptycho_bridge.flag_style import hidden_spellings
    from ptycho_cli.main import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction)).choices
    for name, sub in subs.items():
        text = sub.format_help()
        assert not re.findall(r"--[a-z0-9]+_[a-z0-9_]+", text), (name, re.findall(r"--[a-z0-9]+_[a-z0-9_]+", text))
        for hidden, shown in hidden_spellings(sub).items():
            assert sub._option_string_actions[hidden] is sub._option_string_actions[shown]
    train = subs["train"].parse_known_args(["--train_data_file", "a.npz", "--output_dir", "o", "--n_filters_scale",
                                            "2", "--max_epochs", "3", "--n_images", "8"])[0]
    kebab = subs["train"].parse_known_args(["--train-data-file", "a.npz", "--output-dir", "o", "--n-filters-scale",
                                            "2", "--max-epochs", "3", "--n-images", "8"])[0]
    assert vars(train) == vars(kebab)
    from ptycho_bridge.options import parser_problems

    common = {"backend", "debug", "quiet"}  # the ptycho command's own flags (specs/cli.md §1)
    refine = {a.dest for a in subs["infer"]._actions if a.dest.startswith("refine_")}  # specs/cli.md §6
    assert parser_problems(subs["train"], "train", common) == []
    assert parser_problems(subs["infer"], "infer", common | refine | {"probe_modes"}) == []
    assert vars(subs["infer"].parse_args(["--model_path", "m", "--test_data", "t.npz", "--output_dir", "o"])) == vars(
        subs["infer"].parse_args(["--model-path", "m", "--test-data", "t.npz", "--output-dir", "o"]))
    old = subs["refine"].parse_args(["--test-data", "t.npz", "--output-dir", "o", "--iterations", "3",
                                     "--likelihood", "gaussian", "--seed", "4", "--batch-size", "8"])
    new = subs["refine"].parse_args(["--test-data", "t.npz", "--output-dir", "o", "--refine-iterations", "3",
                                     "--refine-likelihood", "gaussian", "--refine-seed", "4", "--refine-batch-size", "8"])
    assert vars(old) == vars(new) and new.iterations == 3 and new.refine_likelihood == "gaussian"
    assert "--refine-iterations K" in subs["refine"].format_usage() and "--iterations" not in subs["refine"].format_help()


def test_simulate_defaults_are_the_demos_scan() -> None:
    """specs/cli.md §2, §7: ptycho simulate without flags writes the scan the demo trains on."""
    from ptycho_cli.demo import DEFAULT_PRESET
    from ptycho_cli.main import build_parser

    args = build_parser().parse_args(["simulate", "-o", "scan.npz"])
    for flag_dest, preset_field in (("object_kind", "object_kind"), ("N", "N"), ("n_positions", "n_positions"),
                                    ("scan", "scan"), ("probe_kind", "probe_kind"), ("jitter", "jitter"),
                                    ("interpolation", "interpolation"), ("oversample", "oversample"),
                                    ("nphotons", "nphotons")):
        assert getattr(args, flag_dest) == getattr(DEFAULT_PRESET, preset_field), flag_dest
    assert (args.scan, args.probe_kind, args.jitter, args.interpolation) == ("fermat", "zoneplate", 1.0, "finegrid")


def test_evaluate_figure_titles_say_what_they_show(tmp_path: Path) -> None:
    """issue 27: the comparison figure of the network's object says 'network alone', the refined one says so."""
    from ptycho_cli.evaluation import figure_title

    (tmp_path / "network_object.npz").write_bytes(b"")
    assert figure_title(tmp_path / "network_object.npz").startswith("The network alone (")
    assert figure_title(tmp_path / "reconstructed_object.npz").startswith("The network + refinement, the final answer")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert figure_title(plain / "reconstructed_object.npz") == "plain/reconstructed_object.npz vs ground truth"


def test_recipe_teacher_only_for_scans_that_fit_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """specs/cli.md §4.1: the recipe's teacher refines the training scan in memory, so an HDF5 scan whose
    diffraction exceeds the teacher's memory limit trains without it; an NPZ scan, an unknown file and an HDF5 scan
    under the limit keep it."""
    import h5py

    from ptycho.config import teacher_options
    from ptycho_cli import recipe

    scan = tmp_path / "scan.h5"
    with h5py.File(scan, "w") as fh:
        fh["diffraction"] = np.ones((10, 8, 8), np.float32)  # 2560 bytes as float32
        fh["xcoords"] = np.arange(10.0)
        fh["ycoords"] = np.arange(10.0)
        fh["probeGuess"] = np.ones((8, 8), np.complex64)
    monkeypatch.setattr(teacher_options, "teacher_memory_limit", lambda: 2560)
    assert recipe.teacher_fits(scan)
    assert recipe.recipe_for("pytorch", None, scan)["teacher"] == "refine"
    assert recipe.recipe_for("pytorch", None, scan)["input_refine_passes"] > 0
    monkeypatch.setattr(teacher_options, "teacher_memory_limit", lambda: 2559)
    assert not recipe.teacher_fits(scan)
    big = recipe.recipe_for("pytorch", None, scan)
    # neither the teacher nor the refined estimate (both refine the scan whole): the projected input instead
    assert (big["teacher"], big["input_refine_passes"], big["input_projections"]) == ("none", 0, 20)
    assert recipe.recipe_for("pytorch", None, tmp_path / "missing.npz")["teacher"] == "refine"
    assert recipe.recipe_for("pytorch", None, None)["teacher"] == "refine"
    assert "teacher" not in recipe.recipe_for("tensorflow", None, scan)


@pytest.mark.parametrize(("flags", "big"), [([], None), (["--gridsize", "1"], False), (["--gridsize", "2"], True)])
def test_every_training_route_applies_the_object_big_rule(flags, big) -> None:
    """specs/cli.md §4.3: ``object_big = gridsize > 1`` when no source sets it, the same in ``ptycho train`` with
    either backend and ``python -m ptycho_torch.train`` (one place: ``ptycho_bridge.flag_configs.object_big_rule``;
    the demo: test_cli_demo_config.py)."""
    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser
    from ptycho_cli.tf_entry import build_training_config
    from ptycho_torch import train
    from ptycho_torch.cli.shared import training_configs as torch_configs
    from ptycho_torch.cli.shared import training_flag_values

    argv = ["--train-data-file", "a.npz", "--output-dir", "o", *flags]
    args, _ = build_parser().parse_known_args(["train", *argv])
    models = [training_configs(args, 64, "pytorch")[0].model, build_training_config(args, 64).model,
              torch_configs(training_flag_values(train.parse_explicit(argv)), N=64)[0].model]
    assert [m.object_big for m in models] == [m.gridsize > 1 for m in models]
    if big is None:  # no --gridsize: every route trains single patterns (the recipe's estimate is the refined scan)
        assert [m.gridsize for m in models] == [1, 1, 1]
    else:
        assert [m.object_big for m in models] == [big, big, big]


@pytest.mark.parametrize(("flags", "count"), [(["--gridsize", "3"], 9), (["--gridsize", "3", "--neighbor-count", "12"], 12),
                                             (["--gridsize", "2"], 4), (["--gridsize", "2", "--neighbor-count", "7"], 7)])
def test_an_unset_neighbour_count_follows_the_gridsize(flags, count) -> None:
    """specs/cli.md §4.3: ``--gridsize 3`` alone groups 9 neighbours in ``ptycho train`` (both backends) and
    ``python -m ptycho_torch.train``; a count that is given is kept."""
    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser
    from ptycho_cli.tf_entry import build_training_config
    from ptycho_torch import train
    from ptycho_torch.cli.shared import training_configs as torch_configs
    from ptycho_torch.cli.shared import training_flag_values

    argv = ["--train-data-file", "a.npz", "--output-dir", "o", *flags]
    args, _ = build_parser().parse_known_args(["train", *argv])
    configs = [training_configs(args, 64, "pytorch")[0], build_training_config(args, 64),
               torch_configs(training_flag_values(train.parse_explicit(argv)), N=64)[0]]
    assert [c.neighbor_count for c in configs] == [count] * 3


def test_a_neighbour_count_below_the_group_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli_scans import write_siemens_scan

    from ptycho_cli.main import main

    scan = write_siemens_scan(tmp_path / "a.npz", 24)
    code = main(["train", "--train-data-file", str(scan), "--output-dir", str(tmp_path / "o"),
                 "--gridsize", "3", "--neighbor-count", "5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "neighbor_count" in err and ">= gridsize**2 = 9" in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_evaluate_reports_a_placement_error_as_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``ptycho.metrics.placement`` raises ValueError; ``ptycho evaluate`` prints it as one line, exit 2, no output."""
    from ptycho_cli.main import main

    recon, truth = tmp_path / "recon.npz", tmp_path / "truth.npz"
    np.savez(recon, reconstruction=np.zeros((16, 16), np.complex64))
    np.savez(truth, objectGuess=np.ones((32, 32), np.complex64))
    assert main(["evaluate", "-r", str(recon), "-g", str(truth), "--output-dir", str(tmp_path / "out"), "--quiet"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == ["ptycho evaluate: error: reconstruction: expected a covered (non-zero) region, found an all-zero image"]
    assert not (tmp_path / "out").exists()
