"""``framesampler train``: train a learned sampler against the frozen classifier."""
from __future__ import annotations

import argparse
from pathlib import Path

from framesampler.cli.options import (
    budget_options,
    data_config,
    data_options,
    device_options,
    learned_name,
    option,
    recipe_options,
)
from framesampler.constants import LEARNED_SAMPLERS, MAX_WIDTH, REGIMES

SAMPLER_FLAGS = ("width", "shift_div", "importance", "temperature", "so_loss", "margin", "lam", "set_log_prob",
                 "entropy_weight")  # flags that are options of the sampler's constructor


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("train", parents=[*parents, data_options(), budget_options(), recipe_options(),
                                                           device_options()],
                                   help="train a learned sampler against the frozen classifier")
    parser.add_argument("--sampler", type=learned_name, required=True, metavar="NAME",
                        help=f"the learned sampler: {', '.join(LEARNED_SAMPLERS)}, or an installed plugin's")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory to write")
    parser.add_argument("--regime", choices=REGIMES,
                        help="default: untrimmed for a feature file, trimmed (as they are) for a video dataset")
    parser.add_argument("--batch-size", type=int, help="videos per step (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="initial SGD learning rate (default: the recipe's)")
    parser.add_argument("--momentum", type=float, help="SGD momentum (default: the recipe's)")
    parser.add_argument("--weight-decay", type=float, help="SGD weight decay (default: the recipe's)")
    parser.add_argument("--width", type=int, help=f"encoder width W (default 256, at most {MAX_WIDTH})")
    parser.add_argument("--shift-div", type=int, help="temporal shift: 1/shift-div of channels each way (0: none; default 8)")
    sos = parser.add_argument_group("sosampler")
    sos.add_argument("--importance", choices=("max", "label"), help="teacher confidence (default max)")
    sos.add_argument("--temperature", type=float, help="teacher softmax temperature (default 1)")
    sos.add_argument("--so-loss", choices=("rank", "rank_weighted", "mse", "kl"), help="L_SO (default rank, Eq. 3)")
    sos.add_argument("--margin", type=float, help="ranking margin gamma (default 0.01)")
    sos.add_argument("--lambda", dest="lam", type=float, help="weight of L_SO against L_LG (default 0.99, Eq. 4)")
    ocs = parser.add_argument_group("ocsampler")
    ocs.add_argument("--set-log-prob", choices=("auto", "exact", "sorted", "sampled"),
                     help="log P(set): exact over N! orders, or an approximation (default auto: exact up to N=6)")
    ocs.add_argument("--entropy-weight", type=float, help="entropy bonus (default 0.1, the authors' explore_rate)")
    parser.add_argument("--option", type=option, action="append", default=[], metavar="KEY=VALUE",
                        help="any other option of the sampler's constructor (value read as JSON when it parses)")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.train import TrainConfig, run_training
    from framesampler.learned import TrainSettings

    options = {k: getattr(args, k) for k in SAMPLER_FLAGS if getattr(args, k) is not None}
    options.update(dict(args.option))
    settings = TrainSettings(recipe=args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             momentum=args.momentum, weight_decay=args.weight_decay)
    config = TrainConfig(**data_config(args, args.regime), sampler=args.sampler, out=str(args.out), T=args.T, N=args.N,
                         options=options, settings=settings, device=args.device)
    out = run_training(config, progress=not args.no_progress)
    print(f"wrote {out} (config.json, weights.pt, train_log.jsonl)")
