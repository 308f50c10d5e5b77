"""Two gloo ranks on this machine, each drawing the on-policy rows and samples of the same batch at the same update
(fairseq-train seeds every rank alike), each saving what it drew (rank0.pt, rank1.pt in OUT). Run by
test_distributed.py in a process of its own."""
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def rank_main(rank, teacher, out, port):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", world_size=2, rank=rank)
    import kdseq  # noqa: F401  (registers the criterion; allows loading the checkpoint)
    from tests.conftest import teacher_and_batch, word_kd_criterion

    loaded = teacher_and_batch(teacher)
    student = loaded["student"].train()
    crit = word_kd_criterion(loaded["task"], teacher, kd_alpha=1.0, kd_on_policy=0.5)
    torch.manual_seed(7)  # fairseq-train's seed + update number, the same on every rank
    new, on, _ = crit.on_policy.resample(student, loaded["sample"], 0)
    torch.save({"rows": on.tolist(), "targets": new["target"].tolist()}, os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


def main(teacher, out, port):
    os.makedirs(out, exist_ok=True)
    mp.spawn(rank_main, args=(teacher, out, port), nprocs=2, join=True)


if __name__ == "__main__":
    main(*sys.argv[1:3], int(sys.argv[3]))
