"""``ptycho convert``: ptychodus / CXI files to the data contract, and reconstructions back (specs/cli.md §9).

Forward: ``ptycho convert INPUT -o SCAN.npz [--diffraction FILE] [--format ...] [--probe-mode K]
[--pixel-size M]``. Reverse: ``ptycho convert --to-ptychodus RECON.npz --scan SCAN.npz -o product.h5|.npz
[--probe NPZ] [--pixel-size M] [--energy-ev E] [--distance-m Z] [--name NAME]``. The work is
``ptycho.convert`` (specs/convert.md); this module parses flags, checks their combination and prints
the notices (stderr) and a one-line summary (stdout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ptycho_bridge.option_types import nonnegative_int, positive_float
from ptycho_cli.errors import EXIT_OK, UserError

__all__ = ["add_convert_parser", "cmd_convert"]

_FORMATS = ("auto", "ptychodus-npz", "ptychodus-h5", "cxi")
_FORWARD_ONLY = (("diffraction", "--diffraction"), ("probe_mode", "--probe-mode"))
_REVERSE_ONLY = (("scan", "--scan"), ("probe", "--probe"), ("energy_ev", "--energy-ev"),
                 ("distance_m", "--distance-m"), ("name", "--name"))


def add_convert_parser(sub: argparse._SubParsersAction, common: Any) -> None:
    """The ``convert`` subcommand; ``common`` adds --debug/--quiet like the other subcommands."""
    p = sub.add_parser(
        "convert", help="ptychodus / CXI files to a scan .npz, and reconstructions back to ptychodus",
        description="Convert a ptychodus product (.npz or .h5, with its diffraction file) or a CXI file into a "
                    "data-contract scan (.npz): amplitudes sqrt(counts), positions in object pixels. With "
                    "--to-ptychodus, write a reconstruction and its scan as a ptychodus product file.")
    p.add_argument("input", metavar="INPUT",
                   help="ptychodus product (.npz/.h5) or CXI file; with --to-ptychodus a reconstruction .npz")
    p.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="scan .npz to write; with --to-ptychodus a product .h5/.hdf5 or .npz")
    p.add_argument("--diffraction", metavar="FILE",
                   help="the patterns of a ptychodus product: .npy or ptychodus .h5 (or CXI); replaces a CXI file's own")
    p.add_argument("--format", dest="fmt", choices=_FORMATS, default="auto",
                   help="input format (default auto: told apart by content)")
    p.add_argument("--probe-mode", dest="probe_mode", type=nonnegative_int, default=None, metavar="K",
                   help="keep only mode K of a multi-mode probe (default: keep every incoherent mode)")
    p.add_argument("--pixel-size", dest="pixel_size", type=positive_float, default=None, metavar="M",
                   help="object pixel size in metres, instead of the file's (or of lambda*z/(N*p))")
    p.add_argument("--to-ptychodus", dest="to_ptychodus", action="store_true",
                   help="reverse direction: INPUT is a reconstruction (.npz of 'ptycho infer' or 'ptycho refine')")
    p.add_argument("--scan", metavar="NPZ", help="with --to-ptychodus: the scan the reconstruction was made from")
    p.add_argument("--probe", metavar="NPZ", help="with --to-ptychodus: probe to write ('probe' or 'probeGuess'; "
                                                  "default: the scan's probeGuess)")
    p.add_argument("--energy-ev", dest="energy_ev", type=positive_float, default=None, metavar="E",
                   help="with --to-ptychodus: photon energy, eV (default: recorded by the conversion, else 0)")
    p.add_argument("--distance-m", dest="distance_m", type=positive_float, default=None, metavar="Z",
                   help="with --to-ptychodus: sample-detector distance, m (default: recorded, else 0)")
    p.add_argument("--name", default=None, help="with --to-ptychodus: product name (default: the INPUT file's stem)")
    common(p, suppress=True)


def _check_flags(args: argparse.Namespace) -> None:
    wrong = _FORWARD_ONLY if args.to_ptychodus else _REVERSE_ONLY
    for attr, flag in wrong:
        if getattr(args, attr) is not None:
            need = "without" if args.to_ptychodus else "with"
            raise UserError(f"{flag}: expected only {need} --to-ptychodus, found it {'with' if args.to_ptychodus else 'without'}")
    if args.to_ptychodus and args.fmt != "auto":
        raise UserError("--format: expected only without --to-ptychodus, found it with --to-ptychodus")
    out = Path(args.output)
    if out.is_dir():
        raise UserError(f"--output {out}: expected a file path, found a directory")
    inputs = [args.input, args.diffraction, getattr(args, "scan", None), getattr(args, "probe", None)]
    if any(i is not None and Path(i).resolve() == out.resolve() for i in inputs):
        raise UserError(f"--output {out}: expected a new file, found one of the input files")
    if args.to_ptychodus:
        if args.scan is None:
            raise UserError("--scan: expected the scan .npz the reconstruction was made from (with --to-ptychodus), found none")
        if out.suffix.lower() not in (".h5", ".hdf5", ".npz"):
            raise UserError(f"--output {out}: expected a ptychodus product name ending in .h5, .hdf5 or .npz, "
                            f"found suffix {out.suffix or 'none'!r}")


def _notices(lines: list[str]) -> None:
    for line in lines:
        print(f"ptycho convert: notice: {line}", file=sys.stderr, flush=True)


def cmd_convert(args: argparse.Namespace, extra: list[str]) -> int:
    """Run either direction; exit 0, or 2 with one line for bad input (raised, reported by main)."""
    _check_flags(args)
    if args.to_ptychodus:
        from ptycho.convert import reconstruction_to_product

        fmt, notes = reconstruction_to_product(args.input, args.scan, args.output, probe=args.probe,
                                               pixel_size_m=args.pixel_size, energy_eV=args.energy_ev,
                                               distance_m=args.distance_m, name=args.name)
        _notices(notes)
        print(f"wrote {args.output}: ptychodus {fmt} product of {args.input} with the positions and probe of {args.scan}")
        return EXIT_OK
    from ptycho.convert import convert_to_npz

    conv = convert_to_npz(args.input, args.output, diffraction=args.diffraction, fmt=args.fmt,
                          probe_mode=args.probe_mode, pixel_size_m=args.pixel_size)
    _notices(conv.notices)
    a, info = conv.arrays, conv.metadata["convert"]
    obj = a["objectGuess"]
    parts = [f"{a['M']} positions", f"N={a['N']}",
             f"object pixel {info['object_pixel_size_m'][0]:.4g} m ({info['pixel_size_rule']})"]
    if obj is not None:
        parts.append("objectGuess {}x{}".format(*obj.shape))
    print(f"wrote {args.output} from {info['format']} {args.input}: {', '.join(parts)}")
    return EXIT_OK
