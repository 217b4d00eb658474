# PyTorch's own DistributedDataParallel on bench/ddp_scaling's models, its baseline: microseconds
# per training step (forward, backward, SGD step) with one intra-op thread per process, over Gloo
# on loopback; NPROCS=1 is one process without DDP. Run by Debian's /usr/bin/python3.
#   /usr/bin/python3 bench/python/ddp_baseline.py tiny|cnn NPROCS STEPS PORT OUT
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel


def model_and_batch(kind):
    nn = torch.nn
    if kind == "tiny":
        return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)), torch.randn(32, 32), 32
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    return cnn, torch.randn(64, 1, 28, 28), 64


def run(rank, kind, nprocs, steps, port, out):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, x, batch = model_and_batch(kind)
    y = torch.randint(0, 10, (batch,))
    if nprocs > 1:
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group("gloo", rank=rank, world_size=nprocs)
        model = DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    warmup = min(10, steps // 4)
    for i in range(steps):
        if i == warmup:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    elapsed = time.perf_counter() - start
    if rank == 0:
        with open(out, "w") as f:
            f.write(str(elapsed / (steps - warmup) * 1e6))
    if nprocs > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    kind, nprocs, steps, port, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    if nprocs == 1:
        run(0, kind, 1, steps, port, out)
    else:
        mp.spawn(run, args=(kind, nprocs, steps, port, out), nprocs=nprocs)
