/* Site search: a header panel over Pagefind's JavaScript API (the bundle in
 * /pagefind/, written by the "search" build stage, generator/render/search.py).
 *
 * - Chinese: Han text in the query is rewritten to the index's words, one per
 *   pair of neighbouring characters (queryTerms; its Python twin is
 *   query_terms in search.py). Left to itself, the browser would cut unknown
 *   names into single characters and Pagefind would find nothing.
 * - A Latin query that finds nothing is retried without its last one or two
 *   letters, and the panel says so: half-remembered initials still land.
 * - Each result shows its kind, name, round and price with unit and date, from
 *   the record's meta; nothing from the record is inserted as HTML.
 * - Filters are loaded only when the filter panel is opened, so a query does
 *   not download them.
 * - No inline code anywhere (CSP script-src 'self'); Pagefind's worker and
 *   WebAssembly come from the site itself.
 */
(function () {
  "use strict";

  var HAN = /[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\u{20000}-\u{3134F}]+/gu;
  var PREFIX = "vv";
  var PAGE_SIZE = 10;
  var FILTERS = ["类型", "类别", "批次", "省份", "中选"];
  var DEBOUNCE_MS = 150;

  function charCode(ch) {
    var hex = ch.codePointAt(0).toString(16).padStart(5, "0");
    var out = "";
    for (var i = 0; i < hex.length; i++) {
      out += String.fromCharCode(97 + parseInt(hex.charAt(i), 16));
    }
    return out;
  }

  function queryTerms(query) {
    var parts = [];
    var pos = 0;
    var m;
    HAN.lastIndex = 0;
    while ((m = HAN.exec(query)) !== null) {
      parts.push(query.slice(pos, m.index));
      var codes = Array.from(m[0], charCode);
      var pairs = [];
      for (var i = 1; i < codes.length; i++) {
        pairs.push(PREFIX + codes[i - 1] + codes[i]);
      }
      parts.push(pairs.length ? pairs.join(" ") : PREFIX + codes[0]);
      pos = m.index + m[0].length;
    }
    parts.push(query.slice(pos));
    return parts.map(function (p) { return p.trim(); }).filter(Boolean).join(" ");
  }

  // Shorter forms of a single Latin word to try when it finds nothing.
  function fallbacks(query) {
    var word = query.trim();
    if (!/^[a-z]{4,}$/i.test(word)) {
      return [];
    }
    var out = [];
    for (var n = word.length - 1; n >= Math.max(3, word.length - 2); n--) {
      out.push(word.slice(0, n));
    }
    return out;
  }

  window.vbpSearch = { queryTerms: queryTerms };

  var root = document.getElementById("vbp-search");
  if (!root) {
    return;
  }
  var siteRoot = new URL((root.getAttribute("data-root") || ".") + "/", window.location.href).pathname;
  var openButton = document.getElementById("vbp-search-open");
  var panel = document.getElementById("vbp-search-panel");
  var overlay = root.querySelector(".vbp-search__overlay");
  var form = panel.querySelector("form");
  var input = document.getElementById("vbp-search-input");
  var closeButton = panel.querySelector(".vbp-search__close");
  var status = document.getElementById("vbp-search-status");
  var list = document.getElementById("vbp-search-results");
  var more = panel.querySelector(".vbp-search__more");
  var filterBox = panel.querySelector(".vbp-search__filters");
  var filterList = panel.querySelector(".vbp-search__filter-list");

  var pagefindPromise = null;
  var selected = {};
  var results = [];
  var shown = 0;
  var seq = 0;
  var timer = null;

  function pagefind() {
    if (!pagefindPromise) {
      pagefindPromise = import(siteRoot + "pagefind/pagefind.js").then(function (pf) {
        return pf.options({ baseUrl: siteRoot }).then(function () {
          return pf.init();
        }).then(function () {
          return pf;
        });
      });
      pagefindPromise.catch(function () {
        pagefindPromise = null;
        setStatus("搜索暂时无法使用：索引加载失败。");
      });
    }
    return pagefindPromise;
  }

  function setStatus(text) {
    status.textContent = text;
  }

  function isOpen() {
    return !panel.hidden;
  }

  function open(term) {
    panel.hidden = false;
    overlay.hidden = false;
    openButton.setAttribute("aria-expanded", "true");
    if (typeof term === "string" && term !== input.value) {
      input.value = term;
      schedule(0);
    }
    input.focus();
    var end = input.value.length;
    input.setSelectionRange(end, end);
    pagefind();
  }

  function close() {
    panel.hidden = true;
    overlay.hidden = true;
    openButton.setAttribute("aria-expanded", "false");
    openButton.focus();
  }

  function activeFilters() {
    var out = {};
    Object.keys(selected).forEach(function (name) {
      if (selected[name]) {
        out[name] = selected[name];
      }
    });
    return out;
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    panel.setAttribute("data-state", "searching");
    timer = window.setTimeout(run, delay === undefined ? DEBOUNCE_MS : delay);
  }

  function run() {
    var term = input.value.trim();
    var filters = activeFilters();
    var mine = ++seq;
    if (!term && !Object.keys(filters).length) {
      results = [];
      list.textContent = "";
      more.hidden = true;
      setStatus("");
      panel.removeAttribute("data-state");
      return;
    }
    pagefind().then(function (pf) {
      var attempts = term ? [term].concat(fallbacks(term)) : [null];
      function attempt(i) {
        var q = attempts[i];
        return pf.search(q === null ? null : queryTerms(q), { filters: filters }).then(function (res) {
          if (res.results.length || i === attempts.length - 1) {
            return { used: q, res: res };
          }
          return attempt(i + 1);
        });
      }
      return attempt(0);
    }).then(function (found) {
      if (mine !== seq) {
        return;
      }
      results = found.res.results;
      shown = 0;
      list.textContent = "";
      var count = results.length;
      var label = term ? "“" + term + "”" : "所选条件";
      if (!count) {
        setStatus("没有找到" + label + "的结果。可换用通用名、企业简称、拼音或首字母。");
      } else if (found.used !== null && found.used !== term) {
        setStatus("没有找到“" + term + "”，改为显示以“" + found.used + "”开头的 " + count + " 个结果");
      } else {
        setStatus("找到 " + count + " 个结果");
      }
      return showMore(mine);
    }).then(function () {
      if (mine === seq) {
        panel.setAttribute("data-query", term);
        panel.setAttribute("data-state", "done");
      }
    }).catch(function (err) {
      if (mine === seq) {
        panel.setAttribute("data-state", "error");
        setStatus("搜索出错：" + err);
      }
    });
  }

  function showMore(mine) {
    var batch = results.slice(shown, shown + PAGE_SIZE);
    shown += batch.length;
    more.hidden = shown >= results.length;
    return Promise.all(batch.map(function (r) { return r.data(); })).then(function (items) {
      if (mine !== seq) {
        return;
      }
      items.forEach(function (data) {
        list.appendChild(renderResult(data));
      });
    });
  }

  function span(cls, text) {
    var el = document.createElement("span");
    el.className = "vbp-search__" + cls;
    el.textContent = text;
    return el;
  }

  function renderResult(data) {
    var meta = data.meta || {};
    var li = document.createElement("li");
    li.className = "vbp-search__result";
    var a = document.createElement("a");
    // meta.url overrides a result's URL (records with an #anchor); it is
    // relative to the site root, like the URLs Pagefind prefixes with baseUrl.
    a.href = meta.url ? siteRoot + meta.url.replace(/^\//, "") : data.url;
    var head = document.createElement("span");
    head.className = "vbp-search__head";
    head.appendChild(span("kind", meta.kind || ""));
    head.appendChild(span("title", meta.title || data.url));
    a.appendChild(head);
    ["detail", "round", "price", "count", "date"].forEach(function (key) {
      if (meta[key]) {
        a.appendChild(span(key, meta[key]));
      }
    });
    li.appendChild(a);
    return li;
  }

  function loadFilters() {
    if (filterList.childNodes.length) {
      return;
    }
    pagefind().then(function (pf) {
      return pf.filters();
    }).then(function (available) {
      FILTERS.forEach(function (name) {
        var values = available[name];
        if (!values || !Object.keys(values).length) {
          return;
        }
        var label = document.createElement("label");
        label.className = "vbp-search__filter";
        label.appendChild(document.createTextNode(name));
        var select = document.createElement("select");
        select.name = name;
        var all = document.createElement("option");
        all.value = "";
        all.textContent = "全部";
        select.appendChild(all);
        Object.keys(values).sort(function (x, y) { return x.localeCompare(y, "zh"); }).forEach(function (value) {
          var option = document.createElement("option");
          option.value = value;
          option.textContent = value + "（" + values[value] + "）";
          select.appendChild(option);
        });
        select.addEventListener("change", function () {
          selected[name] = select.value;
          schedule(0);
        });
        label.appendChild(select);
        filterList.appendChild(label);
      });
    });
  }

  function resultLinks() {
    return Array.prototype.slice.call(list.querySelectorAll("a"));
  }

  openButton.addEventListener("click", function () {
    if (isOpen()) {
      close();
    } else {
      open();
    }
  });
  overlay.addEventListener("click", close);
  closeButton.addEventListener("click", close);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    run();
  });
  input.addEventListener("input", function () { schedule(); });
  more.addEventListener("click", function () { showMore(seq); });
  filterBox.addEventListener("toggle", function () {
    if (filterBox.open) {
      loadFilters();
    }
  });

  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
      return;
    }
    var links = resultLinks();
    if (!links.length) {
      return;
    }
    var at = links.indexOf(document.activeElement);
    if (event.target === input && event.key === "ArrowDown") {
      at = 0;
    } else if (at < 0) {
      return;
    } else {
      at += event.key === "ArrowDown" ? 1 : -1;
    }
    event.preventDefault();
    if (at < 0) {
      input.focus();
    } else {
      links[Math.min(at, links.length - 1)].focus();
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      open();
    }
  });

  // The home page's search entry (#vbp-home-search: a field, a form around
  // one, or a link or button) opens this panel; focus moves there before the
  // first keystroke, so input methods (拼音输入法) compose in one field.
  var home = document.getElementById("vbp-home-search");
  if (home) {
    var homeInput = home.matches("input") ? home : home.querySelector("input");
    var homeForm = home.matches("form") ? home : home.closest("form") || home.querySelector("form");
    if (homeInput) {
      homeInput.addEventListener("focus", function () {
        var value = homeInput.value;
        homeInput.value = "";
        open(value || undefined);
      });
    }
    if (homeForm) {
      homeForm.addEventListener("submit", function (event) {
        event.preventDefault();
        open();
      });
    }
    if (!homeInput && !homeForm) {
      home.addEventListener("click", function (event) {
        event.preventDefault();
        open();
      });
    }
  }

  // ?q=… opens the panel with that query (a link to a search).
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) {
    open(initial);
  }
})();
