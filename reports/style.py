"""The one chart style: a font that renders Chinese, colours, sizes, and saving a chart with the
exact numbers it draws (PNG, SVG and CSV side by side).

Chinese needs a CJK font. A system one is used when present (Microsoft YaHei, PingFang SC, Noto
Sans CJK SC, Source Han Sans); otherwise Noto Sans SC (SIL Open Font License) from the
justmytype-intl-cjk package the project depends on. That file is a variable font whose default
instance is Thin, so its Regular instance is made once with fontTools and cached.
"""
from __future__ import annotations

import base64
import contextlib
import io
import os
import uuid
from functools import lru_cache
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

SYSTEM_CJK_FAMILIES = ("Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                       "Source Han Sans CN", "Source Han Sans")
PACKAGED_FONT = ("justmytype_intl_cjk", "fonts/ofl/notosanssc/NotoSansSC[wght].ttf")
REGULAR_WEIGHT = 400
PNG_DPI = 220

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
BETTER = "#009E73"
WORSE = "#D55E00"
UNCLEAR = "#8C8C8C"
REFERENCE_COLOUR = "#4D4D4D"
SERIES_COLOURS = ("#4D4D4D", "#0072B2", "#E69F00", "#CC79A7", "#56B4E9")
PHASE_SHADES = {"pilot": "#FFF6E5", "rollout": "#FDEACC", "consolidation": "#F8DDB0"}
# Probability of meeting a target: muted red (never) through pale yellow (even odds) to blue (always).
PROBABILITY_COLOURMAP = LinearSegmentedColormap.from_list(
    "p_met", [(0.0, "#EFA98F"), (0.5, "#FFF5D1"), (0.8, "#7FB2DA"), (1.0, "#2B6CB0")])
FORMALISM_COLOURMAP = "cividis_r"
GRID_COLOUR = "#E6E6E6"


@lru_cache(maxsize=1)
def cjk_family() -> str:
    """The family name of a CJK font matplotlib can use, registering the packaged one if needed."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in SYSTEM_CJK_FAMILIES:
        if family in installed:
            return family
    path = _packaged_regular_font()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _packaged_regular_font() -> Path:
    package, relative = PACKAGED_FONT
    source = Path(str(resources.files(package).joinpath(relative)))
    cache = Path(matplotlib.get_cachedir()) / "supervision-abm" / f"NotoSansSC-Regular-{source.stat().st_size}.ttf"
    if cache.is_file():
        return cache
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        _write_regular_instance(source, cache)
    except OSError:
        return source  # no writable cache: the Thin default instance still has every glyph
    return cache


def _write_regular_instance(source: Path, target: Path) -> None:
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = TTFont(source)
    instancer.instantiateVariableFont(font, {"wght": REGULAR_WEIGHT}, inplace=True, optimize=False,
                                      updateFontNames=False)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    font.save(temporary)
    os.replace(temporary, target)


def embedded_font_face(text: str, family: str) -> str:
    """CSS @font-face holding Noto Sans SC cut down to the characters of `text`, so an HTML file
    shows its Chinese on any machine (the packaged OFL font only: it may be redistributed)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(_packaged_regular_font())
    options = subset.Options()
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'@font-face {{ font-family: "{family}"; src: url(data:font/ttf;base64,{data}) format("truetype"); }}'


def rc_settings() -> dict:
    return {
        "font.family": [cjk_family(), "DejaVu Sans"],
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "figure.titlesize": 13,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "axes.titlelocation": "left",
        "svg.fonttype": "path",
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.15,
        "figure.facecolor": "white",
    }


@contextlib.contextmanager
def chart_style():
    """Apply the project style for the charts drawn inside the block only."""
    with matplotlib.rc_context(rc_settings()):
        yield


def save_chart(figure, folder: Path, stem: str, data: pd.DataFrame) -> list[Path]:
    """Write STEM.png, STEM.svg and STEM.csv (the numbers drawn) and close the figure."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg", folder / f"{stem}.csv"]
    try:
        figure.savefig(paths[0], dpi=PNG_DPI)
        figure.savefig(paths[1])
    finally:
        plt.close(figure)
    data.to_csv(paths[2], index=False, encoding="utf-8")
    return paths
