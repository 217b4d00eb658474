"""Golden checkpoints written by the real PyTorch Lightning 2.2.5.

How these files were made (Debian 12, CPU only):

    # sources unpacked from the upstream git tags into /tmp/lt/src:
    #   Lightning-AI/pytorch-lightning 2.2.5  -> src/lightning  (+ src/version.info)
    #   Lightning-AI/utilities         v0.11.2 -> src/lightning_utilities
    #   Lightning-AI/torchmetrics      v1.3.2  -> src/torchmetrics
    # Debian python3-torch 1.13.0a0, python3-yaml, python3-fsspec, python3-tqdm,
    # python3-packaging, python3-typing-extensions; no patches to Lightning.
    PYTHONPATH=/tmp/lt/src /usr/bin/python3 make_lightning_golden.py OUTDIR

It is not run by CI (CI has no Lightning); the C++ tests read its outputs.

Scenario (fully deterministic, no RNG is used anywhere):
  data   x = ((arange(256) % 17) - 8).float().reshape(64, 4) / 8
         y = stack([x0*2 - x1, x2 + x3*0.5], 1)
         train: TensorDataset(x, y), batch_size=8, shuffle=False -> 8 batches/epoch
         val:   first 16 rows, batch_size=8                      -> 2 batches
  model  one nn.Linear(4, 2) named `layer`, weight = arange(8).reshape(2,4)*0.1-0.3,
         bias = [0.1, -0.2]; loss = mse_loss; logs "train_loss" / "val_loss";
         SGD(lr=0.1, momentum=0.9) + StepLR(step_size=1, gamma=0.5) (epoch interval);
         save_hyperparameters() with init arg lr=0.1.
  trainer max_epochs=2, logger=False, no progress bar, no model summary,
         num_sanity_val_steps=2, deterministic=False, accelerator="cpu", devices=1,
         callbacks ModelCheckpoint(dirpath=OUTDIR/ckpt, every_n_train_steps=12,
         save_top_k=-1, filename="{epoch}-{step}") and
         ModelCheckpoint(dirpath=OUTDIR/best, monitor="val_loss", save_top_k=1,
         filename="best").

Outputs (in OUTDIR):
  lightning_2_2_5_step12.ckpt / .txt   mid-epoch checkpoint epoch=1-step=12.ckpt + dump
  lightning_2_2_5_best.ckpt / .txt     end-of-run best checkpoint (best.ckpt) + dump
  lightning_2_2_5_final_uninterrupted.pt  state_dict after the same fit without
                                       checkpoint callbacks (enable_checkpointing=False)
  lightning_2_2_5_final_resumed.pt     state_dict after fit(ckpt_path=step12 ckpt) with a
                                       fresh model (Lightning restarts the non-resumable
                                       DataLoader from its first batch, so this differs
                                       from the uninterrupted run; see the .txt summary)
  lightning_2_2_5_manual_step4.ckpt / .txt  manual optimization variant (one SGD lr=0.1
                                       momentum=0.9, manual_backward, no scheduler),
                                       checkpoint written at global step 4
  lightning_2_2_5_summary.txt          losses/weights summary of the runs above

The dump format (dump_checkpoint): one line per entry, keys in insertion order,
indented two spaces per level: `key: <type> = <value>`; tensors as
`Tensor(<dtype>, [shape])` followed by repr(t.tolist()).
"""

import os
import shutil
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import lightning
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint


# ModelCheckpoint stores realpath'd absolute paths in the checkpoint; use a fixed
# scratch directory so the golden files do not depend on OUTDIR.
WORKDIR = "/tmp/lightning_golden_work"


def make_data():
    x = ((torch.arange(256) % 17) - 8).float().reshape(64, 4) / 8
    y = torch.stack([x[:, 0] * 2 - x[:, 1], x[:, 2] + x[:, 3] * 0.5], 1)
    return x, y


def train_loader():
    x, y = make_data()
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)


def val_loader():
    x, y = make_data()
    return DataLoader(TensorDataset(x[:16], y[:16]), batch_size=8, shuffle=False)


def init_layer(layer):
    with torch.no_grad():
        layer.weight.copy_(torch.arange(8).float().reshape(2, 4) * 0.1 - 0.3)
        layer.bias.copy_(torch.tensor([0.1, -0.2]))


class GoldenModule(pl.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 2)
        init_layer(self.layer)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": sched}


class ManualModule(pl.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.layer = torch.nn.Linear(4, 2)
        init_layer(self.layer)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = F.mse_loss(self.layer(x), y)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def trainer_kwargs(outdir, **kw):
    base = dict(
        max_epochs=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=2,
        default_root_dir=outdir,
        deterministic=False,
        accelerator="cpu",
        devices=1,
    )
    base.update(kw)
    return base


# ----------------------------------------------------------------------------- dump
def _fmt_scalar(v):
    return repr(v)


def _dump(value, indent, lines, key):
    pad = "  " * indent
    head = f"{pad}{key}: " if key is not None else pad
    tname = type(value).__name__
    if isinstance(value, torch.Tensor):
        shape = list(value.shape)
        s = f"{head}Tensor({value.dtype}, {shape})"
        if value.numel() <= 64:
            s += " = " + repr(value.tolist())
        lines.append(s)
    elif isinstance(value, dict):
        lines.append(f"{head}{tname} (len {len(value)})")
        for k, v in value.items():
            _dump(v, indent + 1, lines, repr(k))
    elif isinstance(value, (list, tuple)):
        lines.append(f"{head}{tname} (len {len(value)})")
        for i, v in enumerate(value):
            _dump(v, indent + 1, lines, f"[{i}]")
    elif isinstance(value, (bool, int, float, type(None))):
        lines.append(f"{head}{tname} = {_fmt_scalar(value)}")
    elif isinstance(value, str):
        if len(value) <= 200:
            lines.append(f"{head}{tname} = {value!r}")
        else:
            lines.append(f"{head}{tname} (len {len(value)}) = {value[:200]!r}...")
    else:
        lines.append(f"{head}{tname} = {value!r}")


def dump_checkpoint(ckpt):
    lines = []
    _dump(ckpt, 0, lines, None)
    return "\n".join(lines) + "\n"


def write_dump(path_ckpt, path_txt, title):
    ckpt = torch.load(path_ckpt, map_location="cpu")
    with open(path_txt, "w") as f:
        f.write(f"# {title}\n")
        f.write(f"# lightning {lightning.__version__}, torch {torch.__version__}\n")
        f.write(dump_checkpoint(ckpt))
    return ckpt


# ----------------------------------------------------------------------------- main
def main(outdir):
    outdir = os.path.abspath(outdir)
    # fixed scratch dir: checkpoints embed absolute paths (best_model_path, dirpath, ...)
    work = WORKDIR
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    summary = [f"# lightning {lightning.__version__}, torch {torch.__version__}"]

    # 1) fit with the two checkpoint callbacks
    model = GoldenModule(lr=0.1)
    ck_steps = ModelCheckpoint(dirpath=os.path.join(work, "ckpt"), every_n_train_steps=12,
                               save_top_k=-1, filename="{epoch}-{step}")
    ck_best = ModelCheckpoint(dirpath=os.path.join(work, "best"), monitor="val_loss",
                              save_top_k=1, filename="best")
    trainer = pl.Trainer(**trainer_kwargs(work, callbacks=[ck_steps, ck_best]))
    trainer.fit(model, train_loader(), val_loader())
    summary.append(f"run1 ckpt dir: {sorted(os.listdir(os.path.join(work, 'ckpt')))}")
    summary.append(f"run1 best dir: {sorted(os.listdir(os.path.join(work, 'best')))}")
    summary.append(f"run1 best_model_path: {os.path.relpath(ck_best.best_model_path, work)}")
    summary.append(f"run1 best_model_score: {ck_best.best_model_score!r}")
    summary.append(f"run1 callback_metrics: { {k: v.item() for k, v in trainer.callback_metrics.items()} }")
    summary.append(f"run1 final state_dict: { {k: v.tolist() for k, v in model.state_dict().items()} }")

    step12 = os.path.join(outdir, "lightning_2_2_5_step12.ckpt")
    shutil.copyfile(os.path.join(work, "ckpt", "epoch=1-step=12.ckpt"), step12)
    write_dump(step12, os.path.join(outdir, "lightning_2_2_5_step12.txt"),
               "dump of epoch=1-step=12.ckpt (ModelCheckpoint every_n_train_steps=12)")
    best = os.path.join(outdir, "lightning_2_2_5_best.ckpt")
    shutil.copyfile(os.path.join(work, "best", "best.ckpt"), best)
    write_dump(best, os.path.join(outdir, "lightning_2_2_5_best.txt"),
               "dump of best.ckpt (ModelCheckpoint monitor=val_loss save_top_k=1), end of run")

    # 2) the same fit without checkpointing
    model2 = GoldenModule(lr=0.1)
    trainer2 = pl.Trainer(**trainer_kwargs(work, enable_checkpointing=False))
    trainer2.fit(model2, train_loader(), val_loader())
    torch.save(model2.state_dict(), os.path.join(outdir, "lightning_2_2_5_final_uninterrupted.pt"))
    summary.append(f"run2 (uninterrupted) final: { {k: v.tolist() for k, v in model2.state_dict().items()} }")

    # 3) resume from the step-12 checkpoint with a fresh model
    model3 = GoldenModule(lr=0.1)
    trainer3 = pl.Trainer(**trainer_kwargs(work, enable_checkpointing=False))
    trainer3.fit(model3, train_loader(), val_loader(), ckpt_path=step12)
    torch.save(model3.state_dict(), os.path.join(outdir, "lightning_2_2_5_final_resumed.pt"))
    summary.append(f"run3 (resumed from step12) final: { {k: v.tolist() for k, v in model3.state_dict().items()} }")
    summary.append(f"run3 global_step={trainer3.global_step} current_epoch={trainer3.current_epoch}")
    same = all(torch.equal(a, b) for a, b in zip(model2.state_dict().values(), model3.state_dict().values()))
    summary.append(f"resumed == uninterrupted (bitwise): {same}")

    # 4) manual optimization variant, checkpoint at step 4
    model4 = ManualModule(lr=0.1)
    ck_m = ModelCheckpoint(dirpath=os.path.join(work, "manual"), every_n_train_steps=4,
                           save_top_k=-1, filename="{epoch}-{step}")
    trainer4 = pl.Trainer(**trainer_kwargs(work, max_epochs=1, callbacks=[ck_m]))
    trainer4.fit(model4, train_loader(), val_loader())
    summary.append(f"run4 (manual) ckpt dir: {sorted(os.listdir(os.path.join(work, 'manual')))}")
    manual = os.path.join(outdir, "lightning_2_2_5_manual_step4.ckpt")
    shutil.copyfile(os.path.join(work, "manual", "epoch=0-step=4.ckpt"), manual)
    write_dump(manual, os.path.join(outdir, "lightning_2_2_5_manual_step4.txt"),
               "dump of epoch=0-step=4.ckpt (manual optimization, every_n_train_steps=4)")

    with open(os.path.join(outdir, "lightning_2_2_5_summary.txt"), "w") as f:
        f.write("\n".join(summary) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_lightning_golden.py OUTDIR")
    main(sys.argv[1])
