"""Reading back what a figure drew: its axes, lines and texts by ``gid``."""

from __future__ import annotations


def axes_by_gid(fig, gid):
    """The one axes of ``fig`` whose gid is ``gid``."""
    found = [ax for ax in fig.axes if ax.get_gid() == gid]
    assert len(found) == 1, f"expected one axes with gid {gid!r}, found {len(found)}"
    return found[0]


def lines(ax, gid) -> list:
    return [a for a in ax.lines if a.get_gid() == gid]


def line(ax, gid):
    """The one line of ``ax`` whose gid is ``gid``."""
    found = lines(ax, gid)
    assert len(found) == 1, f"expected one line {gid!r}, found {len(found)}"
    return found[0]


def texts(ax, gid) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def title(ax) -> str:
    """The panel's whole title: its left (panel letter), centre and right parts."""
    return " ".join(t for t in (ax.get_title(loc="left"), ax.get_title(),
                                ax.get_title(loc="right")) if t)
