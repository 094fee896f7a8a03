"""``benchmarks/RESULTS.md``: every figure we quote, written by the script that measured it.

Each run of a benchmark script replaces its own section (``<!-- name:start -->``
... ``<!-- name:end -->``) with what it printed, under a header saying when,
on what machine, with which versions and which command. The file is replaced
atomically (written beside it, then renamed), so an interrupted run leaves
the previous results whole.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")
TITLE = """# Benchmark results

Written by the scripts in this folder (`benchmarks/_results.py`): each section
is the output of the command in its header, on the machine and versions it
names. Rerun a command to refresh its section; sections of other commands are
kept as they are.
"""


class _Tee(io.TextIOBase):
    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def git_state() -> str:
    """``git describe --always --dirty`` of this repository (``unknown`` outside git)."""
    repo = RESULTS.parents[1]
    describe = subprocess.run(
        ["git", "-C", str(repo), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    return describe or "unknown"


def machine() -> str:
    """CPU model, cores, memory and platform, read from /proc where there is one."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        memory = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    return f"{cpu}, {os.cpu_count()} cores, {memory} RAM, {platform.platform()}"


def _versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for name in ("jax", "jaxlib", "numpy", "scipy", "torch"):
        module = sys.modules.get(name)
        if module is not None:
            parts.append(f"{name} {getattr(module, '__version__', '?')}")
    return ", ".join(parts)


def header(command: str) -> str:
    """The lines that say where a section's figures come from."""
    return (
        f"- command: `{command}`\n"
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; code: git {git_state()}\n"
        f"- machine: {machine()}\n"
        f"- versions: {_versions()}\n"
    )


def write_section(name: str, body: str, path: Path | None = None) -> None:
    """Replace (or append) section ``name`` of ``path`` (default: RESULTS.md) atomically."""
    path = RESULTS if path is None else path
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else TITLE
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


@contextlib.contextmanager
def recorded(name: str, title: str, enabled: bool = True) -> Iterator[None]:
    """Print as usual and, when the block completes, store what was printed as section ``name``.

    The section's header (command, date, code, machine, versions) is taken
    at the end, when the benchmark has imported what it measured.
    """
    buffer = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, buffer)):
        yield
    if enabled:
        command = "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
        write_section(name, f"## {title}\n\n{header(command)}\n{buffer.getvalue()}")


def run_recorded(main, title: str) -> None:
    """Run a script's ``main()`` and store its output as the section of this command.

    The section is named after the script and its argument values, so runs
    with other arguments keep their own sections. Quick runs and worker
    subprocesses are not recorded.
    """
    args = sys.argv[1:]
    enabled = not any(flag in args for flag in ("--quick", "--worker", "--prdc-worker"))
    values = [a.replace("/", "_") for a in args if not a.startswith("-")]
    name = "-".join([Path(sys.argv[0]).stem, *values])
    with recorded(name, title, enabled):
        main()
