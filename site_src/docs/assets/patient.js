/* Pickers on unit and product pages. Progressive: without this script the pages
   show full tables; with it, a province (and product) picker appears.
   Data comes from <script type="application/json"> blocks, never inline code. */
(function () {
  "use strict";

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function line(label, value, note) {
    var p = document.createElement("p");
    var b = document.createElement("strong");
    b.textContent = label + "：";
    p.appendChild(b);
    p.appendChild(document.createTextNode(value));
    if (note) {
      var s = document.createElement("small");
      s.textContent = "（" + note + "）";
      p.appendChild(s);
    }
    return p;
  }

  /* Unit page: pick a province and a product; show price, standard, difference. */
  function patientView(form) {
    var blob = document.getElementById(form.getAttribute("data-vbp-patient"));
    if (!blob) return;
    var data = JSON.parse(blob.textContent);
    if (!data.rows.length) return;
    var region = form.elements.region, product = form.elements.product;
    var out = form.querySelector("output");
    data.regions.forEach(function (r) { region.appendChild(option(r[0], r[1])); });

    function fillProducts() {
      var keep = product.value;
      product.textContent = "";
      data.products.forEach(function (p) {
        var here = data.rows.some(function (x) { return x.r === region.value && x.w === p[0]; });
        if (here) product.appendChild(option(p[0], p[1]));
      });
      if (keep) product.value = keep;
      if (!product.value && product.options.length) product.selectedIndex = 0;
    }

    function show() {
      out.textContent = "";
      var row = data.rows.filter(function (x) { return x.r === region.value && x.w === product.value; })[0];
      if (!row) {
        out.appendChild(line("结果", "数据中没有该产品在所选地区的价格或支付标准"));
        return;
      }
      if (!row.s && row.price) out.appendChild(line("注意", "该产品不是所选地区的中选供应产品，当地实际价格可能不同"));
      out.appendChild(line("当地价格", row.price || "数据中无当地价格", row.price_note));
      out.appendChild(line("医保支付标准", row.std || "数据中无现行支付标准", row.std_note));
      if (row.diff) {
        var pack = row.diff_pack ? "，每包装 " + row.diff_pack : "";
        out.appendChild(line("患者另付（高出支付标准的部分）", "每最小单位 " + row.diff + pack));
      } else {
        out.appendChild(line("患者另付", "无法计算：需要同时有当地价格和支付标准"));
      }
    }

    region.addEventListener("change", function () { fillProducts(); show(); });
    product.addEventListener("change", show);
    fillProducts();
    show();
    form.hidden = false;
    var all = form.parentNode.querySelector("details.vbp-patient-all");
    if (all && !printing.matches) all.open = false;
  }

  /* Product page: mark the substitutes that supply the chosen province. */
  function supplyPicker(select) {
    var table = document.getElementById(select.getAttribute("data-vbp-supply"));
    if (!table) return;
    var out = select.parentNode.parentNode.querySelector("output");
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-regions]"));
    select.addEventListener("change", function () {
      var code = select.value, n = 0;
      rows.forEach(function (tr) {
        var hit = code !== "" && tr.getAttribute("data-regions").split(" ").indexOf(code) >= 0;
        tr.classList.toggle("vbp-supplies", hit);
        if (hit) n += 1;
      });
      out.textContent = code === "" ? "" : n + " 个产品供应该地区（已标出）";
    });
    select.parentNode.parentNode.hidden = false;
  }

  var printing = window.matchMedia("print");

  function init() {
    document.querySelectorAll("form[data-vbp-patient]").forEach(patientView);
    document.querySelectorAll("select[data-vbp-supply]").forEach(supplyPicker);
    /* Print the full tables that the pickers folded away. */
    function unfold() {
      document.querySelectorAll("details.vbp-patient-all").forEach(function (d) { d.open = true; });
    }
    window.addEventListener("beforeprint", unfold);
    printing.addEventListener("change", function (e) { if (e.matches) unfold(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
