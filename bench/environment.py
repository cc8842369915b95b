"""Run metadata: host, CPU, GPU, driver, library and counter versions, git commit, time."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _version(dist: str) -> str | None:
    try:
        return _md.version(dist)
    except _md.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(repo: Path = _REPO_ROOT) -> dict[str, Any]:
    """The checkout's commit hash and whether the tree has uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "--no-optional-locks", *args],  # read-only: never takes index.lock
                cwd=repo,
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def _nvidia_smi() -> dict[str, Any]:
    """GPU name, compute capability and driver from nvidia-smi (no CUDA context needed)."""
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,compute_cap,driver_version",
                "--format=csv,noheader",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if out.returncode != 0 or not out.stdout.strip():
        return {}
    name, cap, driver = (s.strip() for s in (out.stdout.splitlines()[0].split(",") + ["", ""])[:3])
    return {"gpu_name": name or None, "gpu_capability": cap or None, "gpu_driver": driver or None}


def gpu_info(init_cuda: bool = False) -> dict[str, Any]:
    """GPU name, compute capability, driver and count; `init_cuda` allows a CUDA context."""
    import torch

    info: dict[str, Any] = {
        "gpu_name": None,
        "gpu_capability": None,
        "gpu_driver": None,
        "gpu_count": 0,
    }
    info.update(_nvidia_smi())
    if init_cuda and torch.cuda.is_available():
        idx = torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(idx)
        info["gpu_name"] = torch.cuda.get_device_name(idx)
        info["gpu_capability"] = f"{major}.{minor}"
        info["gpu_count"] = torch.cuda.device_count()
    elif info["gpu_name"]:
        info["gpu_count"] = 1
    return info


def collect_environment(*, init_cuda: bool = False) -> dict[str, Any]:
    """Everything needed to cite a measurement: host, CPU, GPU, versions, git, timestamp."""
    import torch

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    env: dict[str, Any] = {
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": None if cudnn is None else str(cudnn),
        "fvcore_version": _version("fvcore"),
        "ptflops_version": _version("ptflops"),
        "stbench_version": _version("stbench"),
    }
    env.update(gpu_info(init_cuda=init_cuda))
    env.update(git_commit())
    return env
