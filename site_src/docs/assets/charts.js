/* Interactive charts (generator/render/charts.py, templates/_chart.html.j2).
 *
 * Each <figure class="vbp-chart"> holds a static SVG <img> (shown without
 * JavaScript and until the interactive chart is drawn), its Vega-Lite spec in
 * <script type="application/json" class="vbp-chart-spec">, its data table and
 * download links. This script:
 * - loads assets/vendor/vega/vega-bundle.js (Vega, Vega-Lite, vega-embed, one
 *   file from this site) only on pages that have a chart, and only when a chart
 *   comes near the screen (data-load="visible") or when the reader points at,
 *   focuses or taps it (data-load="intent", the home page: keeps its weight low);
 * - draws the chart with vega-embed using the expression interpreter
 *   (ast: true), so it runs under Content-Security-Policy script-src 'self'
 *   without 'unsafe-eval'; then hides the static SVG;
 * - offers a PNG made in the browser from the static SVG (no server, no
 *   bundle needed).
 * If drawing fails the static SVG stays and the error goes to the console.
 */
(function () {
  "use strict";

  var figures = document.querySelectorAll("figure.vbp-chart");
  if (!figures.length) {
    return;
  }
  var here = document.currentScript ? document.currentScript.src : document.baseURI;
  var bundleUrl = new URL("vendor/vega/vega-bundle.js", here).href;
  var bundle = null;

  function loadVega() {
    if (window.vegaEmbed) {
      return Promise.resolve();
    }
    if (!bundle) {
      bundle = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = bundleUrl;
        script.async = true;
        script.addEventListener("load", function () { resolve(); });
        script.addEventListener("error", function () {
          reject(new Error("无法加载图表程序 " + bundleUrl));
        });
        document.head.appendChild(script);
      });
    }
    return bundle;
  }

  function draw(figure) {
    if (figure.getAttribute("data-state")) {
      return;
    }
    figure.setAttribute("data-state", "loading");
    var view = figure.querySelector(".vbp-chart-view");
    var spec;
    try {
      spec = JSON.parse(figure.querySelector("script.vbp-chart-spec").textContent);
    } catch (err) {
      figure.setAttribute("data-state", "failed");
      console.error("图表规格无法读取：" + figure.id, err);
      return;
    }
    var live = document.createElement("div");
    live.className = "vbp-chart-live";
    view.appendChild(live);
    loadVega().then(function () {
      return window.vegaEmbed(live, spec, {
        ast: true,            // Vega's expression interpreter: no eval, no new Function
        actions: false,       // our own downloads; the default menu links to vega.github.io
        renderer: "svg",
        defaultStyle: false,
        tooltip: { theme: "light" },
        // Vega-Lite warns that layers filtered differently share a faceted scale:
        // true of every layered price chart here and harmless (fixed sizes).
        logLevel: 1  // vega.Error
      });
    }).then(function (result) {
      figure.vbpView = result.view;
      figure.setAttribute("data-state", "live");
      figure.classList.add("vbp-chart--live");
      var button = figure.querySelector(".vbp-chart-start");
      if (button) {
        button.remove();
      }
    }).catch(function (err) {
      live.remove();
      figure.setAttribute("data-state", "failed");
      console.error("图表无法交互显示，仍显示静态图：" + figure.id, err);
    });
  }

  function onIntent(figure) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "vbp-chart-start md-button";
    button.textContent = "显示交互图表（悬停查看数值）";
    figure.querySelector(".vbp-chart-view").appendChild(button);
    var start = function () { draw(figure); };
    button.addEventListener("click", start);
    ["pointerenter", "focusin", "touchstart"].forEach(function (name) {
      figure.addEventListener(name, start, { once: true, passive: true });
    });
  }

  function savePng(link) {
    var img = new Image();
    img.addEventListener("load", function () {
      var scale = 2;
      var canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth * scale;
      canvas.height = img.naturalHeight * scale;
      var g = canvas.getContext("2d");
      g.fillStyle = "#fff";
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.scale(scale, scale);
      g.drawImage(img, 0, 0);
      canvas.toBlob(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = document.createElement("a");
        a.href = url;
        a.download = link.getAttribute("data-png");
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      }, "image/png");
    });
    img.addEventListener("error", function () {
      console.error("无法生成 PNG：" + link.href);
    });
    img.src = link.href;
  }

  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) {
        observer.unobserve(entry.target);
        draw(entry.target);
      }
    });
  }, { rootMargin: "300px 0px" }) : null;

  Array.prototype.forEach.call(figures, function (figure) {
    var png = figure.querySelector(".vbp-chart-png");
    if (png) {
      png.hidden = false;
      png.querySelector("a").addEventListener("click", function (event) {
        event.preventDefault();
        savePng(event.currentTarget);
      });
    }
    if (figure.getAttribute("data-load") === "intent") {
      onIntent(figure);
    } else if (observer) {
      observer.observe(figure);
    } else {
      draw(figure);
    }
  });
})();
