"""Mapping-driven import of published result tables (spreadsheets and CSVs)
into the data package.

  mapping.py     the mapping file: layout of a kind of table, as data
  readers.py     .xlsx/.csv/.xls → rows; header detection; note and blank rows
  parsers.py     value parsers: yes/no, missing, numbers, strengths, lists
  resolve.py     names → records: regions, companies, competition units
  cells.py       one field of one row, as the mapping says
  assemble.py    rows → package tables (winners, prices, units, companies…)
  volumes.py     agreed volumes by province joined to the winners
  accounting.py  what happened to every source row
  run.py         one run: read, assemble, validate a staged package, print
                 what changes (generator/diff.py), swap it in
"""
from .run import ImportFailed, ImportResult, Prepared, prepare, run_import

__all__ = ["ImportFailed", "ImportResult", "Prepared", "prepare", "run_import"]
