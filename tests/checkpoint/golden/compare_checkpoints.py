#!/usr/bin/python3
"""Compare a checkpoint written by our C++ Trainer with a golden Lightning checkpoint.

Usage:
    /usr/bin/python3 compare_checkpoints.py [options] GOLDEN.ckpt OURS.ckpt

Needs only torch (no Lightning). Both files are read with torch.load(map_location="cpu")
and compared recursively, key by key and value by value:

  * every dict: the same keys, in the same order (order is checked on the keys that both
    have, after the allowed extras are set aside); keys of different types (0 vs '0') are
    different keys;
  * the top-level `state_dict` must be a collections.OrderedDict in both files;
  * every value: exactly the same Python type (int / float / bool / None / str / list /
    tuple / dict / OrderedDict / Tensor ...), so e.g. SGD's `dampening` must be int 0 in both;
  * int, bool, str, None: exact equality;
  * float: math.isclose(rel_tol=1e-6, abs_tol=1e-9) (NaN equals NaN);
  * Tensor: same dtype and shape, then torch.allclose(rtol=1e-5, atol=1e-7, equal_nan=True)
    for floating/complex tensors and torch.equal otherwise; whether the two tensors are
    bitwise equal is reported as information only ("info: ...").

Allowed, documented differences (printed as "allowed: ..."; they never fail the comparison):

  1. ModelCheckpoint paths. In every `callbacks` entry whose state has a string `dirpath`,
     each checkpoint's own `dirpath` is replaced by `<dirpath>` in all strings and dict keys of
     that callback state (dirpath itself, best_model_path, kth_best_model_path, last_model_path,
     the keys of best_k_models, ...) before comparing. A value is replaced when it equals the
     dirpath or starts with dirpath + "/".
  2. Keys present only in OURS: top-level `rng_states`, top-level `lightning_cpp_version`, and
     `loops.fit_loop.lightning_cpp` (extras written by the C++ port). Any other extra or
     missing key is a difference. More can be allowed with --allow-extra.

Options:
  --allow-extra KEYPATH   also allow this key to exist only in OURS (repeatable)
  --ignore KEYPATH        do not compare this subtree at all (repeatable; reported as allowed)
  KEYPATH is a '/'-separated list of dict keys from the top, e.g. loops/fit_loop/lightning_cpp
  (an all-digit component also matches an int key, e.g. optimizer_states/0/state/0).
  -q, --quiet             do not print the info lines

Output: one line per difference, "<key path>: <what differs>", e.g.
    loops.fit_loop.epoch_progress.total.completed: golden 1, ours 2
then a summary line. Exit status: 0 = no differences, 1 = differences, 2 = usage / load error.
"""

import argparse
import collections
import inspect
import math
import re
import sys

import torch

REL_TOL = 1e-6
ABS_TOL = 1e-9
T_RTOL = 1e-5
T_ATOL = 1e-7

DEFAULT_ALLOWED_EXTRA = [
    ("rng_states",),
    ("lightning_cpp_version",),
    ("loops", "fit_loop", "lightning_cpp"),
]

DIRPATH_TOKEN = "<dirpath>"

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


# ----------------------------------------------------------------------------- helpers
def load(path):
    kwargs = {"map_location": "cpu"}
    try:
        if "weights_only" in inspect.signature(torch.load).parameters:
            kwargs["weights_only"] = False  # torch >= 2.6 defaults to True
    except (TypeError, ValueError):
        pass
    return torch.load(path, **kwargs)


def fmt_path(path):
    if not path:
        return "<root>"
    out = ""
    for k in path:
        if isinstance(k, _Index):
            out += f"[{k.i}]"
        elif isinstance(k, str) and _SIMPLE_KEY.match(k):
            out += ("." if out else "") + k
        else:
            out += f"[{k!r}]"
    return out


class _Index:
    """A list/tuple index inside a path (distinct from an int dict key)."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def short(v, limit=120):
    try:
        if isinstance(v, torch.Tensor):
            s = f"Tensor({v.dtype}, {list(v.shape)})"
            if v.numel() <= 8:
                s += f" {v.tolist()!r}"
            return s
        if isinstance(v, dict):
            return f"{type(v).__name__} with keys {list(v.keys())!r}"[:limit]
        if isinstance(v, (list, tuple)) and any(isinstance(x, (dict, list, tuple, torch.Tensor)) for x in v):
            return f"{type(v).__name__} of length {len(v)}"
        s = " ".join(repr(v).split())
    except Exception as e:  # pragma: no cover - repr of odd objects
        s = f"<unprintable {type(v).__name__}: {e}>"
    if len(s) > limit:
        s = s[:limit] + "..."
    return s


def tname(v):
    t = type(v)
    return t.__name__ if t.__module__ in ("builtins",) else f"{t.__module__}.{t.__qualname__}"


def path_matches(path, pattern):
    """path: tuple of keys (may contain _Index); pattern: tuple of str components."""
    if len(path) != len(pattern):
        return False
    for k, p in zip(path, pattern):
        if isinstance(k, _Index):
            if p != str(k.i) and p != f"[{k.i}]":
                return False
        elif isinstance(k, str):
            if k != p:
                return False
        elif isinstance(k, bool) or not isinstance(k, int):
            if str(k) != p:
                return False
        else:  # int key
            if str(k) != p:
                return False
    return True


def parse_keypath(s):
    return tuple(c for c in s.split("/") if c != "")


def _bitwise_equal(a, b):
    try:
        if a.dtype.is_floating_point or a.is_complex():
            size = a.element_size()
            itype = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}.get(size)
            if a.is_complex():
                a = torch.view_as_real(a)
                b = torch.view_as_real(b)
                itype = {2: torch.int16, 4: torch.int32, 8: torch.int64}.get(a.element_size())
            if itype is None:
                return None
            return torch.equal(a.contiguous().view(itype), b.contiguous().view(itype))
        return torch.equal(a, b)
    except Exception:
        return None


# ----------------------------------------------------------------------------- comparer
class Comparer:
    def __init__(self, allowed_extra, ignore, quiet=False):
        self.allowed_extra = list(allowed_extra)
        self.ignore = list(ignore)
        self.quiet = quiet
        self.diffs = []
        self.allowed = []
        self.infos = []
        self.n_tensors = 0
        self.n_bitwise = 0
        self.n_values = 0

    # reporting
    def diff(self, path, msg):
        self.diffs.append(f"{fmt_path(path)}: {msg}")

    def allow(self, path, msg):
        self.allowed.append(f"allowed: {fmt_path(path)}: {msg}")

    def info(self, path, msg):
        self.infos.append(f"info: {fmt_path(path)}: {msg}")

    # string normalisation inside ModelCheckpoint states
    @staticmethod
    def _norm(s, dirpath):
        if dirpath is None or not isinstance(s, str):
            return s
        if s == dirpath:
            return DIRPATH_TOKEN
        if s.startswith(dirpath + "/"):
            return DIRPATH_TOKEN + s[len(dirpath):]
        return s

    def compare(self, g, o, path=(), ctx=None):
        """ctx: None or (golden_dirpath, ours_dirpath) inside a ModelCheckpoint state."""
        try:
            self._compare(g, o, path, ctx)
        except RecursionError:
            self.diff(path, "structure too deep to compare")
        except Exception as e:  # never die on odd values
            self.diff(path, f"comparison error {type(e).__name__}: {e} (golden {short(g)}, ours {short(o)})")

    def _compare(self, g, o, path, ctx):
        for pat in self.ignore:
            if path_matches(path, pat):
                self.allow(path, "ignored (--ignore)")
                return
        self.n_values += 1

        if type(g) is not type(o):
            self.diff(path, f"type golden {tname(g)} ({short(g)}), ours {tname(o)} ({short(o)})")
            return

        if isinstance(g, torch.Tensor):
            self._compare_tensor(g, o, path)
        elif isinstance(g, dict):
            self._compare_dict(g, o, path, ctx)
        elif isinstance(g, (list, tuple)):
            if len(g) != len(o):
                self.diff(path, f"{tname(g)} length golden {len(g)}, ours {len(o)}")
            for i, (a, b) in enumerate(zip(g, o)):
                self.compare(a, b, path + (_Index(i),), ctx)
        elif isinstance(g, float):
            if math.isnan(g) and math.isnan(o):
                return
            if not math.isclose(g, o, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                self.diff(path, f"golden {g!r}, ours {o!r}")
            elif g != o:
                self.info(path, f"floats close but not equal: golden {g!r}, ours {o!r}")
        elif isinstance(g, str):
            if g == o:
                return
            if ctx is not None:
                ng, no = self._norm(g, ctx[0]), self._norm(o, ctx[1])
                if ng == no:
                    self.allow(path, f"path differs only in ModelCheckpoint dirpath: golden {g!r}, ours {o!r} -> {ng!r}")
                    return
                self.diff(path, f"golden {g!r}, ours {o!r} (after dirpath normalisation: {ng!r} vs {no!r})")
                return
            self.diff(path, f"golden {g!r}, ours {o!r}")
        elif g is None:
            return
        else:  # int, bool, bytes and anything else: exact equality
            try:
                eq = g == o
                eq = bool(eq)
            except Exception as e:
                self.diff(path, f"cannot compare {tname(g)} values: {e}")
                return
            if not eq:
                self.diff(path, f"golden {short(g)}, ours {short(o)}")

    def _compare_tensor(self, g, o, path):
        self.n_tensors += 1
        if g.dtype != o.dtype:
            self.diff(path, f"tensor dtype golden {g.dtype}, ours {o.dtype}")
            return
        if tuple(g.shape) != tuple(o.shape):
            self.diff(path, f"tensor shape golden {list(g.shape)}, ours {list(o.shape)}")
            return
        if g.layout != o.layout:
            self.diff(path, f"tensor layout golden {g.layout}, ours {o.layout}")
            return
        if g.layout != torch.strided:
            g, o = g.to_dense(), o.to_dense()
        if g.requires_grad != o.requires_grad:
            self.info(path, f"requires_grad golden {g.requires_grad}, ours {o.requires_grad}")
        g, o = g.detach(), o.detach()
        if g.dtype.is_floating_point or g.is_complex():
            close = torch.allclose(g, o, rtol=T_RTOL, atol=T_ATOL, equal_nan=True)
        else:
            close = torch.equal(g, o)
        bitwise = _bitwise_equal(g, o)
        if bitwise:
            self.n_bitwise += 1
        if not close:
            msg = f"tensor values differ"
            try:
                if g.numel() <= 8:
                    msg += f": golden {g.tolist()!r}, ours {o.tolist()!r}"
                else:
                    d = (g.double() - o.double()).abs()
                    msg += f" (max abs diff {d.max().item():.6g}, {int((d > 0).sum())} of {g.numel()} elements differ)"
            except Exception:
                pass
            self.diff(path, msg)
        elif bitwise is False:
            try:
                d = (g.double() - o.double()).abs().max().item()
                self.info(path, f"tensor allclose but not bitwise equal (max abs diff {d:.3g})")
            except Exception:
                self.info(path, "tensor allclose but not bitwise equal")

    def _is_allowed_extra(self, path):
        return any(path_matches(path, pat) for pat in self.allowed_extra)

    def _compare_dict(self, g, o, path, ctx):
        # ModelCheckpoint states: normalise dict keys by each side's own dirpath
        gdir = odir = None
        if ctx is not None:
            gdir, odir = ctx

        def nkey(k, d):
            return self._norm(k, d) if ctx is not None else k

        gmap = collections.OrderedDict()
        for k in g.keys():
            gmap[(type(k), nkey(k, gdir))] = k
        omap = collections.OrderedDict()
        for k in o.keys():
            omap[(type(k), nkey(k, odir))] = k

        common_g = [nk for nk in gmap if nk in omap]
        common_o = [nk for nk in omap if nk in gmap]

        for nk, k in gmap.items():
            if nk not in omap:
                self.diff(path + (k,), f"missing in ours (golden {short(g[k])})")
        for nk, k in omap.items():
            if nk not in gmap:
                if self._is_allowed_extra(path + (k,)):
                    self.allow(path + (k,), "key only in ours (documented extra)")
                else:
                    self.diff(path + (k,), f"extra key in ours ({short(o[k])})")

        if common_g != common_o:
            self.diff(path, "key order differs: golden [%s], ours [%s]" % (
                ", ".join(repr(gmap[nk]) for nk in common_g),
                ", ".join(repr(omap[nk]) for nk in common_o)))

        for nk in common_g:
            gk, ok = gmap[nk], omap[nk]
            if gk != ok:
                self.allow(path + (gk,), f"dict key differs only in ModelCheckpoint dirpath: golden {gk!r}, ours {ok!r}")
            sub_ctx = ctx
            gv, ov = g[gk], o[ok]
            if path == ("callbacks",) and isinstance(gv, dict) and isinstance(ov, dict):
                gd, od = gv.get("dirpath"), ov.get("dirpath")
                if isinstance(gd, str) or isinstance(od, str):
                    sub_ctx = (_strip(gd), _strip(od))
            self.compare(gv, ov, path + (gk,), sub_ctx)

    def run(self, golden, ours):
        # the top-level state_dict must be an OrderedDict in both
        # (a type mismatch between the two is reported by compare() itself)
        if isinstance(golden, dict) and isinstance(ours, dict) and "state_dict" in golden and "state_dict" in ours:
            gs, os_ = golden["state_dict"], ours["state_dict"]
            if type(gs) is type(os_) and type(gs) is not collections.OrderedDict:
                self.diff(("state_dict",), f"state_dict is {tname(gs)} in both, expected collections.OrderedDict")
        self.compare(golden, ours, ())


def _strip(d):
    if isinstance(d, str) and len(d) > 1:
        return d.rstrip("/") or "/"
    return d if isinstance(d, str) else None


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare a C++ Trainer checkpoint with a golden Lightning checkpoint (see module docstring).")
    ap.add_argument("golden")
    ap.add_argument("ours")
    ap.add_argument("--allow-extra", action="append", default=[], metavar="KEYPATH")
    ap.add_argument("--ignore", action="append", default=[], metavar="KEYPATH")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)

    try:
        golden = load(args.golden)
    except Exception as e:
        print(f"error: cannot load golden {args.golden}: {type(e).__name__}: {e}")
        return 2
    try:
        ours = load(args.ours)
    except Exception as e:
        print(f"error: cannot load ours {args.ours}: {type(e).__name__}: {e}")
        return 2

    c = Comparer(DEFAULT_ALLOWED_EXTRA + [parse_keypath(p) for p in args.allow_extra],
                 [parse_keypath(p) for p in args.ignore], quiet=args.quiet)
    c.run(golden, ours)

    print(f"comparing golden {args.golden} with ours {args.ours}")
    for line in c.diffs:
        print(line)
    for line in c.allowed:
        print(line)
    if not args.quiet:
        for line in c.infos:
            print(line)
    print(f"summary: {len(c.diffs)} difference(s), {len(c.allowed)} allowed, "
          f"{c.n_values} values compared, {c.n_tensors} tensors ({c.n_bitwise} bitwise equal) -> "
          f"{'DIFFERENT' if c.diffs else 'MATCH'}")
    return 1 if c.diffs else 0


if __name__ == "__main__":
    sys.exit(main())
