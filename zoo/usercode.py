"""User code in a box: every call stbench makes into a user's code (importing a --module or an
entry point, a registered builder, a forward) runs inside `user_code`.

The box saves the process state stbench measures with and restores it afterwards, whatever
the user's code did: torch's default dtype, intra-op threads and grad mode, the RNG states
(Python, NumPy, torch, CUDA), the working directory, ``sys.stdout``/``sys.stderr`` and the
SIGINT/SIGTERM handlers (an alarm the code left set is cancelled). While it runs, the
user's stdout (Python's and file descriptor 1) goes to stderr, so stbench's stdout stays
its table, CSV or JSON. Anything it raises, a ``sys.exit`` included, comes out as one
`UserCodeError` line naming the model or module, the phase and the exception (a usage
problem: exit 2 from a command, a failure row in a sweep); so does a SIGALRM, SIGUSR1 or
SIGUSR2 it sends (SIGINT and SIGTERM stay the user's way to stop stbench). What the code
returns is checked where it is used: a builder returns an ``nn.Module`` (`check_module`),
a forward a tensor or a structure of tensors (`check_output`, `check_classes`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
from collections.abc import Iterator
from typing import Any

from stbench.errors import UserError

SIGNALS = ("SIGINT", "SIGTERM")  # their handlers are stbench's: restored after user code
# Signals only the code itself sends (an alarm, a user signal): an error naming it, not death.
OWN_SIGNALS = ("SIGALRM", "SIGUSR1", "SIGUSR2")


class _Signalled(Exception):
    """A signal user code sent to this process while it ran."""


class UserCodeError(UserError):
    """User code failed or broke the contract; one line naming who and in which phase."""

    def __init__(self, message: str, *, who: str | None = None) -> None:
        super().__init__(message)
        self.who = who


def _save() -> dict[str, Any]:
    """The process state user code may change and stbench depends on."""
    import torch

    state: dict[str, Any] = {
        "dtype": torch.get_default_dtype(),
        "threads": torch.get_num_threads(),
        "grad": torch.is_grad_enabled(),
        "torch_rng": torch.get_rng_state(),
        "random": random.getstate(),
        "stdout": sys.stdout,
        "stderr": sys.stderr,
        "signals": {},
    }
    with contextlib.suppress(OSError):
        state["cwd"] = os.getcwd()
    np = sys.modules.get("numpy")
    if np is not None:
        state["numpy_rng"] = np.random.get_state()
    if torch.cuda.is_initialized():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    for name in SIGNALS:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            state["signals"][name] = signal.getsignal(getattr(signal, name))
    for name in OWN_SIGNALS:  # (main thread only: elsewhere signal.signal is refused)
        with contextlib.suppress(ValueError, OSError, AttributeError):
            state["signals"][name] = signal.signal(getattr(signal, name), _raise_signalled)
    return state


def _raise_signalled(signum: int, _frame: Any) -> None:
    raise _Signalled(signal.Signals(signum).name)


def _restore(state: dict[str, Any]) -> None:
    """Put back what `_save` saved (each part on its own: one failure does not stop the rest)."""
    import torch

    steps = [
        lambda: (
            torch.get_default_dtype() == state["dtype"] or torch.set_default_dtype(state["dtype"])
        ),
        lambda: (
            torch.get_num_threads() == state["threads"] or torch.set_num_threads(state["threads"])
        ),
        lambda: torch.set_grad_enabled(state["grad"]),
        lambda: torch.set_rng_state(state["torch_rng"]),
        lambda: random.setstate(state["random"]),
        lambda: setattr(sys, "stdout", state["stdout"]),
        lambda: setattr(sys, "stderr", state["stderr"]),
    ]
    if "cwd" in state:
        steps.append(lambda: os.chdir(state["cwd"]))
    if "numpy_rng" in state:
        steps.append(lambda: sys.modules["numpy"].random.set_state(state["numpy_rng"]))
    if "cuda_rng" in state:
        steps.append(lambda: torch.cuda.set_rng_state_all(state["cuda_rng"]))
    if "SIGALRM" in state["signals"]:
        steps.insert(0, lambda: signal.setitimer(signal.ITIMER_REAL, 0))  # an alarm left set
    for name, handler in state["signals"].items():
        steps.append(lambda n=name, h=handler: signal.signal(getattr(signal, n), h))
    for step in steps:
        with contextlib.suppress(Exception):
            step()


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what is written to stdout (Python's and descriptor 1) to stderr meanwhile."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()  # stbench's own output goes out first, where it belongs
    saved = None
    with contextlib.suppress(OSError):
        saved = os.dup(1)
        os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


@contextlib.contextmanager
def user_code(
    who: str, phase: str, *, passing: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Run user code in the box; `passing`: exception types that go through unchanged."""
    state = _save()
    try:
        with _stdout_to_stderr():
            yield
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise UserCodeError(
            f"{who}: {phase}: got sys.exit({exc.code!r}); allowed: return or raise, never exit",
            who=who,
        ) from None
    except _Signalled as exc:
        raise UserCodeError(
            f"{who}: {phase}: got signal {exc}; allowed: return or raise, never signal stbench",
            who=who,
        ) from None
    except UserCodeError as exc:
        if exc.who is not None:
            raise
        raise UserCodeError(f"{who}: {phase}: {exc}", who=who) from None
    except (UserError, *passing):
        raise
    except Exception as exc:
        text = _first_line(exc)
        message = f"{who}: {phase}: {type(exc).__name__}" + (f": {text}" if text else "")
        raise UserCodeError(message, who=who) from exc
    finally:
        _restore(state)


def check_module(value: Any, who: str) -> Any:
    """A builder's result: an ``nn.Module``, else one line naming `who`."""
    from torch import nn

    if not isinstance(value, nn.Module):
        raise UserCodeError(
            f"{who}: builder: got {type(value).__name__}; allowed: an nn.Module", who=who
        )
    return value


def check_output(out: Any) -> Any:
    """A forward's result: a tensor or a structure (tuple, list, dict) of them, never None."""
    import torch
    from torch.utils._pytree import tree_leaves

    if out is None or not any(isinstance(t, torch.Tensor) for t in tree_leaves(out)):
        raise UserCodeError(
            f"got {type(out).__name__} from forward; allowed: a tensor or a structure of tensors"
        )
    return out


def check_classes(output_shape: Any, num_classes: int | None, name: str) -> None:
    """The class dimension of a forward's output equals the `num_classes` asked for."""
    if num_classes is None or output_shape is None:
        return
    shape = tuple(output_shape)
    if len(shape) != 2 or shape[1] != num_classes:
        who = f"model {name}"
        raise UserCodeError(
            f"{who}: forward: got output shape {shape}; allowed: (batch, {num_classes}), "
            f"the num_classes asked for",
            who=who,
        )
