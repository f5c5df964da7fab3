"""A small document model for the briefing, written once in both languages and rendered as
Markdown or as self-contained HTML in Chinese, English or both.

Every sentence is a Text holding its Chinese and English wording, so the languages cannot say
different things and `--lang both` is just both wordings side by side.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from analysis.labels import pick

from .style import embedded_font_face


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def show(self, lang: str, separator: str = " ") -> str:
        return pick(self.zh, self.en, lang, separator)


Cell = str | Text


@dataclass(frozen=True)
class Paragraph:
    text: Text


@dataclass(frozen=True)
class Bullets:
    items: list[Text]


@dataclass(frozen=True)
class Table:
    columns: list[Cell]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Figure:
    stem: str          # charts/STEM.png, .svg and .csv
    caption: Text


Block = Paragraph | Bullets | Table | Figure


@dataclass
class Section:
    title: Text
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: Text
    subtitle: Text
    sections: list[Section]


CHARTS_FOLDER = "charts"
EMBEDDED_FAMILY = "Briefing Noto Sans SC"
HTML_STYLE = """
body { font-family: "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
       "Briefing Noto Sans SC", "Segoe UI", Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em;
       color: #222; line-height: 1.55; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.subtitle { color: #555; margin-top: 0; }
.en { color: #444; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d0d0; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.92em; }
figcaption a { color: #0072B2; }
"""


def _cell(value: Cell, lang: str, separator: str = " ") -> str:
    return value.show(lang, separator) if isinstance(value, Text) else str(value)


def _markdown_cell(value: Cell, lang: str) -> str:
    return _cell(value, lang).replace("|", "\\|").replace("\n", " ")


def render_markdown(document: Document, lang: str) -> str:
    lines = [f"# {document.title.show(lang)}", "", f"*{document.subtitle.show(lang, ' / ')}*", ""]
    for section in document.sections:
        lines += [f"## {section.title.show(lang)}", ""]
        for block in section.blocks:
            lines += _markdown_block(block, lang) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_block(block: Block, lang: str) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text.show(lang, "\n\n")]
    if isinstance(block, Bullets):
        return [f"- {item.show(lang, '  ' + chr(10) + '  ')}" for item in block.items]
    if isinstance(block, Table):
        header = "| " + " | ".join(_markdown_cell(c, lang) for c in block.columns) + " |"
        rule = "|" + "|".join("---" for _ in block.columns) + "|"
        return [header, rule] + ["| " + " | ".join(_markdown_cell(c, lang) for c in row) + " |" for row in block.rows]
    stem = f"{CHARTS_FOLDER}/{block.stem}"
    return [f"![{block.caption.show(lang, ' / ')}]({stem}.png)", "",
            f"*{block.caption.show(lang, ' / ')}* ([SVG]({stem}.svg), [CSV]({stem}.csv))"]


def render_html(document: Document, lang: str, report_folder: Path) -> str:
    """One HTML file that opens offline: charts embedded as PNG, with links to their SVG and CSV."""
    body = [f"<h1>{_html_text(document.title, lang, ' ')}</h1>",
            f'<p class="subtitle">{_html_text(document.subtitle, lang, "<br>")}</p>']
    for section in document.sections:
        body.append(f"<h2>{_html_text(section.title, lang, ' ')}</h2>")
        body += [_html_block(block, lang, report_folder) for block in section.blocks]
    text = html.unescape(re.sub(r"<[^>]+>|data:[^\"]+", "", "".join(body)))
    font = embedded_font_face(text, EMBEDDED_FAMILY) if lang != "en" else ""
    head = [f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}">\n<head>\n<meta charset="utf-8">',
            f"<title>{html.escape(document.title.show(lang, ' / '))}</title>",
            f"<style>{font}{HTML_STYLE}</style>\n</head>\n<body>"]
    return "\n".join(head + body + ["</body>\n</html>\n"])


def _html_text(text: Text, lang: str, separator: str) -> str:
    if lang != "both":
        return html.escape(text.show(lang))
    return f'{html.escape(text.zh)}{separator}<span class="en">{html.escape(text.en)}</span>'


def _html_block(block: Block, lang: str, report_folder: Path) -> str:
    if isinstance(block, Paragraph):
        return "".join(f"<p>{html.escape(text)}</p>" for text in _wordings(block.text, lang))
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{_html_text(item, lang, '<br>')}</li>" for item in block.items) + "\n</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{_html_cell(c, lang)}</th>" for c in block.columns)
        body = "\n".join("<tr>" + "".join(f"<td>{_html_cell(c, lang)}</td>" for c in row) + "</tr>"
                         for row in block.rows)
        return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"
    stem = f"{CHARTS_FOLDER}/{block.stem}"
    png = base64.b64encode((report_folder / f"{stem}.png").read_bytes()).decode("ascii")
    caption = _html_text(block.caption, lang, "<br>")
    return (f'<figure>\n<img src="data:image/png;base64,{png}" alt="{html.escape(block.caption.show(lang, " / "))}">\n'
            f'<figcaption>{caption} (<a href="{stem}.svg">SVG</a>, <a href="{stem}.csv">CSV</a>)</figcaption>\n'
            "</figure>")


def _html_cell(value: Cell, lang: str) -> str:
    return _html_text(value, lang, "<br>") if isinstance(value, Text) else html.escape(str(value))


def _wordings(text: Text, lang: str) -> list[str]:
    return [text.zh, text.en] if lang == "both" else [text.show(lang)]
