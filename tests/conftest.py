"""Shared fixtures."""
import nbformat
import pytest


def write_fake_project(root, name: str, params: str, body: str):
    """A fake project root (``rvlib/``, ``notebooks/<name>.ipynb``) for the sweep runner's tests.

    The notebook has a ``parameters``-tagged cell ``params`` and one code cell ``body``.
    """
    (root / "rvlib").mkdir(parents=True)
    (root / "notebooks").mkdir()
    cell = nbformat.v4.new_code_cell(params, id="parameters")
    cell.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell(body, id="body")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    return root


@pytest.fixture
def fake_project():
    """``fake_project(root, name, params, body)``: see :func:`write_fake_project`."""
    return write_fake_project
