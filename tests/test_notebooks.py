"""Execute every notebook under notebooks/ and check the PNG plots it writes.

Each notebook runs in a kernel started from this interpreter (``sys.executable``,
through a kernel spec written for the test), in a temporary copy of the
notebooks folder, so the test sees the installed jaxmetrics/embedders and leaves
the source tree untouched. A cell error fails the test.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

# Not skipped when missing: the test extra lists nbclient, nbformat, ipykernel and
# matplotlib, the embedders extra librosa (the logmel embedder of notebooks 01 and 03).

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# The PNG files each notebook must write next to itself.
EXPECTED_PLOTS = {
    "01_kernel_sweep.ipynb": ["kernel_sweep_levels.png", "kernel_sweep_tradeoff.png"],
    "02_sample_size.ipynb": [
        "sample_size_fad_inf.png",
        "sample_size_kd.png",
        "sample_size_prdc.png",
        "sample_size_bootstrap.png",
    ],
    "03_apa.ipynb": ["apa_distances.png"],
}
# Generous per-cell limit: the whole notebook is meant to take well under 2 minutes.
CELL_TIMEOUT_S = 300


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED_PLOTS)


def test_notebooks_are_committed_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.fixture(scope="module")
def kernel_manager_factory(tmp_path_factory):
    """Kernel managers whose ``python3`` kernel is this interpreter."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / "python3"
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "test python3", "language": "python"})
    )

    def factory() -> KernelManager:
        specs = KernelSpecManager(kernel_dirs=[str(kernels)])
        return KernelManager(kernel_name="python3", kernel_spec_manager=specs)

    return factory


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_PLOTS))
def test_notebook_executes_and_writes_plots(name, tmp_path, kernel_manager_factory):
    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    notebook = nbformat.read(tmp_path / name, as_version=4)
    km = kernel_manager_factory()
    assert km.kernel_spec.argv[0] == sys.executable
    client = nbclient.NotebookClient(
        notebook,
        km=km,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - started
    for plot in EXPECTED_PLOTS[name]:
        path = tmp_path / plot
        assert path.is_file(), f"{name} did not write {plot}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{plot} is not a PNG file"
    print(f"{name}: executed in {elapsed:.1f} s")
