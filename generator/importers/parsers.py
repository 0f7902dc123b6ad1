"""Value parsers for published result tables: one cell in, one clean value out.

Every parser takes the raw cell (str, int, float or None, as a reader gives it)
and returns a Python value, or raises ParseError with a message a maintainer can
act on. Parsers know nothing about files or rows: the caller adds those."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Cells that mean "unknown / nothing here" in published tables.
MISSING = frozenset({"", "-", "—", "–", "－", "--", "——", "/", "流标", "N/A", "n/a", "NA", "无"})

YES = frozenset({"是", "y", "yes", "true", "1", "√", "✓", "中选", "中标"})
NO = frozenset({"否", "n", "no", "false", "0", "×", "✗", "未中选", "未中标", "流标"})

# Separators between province names in one cell; whitespace is removed inside names.
LIST_SEPARATORS = re.compile(r"[，、,；;]")
WHITESPACE = re.compile(r"\s+")
CJK_OR_FULLWIDTH = r"[\u2e80-\u9fff\uff00-\uffef\u3000-\u303f]"


class ParseError(ValueError):
    """A cell that cannot be read as what the mapping says it is."""


def text(raw) -> str | None:
    """Cell text with surrounding whitespace removed; None when the cell is empty."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    value = str(raw).strip()
    return value or None


def squash(raw) -> str:
    """Every whitespace character (spaces, line breaks, U+3000) removed."""
    return WHITESPACE.sub("", unicodedata.normalize("NFKC", str(raw))) if raw is not None else ""


def key(raw) -> str:
    """A comparison key: NFKC (full-width brackets and digits become ASCII),
    no whitespace, lower case. Two spellings with the same key are one name."""
    return squash(raw).lower()


def is_missing(raw, tokens=MISSING) -> bool:
    value = text(raw)
    return value is None or squash(value) in tokens


def missing(raw, tokens=MISSING):
    """None for `-`, `—`, blank, `流标` and friends; the cell text otherwise."""
    return None if is_missing(raw, tokens) else text(raw)


def yes_no(raw) -> bool | None:
    """是/否, Y/N, yes/no, true/false, 1/0, √/×; 流标 is "no"; blank is None."""
    value = text(raw)
    if value is None or squash(value) in ("-", "—", "–", "－"):
        return None
    k = key(value)
    if k in YES:
        return True
    if k in NO:
        return False
    raise ParseError(f"无法识别为是/否：“{value}”（可用 是/否、Y/N、yes/no、1/0）")


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def number(raw, tokens=MISSING) -> Decimal | None:
    """A number as the source wrote it, exactly (Decimal, never rounded).

    Accepts numbers stored as text, thousands separators (1,234.5), full-width
    digits (１２．５), a leading ¥/￥ and a trailing 元 (or 元/片); `-`, `—`,
    blank and 流标 give None. Never rounded, except float noise beyond 16
    significant digits (see float_noise_dropped)."""
    if isinstance(raw, bool):
        raise ParseError(f"不是数字：{raw}")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ParseError(f"不是数字：{raw}")
        return float_noise_dropped(Decimal(repr(raw)))  # 23.33333333333333 as stored
    if is_missing(raw, tokens):
        return None
    original = text(raw)
    value = squash(original)  # NFKC: full-width digits, ．and ，become ASCII
    value = re.sub(r"^[¥￥]", "", value)
    value = re.sub(r"元(/(片|粒|丸|袋|支|瓶|贴|枚|个|根|套|盒|剂|ml|mg|g|片\(粒\)|支\(瓶\)))?$", "", value)
    if _GROUPED.match(value):
        value = value.replace(",", "")
    if not _NUMBER.match(value):
        raise ParseError(f"无法解析为数字：“{original}”")
    try:
        result = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise ParseError(f"无法解析为数字：“{original}”") from None
    return float_noise_dropped(result)


def float_noise_dropped(value: Decimal) -> Decimal:
    """A number written with 17 or more significant digits is a binary float
    printed in full (0.12000000000000001, 6.1899999999999995): a double holds
    about 16 significant digits, the rest is noise. Keep 16, so that a CSV
    export and the workbook it came from give the same numbers
    (23.33333333333333, with 16 digits, is kept as it is)."""
    if len(value.as_tuple().digits) < 17:
        return value
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 15), rounding=ROUND_HALF_EVEN)


def price(raw, tokens=MISSING) -> Decimal | None:
    """A price: a number above zero, or None when unknown."""
    value = number(raw, tokens)
    if value is not None and value <= 0:
        raise ParseError(f"价格必须大于 0：“{text(raw)}”")
    return value


def decimal_text(value: Decimal | None) -> str | None:
    """Plain decimal text for a CSV cell, no exponent, no trailing zeros added."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    text_ = format(value, "f")
    return text_.rstrip("0").rstrip(".") if "." in text_ else text_


def split_list(raw) -> list[str]:
    """Split a cell on `，` `、` `,` `；` and remove ALL whitespace inside each item:
    real cells hold `湖 北`, `新疆\\n（含兵团）` and `广东\\n，重庆`."""
    if raw is None:
        return []
    items = [WHITESPACE.sub("", part) for part in LIST_SEPARATORS.split(str(raw))]
    return [item for item in items if item]


def clean_name(raw) -> str | None:
    """A company or product name as it should be displayed: line breaks and
    stray spaces removed, but a space kept between two Latin words
    (`Lek Pharmaceuticals d.d.`)."""
    value = text(raw)
    if value is None:
        return None
    value = re.sub(r"(?<=[A-Za-z.,])\s*\n\s*(?=[A-Za-z])", " ", value)  # wrapped English
    value = re.sub(r"\s*\n\s*", "", value)
    value = value.replace("\u3000", " ")
    value = re.sub(r" {2,}", " ", value)
    value = re.sub(rf"\s+(?={CJK_OR_FULLWIDTH})|(?<={CJK_OR_FULLWIDTH})\s+", "", value)
    return value.strip() or None


# --- strengths and packs -----------------------------------------------------

_UNITS = {
    "mg": "mg", "g": "g", "μg": "μg", "µg": "μg", "ug": "μg", "mcg": "μg",
    "ml": "ml", "iu": "IU", "万iu": "万IU", "u": "U", "mmol": "mmol", "%": "%",
}
# Conversion to one base per dimension, for comparing spellings of one strength.
_BASE = {"mg": ("mg", Decimal(1)), "g": ("mg", Decimal(1000)), "μg": ("mg", Decimal("0.001")),
         "ml": ("ml", Decimal(1)), "IU": ("IU", Decimal(1)), "万IU": ("IU", Decimal(10000)),
         "U": ("U", Decimal(1)), "mmol": ("mmol", Decimal(1))}
_QTY = r"(\d+(?:\.\d+)?)\s*(万IU|mg|mcg|μg|µg|ug|ml|IU|mmol|g|U|%)"
_SINGLE = re.compile(rf"^{_QTY}$", re.IGNORECASE)
_PACK = re.compile(r"^(?P<strength>.+?)\s*[*×xX]\s*(?P<n>\d+)\s*(?P<unit>[^\d\s/]{1,2})?(?:/(?P<pack>[^\d\s]{1,2}))?$")
_PER_VOLUME = re.compile(rf"^(?:\d+(?:\.\d+)?\s*ml\s*[:：]\s*{_QTY}|{_QTY}\s*/\s*\d+(?:\.\d+)?\s*ml)$", re.IGNORECASE)
_ANY_QTY = re.compile(_QTY, re.IGNORECASE)


@dataclass(frozen=True)
class Strength:
    """What a 规格包装 cell says: `20mg*7片` → 20 mg, 7 per pack of 片."""
    text: str
    value: Decimal | None = None
    unit: str | None = None
    pack_size: int | None = None
    smallest_unit: str | None = None  # 片 in `20mg*7片`
    pack_unit: str | None = None      # 盒 in `20mg*7片/盒`


def _unit(raw_unit: str) -> str:
    return _UNITS[raw_unit.lower() if raw_unit.lower() in _UNITS else raw_unit]


def strength(raw) -> Strength:
    """Parse a strength, with a pack when there is one.

    `10mg` → 10 mg; `0.25g` → 0.25 g; `20mg*7片` → 20 mg × 7 片; `10mg×28`;
    `10ml:0.1g` and `5mg/2.5ml` → the amount of drug (0.1 g, 5 mg). Combinations
    such as `150mg+12.5mg` keep their text but have no single value."""
    original = text(raw)
    if original is None:
        raise ParseError("规格为空")
    value = unicodedata.normalize("NFKC", original).replace("µ", "μ").strip()
    pack_size = smallest = pack_unit = None
    m = _PACK.match(value)
    if m:
        value = m.group("strength").strip()
        pack_size = int(m.group("n"))
        smallest, pack_unit = m.group("unit"), m.group("pack")
    value = re.sub(r"\s*[(（][\d.]+\s*%[)）]\s*$", "", value)  # `5ml:5mg (0.1%)`
    single = _SINGLE.match(value)
    per_volume = _PER_VOLUME.match(value)
    if single:
        amount, unit = single.group(1), single.group(2)
    elif per_volume:
        amount = per_volume.group(1) or per_volume.group(3)
        unit = per_volume.group(2) or per_volume.group(4)
    else:
        return Strength(original, None, None, pack_size, smallest, pack_unit)
    return Strength(original, Decimal(amount), _unit(unit), pack_size, smallest, pack_unit)


def strength_key(raw, aliases: dict[str, str] | None = None) -> tuple:
    """A key under which spellings of one strength agree: `0.25g` = `250mg`,
    `2ml:0.2mg` = `0.2mg/2ml`, `10%（150ml:15g）` = `150ml:15g`. Percentages are
    ignored, amounts are converted to mg / ml / IU."""
    value = squash(raw).replace("µ", "μ")
    if aliases:
        value = aliases.get(value, value)
    parts = []
    for amount, unit in _ANY_QTY.findall(value):
        unit = _unit(unit)
        if unit == "%":
            continue
        base, factor = _BASE[unit]
        parts.append((base, (Decimal(amount) * factor).normalize()))
    return tuple(sorted(parts)) if parts else ("text", value)
