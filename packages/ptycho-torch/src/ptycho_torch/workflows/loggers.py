"""Training loggers of the PyTorch workflow (specs/torch-workflow.md §4): csv (atomic), tensorboard, mlflow,
none. Imports lightning: load it only where training runs."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch import loggers
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from ptycho.atomic_io import save_text_atomic
from ptycho_bridge.execution import LOGGER_BACKENDS

__all__ = ["LOGGER_BACKENDS", "AtomicCSVLogger", "make_logger"]



class AtomicExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer with ``metrics.csv`` and ``hparams.yaml`` rewritten atomically at each flush
    (Lightning appends in place, which a kill can leave with a torn last row; specs/reliability.md §3)."""

    def log_hparams(self, params: dict[str, Any]) -> None:
        self.hparams.update(params)
        save_text_atomic(Path(self.log_dir) / self.NAME_HPARAMS_FILE,
                         yaml.safe_dump(json.loads(json.dumps(self.hparams, default=str)), sort_keys=True))

    def save(self) -> None:
        if not self.metrics:
            return
        self._record_new_keys()
        path = Path(self.metrics_file_path)
        rows: list[dict[str, Any]] = []
        if path.is_file():
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
        rows.extend(self.metrics)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.metrics_keys)
        writer.writeheader()
        writer.writerows(rows)
        save_text_atomic(path, buf.getvalue())
        self.metrics = []


class AtomicCSVLogger(loggers.CSVLogger):
    """``CSVLogger`` writing through :class:`AtomicExperimentWriter`."""

    @property
    def experiment(self) -> Any:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AtomicExperimentWriter(log_dir=self.log_dir)
        return self._experiment


def make_logger(backend: str, output_dir: Path) -> Any:
    """The Lightning logger for ``backend`` (one of :data:`LOGGER_BACKENDS`) writing under ``output_dir``;
    False for 'none'. ValueError naming the field for any other value."""
    backend = str(backend).lower()
    if backend not in LOGGER_BACKENDS:
        raise ValueError(f"execution_config.logger_backend: expected one of {LOGGER_BACKENDS}, found {backend!r}")
    if backend == "none":
        return False
    if backend == "csv":
        return AtomicCSVLogger(save_dir=str(output_dir), name="lightning_logs")
    if backend == "tensorboard":
        return loggers.TensorBoardLogger(save_dir=str(output_dir), name="lightning_logs")
    # MLFLOW_TRACKING_URI (MLflow's own convention) wins; otherwise a local file store inside the run folder.
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or f"file:{output_dir / 'mlruns'}"
    return loggers.MLFlowLogger(experiment_name="PtychoPINN", tracking_uri=tracking_uri)
