"""Formula-injection defence for anything meant to be opened in a spreadsheet.

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`,
`-` or `@` as a formula (OWASP "CSV Injection"; tab and carriage return are
on OWASP's list too, because some programs strip them and then see the
formula). A company name like `=HYPERLINK("http://evil","点此")` would run
in the reader's spreadsheet.

Choice: prefix such a text cell with an apostrophe `'`. Spreadsheets show
the apostrophe, so nothing is hidden from the reader and no character of the
original is lost: removing the first `'` gives the value back. We do not
strip or replace characters, because these are public records and a leading
`-` or `+` can be meaningful text.

Only the spreadsheet formats (BOM-CSV, XLSX, the site's "download this
table" CSV, which mirrors this list in assets/table-download.js) are
neutralised; the plain CSV and the JSON stay faithful to the data. Apply
this to text only: numbers from number/integer fields are written as
numbers, and a negative number is not a formula.

The module also holds the small streaming XLSX writer the downloads use
(XlsxBook, below).
"""
from __future__ import annotations

import re as _re
from xml.sax.saxutils import escape as _escape

# OWASP: equals, plus, minus, at, tab (0x09), carriage return (0x0D).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"


def neutralise(value):
    """`'` + value when a text value starts like a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return PREFIX + value
    return value


# --------------------------------------------------------------------------- XLSX
# A minimal streaming XLSX (SpreadsheetML) writer for the downloads.
#
# openpyxl's write-only mode builds an element per cell and took ~100 µs a row;
# a national table has a million rows. Here the caller hands over sheet rows as
# ready XML text (downloads.py generates it a block of rows at a time) and this
# part only adds the fixed parts of the workbook: content types, relationships,
# document properties, one style sheet (0 normal, 1 bold for header rows, 2 a
# yyyy-mm-dd date), sheet views with frozen panes and column widths. Strings are
# inline (`t="inlineStr"`), so no shared-string table is held in memory. Every
# part is deterministic: the zip (a downloads.StampedZip) stamps a fixed date on
# its entries and the document properties carry the date they are given.

STYLE_BOLD, STYLE_DATE = 1, 2
# XML 1.0 cannot hold these; openpyxl's ILLEGAL_CHARACTERS_RE, shown as U+FFFD.
ILLEGAL_XML = _re.compile(r"[\000-\010\013\014\016-\037]")

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"
_STYLES = (
    f'{_HEAD}<styleSheet {_NS}>'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def text_xml(value: str) -> str:
    """An inline string's <t> element for a text cell: neutralised, characters XML
    cannot hold shown as U+FFFD, escaped; spaces at either end kept."""
    text = _escape(ILLEGAL_XML.sub("\ufffd", neutralise(value)), {"\r": "&#13;"})
    if text != text.strip():
        return f'<t xml:space="preserve">{text}</t>'
    return f"<t>{text}</t>"


def text_cell(ref: str, value: str, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is>{text_xml(value)}</is></c>'


def text_row(number: int, values, style: int = 0) -> str:
    """A row of text cells (header rows, the 说明 sheet); empty values are left out."""
    cells = "".join(text_cell(f"{column_letter(i)}{number}", v, style)
                    for i, v in enumerate(values, start=1) if v != "")
    return f'<row r="{number}">{cells}</row>'


class XlsxBook:
    """Sheets are written one after another, each from an iterable of row XML
    text; `sheets` must list every sheet name up front (the workbook parts are
    written first)."""

    def __init__(self, zf, sheets: list[str], title: str, creator: str, created: str):
        self.zf, self.count, self.next = zf, len(sheets), 0
        names = "".join(f'<sheet name="{_escape(n, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                        for i, n in enumerate(sheets, start=1))
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(sheets) + 1))
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                       for i in range(1, len(sheets) + 1))
        parts = {
            "[Content_Types].xml": (
                f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
                f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
                f'{overrides}'
                '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
                f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/>'
                '</Types>'),
            "_rels/.rels": (
                f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
                '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
                f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
                '</Relationships>'),
            "docProps/app.xml": (
                f'{_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
                f'<Application>{_escape(creator)}</Application></Properties>'),
            "docProps/core.xml": (
                f'{_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                f'<dc:title>{_escape(title)}</dc:title><dc:creator>{_escape(creator)}</dc:creator>'
                f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
                f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
                '</cp:coreProperties>'),
            "xl/workbook.xml": (
                f'{_HEAD}<workbook {_NS} {_NS_R}><bookViews><workbookView activeTab="0"/></bookViews>'
                f'<sheets>{names}</sheets></workbook>'),
            "xl/_rels/workbook.xml.rels": (
                f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'{rels}<Relationship Id="rId{len(sheets) + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
                '</Relationships>'),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            zf.writestr(name, text.encode("utf-8"))

    def write_sheet(self, rows, widths: list[float], freeze: str | None = None,
                    force_zip64: bool = False) -> None:
        """rows: iterable of XML text, each one or more whole <row> elements."""
        self.next += 1
        view = ' tabSelected="1"' if self.next == 1 else ""
        if freeze:
            split = int(_re.sub(r"^[A-Z]+", "", freeze)) - 1
            pane = (f'<pane ySplit="{split}" topLeftCell="{freeze}" activePane="bottomLeft" state="frozen"/>'
                    f'<selection pane="bottomLeft" activeCell="{freeze}" sqref="{freeze}"/>')
        else:
            pane = ""
        cols = "".join(f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
                       for i, w in enumerate(widths, start=1))
        head = (f'{_HEAD}<worksheet {_NS} {_NS_R}><sheetViews><sheetView{view} workbookViewId="0">'
                f'{pane}</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
                f'{"<cols>" + cols + "</cols>" if cols else ""}<sheetData>')
        with self.zf.open_entry(f"xl/worksheets/sheet{self.next}.xml", force_zip64) as out:
            out.write(head.encode("utf-8"))
            for text in rows:
                out.write(text.encode("utf-8"))
            out.write(b"</sheetData></worksheet>")
