"""The contract's error type, apart from the readers so that every reader (NPZ, HDF5, converters) can raise it
without importing the others (specs/data-contract.md §6)."""

from __future__ import annotations

__all__ = ["ContractError"]


class ContractError(ValueError):
    """A data file or array set breaks the contract; the message is one line naming file and key.

    Attributes:
        source: file path (or a label such as ``'<arrays>'``) the data came from.
        key: offending key, or None for file-level problems.
        expected, found: short descriptions used in the message.
    """

    def __init__(self, source: str, key: str | None = None, expected: str | None = None,
                 found: str | None = None) -> None:
        self.source = str(source)
        self.key = key
        self.expected = expected
        self.found = found
        if expected is None and found is None and key is None:
            # ContractError(message): a finished message re-raised as is, e.g. by a torch DataLoader that
            # re-creates a worker's exception from "Caught ContractError in DataLoader worker ... Original
            # Traceback ...: <message>" (the error stays a ContractError, exit 2; only the message is kept)
            message = self.source
            if "Original Traceback" in message:
                last = [ln for ln in message.splitlines() if ln.strip()][-1]
                message = last.split("ContractError: ", 1)[-1]
        else:
            where = f"{self.source}: key '{key}'" if key is not None else self.source
            message = f"{where}: expected {expected}, found {found}"
        super().__init__(" ".join(message.split()))  # always one line
