"""Training throughput of PyTorch Lightning on one device: the Python half of bench/gpu/run.sh.

Trains the same models as throughput.cpp (its header describes them), with the same flags,
defaults, data shapes, optimizers, Trainer flags and timing, and prints the same one line:
    throughput model=cnn framework=lightning-python device=cuda:0 ... samples_per_s=N

    python3 lightning_throughput.py cnn --accelerator gpu --steps 2000 --warmup 200
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

try:
    import lightning.pytorch as pl
except ImportError:  # the package's older name
    import pytorch_lightning as pl

if torch.__version__.startswith("1."):
    # Debian 12's torch 1.13 under Python 3.11 (the CPU dry run): its sharded-tensor module fails
    # to import, and Lightning only registers state-dict hooks from it.
    pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


def causal_attention(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):  # 2.x, with fused kernels
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]  # 1.13


class FashionCnn(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self(batch[0]), batch[1])
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.qkv, self.proj = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ln2, self.fc, self.out = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class TransformerLm(pl.LightningModule):
    def __init__(self, args):
        super().__init__()
        self.tokens = nn.Embedding(args.vocab, args.d_model)
        self.positions = nn.Embedding(args.context, args.d_model)
        self.blocks = nn.ModuleList(Block(args.d_model, args.heads) for _ in range(args.layers))
        self.ln = nn.LayerNorm(args.d_model)
        self.head = nn.Linear(args.d_model, args.vocab, bias=False)

    def forward(self, idx):
        x = self.tokens(idx) + self.positions(torch.arange(idx.size(1), device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))

    def training_step(self, batch, batch_idx):
        logits = self(batch[0])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[1].flatten())
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=3e-4, weight_decay=0.1)


class ThroughputTimer(pl.Callback):
    """Synchronises the module's device at the start of step `warmup` and at the end of training."""

    def __init__(self, warmup):
        self.warmup, self.start, self.end, self.device = warmup, None, None, None

    @staticmethod
    def synchronize(module):
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self.synchronize(module)
            self.start = time.perf_counter()

    def on_train_end(self, trainer, module):
        self.synchronize(module)
        self.end = time.perf_counter()
        self.device = str(module.device)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["cnn", "transformer"])
    for name, default in [("accelerator", "auto"), ("precision", "32-true")]:
        parser.add_argument("--" + name, default=default)
    for name, default in [("steps", 0), ("warmup", 0), ("batch_size", 0), ("num_workers", 2), ("seed", 0),
                          ("vocab", 8192), ("context", 256), ("d_model", 768), ("heads", 12), ("layers", 12)]:
        parser.add_argument("--" + name, type=int, default=default)
    args = parser.parse_args()
    cnn = args.model == "cnn"
    steps = args.steps or (2000 if cnn else 60)
    warmup = args.warmup or steps // 10
    batch = args.batch_size or (64 if cnn else 32)
    torch.manual_seed(args.seed)

    samples = min(steps, 256) * batch
    if cnn:
        model = FashionCnn()
        data = (torch.randn(samples, 1, 28, 28), torch.randint(10, (samples,)))
    else:
        model = TransformerLm(args)
        sequences = torch.randint(args.vocab, (samples, args.context + 1))
        data = (sequences[:, :-1].contiguous(), sequences[:, 1:].contiguous())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*data), batch_size=batch, shuffle=True,
                                         num_workers=args.num_workers, drop_last=True,
                                         pin_memory=torch.cuda.is_available(),
                                         persistent_workers=args.num_workers > 0)

    timer = ThroughputTimer(warmup)
    trainer = pl.Trainer(accelerator=args.accelerator, devices=1, precision=args.precision, logger=False,
                         callbacks=[timer], max_steps=steps, num_sanity_val_steps=0, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, loader)

    seconds = timer.end - timer.start
    print(f"throughput model={args.model} framework=lightning-python device={timer.device} "
          f"precision={args.precision} batch_size={batch} steps={steps} timed_steps={steps - warmup} "
          f"seconds={seconds:.6g} samples_per_s={(steps - warmup) * batch / seconds:.6g}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
