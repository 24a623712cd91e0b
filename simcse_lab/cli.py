"""``simcse-lab`` command line: ``compare``, ``train``, ``encode``, ``sweep``, ``report``, ``config``.

Every command takes a profile name or YAML path plus ``--set section.key=value`` overrides (the
same keys as the YAML files and notebook parameters). Errors from the library become one line
on stderr and exit status 2; nothing computed before the error is lost (embeddings and trained
models are cached).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from pathlib import Path

from .core.assets import atomic_write
from .core.config import (
    ExperimentConfig,
    list_profiles,
    load_config,
    parse_overrides,
    to_yaml,
    validate,
)
from .core.errors import EXPECTED_ERRORS, error_line
from .core.params import describe

logger = logging.getLogger("simcse_lab")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config",
        nargs="?",
        default="default",
        help=f"profile name ({', '.join(list_profiles())}) or YAML file (default: default)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set corpus.n_samples=500 --set models.encoders=[minilm]",
    )
    _add_flags(p)


def _add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the result")
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error instead of one line",
    )


def _user_path(text: str) -> Path:
    """A path argument as a shell user means it: ``~`` is the home folder."""
    return Path(text).expanduser()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simcse-lab", description="SimCSE sentence embeddings, judged by how well they cluster real text."
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compare", help="encode, train, cluster and score every model; write a run folder")
    _add_common(p)
    p.add_argument("--run-dir", type=_user_path, default=None, help="output folder (default: <runs_dir>/<name>-<hash>)")

    p = sub.add_parser(
        "explore",
        help="your own texts, labels optional: clusters with their terms and texts, k chosen"
        " without labels, the start model against self-training, judged without labels",
    )
    p.add_argument("source", help="a CSV/TSV/Parquet/JSONL/TXT file of texts (labels optional)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the explore profile, e.g. --set corpus.text_column=body",
    )
    p.add_argument(
        "--run-dir", type=_user_path, default=None, help="output folder (default: <runs_dir>/explore-<hash>)"
    )
    _add_flags(p)

    p = sub.add_parser("train", help="train a model on the config's corpus texts (unsupervised SimCSE by default)")
    _add_common(p)
    p.add_argument("--model", default=None, help="base model spec (default: first of models.simcse_from)")
    p.add_argument("--method", default="simcse", help="training method, e.g. simcse or sup-simcse (default: simcse)")
    p.add_argument(
        "--output", type=_user_path, default=None, help="run folder (default: a cache folder keyed by settings)"
    )

    p = sub.add_parser(
        "encode",
        help="embed the texts a comparison of the config scores (with corpus.heldout, the"
        " held-out part) into a .npy file",
    )
    _add_common(p)
    p.add_argument(
        "--model", required=True, help="model spec: alias, folder, hub id or trained spec, e.g. simcse(minilm)"
    )
    p.add_argument("--out", type=_user_path, required=True, help="output .npy file")

    p = sub.add_parser(
        "probe-backends",
        help="time torch and the ONNX/OpenVINO exports of a model on this (idle)"
        " machine, once: encode.backend auto decides from that record",
    )
    _add_common(p)
    p.add_argument("--model", default="minilm", help="model spec whose architecture is timed (default: minilm)")

    p = sub.add_parser("sweep", help="run compare or a notebook over a grid of parameters; aggregate")
    p.add_argument("sweep_file", type=_user_path, help="sweep YAML (see simcse_lab/sweep.py)")
    _add_flags(p)

    p = sub.add_parser("report", help="write a self-contained HTML report of a run folder")
    p.add_argument("run_dir", type=_user_path, help="a run folder written by compare")
    _add_flags(p)

    p = sub.add_parser("config", help="print the resolved config, or every key with its help")
    _add_common(p)
    p.add_argument("--keys", action="store_true", help="list every key, its default and its help")
    return parser


def _configure_logging(quiet: bool) -> None:
    if quiet:
        from .core.runtime import set_quiet

        set_quiet()
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3", "huggingface_hub", "numba"):
        logging.getLogger(noisy).setLevel(logging.ERROR if quiet else logging.WARNING)


def _resolve(args: argparse.Namespace) -> ExperimentConfig:
    from .core.runtime import configure_threads

    cfg = load_config(args.config, parse_overrides(args.overrides))
    validate(cfg)
    configure_threads(cfg.threads)
    return cfg


def cmd_explore(args: argparse.Namespace) -> int:
    """``compare`` with the explore profile on ``source``, then where to look."""
    args.config = "explore"
    args.overrides = [f"corpus.source={args.source}", *args.overrides]
    code = cmd_compare(args)
    print(
        "clusters, their top terms and the texts nearest each centre: clusters.csv; which text went where: "
        "assignments.csv; labelled maps: figures/*__map.png"
    )
    return code


def cmd_compare(args: argparse.Namespace) -> int:
    from .core.publish import folder_lock
    from .experiment import run, run_dir_for
    from .reporting.run_folder import check_run_folder, check_writable_folder

    cfg = _resolve(args)
    # a run folder that cannot be written, or that another compare is writing, fails now, not
    # after the whole comparison
    if args.run_dir:
        args.run_dir = check_run_folder(args.run_dir)  # a link is written through, into the folder it names
    else:
        check_writable_folder(cfg.runs_dir, "runs_dir")
    with folder_lock(args.run_dir, "run folder") if args.run_dir else contextlib.nullcontext():
        result = run(cfg)
        run_dir = result.save(args.run_dir or run_dir_for(cfg, result.corpus_fingerprint))
    print("\n" + result.markdown())
    print(f"\nwall time {result.manifest['wall_seconds']:.0f}s; run folder: {run_dir}")
    print(f"report: {run_dir / 'report.html'} (open in a browser; no server needed)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .encoding.resolve import SpecContext, methods, resolve_target
    from .training.lifecycle import is_main_process

    cfg = _resolve(args)
    base = args.model or (cfg.models.simcse_from[0] if cfg.models.simcse_from else None)
    if base is None:
        raise ValueError("no base model: give --model or set models.simcse_from")
    if args.method not in methods():
        raise ValueError(f"unknown training method {args.method!r}; methods: {', '.join(methods())}")
    ctx = SpecContext.for_config(cfg)
    resolved = resolve_target(f"{args.method}({base})", ctx, output_dir=args.output)
    if is_main_process():  # under torchrun every rank gets here; one says it
        print(f"trained model: {resolved.target}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from .corpus.splits import load_corpus_for
    from .encoding.encode import encode_with_config
    from .encoding.resolve import SpecContext, resolve

    cfg = _resolve(args)
    out = _npy_path(args.out)
    corpus = load_corpus_for(cfg)
    encoder = resolve(args.model, cfg, ctx=SpecContext.for_config(cfg, corpus=corpus))
    x = encode_with_config(encoder, corpus.texts, cfg)
    atomic_write(out, lambda fh: np.save(fh, x, allow_pickle=False))  # streamed, no copy in memory
    print(f"{x.shape[0]} x {x.shape[1]} float32 embeddings written to {out}")
    return 0


def cmd_probe_backends(args: argparse.Namespace) -> int:
    from .corpus.splits import load_corpus_for
    from .encoding.backends import probe_speeds
    from .encoding.resolve import SpecContext, load_encoder

    cfg = _resolve(args)
    corpus = load_corpus_for(cfg)
    e = cfg.encode
    encoder = load_encoder(
        args.model,
        max_seq_length=e.max_seq_length,
        pooling=e.pooling,
        device="cpu",
        ctx=SpecContext.for_config(cfg, corpus=corpus),
    )
    speed = probe_speeds(encoder, corpus.texts, cfg.data_dir, batch_size=e.batch_size)
    rates = ", ".join(f"{k} {v:.0f}" for k, v in speed["variants"].items())
    print(
        f"{args.model} on this machine, texts/s: torch {speed['torch']:.0f}, {rates}; export"
        f" {speed['export_seconds']:.0f} s"
    )
    return 0


def _npy_path(out: Path) -> Path:
    """The file ``encode --out`` writes: ``.npy`` added when missing (as numpy would), a folder
    refused; checked before anything is encoded."""
    from .reporting.run_folder import check_writable_folder

    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file path, e.g. {out / 'embeddings.npy'}")
    if out.suffix != ".npy":
        out = out.with_name(out.name + ".npy")
        if out.is_dir():
            raise ValueError(f"--out {out} is a folder; give a file path")
    check_writable_folder(out.parent, "--out's folder")
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep

    result = run_sweep(args.sweep_file)
    print(result.summary.to_markdown(index=False, floatfmt=".3f") if not result.summary.empty else "no complete cell")
    for cell in result.cells:
        print(f"{cell.status:8s} {cell.seconds:7.1f}s  {cell.cell_id}" + (f"  -- {cell.error}" if cell.error else ""))
    print(f"summary: {result.output_dir / 'summary.md'}")
    if result.failed:
        print(f"simcse-lab: {len(result.failed)} of {len(result.cells)} cells failed", file=sys.stderr)
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .core.publish import recover_folder
    from .reporting.html import build_html_report

    recover_folder(args.run_dir)  # a run folder left aside by a killed publish comes back first
    print(f"report: {build_html_report(args.run_dir)}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.keys:
        for key, default, help_ in describe():
            print(f"{key:32s} {default!r:28s} {help_}")
        return 0
    print(to_yaml(_resolve(args)), end="")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM as Ctrl-C. A subclass: CPython exits by SIGINT (-2) after a plain KeyboardInterrupt raised in
    code run through PyRun_String, even once caught; it checks the exact type, so this one keeps 130."""


def _sigterm_interrupts() -> None:
    """A scheduler's SIGTERM, or SIGHUP when the terminal closes, ends the run as Ctrl-C does:
    temporary files are removed, caches kept."""
    import signal
    import threading

    def interrupt(signum, frame):  # the signal module's signature
        raise Terminated

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, interrupt)


def main(argv: list[str] | None = None) -> int:
    from .core.registry import PLUGIN_FAILURES

    parser = build_parser()
    args = parser.parse_args(argv)
    if PLUGIN_FAILURES:  # reported once the command is known, so that --help still works
        print(f"simcse-lab: error: {PLUGIN_FAILURES[0]}", file=sys.stderr)
        return 2
    _configure_logging(getattr(args, "quiet", False))
    _sigterm_interrupts()
    handler = {
        "compare": cmd_compare,
        "explore": cmd_explore,
        "train": cmd_train,
        "encode": cmd_encode,
        "config": cmd_config,
        "sweep": cmd_sweep,
        "report": cmd_report,
        "probe-backends": cmd_probe_backends,
    }[args.command]
    try:
        return handler(args)
    except EXPECTED_ERRORS as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"simcse-lab: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "simcse-lab: interrupted; cached embeddings, training checkpoints and earlier run folders are kept",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
