"""The safe-failure and console runtime shared by every backend and command line (specs/architecture.md §6).

One failure path for ``ptycho``, ``python -m ptycho_torch.train`` / ``.inference`` and the backends' training
loops, so it lives in the lowest package all of them depend on. Standard library only (no framework, no numpy):

* :mod:`.console` - what a run quiets (third-party noise, the frameworks' loggers) and whether a stream is a
  terminal;
* :mod:`.interrupts` - SIGTERM / SIGINT as an interrupt with one line and the conventional exit status;
* :mod:`.faults` - an ``OSError`` of the environment (full disk, read-only folder) as one line;
* :mod:`.progress` - the counted-loop progress display (inference batches, refinement passes);
* :mod:`.processes` - which process of a distributed run writes the outputs.

Submodules are imported by name (``from ptycho.runtime.interrupts import signals_raise``); this package imports
none of them.
"""
