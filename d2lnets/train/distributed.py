"""Many processes, one loop: ``train_ch5`` under torchrun (or in a process group already set up).

``torchrun --nproc-per-node=N -m d2lnets.train RECIPE`` starts N processes; in each,
``train_ch5`` finds the process group (or sets it up from torchrun's environment: NCCL on CUDA,
gloo on the CPU), trains the model wrapped in ``DistributedDataParallel`` (which averages the
gradients over the processes at every step), gives each process its share of every global batch
of each epoch's seeded shuffle (:meth:`d2lnets.ImageLoader.shard`), adds the epoch's training
sums over the processes (so the History holds the global loss and accuracy; every process
evaluates the whole test set), and lets only rank 0 print, plot, record and write checkpoints.
One step trains on ``batch_size * world_size`` examples: the global batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .hooks import Hook

__all__ = ["Group", "group_for"]


@dataclass
class Group(Hook):
    """The process group train_ch5 trains in: this process's ``rank`` of ``world_size``. It sets
    the run up (:meth:`device`, :meth:`shard`, :meth:`wrap`), adds sums over the processes
    (:meth:`sum`) and, as the run's last hook, takes the group down at the end if it set it up.
    """
    rank: int
    world_size: int
    created: bool  # set up by train_ch5 (from torchrun's environment): taken down at its end

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """On CUDA, this process's own GPU: ``LOCAL_RANK`` (torchrun's), else the rank modulo the GPUs."""
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank % torch.cuda.device_count())))
            torch.cuda.set_device(device)
        return device

    def wrap(self, net: nn.Module, device: torch.device, sync_batchnorm: bool) -> nn.Module:
        """``net`` in DistributedDataParallel (its batch norm layers made SyncBatchNorm if asked)."""
        if sync_batchnorm and device.type == "cpu":
            raise ValueError("sync_batchnorm=True: PyTorch's SyncBatchNorm runs on GPUs only; on the CPU leave it "
                             "out (each process then normalises with its own share of the batch)")
        if sync_batchnorm:
            converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            if converted is not net:
                raise ValueError("sync_batchnorm=True cannot convert a network that is itself one batch norm layer")
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)

    def shard(self, data):
        """This process's share of a loader that can shard itself (the in-memory loaders); any
        other loader is taken as already sharded (e.g. a DataLoader with a DistributedSampler)."""
        return data.shard(self.rank, self.world_size) if hasattr(data, "shard") else data

    def sum(self, *tensors: torch.Tensor) -> None:
        """Add ``tensors`` over the processes, in place."""
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)

    def on_fit_end(self, run) -> None:
        if self.created and dist.is_initialized():
            dist.destroy_process_group()


def group_for(device: torch.device) -> Group | None:
    """The process group to train in: the one set up already, or one set up from torchrun's
    environment (``WORLD_SIZE`` > 1); None for a single process."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() == 1:
            return None
        return Group(dist.get_rank(), dist.get_world_size(), created=False)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "MASTER_ADDR" not in os.environ:
        return None
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 (torchrun), but this torch has no torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend)
    return Group(dist.get_rank(), dist.get_world_size(), created=True)
