"""The PtychoPINN v2 PyTorch API that ptychodus's ``ptychopinn_torch`` reconstructors call, as a thin facade
over this package's workflows (specs/ptychodus-torch.md). Nothing is trained or stitched here: training is
``ptycho_torch.workflows.training.train_cdi_model_torch``, inference is
``ptycho_torch.workflows.reassembly.reassemble_cdi_image_torch``; the classes below convert the v2 configs
once (``ptycho_bridge.v2_convert``) and hold the pieces ptychodus passes between its calls:

* :class:`ConfigManager` - the five v2 configs; ``from_loaded_model``, ``validate_arch_compatibility``;
* :class:`DataloaderFormats`, :class:`PtychoDataLoader` (a training NPZ / folder, or ``from_np`` arrays);
* :class:`PtychoModel` - configs + Lightning module; ``_new_model``, ``_extract_configs_from_checkpoint``;
* :class:`Trainer` - ``_from_lightning`` then ``train``; ``_trainer.callbacks`` takes extra callbacks;
* :class:`InferenceEngine` - ``predict_and_stitch`` -> (H, W) complex64 object on the input object's grid.
"""

from __future__ import annotations

import dataclasses
import time
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from ptycho_bridge import v2_config as v2
from ptycho_bridge.bridge import to_model_config, to_training_config
from ptycho_bridge.v2_convert import to_native
from ptycho_torch.api.v2_checkpoint import V2ConfigRecorder, read_v2_configs
from ptycho_torch.api.v2_data import ScanData, scan_from_arrays, scan_from_file, training_files
from ptycho_torch.api.v2_stitch import place_on_object_grid
from ptycho_torch.workflows.inference_config import build_inference_config

__all__ = ["ConfigManager", "DataloaderFormats", "PtychoDataLoader", "PtychoModel", "Trainer", "InferenceEngine"]


def _check_v2(name: str, value: Any, cls: type) -> Any:
    if value is None:
        return cls()
    if not isinstance(value, cls):
        raise ValueError(f"ConfigManager.{name}: expected a ptycho_torch.config_params.{cls.__name__}, "
                         f"got {type(value).__name__}")
    return value


@dataclasses.dataclass
class ConfigManager:
    """The v2 configs of one run (None -> the class defaults); ``native()`` converts them once."""

    data_config: Any = None
    model_config: Any = None
    training_config: Any = None
    inference_config: Any = None
    datagen_config: Any = None

    def __post_init__(self) -> None:
        for name, cls in (("data_config", v2.DataConfig), ("model_config", v2.ModelConfig),
                          ("training_config", v2.TrainingConfig), ("inference_config", v2.InferenceConfig),
                          ("datagen_config", v2.DatagenConfig)):
            setattr(self, name, _check_v2(name, getattr(self, name), cls))

    def native(self, *, resolve_device: bool = True) -> Any:
        """:class:`ptycho_bridge.v2_convert.NativeConfigs` of these configs (refused values raise here)."""
        cuda = None
        if resolve_device:
            import torch

            cuda = bool(torch.cuda.is_available())
        return to_native(self.data_config, self.model_config, self.training_config, self.inference_config,
                         cuda_available=cuda)

    def canonical_training(self, scan: ScanData, output_dir: Path | None, *, resolve_device: bool = True) -> tuple:
        """(canonical TrainingConfig, PyTorchExecutionConfig) for training on ``scan``: nphotons is the scan's."""
        nat = self.native(resolve_device=resolve_device)
        overrides: dict[str, Any] = {"nphotons": scan.nphotons}
        if output_dir is not None:
            overrides["output_dir"] = Path(output_dir)
        cfg = to_training_config(to_model_config(nat.data, nat.model), nat.data, nat.training, overrides,
                                 execution=nat.execution)
        return cfg, nat.execution

    @classmethod
    def from_loaded_model(cls, ptycho_model: PtychoModel) -> ConfigManager:
        """The configs a loaded :class:`PtychoModel` carries."""
        return cls(data_config=ptycho_model.data_config, model_config=ptycho_model.model_config,
                   training_config=ptycho_model.training_config, inference_config=ptycho_model.inference_config)

    def validate_arch_compatibility(self, ptycho_model: PtychoModel) -> None:
        """ValueError when these configs disagree with the loaded network (N, gridsize, mode)."""
        from ptycho_torch.lightning_module import check_v2_agreement

        if ptycho_model.model is None:
            raise ValueError("validate_arch_compatibility: the PtychoModel holds no network (load or train one)")
        check_v2_agreement(ptycho_model.model.model_config,
                           {"data_config": self.data_config, "model_config": self.model_config}, "loaded model")


class DataloaderFormats(Enum):
    """How the v2 API was asked to feed data; every format is served by the in-memory grouped container."""

    LIGHTNING_ONLY_MODULE = "lightning_only_module"
    LIGHTNING_MODULE = "lightning_module"


class PtychoDataLoader:
    """A scan for training or inference.

    Args:
        data_dir: a training NPZ or a folder holding exactly one (ptychodus's exported training data:
            xcoords, ycoords, diff3d counts, probeGuess, objectGuess).
        config_manager: the run's :class:`ConfigManager` (measurement_domain, N, nphotons).
        data_format: a :class:`DataloaderFormats` (or its value).
        output_dir: base folder of the run; training writes into ``output_dir/run_<UTC timestamp>``
            (``self.output_dir``), the checkpoints into its ``checkpoints/``.
    """

    def __init__(self, data_dir: Any, config_manager: ConfigManager,
                 data_format: Any = DataloaderFormats.LIGHTNING_ONLY_MODULE, output_dir: Any = None, *,
                 scan: ScanData | None = None) -> None:
        self.data_format = DataloaderFormats(data_format.value if isinstance(data_format, Enum) else data_format)
        self.config_manager = config_manager
        if scan is None:
            files = training_files(data_dir)
            if len(files) != 1:
                raise ValueError(f"{data_dir}: expected one training NPZ, found {len(files)}: "
                                 + ", ".join(f.name for f in files))
            scan = scan_from_file(files[0], config_manager.data_config)
        self.scan = scan
        self.output_dir: Path | None = None
        if output_dir is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            self.output_dir = Path(output_dir) / f"run_{stamp}"

    @classmethod
    def from_np(cls, diff_patterns: Any, probe: Any, positions: Any, config_manager: ConfigManager,
                **_: Any) -> PtychoDataLoader:
        """A scan from arrays: diff_patterns (M, N, N) (counts unless measurement_domain says amplitudes),
        probe (N, N) or (K, N, N) incoherent modes complex, positions (M, 2) object pixels as rows [y, x] (row, column; the
        order ptychodus passes)."""
        pos = np.asarray(positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"positions: expected (M, 2) rows [y_px, x_px], found shape {pos.shape}")
        scan = scan_from_arrays(diff_patterns, probe, pos[:, 1], pos[:, 0], config_manager.data_config)
        return cls(None, config_manager, scan=scan)


class PtychoModel:
    """v2 configs plus the Lightning module (``model``; None until built, loaded or trained)."""

    def __init__(self, model_config: Any = None, data_config: Any = None, training_config: Any = None,
                 inference_config: Any = None, model: Any = None) -> None:
        self.model_config = _check_v2("model_config", model_config, v2.ModelConfig)
        self.data_config = _check_v2("data_config", data_config, v2.DataConfig)
        self.training_config = _check_v2("training_config", training_config, v2.TrainingConfig)
        self.inference_config = _check_v2("inference_config", inference_config, v2.InferenceConfig)
        self.model = model

    @classmethod
    def _new_model(cls, model: type, config_manager: ConfigManager) -> PtychoModel:
        """A fresh, untrained module of class ``model`` (PtychoPINN_Lightning) built from the configs, with the
        default probe and the closed-form intensity scale of DataConfig.nphotons; training replaces it."""
        nat = config_manager.native(resolve_device=False)
        cfg = to_training_config(to_model_config(nat.data, nat.model), nat.data, nat.training,
                                 {"nphotons": nat.data.nphotons}, execution=nat.execution)
        return cls(config_manager.model_config, config_manager.data_config, config_manager.training_config,
                   config_manager.inference_config, model=model(cfg.model, cfg))

    @staticmethod
    def _extract_configs_from_checkpoint(path: Any) -> tuple[Any, Any, Any, Any]:
        """(data, model, training, inference) v2 configs saved in a Lightning checkpoint (weights_only load)."""
        return read_v2_configs(path)


class _PendingTrainer:
    """Stands in for the Lightning Trainer until ``Trainer.train`` builds it: collects extra callbacks."""

    def __init__(self) -> None:
        self.callbacks: list[Any] = []


class Trainer:
    """Trains a :class:`PtychoModel` on a :class:`PtychoDataLoader` with the workflow's Lightning loop."""

    def __init__(self, model: PtychoModel, dataloader: PtychoDataLoader, config_manager: ConfigManager) -> None:
        self.model, self.dataloader, self.config_manager = model, dataloader, config_manager
        self._trainer: Any = _PendingTrainer()
        self.results: Any = None

    @classmethod
    def _from_lightning(cls, model: PtychoModel, dataloader: PtychoDataLoader, orchestration: str = "lightning",
                        config_manager: ConfigManager | None = None) -> Trainer:
        if str(orchestration).lower() != "lightning":
            raise ValueError(f"orchestration: expected 'lightning', got {orchestration!r}")
        return cls(model, dataloader, config_manager or dataloader.config_manager)

    def train(self, orchestration: str = "lightning", experiment_name: str = "") -> Any:
        """Run training; the checkpoints (with the v2 configs as plain data) go to
        ``<dataloader.output_dir>/checkpoints``. Returns the workflow's TrainingResults."""
        from ptycho_torch.workflows.training import train_cdi_model_torch

        if str(orchestration).lower() != "lightning":
            raise ValueError(f"orchestration: expected 'lightning', got {orchestration!r}")
        cm = self.config_manager
        cfg, execution = cm.canonical_training(self.dataloader.scan, self.dataloader.output_dir)
        recorder = V2ConfigRecorder({"DataConfig": cm.data_config, "ModelConfig": cm.model_config,
                                     "TrainingConfig": cm.training_config, "InferenceConfig": cm.inference_config})
        self.results = train_cdi_model_torch(self.dataloader.scan.raw, None, cfg, execution_config=execution,
                                             callbacks=[recorder, *self._trainer.callbacks])
        self._trainer = self.results.trainer
        self.model.model = self.results.models["lightning_module"]
        return self.results


class InferenceEngine:
    """Reconstructs a scan with a trained :class:`PtychoModel`."""

    def __init__(self, config_manager: ConfigManager, ptycho_model: PtychoModel) -> None:
        if ptycho_model.model is None:
            raise ValueError("InferenceEngine: the PtychoModel holds no network (load or train one)")
        self.config_manager, self.ptycho_model = config_manager, ptycho_model

    def predict_and_stitch(self, dataloader: PtychoDataLoader) -> np.ndarray:
        """(H, W) complex64 object on the grid of the scan's object pixels.

        Every scan point is one group (with gridsize > 1, groups of its nearest neighbours); patches are
        stitched with their central ``InferenceConfig.middle_trim`` pixels (clamped to N), and the canvas is
        placed so that pixel (r, c) is object pixel (row r, column c), sized to end symmetric about the scan
        centre: H = round(2·mid_y) + 1 rows, mid_y = (min y + max y)/2 (likewise W), i.e. the input object's
        shape when the scan is centred in it.
        """
        from ptycho_torch.workflows.models import module_intensity_scale
        from ptycho_torch.workflows.reassembly import reassemble_cdi_image_torch

        module = self.ptycho_model.model
        tc = module.training_config
        raw = dataloader.scan.raw
        infer_cfg = build_inference_config(dataclasses.replace(tc, model=module.model_config), Path("model"),
                                           Path(dataloader.scan.source), Path("."), len(raw.xcoords))
        n = int(module.model_config.N)
        trim = int(self.config_manager.inference_config.middle_trim)
        m = n if trim <= 0 or trim > n else trim
        execution = dataclasses.replace(self.config_manager.native(resolve_device=False).execution,
                                        accelerator="auto")
        _, _, res = reassemble_cdi_image_torch(
            raw, infer_cfg, M=m, execution_config=execution,
            models={"lightning_module": module, "intensity_scale": module_intensity_scale(module)})
        return place_on_object_grid(res.stitched_obj, res.global_offsets, m, raw.xcoords, raw.ycoords)
