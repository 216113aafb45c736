"""Multi-process training: which process this is, what the processes share, and how to start N of them.

``train()`` runs unchanged under ``torchrun`` (or ``offline-ner train --nproc N``, which starts torchrun): HF
Trainer wraps the model in DDP (gloo on CPU, nccl on GPU) and shards every global batch of our sampler over the
ranks, so each rank sees a disjoint slice of the same global schedule. Only rank 0 writes files; the counts that
each rank keeps for itself (records and tokens trained on) are summed over the ranks before they are written.

Example::

    python -m torch.distributed.run --standalone --nproc-per-node 2 -m offline_ner train --config gold ...
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# torch is imported inside the functions that need it: the CLI reads the rank before any heavy import


def world_size() -> int:
    """Processes in this training run (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """True in the one process that writes files and prints."""
    return rank() == 0


def init() -> None:
    """Join the process group torchrun set up (gloo on CPU, nccl on GPU); nothing outside torchrun."""
    import torch

    if world_size() > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")


def barrier() -> None:
    """Wait until every rank is here (e.g. until rank 0 has written what the others read)."""
    import torch

    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def sum_over_ranks(values: Sequence[int]) -> list[int]:
    """Element-wise sum of ``values`` over all ranks (``values`` itself in a single process). Collective."""
    import torch

    if not torch.distributed.is_initialized():
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.long)
    torch.distributed.all_reduce(tensor)
    return [int(v) for v in tensor.tolist()]


def threads_per_rank(requested: int) -> int:
    """Torch threads for one rank: ``requested`` if set, else this machine's cores split evenly over the ranks."""
    if requested:
        return requested
    return max(1, (os.cpu_count() or 1) // world_size())


def torchrun_command(nproc: int, cli_args: Sequence[str]) -> list[str]:
    """The command that runs ``offline-ner <cli_args>`` in ``nproc`` processes on this machine under torchrun."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "offline_ner", *cli_args]
