"""fairseq's own distributed training (torch.distributed under ``fairseq-train``) on machines without a GPU.

fairseq 0.12 assumes one CUDA device per rank when it infers a launcher's settings. On CPU processes (gloo) that
breaks in four places, each patched here at import (:func:`patch_fairseq`), and only where no GPU is present, so
a GPU machine runs fairseq's code unchanged:

- ``torchrun``: the rank's device is ``rank % torch.cuda.device_count()``, a division by zero; and the default
  world size (the GPU count, at least 1) makes fairseq ignore the launcher. Here every process is one rank of
  ``WORLD_SIZE``, on the CPU.
- ``srun`` (fairseq's Slurm initialisation): one task per node gives ``nodes x 0 GPUs`` ranks, several tasks per
  node call ``torch.cuda.set_device`` on rank 1. Here every Slurm task is one rank (``SLURM_PROCID`` of
  ``SLURM_NTASKS``), on the CPU, the rendezvous on the first node at ``--distributed-port``.
- no launcher: fairseq spawns ``min(GPUs, world size)`` = 0 processes and trains nothing. Refused in one line.
- ``--ddp-backend c10d`` (the default) hands the CPU module to torch's DistributedDataParallel with
  ``device_ids=[0]``, which torch refuses for a CPU module: on CPU ranks it gets none.
- ``all_gather_list`` (how fairseq gathers the logs of a criterion whose logs cannot be summed, as word_kd's)
  allocates a CUDA buffer and pins memory: on CPU ranks the logs go through ``torch.distributed.all_gather_object``.

Flags: on CPU, ``--cpu --distributed-backend gloo`` (either ``--ddp-backend``) under ``torchrun --nproc-per-node N``
or ``srun --ntasks N`` (with ``--distributed-port P``); on GPUs fairseq's own defaults (NCCL), nothing else.
"""
import os
import subprocess

import torch

from kdseq.errors import KdseqError

LAUNCHER_VARS = ("RANK", "SLURM_PROCID")


def no_gpu():
    return not torch.cuda.is_available()


def torchrun_init(cfg):
    """Every torchrun process is one rank of WORLD_SIZE, on the CPU."""
    cfg.distributed_init_method = "env://"
    cfg.distributed_world_size = int(os.environ["WORLD_SIZE"])
    cfg.distributed_rank = int(os.environ["RANK"])
    cfg.device_id = 0
    cfg.distributed_no_spawn = True


def slurm_init(cfg):
    """Every Slurm task is one rank of SLURM_NTASKS, on the CPU; the rendezvous is on the step's first node.
    Returns False outside a Slurm step of several tasks."""
    node_list = os.environ.get("SLURM_STEP_NODELIST") or os.environ.get("SLURM_JOB_NODELIST")
    ntasks = os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ.get("SLURM_NTASKS")
    if node_list is None or "SLURM_PROCID" not in os.environ or not ntasks or int(ntasks) < 2:
        return False  # not a Slurm step of several tasks: a single process (e.g. a one-task sbatch job)
    if cfg.distributed_port <= 0:
        raise KdseqError("--distributed-port: training under Slurm on CPU processes needs a free port for the ranks' "
                         "rendezvous on the first node, e.g. --distributed-port 29500")
    try:
        hosts = subprocess.check_output(["scontrol", "show", "hostnames", node_list], text=True).split()
    except (OSError, subprocess.CalledProcessError) as e:
        raise KdseqError(f"SLURM_JOB_NODELIST {node_list}: scontrol cannot list its hosts ({e})") from None
    cfg.distributed_init_method = f"tcp://{hosts[0]}:{cfg.distributed_port}"
    cfg.distributed_world_size = int(ntasks)
    cfg.distributed_rank = int(os.environ["SLURM_PROCID"])
    cfg.device_id = 0
    cfg.distributed_no_spawn = True
    return True


def check_launcher(cfg):
    """A world size above 1 that no launcher starts: fairseq would spawn one process per GPU."""
    if cfg.distributed_world_size > torch.cuda.device_count() and not any(v in os.environ for v in LAUNCHER_VARS):
        raise KdseqError(f"--distributed-world-size {cfg.distributed_world_size}: this machine has "
                         f"{torch.cuda.device_count()} GPUs, and no launcher started the ranks: run `torchrun "
                         f"--nproc-per-node {cfg.distributed_world_size} $(which fairseq-train) ...` or `srun --ntasks "
                         f"{cfg.distributed_world_size} fairseq-train ...` (on CPU with --cpu --distributed-backend gloo)")


def all_gather_objects(data, group=None, max_size=16384):
    """fairseq's ``all_gather_list`` on CPU ranks: every rank's picklable ``data``, in rank order."""
    from fairseq import utils
    from fairseq.distributed import utils as dist_utils

    group = group if group is not None else dist_utils.get_global_group()
    out = [None] * dist_utils.get_world_size(group=group)
    torch.distributed.all_gather_object(out, utils.move_to_cpu(data), group=group)
    return out


def patch_fairseq():
    """Apply the CPU paths above to fairseq.distributed.utils (once)."""
    from fairseq.distributed import utils as du
    from fairseq.models import distributed_fairseq_model as dfm

    if getattr(du, "_kdseq_patched", False):
        return
    ddp = dfm.DistributedDataParallel

    def distributed_data_parallel(module, device_ids=None, output_device=None, **kwargs):
        if no_gpu():  # torch's DDP takes a CPU module with no device ids
            device_ids = output_device = None
        return ddp(module, device_ids=device_ids, output_device=output_device, **kwargs)

    dfm.DistributedDataParallel = distributed_data_parallel
    infer, torchrun, slurm, single, gather = (du.infer_init_method, du._infer_torch_distributed_launch_init,
                                              du._infer_slurm_init, du._infer_single_node_init, du.all_gather_list)

    def infer_init_method(cfg, force_distributed=False):
        if no_gpu() and cfg.distributed_init_method is None and not cfg.tpu:
            if all(k in os.environ for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK")):
                return torchrun_init(cfg)
            if slurm_init(cfg):
                return None
        return infer(cfg, force_distributed)

    def infer_slurm_init(cfg, num_pipelines_per_node):
        return slurm_init(cfg) if no_gpu() else slurm(cfg, num_pipelines_per_node)

    def infer_single_node_init(cfg):
        check_launcher(cfg)
        return single(cfg)

    def all_gather_list(data, group=None, max_size=16384):
        if no_gpu():
            return all_gather_objects(data, group, max_size)
        return gather(data, group, max_size)

    du.infer_init_method, du._infer_slurm_init = infer_init_method, infer_slurm_init
    du._infer_single_node_init, du.all_gather_list = infer_single_node_init, all_gather_list
    du._infer_torch_distributed_launch_init = lambda cfg: torchrun_init(cfg) if no_gpu() else torchrun(cfg)
    du._kdseq_patched = True
