"""The refinement-teacher training recipe (normative text: specs/torch-training.md §8).

``TrainingConfig.teacher = 'refine'`` (``ptycho train --teacher refine``) trains the PINN generator in three
steps, with no ground truth:

1. :mod:`.labels` - maximum-likelihood refinement (:func:`ptycho_torch.refine.refine`) of the TRAINING scan's
   object from a flat start with the scan's probe and positions, then label patches cut from it at the
   training positions in the generator's frame, their phase centred and their amplitude put in the network's
   units (one scalar from the module's own forward model);
2. :mod:`.loss` + :mod:`.module` - a supervised stage: the split loss (amplitude MAE + wrapped phase MAE)
   between the generator's amp / phase and the labels;
3. a Poisson stage: the module's Poisson NLL, plus ``teacher_keep_weight`` x the supervised loss, with the
   optimiser state reset at the switch.

:mod:`.workflow` runs the steps inside ``train_cdi_model_torch`` (the usual Lightning path, data containers,
checkpoints and bundle), the refinement's seconds counted in ``max_time``.
"""

from .labels import TeacherLabels, calibrate_amplitude, label_patches, recentre_phase, teacher_labels
from .loss import split_loss, wrapped_phase_difference
from .module import TeacherPINN_Lightning, TeacherSchedule
from .workflow import train_with_teacher

__all__ = ["TeacherLabels", "TeacherPINN_Lightning", "TeacherSchedule", "calibrate_amplitude", "label_patches",
           "recentre_phase", "split_loss", "teacher_labels", "train_with_teacher", "wrapped_phase_difference"]
