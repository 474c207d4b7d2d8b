"""Folder locations, independent of the working directory."""
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1]  # fig2b_fig4ac_mnist/
CONFIGS = FOLDER / "configs"
RUNS = FOLDER / "runs"
