"""train — the training loop and what it keeps: ``train_ch5`` (``loop``) and the run it steps
(``run``), its hooks (``hooks``: step points, divergence guard, progress; ``checkpoint``,
``distributed``, ``records``), the older call forms (``legacy``), the History (``history``),
saved models (``saving``) and the records of runs and results (``records``).

(This package serves the names of the former module ``d2lnets.train``.)
"""
from ..analysis.evaluate import evaluate_accuracy
from ..core.precision import cpu_has_native_bf16
from . import records
from .checkpoint import CheckpointError, Checkpoints, read_checkpoint
from .distributed import Group
from .history import Accumulator, History, Timer, TrainingDivergedError
from .hooks import DivergenceGuard, Hook, ShowProgress, StepPoints
from .loop import train_ch5
from .records import RecordRun, record_result, report, verdicts
from .run import Run
from .saving import ModelMismatchError, load_model, model_path, runs_dir, save_model

__all__ = ["Accumulator", "CheckpointError", "Checkpoints", "DivergenceGuard", "Group", "History", "Hook",
           "ModelMismatchError", "RecordRun", "Run", "ShowProgress", "StepPoints", "Timer", "TrainingDivergedError",
           "cpu_has_native_bf16", "evaluate_accuracy", "load_model", "model_path", "read_checkpoint",
           "record_result", "records", "report", "runs_dir", "save_model", "train_ch5", "verdicts"]
