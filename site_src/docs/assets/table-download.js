/* "下载此表 (CSV)": a button under every table in the page content that saves
 * the table as a CSV file built in the browser (no server, no inline code, so
 * it works under CSP script-src 'self').
 *
 * - UTF-8 with a byte-order mark and CRLF, so Excel on Windows opens it.
 * - Every cell is quoted; text starting with = + - @ tab or CR gets a leading
 *   ' so a spreadsheet does not run it as a formula (same rule as
 *   generator/render/spreadsheet.py).
 * - A cell's value is its data-csv attribute when present (pages may put the
 *   raw number there), otherwise its text: a space between elements, parts
 *   marked hidden or aria-hidden left out, whitespace collapsed.
 * - colspan repeats empty cells so columns stay aligned; rowspan is not expanded.
 * - When any row has links, a last column "链接" lists their absolute URLs, so
 *   a row's source document travels with it.
 * - Tables inside .vbp-no-download, or with no body rows, get no button.
 */
(function () {
  "use strict";

  var TRIGGERS = ["=", "+", "-", "@", "\t", "\r"];

  function neutralise(text) {
    return TRIGGERS.indexOf(text.charAt(0)) >= 0 ? "'" + text : text;
  }

  function quote(text) {
    return '"' + text.replace(/"/g, '""') + '"';
  }

  // The cell's text with a space between elements ("齐鲁制药 过评", not
  // "齐鲁制药过评"), hidden parts left out, whitespace collapsed.
  function cellText(cell) {
    if (cell.hasAttribute("data-csv")) {
      return cell.getAttribute("data-csv");
    }
    var copy = cell.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll("[hidden], [aria-hidden='true']"), function (el) {
      el.parentNode.removeChild(el);
    });
    Array.prototype.forEach.call(copy.querySelectorAll("*"), function (el) {
      el.parentNode.insertBefore(document.createTextNode(" "), el);
      el.parentNode.insertBefore(document.createTextNode(" "), el.nextSibling);
    });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  function tableRows(table) {
    var rows = [];
    var withLinks = false;
    Array.prototype.forEach.call(table.rows, function (tr) {
      var cells = [];
      var links = [];
      Array.prototype.forEach.call(tr.cells, function (cell) {
        cells.push(cellText(cell));
        for (var i = 1; i < (cell.colSpan || 1); i++) {
          cells.push("");
        }
        Array.prototype.forEach.call(cell.querySelectorAll("a[href]"), function (a) {
          if (a.href && links.indexOf(a.href) < 0) {
            links.push(a.href);
          }
        });
      });
      if (links.length && tr.parentNode.tagName !== "THEAD") {
        withLinks = true;
      }
      rows.push({ cells: cells, links: links, head: tr.parentNode.tagName === "THEAD" });
    });
    return rows.map(function (row) {
      if (withLinks) {
        row.cells.push(row.head ? "链接" : row.links.join(" "));
      }
      return row.cells;
    });
  }

  function toCsv(table) {
    var lines = tableRows(table).map(function (cells) {
      return cells.map(function (c) { return quote(neutralise(c)); }).join(",");
    });
    return "\ufeff" + lines.join("\r\n") + "\r\n";
  }

  function fileName(index) {
    var path = window.location.pathname.replace(/index\.html$/, "");
    var slug = decodeURIComponent(path).split("/").filter(Boolean).join("-") || "index";
    slug = slug.replace(/[\\/:*?"<>|\s]+/g, "_");
    return slug + "-" + (index + 1) + ".csv";
  }

  function save(table, index) {
    var blob = new Blob([toCsv(table)], { type: "text/csv;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = fileName(index);
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function addButtons() {
    var tables = document.querySelectorAll(".md-content table");
    Array.prototype.forEach.call(tables, function (table, index) {
      if (table.hasAttribute("data-vbp-download") || table.closest(".vbp-no-download") ||
          !table.tBodies.length || !table.tBodies[0].rows.length) {
        return;
      }
      table.setAttribute("data-vbp-download", "");
      var after = table.closest(".vbp-table-wrap, .md-typeset__scrollwrap") || table;
      var bar = document.createElement("div");
      bar.className = "vbp-table-download";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "md-button";
      button.textContent = "下载此表 (CSV)";
      button.addEventListener("click", function () { save(table, index); });
      bar.appendChild(button);
      after.parentNode.insertBefore(bar, after.nextSibling);
    });
  }

  // Material's instant navigation replaces the page without a load event.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(addButtons);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addButtons);
  } else {
    addButtons();
  }
})();
