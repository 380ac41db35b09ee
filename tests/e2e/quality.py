"""Page checks shared by the real-browser tests: 长辈模式 sizes and mixed languages."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MIN_TEXT_PX = 18
MIN_TARGET_PX = 48

# Every visible text node's rendered size (SVG text scaled by its drawing), and every
# visible control's box. Returns lists of problems as strings.
_SIZES_JS = (Path(__file__).parent / "quality_sizes.js").read_text(encoding="utf-8")


def size_problems(page: Any, label: str) -> list[str]:
    r = page.evaluate(_SIZES_JS, [MIN_TEXT_PX, MIN_TARGET_PX])
    out = [f"{label}: text {s}" for s in r["small"]]
    out += [f"{label}: target {t}" for t in r["tiny"]]
    if r["overflow"] > 0:
        out.append(f"{label}: {r['overflow']}px sideways scroll")
    return out


@cache
def _catalogue() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(English source sentences, their Chinese translations) of the UI catalogue: the
    sentences the system writes. Only ones long enough to be unmistakable."""
    from babel.messages.pofile import read_po

    po = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    english, chinese = set(), set()
    for m in catalog:
        if not m.id or not m.string or isinstance(m.id, tuple):
            continue
        for part in re.split(r"%\(\w+\)[sd]|%[sd]", m.id):
            part = part.strip(" .:,;!?()")
            if len(part.split()) >= 3 and re.search(r"[a-z]{3}", part):
                english.add(part)
        for part in re.split(r"%\(\w+\)[sd]|%[sd]", str(m.string)):
            part = part.strip(" 。：，；！？（）")
            if len(re.findall(r"[\u4e00-\u9fff]", part)) >= 5:
                chinese.add(part)
    return tuple(sorted(english)), tuple(sorted(chinese))


# Sentences the system stored before reasons became codes (they must never be shown raw).
_STORED_ENGLISH = re.compile(
    r"Voucher #\d+ (used|cancelled|expired)|Gift from .+ to |Grant \(\w+\)|Volunteer hours #\d+ approved"
    r"|Hours #\d+ reversed|Mutual help #\d+|Points credited before|Settlement \d{4}-\d{2}: merchant"
)
_STORED_CHINESE = re.compile(r"示范数据|开户赠送")

# The page's text minus parts marked as another language (someone's own words, lang=…).
_TEXT_JS = """(lang) => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('script, style, [lang]').forEach((el) => {
    const l = (el.getAttribute('lang') || '').toLowerCase();
    if (el.tagName === 'SCRIPT' || el.tagName === 'STYLE' || !l.startsWith(lang)) el.remove();
  });
  return body.textContent.replace(/\\s+/g, ' ');
}"""


def language_problems(page: Any, lang: str, label: str) -> list[str]:
    """Chinese UI: no English sentence of the catalogue or of stored data; English UI: no
    Chinese sentence of the catalogue or of stored data."""
    text = page.evaluate(_TEXT_JS, "zh" if lang == "zh" else "en")
    english, chinese = _catalogue()
    if lang == "zh":
        hits = [s for s in english if s in text]
        stored = _STORED_ENGLISH.search(text)
    else:
        hits = [s for s in chinese if s in text]
        stored = _STORED_CHINESE.search(text)
    if stored:
        hits.append(stored.group(0))
    return [f"{label}: {'English' if lang == 'zh' else 'Chinese'} text in the {lang} UI: {h!r}" for h in hits]
