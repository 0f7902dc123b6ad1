"""Names → records: provinces to region codes, company spellings to one
company, competition-unit names to units. Each resolver holds the identity
rules for one reference table, so ids stay stable across re-imports."""
from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pandas as pd

from .parsers import ParseError, clean_name, key, split_list

_NOTE = re.compile(r"^(?P<base>.+?)[(（](?P<note>[^()（）]*)[)）]$")


def stable_id(prefix: str, *parts: str, length: int = 10) -> str:
    """`prefix-` + the first `length` hex digits of sha1 over the parts."""
    digest = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:length]}"


class RegionResolver:
    """Province names as written in published tables → GB/T 2260 codes, through
    regions.csv: full name, short name and every alias (新疆（含兵团）)."""

    def __init__(self, regions: pd.DataFrame):
        self.codes: dict[str, str] = {}
        for _, r in regions.iterrows():
            names = [r["name"], r["short_name"]]
            if isinstance(r.get("aliases"), str) and r["aliases"]:
                names += r["aliases"].split("|")
            for name in names:
                self.codes.setdefault(key(name), r["region_code"])

    def resolve(self, token: str) -> tuple[str, str | None]:
        """(code, note): a name with a bracketed note that is not itself an alias,
        such as `广东（含深圳）`, resolves to its base name and keeps the note."""
        code = self.codes.get(key(token))
        if code:
            return code, None
        m = _NOTE.match(token)
        if m and key(m.group("base")) in self.codes:
            return self.codes[key(m.group("base"))], m.group("note")
        raise ParseError(f"未知省份“{token}”：不在 regions.csv 的名称、简称或别名中")

    def region_list(self, raw) -> tuple[list[str], list[str]]:
        """Codes (sorted, without repeats) and any notes, for a cell such as
        `浙江，山东、湖 北，新疆\\n（含兵团）`."""
        codes, notes = [], []
        for token in split_list(raw):
            code, note = self.resolve(token)
            if note:
                notes.append(f"{token} → {code}（备注“{note}”）")
            if code in codes:
                notes.append(f"省份重复：{token}")
            else:
                codes.append(code)
        return sorted(codes), notes


# --- companies ---------------------------------------------------------------

# What a truncated name may be missing at its end: `…股份有限` + `公司`.
LEGAL_ENDINGS = ("有限责任公司", "股份有限公司", "集团有限公司", "有限公司", "公司")


def _completes(rest: str) -> bool:
    return bool(rest) and any(ending.endswith(rest) for ending in LEGAL_ENDINGS)


@dataclass
class Company:
    company_id: str
    name: str
    short_name: str
    aliases: list[str]
    foreign: bool | None


@dataclass
class _Seen:
    spellings: Counter = field(default_factory=Counter)   # display spelling → count
    short_names: Counter = field(default_factory=Counter)
    foreign: Counter = field(default_factory=Counter)


class CompanyBook:
    """Every company spelling seen in the bids, grouped into companies.

    Two spellings are one company when they agree after removing whitespace and
    line breaks and folding full-width/half-width characters (齐鲁制药（海南）有限公司
    = 齐鲁制药(海南)有限公司), or when one is the other cut off inside its legal
    ending (正大天晴药业集团股份有限 → …股份有限公司) and their short names agree.
    The id is `c-` + sha1 of the complete name's key, so it is stable."""

    def __init__(self, merge_truncated: bool = True):
        self.merge_truncated = merge_truncated
        self._seen: dict[str, _Seen] = defaultdict(_Seen)
        self._extra_short: dict[str, str] = {}
        self._extra_foreign: dict[str, bool] = {}
        self._root: dict[str, str] | None = None          # spelling key → company key
        self._companies: dict[str, Company] | None = None  # company key → Company

    def add(self, raw_name, short_name=None, foreign=None) -> str:
        name = clean_name(raw_name)
        if not name:
            raise ParseError("企业名称为空")
        k = key(name)
        seen = self._seen[k]
        seen.spellings[name] += 1
        if short_name:
            seen.short_names[clean_name(short_name)] += 1
        if foreign is not None:
            seen.foreign[foreign] += 1
        self._root = self._companies = None
        return k

    def knows(self, raw_name) -> bool:
        return key(clean_name(raw_name) or "") in self._seen

    def add_reference(self, raw_name, short_name=None, foreign=None) -> tuple[str, list[str]]:
        """A row of a company-name mapping table: fills in a short name or the
        foreign flag where the bids have none, and says where it disagrees with
        the bids (the bids win). Returns (company_id, notes)."""
        roots = self._roots()
        k = key(clean_name(raw_name) or "")
        members = [m for m, r in roots.items() if r == roots[k]]
        shorts, flags = Counter(), Counter()
        for m in members:
            shorts.update(self._seen[m].short_names)
            flags.update(self._seen[m].foreign)
        notes = []
        short_name = clean_name(short_name) if short_name else None
        if short_name and not shorts:
            self._extra_short.setdefault(k, short_name)
        elif short_name and short_name not in shorts:
            notes.append(f"简称“{short_name}”与投标表“{_top(shorts)}”不同，以投标表为准")
        if foreign is not None and not flags:
            self._extra_foreign.setdefault(k, foreign)
        elif foreign is not None and foreign != _top(flags):
            notes.append(f"是否外企与投标表不同（投标表：{'是' if _top(flags) else '否'}，"
                         f"映射表：{'是' if foreign else '否'}），以投标表为准")
        self._companies = None
        return stable_id("c", roots[k]), notes

    def _roots(self) -> dict[str, str]:
        if self._root is not None:
            return self._root
        keys = sorted(self._seen)
        parent = {k: k for k in keys}
        if self.merge_truncated:
            for i, a in enumerate(keys):
                if len(a) < 6:
                    continue
                longer = []
                for b in keys[i + 1:]:  # sorted: every key that starts with `a` follows it
                    if not b.startswith(a):
                        break
                    if _completes(b[len(a):]):
                        longer.append(b)
                if len(longer) == 1 and self._compatible(a, longer[0]):
                    parent[a] = longer[0]
        root = {}
        for k in keys:
            r = k
            while parent[r] != r:
                r = parent[r]
            root[k] = r
        self._root = root
        return root

    def _all(self) -> dict[str, Company]:
        if self._companies is None:
            groups: dict[str, list[str]] = defaultdict(list)
            for k, r in self._roots().items():
                groups[r].append(k)
            self._companies = {r: self._make(r, members) for r, members in groups.items()}
        return self._companies

    def _compatible(self, a: str, b: str) -> bool:
        sa, sb = set(self._seen[a].short_names), set(self._seen[b].short_names)
        return not sa or not sb or bool(sa & sb)

    def _make(self, root: str, members: list[str]) -> Company:
        complete = self._seen[root].spellings
        name = sorted(complete, key=lambda s: (-complete[s], "（" not in s, s))[0]
        spellings = {s for m in members for s in self._seen[m].spellings}
        aliases = sorted(spellings - {name})
        shorts, foreign = Counter(), Counter()
        for m in members:
            shorts.update(self._seen[m].short_names)
            foreign.update(self._seen[m].foreign)
        short = _top(shorts) if shorts else next(
            (self._extra_short[m] for m in [root, *members] if m in self._extra_short), name)
        is_foreign = _top(foreign) if foreign else next(
            (self._extra_foreign[m] for m in [root, *members] if m in self._extra_foreign), None)
        return Company(stable_id("c", root), name, short, aliases, is_foreign)

    def company(self, raw_name) -> Company:
        root = self._roots()
        k = key(clean_name(raw_name) or "")
        if k not in root:
            raise ParseError(f"未知企业“{raw_name}”")
        return self._all()[root[k]]

    def companies(self) -> list[Company]:
        return sorted(self._all().values(), key=lambda c: c.company_id)


def _top(counter: Counter):
    """The most frequent value; ties go to the smallest, so the result is stable."""
    return sorted(counter, key=lambda v: (-counter[v], str(v)))[0]


# --- competition units -------------------------------------------------------

_QUALIFIER = re.compile(r"^\s*([\d.]+\s*(mg|g|μg|ug|ml|%|iu)?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FormGroup:
    name: str
    smallest_unit: str


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str
    generic_name: str
    form_group: str | None
    smallest_unit: str | None


class UnitSplitter:
    """阿托伐他汀口服常释剂型 → 阿托伐他汀 + 口服常释剂型, by the suffixes (and
    prefixes such as 注射用) that the mapping lists; a trailing strength such as
    `替格瑞洛口服常释剂型 60mg` stays in the unit name only."""

    def __init__(self, suffixes: dict[str, FormGroup], prefixes: dict[str, FormGroup],
                 overrides: dict[str, tuple[str, FormGroup | None]]):
        self.suffixes = sorted(suffixes.items(), key=lambda kv: -len(kv[0]))
        self.prefixes = sorted(prefixes.items(), key=lambda kv: -len(kv[0]))
        self.overrides = {key(k): v for k, v in overrides.items()}

    def unit(self, raw_name) -> Unit:
        name = re.sub(r"\s+", " ", str(raw_name or "")).strip()  # keep `…剂型 60mg` as written
        if not name:
            raise ParseError("品种名称为空")
        generic, group = self._split(name)
        return Unit(stable_id("u", key(name)), name, generic, group.name if group else None,
                    group.smallest_unit if group else None)

    def _split(self, name: str) -> tuple[str, FormGroup | None]:
        if key(name) in self.overrides:
            return self.overrides[key(name)]
        for suffix, group in self.suffixes:
            at = name.rfind(suffix)
            if at > 0 and _QUALIFIER.match(name[at + len(suffix):]):
                return name[:at].strip(), group
        for prefix, group in self.prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                return name[len(prefix):].strip(), group
        return name, None
