"""HTML building blocks and the page template (inline CSS, no scripts).

Helpers return `markupsafe.Markup`; every piece of run data passes through
escaping, so a CDL name or a path cannot break the page.
"""

import dataclasses
import re
import urllib.parse
from typing import Iterable, List, Optional, Sequence, Union

import jinja2
import markupsafe

from croptfx import paths

Markup = markupsafe.Markup  # re-exported: the type every helper returns
escape = markupsafe.escape


def slug(text: str) -> str:
  return re.sub(r'[^a-z0-9]+', '-', str(text).lower()).strip('-')


@dataclasses.dataclass
class Cell:
  text: Union[str, Markup]
  id: Optional[str] = None
  cls: Optional[str] = None


def fmt_int(value) -> str:
  return f'{int(value):,}'


def fmt_float(value, digits=3) -> str:
  return f'{float(value):.{digits}f}'


def _cell(tag: str, cell) -> str:
  if not isinstance(cell, Cell):
    cell = Cell(cell)
  attrs = ''
  if cell.id:
    attrs += f' id="{escape(cell.id)}"'
  if cell.cls:
    attrs += f' class="{escape(cell.cls)}"'
  return f'<{tag}{attrs}>{escape(cell.text)}</{tag}>'


def table(headers: Optional[Sequence], rows: Iterable[Sequence], table_id: Optional[str] = None,
          caption: Optional[str] = None, numeric: Optional[Sequence[int]] = None) -> Markup:
  """A table; the first column is a row header, `numeric` columns right-aligned.

  `numeric` defaults to every column but the first; `headers` None: no header row.
  """
  rows = [list(r) for r in rows]
  width = len(headers) if headers else max((len(r) for r in rows), default=0)
  numeric = set(range(1, width) if numeric is None else numeric)

  def align(i, c):
    return _with_class(c, 'num') if i in numeric else c

  out = [Markup('<table id="{}">').format(table_id) if table_id else '<table>']
  if caption:
    out.append(f'<caption>{escape(caption)}</caption>')
  if headers:
    out.append('<thead><tr>' + ''.join(_cell('th', align(i, h)) for i, h in enumerate(headers))
               + '</tr></thead>')
  out.append('<tbody>')
  for row in rows:
    out.append('<tr>' + ''.join(_cell('th' if i == 0 else 'td', align(i, c))
                                for i, c in enumerate(row)) + '</tr>')
  out.append('</tbody></table>')
  return Markup(''.join(out))


def _with_class(cell, cls: str) -> Cell:
  if not isinstance(cell, Cell):
    return Cell(cell, cls=cls)
  return dataclasses.replace(cell, cls=' '.join(c for c in (cell.cls, cls) if c))


def card(value: str, label: str, card_id: str, cls: str = '') -> Markup:
  """One headline number: its value, what it is, an id tests can find."""
  return Markup('<div class="card"><div class="value {}" id="{}">{}</div>'
                '<div class="label">{}</div></div>').format(cls, card_id, value, label)


def cards(items: Sequence[Markup]) -> Markup:
  return Markup('<div class="cards">') + Markup('').join(items) + Markup('</div>')


def swatch(color: str, label: str) -> Markup:
  return Markup('<span class="swatch" style="background:{}"></span>{}').format(color, label)


def note(text: Union[str, Markup]) -> Markup:
  return Markup('<p class="note">{}</p>').format(text)


def svg_figure(svg: str, caption: Optional[str] = None) -> Markup:
  cap = Markup('<figcaption>{}</figcaption>').format(caption) if caption else ''
  return Markup('<figure>') + Markup(svg) + cap + Markup('</figure>')


def png_figure(data_uri: str, alt: str, caption: Optional[str] = None) -> Markup:
  if not data_uri.startswith('data:image/png;base64,'):
    raise ValueError('figures must be inline data URIs')
  cap = Markup('<figcaption>{}</figcaption>').format(caption) if caption else ''
  return Markup('<figure><img src="{}" alt="{}">').format(data_uri, alt) + cap + Markup(
      '</figure>')


def grid(*blocks) -> Markup:
  """Blocks side by side (two columns on a wide screen)."""
  return Markup('<div class="grid">') + Markup('').join(
      Markup('<div>') + b + Markup('</div>') for b in blocks) + Markup('</div>')


def code(text: str) -> Markup:
  return Markup('<pre><code>{}</code></pre>').format(text)


def link(href: Optional[str], text: Optional[str] = None) -> Markup:
  """A relative link; cloud URIs (gs://, s3://) are shown as text only."""
  if not href:
    return Markup('<span class="muted">n/a</span>')
  if paths.is_uri(href):
    return Markup('<code>{}</code>').format(href)
  return Markup('<a href="{}"><code>{}</code></a>').format(
      urllib.parse.quote(href), text or href)


@dataclasses.dataclass
class Section:
  id: str
  title: str
  lead: str
  body: Markup = Markup('')
  missing: List[str] = dataclasses.field(default_factory=list)


_CSS = """
:root { --ink:#1d2327; --muted:#667075; --line:#dfe3e6; --bg:#ffffff; --soft:#f5f7f8;
  --accent:#1f6fb4; --warn:#8a5a00; --warnbg:#fff6e0; }
* { box-sizing: border-box; }
body { margin:0; background:var(--soft); color:var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 32px 48px; background:var(--bg);
  min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 20px; margin: 40px 0 4px; padding-top: 14px; border-top: 1px solid var(--line); }
h3 { font-size: 15.5px; margin: 22px 0 6px; }
p { margin: 6px 0; }
.sub, .muted, figcaption, caption { color: var(--muted); }
.lead { color: #3b454a; margin-bottom: 12px; max-width: 52em; }
nav { margin: 14px 0 4px; font-size: 14px; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; }
.cards { display:flex; flex-wrap:wrap; gap:10px; margin: 16px 0 6px; }
.card { border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:130px; }
.card .value { font-size: 21px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { font-size: 12.5px; color: var(--muted); }
.good { color: #1a7f37; } .bad { color: #b42318; }
table { border-collapse: collapse; margin: 12px 0 14px; font-size: 13.5px;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; font-size: 13px; padding-bottom: 4px; white-space: nowrap; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid #c5ccd0; font-weight: 600; }
tbody th { font-weight: 500; }
.num { text-align: right; }
td.diag { font-weight: 700; }
.grid { display:grid; grid-template-columns: 1fr 1fr; gap: 8px 28px; align-items:start; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
figure { margin: 8px 0 16px; }
figure svg, figure img { max-width: 100%; height: auto; display:block; }
figcaption { font-size: 13px; margin-top: 2px; }
.missing { background: var(--warnbg); color: var(--warn); border-left: 3px solid #e0a200;
  padding: 6px 10px; border-radius: 3px; font-size: 14px; }
.note { color: var(--muted); font-size: 13.5px; }
.swatch { display:inline-block; width:11px; height:11px; border-radius:2px;
  margin-right:6px; vertical-align:-1px; }
pre { background: #f3f5f6; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 12px; overflow-x: auto; font-size: 12.5px; line-height: 1.45; margin: 4px 0 12px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 0.92em; }
a code { color: var(--accent); }
ul.missing-list { margin: 6px 0; padding-left: 20px; }
footer { margin-top: 40px; font-size: 12.5px; color: var(--muted); }
"""

_TEMPLATE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style>{{ css }}</style>
</head>
<body>
<main>
<header>
<h1 id="report-title">{{ title }}</h1>
<p class="sub">{{ subtitle }}</p>
{{ cards }}
<nav>{% for s in sections %}<a href="#{{ s.id }}">{{ s.title }}</a>{% endfor %}</nav>
{% if missing %}
<div class="missing" id="missing-summary"><strong>This run is incomplete.</strong> Not shown:
<ul class="missing-list">{% for m in missing %}<li>{{ m }}</li>{% endfor %}</ul></div>
{% endif %}
</header>
{% for s in sections %}
<section id="{{ s.id }}">
<h2>{{ s.title }}</h2>
<p class="lead">{{ s.lead }}</p>
{% for m in s.missing %}<p class="missing"><strong>Missing:</strong> {{ m }}</p>
{% endfor %}
{{ s.body }}
</section>
{% endfor %}
<footer>{{ footer }}</footer>
</main>
</body>
</html>
""")


def render(title: str, subtitle: str, cards: Markup, sections: Sequence[Section],
           footer: str, problems: Sequence[str] = ()) -> str:
  """The whole page; `problems` (unreadable inputs) head the missing list."""
  missing_all = list(problems) + [m for s in sections for m in s.missing]
  return _TEMPLATE.render(title=title, subtitle=subtitle, cards=cards, sections=sections,
                          missing=missing_all, footer=footer, css=Markup(_CSS))
