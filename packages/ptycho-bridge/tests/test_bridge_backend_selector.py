"""Backend selection: routing, update_legacy_dict first, import isolation, install errors
(specs/backend-selection.md). Routing tests run in subprocesses with fake backend modules injected via
sys.modules, so they test the selector, not the (separately tested) backends."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

from ptycho import params
from ptycho.config.config import TrainingConfig
from ptycho_bridge import backend_selector
from ptycho_bridge.execution import PyTorchExecutionConfig

PRELUDE = textwrap.dedent(
    """
    import importlib.machinery, json, sys, types

    CALLS = []

    def fake(name, **attrs):
        mod = types.ModuleType(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        mod.__dict__.update(attrs)
        sys.modules[name] = mod
        return mod

    def recorder(label, result):
        def fn(*args, **kwargs):
            from ptycho import params
            CALLS.append({"fn": label, "nargs": len(args), "kwargs": sorted(kwargs),
                          "N_at_call": params.cfg["N"],
                          "execution": repr(kwargs.get("execution"))})
            return result() if callable(result) else result
        return fn

    class FakeBackend:  # satisfies ptycho_bridge.backend_api.Backend; the two calls of the selector record
        command_line = None

        def __init__(self, name, result, model):
            self.name = name
            self.run_cdi_example = recorder(f"{name}.run_cdi_example", result)
            self.load_inference_bundle = recorder(f"{name}.load_inference_bundle", model)

        def unsupported(self, config): return None
        def train(self, *a, **k): raise AssertionError("the selector calls run_cdi_example")
        def save_bundle(self, *a, **k): raise AssertionError("not used by the selector")
        def load_bundle(self, *a, **k): raise AssertionError("the selector calls load_inference_bundle")
        def reconstruct(self, *a, **k): raise AssertionError("not used by the selector")

    def fake_tf():
        fake("tensorflow"); fake("ptycho_tf")
        fake("ptycho_tf.backend",
             BACKEND=FakeBackend("tensorflow", lambda: ("amp", "phase", {"history": 1}), ("tf-model", {"N": 1})))

    def fake_torch():
        fake("torch"); fake("lightning"); fake("ptycho_torch")
        fake("ptycho_torch.backend",
             BACKEND=FakeBackend("pytorch", lambda: ("amp", "phase", {"history": 2}), ("torch-model", {"N": 2})))

    import ptycho_bridge.backend_selector as sel
    from ptycho import params
    from ptycho.config.config import InferenceConfig, ModelConfig, TrainingConfig

    LEGACY = []
    _real_update = sel.update_legacy_dict
    def counting_update(cfg, config):
        LEGACY.append(cfg is params.cfg)
        _real_update(cfg, config)
    sel.update_legacy_dict = counting_update

    def report(**extra):
        out = {"calls": CALLS, "legacy": LEGACY,
               "loaded": [m for m in ("torch", "tensorflow", "keras", "lightning") if m in sys.modules
                          and getattr(sys.modules[m], "__file__", None) is not None]}
        out.update(extra)
        print("REPORT" + json.dumps(out))
    """
)


def run_snippet(body: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT"):])


def test_tensorflow_route_with_fake_backend():
    """§2: update_legacy_dict first, routed to the TensorFlow Backend's run_cdi_example, no torch."""
    out = run_snippet("""
        fake_tf()
        cfg = TrainingConfig(model=ModelConfig(N=128), backend="tensorflow")
        amp, phase, results = sel.run_cdi_example_with_backend("train", "test", cfg, flip_x=True, M=10,
                                                               do_stitching=True)
        report(amp=amp, results=results, torch_seen="torch" in sys.modules)
    """)
    assert out["legacy"] == [True]
    assert out["calls"] == [{"fn": "tensorflow.run_cdi_example", "nargs": 3, "N_at_call": 128, "execution": "None",
                             "kwargs": ["M", "do_stitching", "execution", "flip_x", "flip_y", "transpose"]}]
    assert out["results"] == {"history": 1, "backend": "tensorflow"} and out["amp"] == "amp"
    assert out["torch_seen"] is False


def test_pytorch_route_with_fake_backend():
    """§2: routed to the PyTorch Backend's run_cdi_example (which builds the execution config agreeing with the
    config, tested in ptycho-torch); no tensorflow."""
    out = run_snippet("""
        fake_torch()
        cfg = TrainingConfig(model=ModelConfig(N=256), backend="pytorch", learning_rate=2e-3)
        amp, phase, results = sel.run_cdi_example_with_backend("train", None, cfg)
        report(results=results, tf_seen="tensorflow" in sys.modules)
    """)
    assert out["legacy"] == [True]
    (call,) = out["calls"]
    assert call["fn"] == "pytorch.run_cdi_example" and call["N_at_call"] == 256 and call["nargs"] == 3
    assert call["kwargs"] == ["M", "do_stitching", "execution", "flip_x", "flip_y", "transpose"]
    assert call["execution"] == "None"
    assert out["results"] == {"history": 2, "backend": "pytorch"}
    assert out["tf_seen"] is False


@pytest.mark.parametrize(("backend", "fn", "other"), [("tensorflow", "tensorflow.load_inference_bundle", "torch"),
                                                      ("pytorch", "pytorch.load_inference_bundle", "tensorflow")])
def test_load_inference_bundle_routes(backend, fn, other):
    out = run_snippet(f"""
        fake_tf() if "{backend}" == "tensorflow" else fake_torch()
        cfg = InferenceConfig(model=ModelConfig(N=128), model_path="m", test_data_file="t", backend="{backend}")
        value = sel.load_inference_bundle_with_backend("runs/x", cfg)
        report(value=value, other_seen="{other}" in sys.modules)
    """)
    assert out["legacy"] == [True]
    assert [(c["fn"], c["N_at_call"], c["nargs"]) for c in out["calls"]] == [(fn, 128, 1)]
    assert out["value"][0] == ("tf-model" if backend == "tensorflow" else "torch-model")
    assert out["other_seen"] is False


def test_missing_torch_raises_the_install_message_and_never_falls_back():
    out = run_snippet("""
        fake_tf()
        sys.modules["torch"] = None
        cfg = TrainingConfig(backend="pytorch", nphotons=1e6)
        try:
            sel.run_cdi_example_with_backend("train", "test", cfg)
        except RuntimeError as exc:
            report(error=str(exc), kind="RuntimeError", n_calls=len(CALLS))
        else:
            report(error=None)
    """)
    assert out["error"].startswith("PyTorch backend selected but torch module unavailable. "
                                   "Install PyTorch: pip install torch>=2.2")
    assert "missing: torch" in out["error"]
    assert out["n_calls"] == 0 and out["legacy"] == [True]


def test_missing_tensorflow_raises_the_install_message():
    out = run_snippet("""
        fake_torch()
        sys.modules["tensorflow"] = None
        cfg = InferenceConfig(model=ModelConfig(), model_path="m", test_data_file="t")
        try:
            sel.load_inference_bundle_with_backend("m", cfg)
        except RuntimeError as exc:
            report(error=str(exc), n_calls=len(CALLS))
    """)
    assert "TensorFlow backend selected but tensorflow module unavailable" in out["error"]
    assert "pip install ptycho-tf" in out["error"] and out["n_calls"] == 0


def test_import_failure_inside_the_backend_becomes_runtime_error():
    out = run_snippet("""
        fake_tf()
        del sys.modules["ptycho_tf.backend"]
        sys.modules["ptycho_tf"].__path__ = []  # a package, so the child import reaches Boom
        class Boom:
            def find_spec(self, name, path=None, target=None):
                if name == "ptycho_tf.backend":
                    raise ImportError("broken install")
                return None
        sys.meta_path.insert(0, Boom())
        try:
            sel.run_cdi_example_with_backend("a", "b", TrainingConfig())
        except RuntimeError as exc:
            report(error=str(exc), cause=type(exc.__cause__).__name__)
    """)
    assert "importing ptycho_tf.backend:BACKEND failed: broken install" in out["error"]
    assert out["cause"] == "ImportError"


@dataclass
class _ForeignConfig:
    N: int = 64
    backend: str = "jax"


def test_invalid_backend_is_a_value_error_after_the_legacy_update(monkeypatch):
    seen = []
    monkeypatch.setattr(backend_selector, "update_legacy_dict", lambda cfg, c: seen.append((cfg, c)))
    cfg = _ForeignConfig()
    with pytest.raises(ValueError, match=r"^Invalid backend: config\.backend: expected one of 'tensorflow', "
                                         r"'pytorch', got 'jax'"):
        backend_selector.run_cdi_example_with_backend("a", "b", cfg)
    with pytest.raises(ValueError, match="Invalid backend"):
        backend_selector.load_inference_bundle_with_backend("p", cfg)
    assert len(seen) == 2 and seen[0][0] is params.cfg and seen[0][1] is cfg


def test_execution_config_errors_are_raised_before_any_import(monkeypatch):
    """§2: an execution config disagreeing with the config is refused before a backend is loaded (the TensorFlow
    backend's refusal of any execution config: test_tf_backend_object.py)."""
    monkeypatch.setattr(backend_selector, "update_legacy_dict", lambda cfg, c: None)
    monkeypatch.setattr(backend_selector, "load_backend", lambda b: pytest.fail("loaded a backend"))
    with pytest.raises(ValueError, match=r"^PyTorchExecutionConfig\.learning_rate: expected 0\.01"):
        backend_selector.run_cdi_example_with_backend(
            "a", "b", TrainingConfig(backend="pytorch", learning_rate=0.01),
            torch_execution_config=PyTorchExecutionConfig())


@pytest.mark.parametrize(
    ("blocked", "available", "resolved"),
    [([], ["tensorflow", "pytorch"], "tensorflow"), (["torch"], ["tensorflow"], "tensorflow"),
     (["tensorflow"], ["pytorch"], "pytorch"), (["lightning"], ["tensorflow"], "tensorflow"),
     (["torch", "tensorflow"], [], "tensorflow")],
)
def test_available_and_resolved_backends_import_nothing(blocked, available, resolved):
    out = run_snippet(f"""
        fake_tf(); fake_torch()
        for name in {blocked!r}:
            sys.modules[name] = None
        report(available=list(sel.available_backends()), resolved=sel.resolve_backend(),
               explicit=sel.resolve_backend("pytorch"))
    """)
    assert out["available"] == available and out["resolved"] == resolved and out["explicit"] == "pytorch"
    assert out["loaded"] == []  # no real framework module was imported


def test_available_backends_in_this_environment_imports_nothing():
    code = ("import sys, json; from ptycho_bridge import available_backends as a; r = a(); "
            "print(json.dumps([list(r), [m for m in ('torch','tensorflow') if m in sys.modules]]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == []


def test_resolve_backend_rejects_unknown_names_and_accepts_the_aliases():
    """specs/backend-selection.md §5: one rule for the API and the command line."""
    with pytest.raises(ValueError, match=r"config\.backend: expected one of 'tensorflow', 'pytorch', got 'jax'"):
        backend_selector.resolve_backend("jax")
    assert backend_selector.resolve_backend("torch") == "pytorch"
    assert backend_selector.resolve_backend(" TF ") == "tensorflow"


def test_backends_are_registered_entry_points_not_named_by_the_bridge():
    """specs/backend-selection.md §1: the bridge finds the backends through their entry points."""
    import importlib.metadata
    from pathlib import Path

    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=backend_selector.ENTRY_POINT_GROUP)}
    assert eps == {"tensorflow": "ptycho_tf.backend:BACKEND", "pytorch": "ptycho_torch.backend:BACKEND"}
    import ast

    backend_modules = ("ptycho_torch", "ptycho.workflows", "ptycho_tf", "ptycho.model", "ptycho.loader")
    for module in Path(backend_selector.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                names = [node.value]
            assert not [n for n in names if n.startswith(backend_modules)], (module.name, names)


def test_real_pytorch_route_reaches_the_torch_loader_without_tensorflow(tmp_path):
    """Real route: the actual ptycho_torch loader is reached (it reports the missing bundle), TF untouched."""
    pytest.importorskip("torch")
    pytest.importorskip("ptycho_torch.workflows.components")
    code = textwrap.dedent(f"""
        import sys, json
        from ptycho.config.config import InferenceConfig, ModelConfig
        from ptycho_bridge import load_inference_bundle_with_backend
        cfg = InferenceConfig(model=ModelConfig(), model_path={str(tmp_path)!r}, test_data_file="t.npz",
                              backend="pytorch")
        try:
            load_inference_bundle_with_backend({str(tmp_path / 'missing')!r}, cfg)
            err = None
        except Exception as exc:
            err = [type(exc).__module__, type(exc).__name__, str(exc)]
        print(json.dumps([err, "tensorflow" in sys.modules, "ptycho_torch.workflows.components" in sys.modules]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    err, tf_loaded, torch_loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert torch_loaded and not tf_loaded
    # The torch loader reports the missing bundle with the shared BundleNotFoundError (ptycho.bundle_zip).
    assert err is not None and err[1] == "BundleNotFoundError" and "missing" in err[2], err


@pytest.mark.parametrize(("backend", "other"), [("tensorflow", "torch"), ("pytorch", "tensorflow")])
def test_real_training_route_trains_with_the_chosen_backend_only(tmp_path, backend, other):
    """Real routes, end to end: run_cdi_example_with_backend trains one epoch on the fixture with the real
    backend (history and its resume checkpoint written; the PyTorch workflow also writes the bundle, the
    TensorFlow one leaves that to ``ptycho.model_manager.save`` as ptychodus expects) and never imports the
    other framework."""
    pytest.importorskip("tensorflow" if backend == "tensorflow" else "torch")
    fixture = __import__("pathlib").Path(__file__).resolve().parents[2] / (
        "ptycho-contracts/tests/fixtures/minimal_dataset_v1.npz")
    code = textwrap.dedent(f"""
        import sys, json
        from ptycho.config.config import ModelConfig, TrainingConfig
        from ptycho.raw_data import RawData
        from ptycho_bridge import run_cdi_example_with_backend
        raw = RawData.from_file({str(fixture)!r})
        cfg = TrainingConfig(model=ModelConfig(n_filters_scale=1), n_groups=16, batch_size=8, nepochs=1,
                             nphotons=1e9, output_dir={str(tmp_path / 'run')!r}, backend={backend!r})
        amp, phase, results = run_cdi_example_with_backend(raw, None, cfg)
        print(json.dumps([results["backend"], len(results["history"]["train_loss"]), {other!r} in sys.modules]))
    """)
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got_backend, epochs, other_loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got_backend == backend and epochs == 1 and not other_loaded
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "run" / "wts.h5.zip").is_file() == (backend == "pytorch")
