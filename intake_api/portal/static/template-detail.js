// Template editor, detail panel: the keys of one field beyond its box. A
// construct's option, part and column boxes are drawn on the reference page
// ("描くもの"), the rest is typed here. The panel keeps its field's keys as
// JSON in the row's hidden extra_N input, which the server merges into the
// YAML (jobs/ocr/edit.py); keys another type does not take are dropped.
"use strict";

window.TemplateDetail = (function () {
  var ERAS = ["明治", "大正", "昭和", "平成", "令和"];
  var PLAIN = ["cells", "align", "handwritten", "condition"];
  var KEYS = {
    choice: ["options", "rule", "handwritten"],
    era_date: ["era", "year", "month", "day", "date", "handwritten"],
    tick_set: ["options", "min", "max", "handwritten"],
    table: ["rows", "columns", "handwritten"]
  };
  var MODES = {
    choice: [["option", "選択肢（印字された語を囲む）"]],
    tick_set: [["option", "チェック欄"], ["count", "通数の枠"]],
    era_date: [["era_option", "元号の選択肢（○で囲む語）"], ["era_box", "元号を書く枠"], ["year", "年の枠"],
      ["month", "月の枠"], ["day", "日の枠"], ["date", "日付を1つの枠で"]],
    table: [["row1", "1行目（行数分くり返す）"], ["column", "列"]]
  };
  var PARTS = { year: "年", month: "月", day: "日", date: "日付" };
  var HANDWRITTEN = [["", "帳票全体の設定どおり"], ["false", "印字"], ["true", "手書き"], ["auto", "自動判定（1枚ごと）"]];
  var body = null;
  var current = null;
  var hooks = null;

  function round(v) { return Math.round(v * 10) / 10; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function input(tr) { return tr.querySelector("input[data-extra]"); }
  function typeOf(tr) { return tr.querySelector('select[name^="type_"]').value; }
  function get(tr) {
    try { return JSON.parse(input(tr).value || "{}") || {}; } catch (e) { return {}; }
  }
  function allowed(type) { return KEYS[type] || PLAIN; }
  function put(tr, extra) {
    var out = {};
    allowed(typeOf(tr)).forEach(function (k) {
      if (extra[k] !== undefined && extra[k] !== null && extra[k] !== "") { out[k] = extra[k]; }
    });
    if (out.condition && !Object.keys(out.condition).length) { delete out.condition; }
    // An era to be circled with no option drawn yet says nothing: left out, as in the YAML.
    if (out.era && typeof out.era === "object" && !out.era.box && !(out.era.options || []).length) { delete out.era; }
    input(tr).value = JSON.stringify(out);
    hooks.changed(tr);
  }
  // A change made in the panel: ignored when it comes from a panel drawn
  // before the last one (a box removed while focused still sends "change").
  function edit(tr, extra) {
    if (current && current.tr === tr && current.extra === extra) {
      put(tr, extra);
      if (hooks.committed) { hooks.committed(); }
    }
  }
  function modes(type) { return [["new", "新しい項目"]].concat(MODES[type] || []); }

  // --- boxes inside the extra keys ----------------------------------------------------------

  function isBox(v) { return v && typeof v === "object" && ["x", "y", "w", "h"].every(function (k) { return typeof v[k] === "number"; }); }

  function shifted(value, dx, dy) {
    if (Array.isArray(value)) { return value.map(function (v) { return shifted(v, dx, dy); }); }
    if (!value || typeof value !== "object") { return value; }
    var out = {};
    Object.keys(value).forEach(function (k) { out[k] = shifted(value[k], dx, dy); });
    if (isBox(value)) { out.x = round(value.x + dx); out.y = round(value.y + dy); }
    return out;
  }

  function shift(tr, extra, dx, dy) {
    var out = shifted(extra, dx, dy);
    (out.columns || []).forEach(function (c) { c.x = round(c.x + dx); });
    put(tr, out);
  }

  // A table's columns follow its outer box when the box is resized: they are
  // divisions of it, whereas an option or a date part sits on a printed word
  // that stays where it is.
  function fit(tr, extra, from, to) {
    if (typeOf(tr) !== "table" || !(from.w > 0)) { return; }
    var out = JSON.parse(JSON.stringify(extra));
    var k = to.w / from.w;
    (out.columns || []).forEach(function (c) {
      c.x = round(to.x + (c.x - from.x) * k);
      c.w = round(c.w * k);
    });
    put(tr, out);
  }

  // Boxes to show on the page: {box, label, path}; path (keys into the extra
  // object) is set for a box of its own, which can be moved and resized; a
  // table's cells are made from its rows and columns and have none.
  function parts(tr, main) {
    var extra = get(tr);
    var out = [];
    (extra.options || []).forEach(function (o, i) {
      if (o.box) { out.push({ box: o.box, label: o.value, path: ["options", i, "box"] }); }
      if (o.count && o.count.box) { out.push({ box: o.count.box, label: o.value + " 通数", path: ["options", i, "count", "box"] }); }
    });
    var era = extra.era;
    if (era && typeof era === "object") {
      (era.options || []).forEach(function (o, i) { out.push({ box: o.box, label: o.value, path: ["era", "options", i, "box"] }); });
      if (era.box) { out.push({ box: era.box, label: "元号", path: ["era", "box"] }); }
    }
    Object.keys(PARTS).forEach(function (p) {
      if (extra[p] && extra[p].box) { out.push({ box: extra[p].box, label: PARTS[p], path: [p, "box"] }); }
    });
    var rows = parseInt(extra.rows, 10);
    if (typeOf(tr) === "table" && rows > 0 && main && (extra.columns || []).length * rows <= 400) {
      var h = main.h / rows;
      for (var r = 0; r < rows; r += 1) {
        (extra.columns || []).forEach(function (c) {
          out.push({ box: { x: c.x, y: main.y + r * h, w: c.w, h: h }, label: r === 0 ? c.label : "" });
        });
      }
    }
    return out;
  }

  // A part's box moved or resized on the page.
  function setPart(tr, path, box) {
    var extra = get(tr);
    var at = extra;
    for (var i = 0; i < path.length - 1; i += 1) {
      at = at ? at[path[i]] : null;
    }
    if (!at || !isBox(at[path[path.length - 1]])) { return; }
    at[path[path.length - 1]] = { x: round(box.x), y: round(box.y), w: round(box.w), h: round(box.h) };
    put(tr, extra);
  }

  function partAt(tr, path) {
    var at = get(tr);
    path.forEach(function (k) { at = at ? at[k] : null; });
    return isBox(at) ? at : null;
  }

  // A table's columns (x, w in mm) moved by a divider on the page.
  function setColumns(tr, columns) {
    var extra = get(tr);
    (extra.columns || []).forEach(function (c, i) {
      if (columns[i]) { c.x = round(columns[i].x); c.w = round(columns[i].w); }
    });
    put(tr, extra);
  }

  // --- what a drawing does ---------------------------------------------------------------------

  function unused(values, stem) {
    var n = values.length + 1;
    while (values.indexOf(stem + n) >= 0) { n += 1; }
    return stem + n;
  }

  function drawn(tr, b, mode) {
    var extra = get(tr);
    var box = { x: round(b.x), y: round(b.y), w: round(b.w), h: round(b.h) };
    var type = typeOf(tr);
    var focus = null;
    if (mode === "option") {
      extra.options = extra.options || [];
      var values = extra.options.map(function (o) { return o.value; });
      extra.options.push({ value: unused(values, type === "choice" ? "選択肢" : "項目"), box: box });
      focus = '[data-option-value="' + (extra.options.length - 1) + '"]';
    } else if (mode === "count") {
      var open = (extra.options || []).filter(function (o) { return !o.count; })[0];
      if (!open) { return message("通数を付けるチェック欄がありません。先にチェック欄を描いてください。"); }
      open.count = { box: box };
    } else if (mode === "era_option") {
      var era = extra.era && typeof extra.era === "object" && extra.era.options ? extra.era : { options: [] };
      var taken = era.options.map(function (o) { return o.value; });
      var next = ERAS.filter(function (e) { return taken.indexOf(e) < 0; })[0];
      if (!next) { return message("元号の選択肢は5つまでです。"); }
      era.options.push({ value: next, box: box });
      extra.era = { options: era.options };
    } else if (mode === "era_box") {
      extra.era = { box: box };
    } else if (PARTS[mode]) {
      if (mode === "date") { delete extra.year; delete extra.month; delete extra.day; } else { delete extra.date; }
      extra[mode] = { box: box };
    } else if (mode === "row1") {
      var rows = parseInt(extra.rows, 10) || 1;
      extra.rows = rows;
      hooks.writeBox(tr, { x: box.x, y: box.y, w: box.w, h: box.h * rows });
    } else if (mode === "column") {
      extra.columns = extra.columns || [];
      var names = extra.columns.map(function (c) { return c.name; });
      var k = extra.columns.length + 1;
      while (names.indexOf("col_" + k) >= 0) { k += 1; }
      extra.columns.push({ name: "col_" + k, label: "列" + k, type: "text", x: box.x, w: box.w });
      focus = '[data-column-label="' + (extra.columns.length - 1) + '"]';
    }
    put(tr, extra);
    show(tr, mode);
    if (focus) { var f = body.querySelector(focus); if (f) { f.focus(); f.select(); } }
  }

  function message(text) {
    var p = body.querySelector(".detail-message");
    if (p) { p.textContent = text; }
  }

  // --- the panel ---------------------------------------------------------------------------------

  function labelled(text, control) {
    var l = el("label", { "class": "detail-field" }, text + " ");
    l.appendChild(control);
    return l;
  }

  function select(choices, value, onChange, aria) {
    var s = el("select", aria ? { "aria-label": aria } : {});
    choices.forEach(function (c) {
      var o = el("option", { value: c[0] }, c[1]);
      if (String(value) === c[0]) { o.selected = true; }
      s.appendChild(o);
    });
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  }

  function numberInput(value, onChange, aria, attrs) {
    var i = el("input", Object.assign({ inputmode: "decimal", "class": "mm", "aria-label": aria }, attrs || {}));
    i.value = value === undefined || value === null ? "" : String(value);
    i.addEventListener("change", function () {
      var v = parseFloat(i.value.replace(",", "."));
      onChange(isFinite(v) ? v : null);
    });
    return i;
  }

  function textInput(value, onChange, aria, attrs) {
    var i = el("input", Object.assign({ "aria-label": aria }, attrs || {}));
    i.value = value || "";
    i.addEventListener("change", function () { onChange(i.value.trim()); });
    return i;
  }

  function boxCells(tr, extra, row, box, what) {
    [["x", "左"], ["y", "上"], ["w", "幅"], ["h", "高さ"]].forEach(function (k) {
      var td = el("td");
      td.appendChild(numberInput(box[k[0]], function (v) {
        if (v !== null) { box[k[0]] = v; edit(tr, extra); }
      }, what + "の" + k[1] + "（mm）"));
      row.appendChild(td);
    });
  }

  function removeButton(what, onClick) {
    var b = el("button", { type: "button", "class": "remove", "aria-label": what + "を外す" }, "外す");
    b.addEventListener("click", onClick);
    return b;
  }

  function table(headers) {
    var wrap = el("div", { "class": "table-wrap" });
    var t = el("table", { "class": "fields-table detail-table" });
    var head = el("tr");
    headers.forEach(function (h) { head.appendChild(el("th", {}, h)); });
    t.appendChild(el("thead")).appendChild(head);
    var tbody = t.appendChild(el("tbody"));
    wrap.appendChild(t);
    return [wrap, tbody];
  }

  function optionsTable(tr, extra, list, words, withCount) {
    var headers = [words, "左", "上", "幅", "高さ"].concat(withCount ? ["通数の枠"] : []).concat([""]);
    var made = table(headers);
    list.forEach(function (o, i) {
      var row = el("tr");
      var td = el("td");
      if (words === "元号") {
        td.appendChild(select(ERAS.map(function (e) { return [e, e]; }), o.value, function (v) { o.value = v; edit(tr, extra); }, "元号"));
      } else {
        td.appendChild(textInput(o.value, function (v) { o.value = v; edit(tr, extra); }, words, { "data-option-value": String(i) }));
      }
      row.appendChild(td);
      boxCells(tr, extra, row, o.box, o.value);
      if (withCount) {
        var count = el("td");
        if (o.count) {
          count.appendChild(el("span", {}, "あり "));
          count.appendChild(removeButton("通数の枠", function () { delete o.count; edit(tr, extra); show(tr); }));
        } else {
          count.appendChild(el("span", { "class": "muted" }, "なし"));
        }
        row.appendChild(count);
      }
      var del = el("td");
      del.appendChild(removeButton(o.value, function () { list.splice(i, 1); edit(tr, extra); show(tr); }));
      row.appendChild(del);
      made[1].appendChild(row);
    });
    return made[0];
  }

  function partsTable(tr, extra) {
    var made = table(["枠", "左", "上", "幅", "高さ", ""]);
    Object.keys(PARTS).forEach(function (p) {
      if (!extra[p]) { return; }
      var row = el("tr");
      row.appendChild(el("td", {}, PARTS[p]));
      boxCells(tr, extra, row, extra[p].box, PARTS[p] + "の枠");
      var del = el("td");
      del.appendChild(removeButton(PARTS[p] + "の枠", function () { delete extra[p]; edit(tr, extra); show(tr); }));
      row.appendChild(del);
      made[1].appendChild(row);
    });
    return made[0];
  }

  function columnTypes() {
    var out = [];
    var sel = document.querySelector('#field-rows select[name^="type_"]');
    Array.prototype.forEach.call(sel ? sel.options : [], function (o) {
      if (!KEYS[o.value]) { out.push([o.value, o.textContent]); }
    });
    return out;
  }

  function splitColumns(tr, extra, n) {
    var main = hooks.boxOf(tr);
    if (!(n >= 1 && isFinite(main.w))) { return; }
    var old = extra.columns || [];
    var w = main.w / n;
    var cols = [];
    for (var k = 0; k < n; k += 1) {
      var c = old[k] ? Object.assign({}, old[k]) : { name: "col_" + (k + 1), label: "列" + (k + 1), type: "text" };
      c.x = round(main.x + k * w);
      c.w = round(k === n - 1 ? main.x + main.w - c.x : w);
      cols.push(c);
    }
    extra.columns = cols;
    edit(tr, extra);
    show(tr);
  }

  function tablePanel(tr, extra, box) {
    var rows = numberInput(extra.rows, function (v) {
      extra.rows = v ? Math.round(v) : null; edit(tr, extra);
    }, "行数", { "data-detail": "rows" });
    // The rows are redrawn on the page as the number is typed.
    rows.addEventListener("input", function () {
      var v = parseInt(rows.value, 10);
      if (v >= 1 && v <= 200) { extra.rows = v; edit(tr, extra); }
    });
    box.appendChild(labelled("行数", rows));
    var count = numberInput((extra.columns || []).length || "", function () {}, "列の数", { "data-detail": "column-count" });
    box.appendChild(labelled("列の数", count));
    var split = el("button", { type: "button", id: "split-columns" }, "列を等分に分ける");
    split.addEventListener("click", function () { splitColumns(tr, extra, parseInt(count.value, 10)); });
    box.appendChild(split);
    var made = table(["名前", "見出し", "種類", "左", "幅", "空欄可", ""]);
    (extra.columns || []).forEach(function (c, i) {
      var row = el("tr");
      var cells = [
        textInput(c.name, function (v) { c.name = v; edit(tr, extra); }, "列の名前", { pattern: "[a-z][a-z0-9_]*" }),
        textInput(c.label, function (v) { c.label = v; edit(tr, extra); }, "列の見出し", { "data-column-label": String(i) }),
        select(columnTypes(), c.type, function (v) { c.type = v; edit(tr, extra); }, "列の種類"),
        numberInput(c.x, function (v) { if (v !== null) { c.x = v; edit(tr, extra); } }, "列の左（mm）"),
        numberInput(c.w, function (v) { if (v !== null) { c.w = v; edit(tr, extra); } }, "列の幅（mm）")
      ];
      var optional = el("input", { type: "checkbox", "aria-label": "空欄可" });
      optional.checked = !!c.optional;
      optional.addEventListener("change", function () {
        if (optional.checked) { c.optional = true; } else { delete c.optional; }
        edit(tr, extra);
      });
      cells.push(optional);
      cells.push(removeButton(c.label, function () { extra.columns.splice(i, 1); edit(tr, extra); show(tr); }));
      cells.forEach(function (node) { row.appendChild(el("td")).appendChild(node); });
      made[1].appendChild(row);
    });
    box.appendChild(made[0]);
    box.appendChild(el("p", { "class": "muted" }, "表の外枠を描いて行数と列の数を入れ「列を等分に分ける」か、描くもの「列」で列を1つずつ描きます。「1行目」を描くと、その高さを行数分くり返した外枠になります。表を選ぶと、参照ページの上で列の境目（縦線）と行の境目（横線）をドラッグして直せます（行の境目を動かすと、どの行も同じ高さで変わります）。"));
  }

  function eraPanel(tr, extra, box) {
    var era = extra.era;
    // The way chosen is kept on the row until its box is drawn ({} says nothing).
    var kind = typeof era === "string" ? era : era && era.box ? "written" : tr.getAttribute("data-era-kind") || "circled";
    var choices = [["circled", "○で囲む（印字された元号）"], ["written", "書き込む枠"]].concat(
      ERAS.map(function (e) { return [e, e + "（印字済み）"]; }));
    box.appendChild(labelled("元号", select(choices, kind, function (v) {
      tr.setAttribute("data-era-kind", v);
      if (v === "circled") { extra.era = { options: [] }; } else if (v === "written") { delete extra.era; } else { extra.era = v; }
      edit(tr, extra); show(tr);
    }, "元号の書き方")));
    if (kind === "circled") {
      extra.era = era && typeof era === "object" && era.options ? era : { options: [] };
      box.appendChild(optionsTable(tr, extra, extra.era.options, "元号", false));
    }
    if (kind === "written" && era && era.box) {
      var made = table(["元号を書く枠", "左", "上", "幅", "高さ"]);
      var row = el("tr");
      row.appendChild(el("td", {}, "元号"));
      boxCells(tr, extra, row, era.box, "元号の枠");
      made[1].appendChild(row);
      box.appendChild(made[0]);
    }
    box.appendChild(partsTable(tr, extra));
    box.appendChild(el("p", { "class": "muted" }, "年・月・日の枠を描くものから選んで描きます（1つの枠に日付を書く帳票は「日付を1つの枠で」）。年の枠には「元」も書けます。"));
  }

  function conditionControls(tr, extra, box) {
    var ticks = [];
    document.querySelectorAll("#field-rows tr[data-row]").forEach(function (other) {
      if (other !== tr && typeOf(other) === "checkbox" && !other.classList.contains("deleted")) {
        var name = other.querySelector('input[name^="name_"]').value;
        var label = other.querySelector('input[name^="label_"]').value;
        ticks.push([name, label + "（" + name + "）"]);
      }
    });
    var condition = extra.condition || {};
    var key = condition.required_if ? "required_if" : condition.empty_unless ? "empty_unless" : "";
    var tick = condition[key] || (ticks[0] ? ticks[0][0] : "");
    if (!ticks.length && !key) { return; }
    function write(k, t) {
      extra.condition = {};
      if (k && t) { extra.condition[k] = t; }
      edit(tr, extra);
    }
    var kinds = [["", "なし"], ["required_if", "チェックがあるときは記入が必須"], ["empty_unless", "チェックがないときは空欄"]];
    var which = select(kinds, key, function (v) { key = v; write(key, tick); }, "条件");
    var on = select(ticks.length ? ticks : [[tick, tick]], tick, function (v) { tick = v; write(key, tick); }, "条件のチェック欄");
    box.appendChild(labelled("条件", which));
    box.appendChild(labelled("チェック欄", on));
  }

  function plainPanel(tr, extra, box) {
    box.appendChild(labelled("1文字ずつの枠の数", numberInput(extra.cells, function (v) {
      extra.cells = v ? Math.round(v) : null; edit(tr, extra);
    }, "1文字ずつの枠の数", { "data-detail": "cells" })));
    var right = el("input", { type: "checkbox", "data-detail": "align" });
    right.checked = extra.align === "right";
    right.addEventListener("change", function () { extra.align = right.checked ? "right" : null; edit(tr, extra); });
    box.appendChild(labelled("右詰め", right));
    conditionControls(tr, extra, box);
  }

  function show(tr, keepMode) {
    if (!body) { return; }
    current = tr ? { tr: tr, extra: get(tr) } : null;
    body.hidden = !tr;
    document.getElementById("detail-empty").hidden = !!tr;
    body.textContent = "";
    if (!tr) { hooks.modeChanged("new"); return; }
    var extra = current.extra;
    var type = typeOf(tr);
    var typeLabel = tr.querySelector('select[name^="type_"]').selectedOptions[0].textContent;
    var name = tr.querySelector('input[name^="name_"]').value;
    body.appendChild(el("p", { "class": "detail-title" }, tr.querySelector('input[name^="label_"]').value + "（" + typeLabel + "・" + name + "）"));
    var mode = select(modes(type), keepMode || "new", function (v) { hooks.modeChanged(v); }, "描くもの");
    mode.id = "draw-mode";
    hooks.modeChanged(mode.value);
    body.appendChild(labelled("描くもの", mode));
    var box = el("div", { "class": "detail-keys" });
    body.appendChild(box);
    box.appendChild(labelled("手書き", select(HANDWRITTEN, extra.handwritten === undefined ? "" : String(extra.handwritten), function (v) {
      extra.handwritten = v === "" ? null : v === "auto" ? "auto" : v === "true";
      edit(tr, extra);
    }, "手書き")));
    if (type === "choice") {
      box.appendChild(labelled("選び方", select([["exactly_one", "1つだけ選ぶ"], ["at_most_one", "1つまで（なしも可）"]], extra.rule || "exactly_one", function (v) {
        extra.rule = v === "exactly_one" ? null : v; edit(tr, extra);
      }, "選び方")));
      box.appendChild(optionsTable(tr, extra, extra.options = extra.options || [], "選択肢の語", false));
      box.appendChild(el("p", { "class": "muted" }, "描くもの「選択肢」で、印字された語を○が入る余白ごと囲んで描き、語を入力します。"));
    } else if (type === "tick_set") {
      box.appendChild(labelled("最少", numberInput(extra.min, function (v) { extra.min = v === null ? null : Math.round(v); edit(tr, extra); }, "選ぶ数の最少", { "data-detail": "min" })));
      box.appendChild(labelled("最多", numberInput(extra.max, function (v) { extra.max = v === null ? null : Math.round(v); edit(tr, extra); }, "選ぶ数の最多", { "data-detail": "max" })));
      box.appendChild(optionsTable(tr, extra, extra.options = extra.options || [], "項目", true));
      box.appendChild(el("p", { "class": "muted" }, "描くもの「チェック欄」で□を、「通数の枠」で通数を書く枠を描きます（通数の枠は、まだ通数のない一番上のチェック欄に付きます）。"));
    } else if (type === "era_date") {
      eraPanel(tr, extra, box);
    } else if (type === "table") {
      tablePanel(tr, extra, box);
    } else {
      plainPanel(tr, extra, box);
    }
    body.appendChild(el("p", { "class": "detail-message error-text", role: "status" }));
  }

  return {
    setUp: function (h) {
      hooks = h;
      body = document.getElementById("detail-body");
      // Enter in the panel takes the value; it does not send the whole template.
      body.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing || event.target.tagName !== "INPUT") { return; }
        event.preventDefault();
        event.target.dispatchEvent(new Event("change"));
      });
    },
    show: show,
    mode: function () { var m = document.getElementById("draw-mode"); return m ? m.value : "new"; },
    get: get,
    put: put,
    drawn: drawn,
    shift: shift,
    fit: fit,
    parts: parts,
    setPart: setPart,
    partAt: partAt,
    setColumns: setColumns,
    current: function () { return current ? current.tr : null; }
  };
})();
