"""Writing a figure: PDF and PNG, each atomically, with the caption in their metadata."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from ..io import write_atomic

PNG_DPI = 150
"""Resolution of the PNG files (the report shows them)."""


def save_figure(fig: Figure, pdf_path: str | os.PathLike, png_path: str | os.PathLike,
                caption: str | None = None) -> None:
    """Write ``fig`` as PDF and PNG, then close it.

    Each file is written with :func:`balanced_stdp.io.write_atomic` (temporary file,
    then rename), so an interrupted job never leaves a truncated figure behind; an
    existing file is replaced. The caption, if given, is stored in the files'
    metadata (PDF ``Subject``, PNG ``Description``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    pdf_path, png_path : path-like
        Output files (parent directories are created).
    caption : str, optional
        Caption text for the metadata.
    """
    try:
        for path, fmt, key, options in ((pdf_path, "pdf", "Subject", {}),
                                        (png_path, "png", "Description", {"dpi": PNG_DPI})):
            metadata = {key: caption} if caption else {}

            def write(temporary: Path, fmt=fmt, metadata=metadata, options=options) -> None:
                fig.savefig(temporary, format=fmt, metadata=metadata, **options)

            write_atomic(path, write, overwrite=True)
    finally:
        close(fig)


def close(fig: Figure) -> None:
    """Release the figure; only a pyplot-managed figure needs pyplot to close it."""
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt  # only reached for figures pyplot created
        plt.close(fig)
    else:
        fig.clear()
