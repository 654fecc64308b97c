"""ptycho.runtime.console: third-party noise is dropped, everything else still reaches the user (issue 18)."""

from __future__ import annotations

import logging
import warnings

from ptycho.runtime.console import quiet_third_party_noise


def test_litlogger_advert_dropped_other_records_kept(caplog):
    quiet_third_party_noise()
    quiet_third_party_noise()  # idempotent: one filter
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    assert len(log.filters) == 1
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        log.info("💡 Tip: For seamless cloud logging ... try installing [litlogger](https://pypi.org/project/litlogger/)")
        log.info("GPU available: False, used: False")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["GPU available: False, used: False"]


def test_leafspec_deprecation_silenced_other_future_warnings_kept():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_third_party_noise()
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
        warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else is deprecated"]


def test_no_validation_data_warning_silenced_other_user_warnings_kept():
    """issue 27: a run without validation data prints no 'validation_step but no val_dataloader' warning."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_third_party_noise()
        warnings.warn("You defined a `validation_step` but have no `val_dataloader`. Skipping val loop.",
                      UserWarning, stacklevel=1)
        warnings.warn("The dataloader does not have many workers", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["The dataloader does not have many workers"]
