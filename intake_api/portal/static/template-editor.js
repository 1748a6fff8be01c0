// Template box editor: drag on the reference page to draw a new field's box.
// A box is selected by clicking it: dragged to move, resized by its eight
// handles, nudged with the arrow keys (Shift: a larger step; Ctrl: width and
// height instead of position). The selected field's own option, part and
// column boxes (template-detail.js) can be selected and adjusted the same
// way; a table shows its column and row dividers, which can be dragged.
// Ctrl+Z (or 元に戻す) takes back the last change. The table beside the page
// holds the numbers (mm from the top-left corner) that are sent; the boxes
// and the table follow each other.
"use strict";

(function () {
  var GRID_MM = 0.5; // a mouse gesture moves edges in these steps
  var MIN_MM = 2;
  var STEP_MM = 0.5; // an arrow key
  var BIG_STEP_MM = 5; // Shift + an arrow key
  var HISTORY = 100;
  var KEYS = ["x", "y", "w", "h"];
  // Corners last, so that on a small box they lie above the edge handles.
  var DIRS = ["n", "e", "s", "w", "nw", "ne", "se", "sw"];
  var ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  var SAVED = ["name", "label", "type", "x", "y", "w", "h", "extra"];

  function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }
  function snap(v) { return Math.round(v / GRID_MM) * GRID_MM; }
  function round(v) { return Math.round(v * 10) / 10; }
  function num(el) { var v = parseFloat(String(el ? el.value : "").replace(",", ".")); return isFinite(v) ? v : NaN; }
  function has(dir, side) { return dir.indexOf(side) >= 0; }

  function setUp(canvas) {
    var width = parseFloat(canvas.getAttribute("data-width-mm"));
    var height = parseFloat(canvas.getAttribute("data-height-mm"));
    var page = canvas.getAttribute("data-page");
    var tbody = document.getElementById("field-rows");
    var blank = document.getElementById("new-row");
    var undoButton = document.getElementById("undo-edit");
    var status = document.getElementById("canvas-status");
    var boxes = {};
    var drag = null;
    var sel = null; // {index, path}: the selected field, and the part of it (path) or its own box (null)
    var detail = window.TemplateDetail;
    var history = [];
    var last = "";

    function field(tr, key) { return tr.querySelector('[name="' + key + "_" + tr.getAttribute("data-row") + '"]'); }
    function row(index) { return index === null || index === undefined ? null : tbody.querySelector('tr[data-row="' + index + '"]'); }
    function boxOf(tr) {
      var b = {};
      KEYS.forEach(function (k) { b[k] = num(field(tr, k)); });
      return b;
    }
    function whole(b) { return !!b && KEYS.every(function (k) { return isFinite(b[k]); }); }

    // The box moved by (dx, dy), kept on the page.
    function moved(b, dx, dy) {
      return { x: round(clamp(b.x + dx, 0, width - b.w)), y: round(clamp(b.y + dy, 0, height - b.h)), w: b.w, h: b.h };
    }

    // The box with the edges named in dir (n, e, s, w) moved by (dx, dy), at
    // least MIN_MM across and on the page.
    function resized(b, dir, dx, dy) {
      var left = b.x, top = b.y, right = b.x + b.w, bottom = b.y + b.h;
      if (has(dir, "w")) { left = clamp(left + dx, 0, right - MIN_MM); }
      if (has(dir, "e")) { right = clamp(right + dx, left + MIN_MM, width); }
      if (has(dir, "n")) { top = clamp(top + dy, 0, bottom - MIN_MM); }
      if (has(dir, "s")) { bottom = clamp(bottom + dy, top + MIN_MM, height); }
      return { x: round(left), y: round(top), w: round(right - left), h: round(bottom - top) };
    }

    function place(div, b) {
      var ok = whole(b);
      div.hidden = !ok;
      if (!ok) { return; }
      div.style.left = (100 * b.x / width) + "%";
      div.style.top = (100 * b.y / height) + "%";
      div.style.width = (100 * b.w / width) + "%";
      div.style.height = (100 * b.h / height) + "%";
    }

    function addHandles(div) {
      DIRS.forEach(function (dir) {
        var handle = document.createElement("div");
        handle.className = "handle";
        handle.setAttribute("data-dir", dir);
        div.appendChild(handle);
      });
    }

    function isSelected(index, path) {
      return !!sel && sel.index === String(index) && JSON.stringify(sel.path) === JSON.stringify(path || null);
    }

    // --- a table's dividers ------------------------------------------------------------------

    // The column edges: where a column ends (left) and where one starts
    // (right); two columns side by side share one edge, moved together.
    function columnEdges(columns) {
      var edges = [];
      function at(x) {
        for (var i = 0; i < edges.length; i += 1) {
          if (Math.abs(edges[i].x - x) < 0.05) { return edges[i]; }
        }
        edges.push({ x: x, left: -1, right: -1 });
        return edges[edges.length - 1];
      }
      columns.forEach(function (c, i) {
        if (isFinite(c.x) && isFinite(c.w)) { at(c.x).right = i; at(c.x + c.w).left = i; }
      });
      return edges;
    }

    function drawDividers(tr, index, main) {
      var extra = detail.get(tr);
      var columns = extra.columns || [];
      var rows = parseInt(extra.rows, 10);
      if (!whole(main)) { return; }
      columnEdges(columns).forEach(function (edge, k) {
        // An edge on the outer box's side is moved by the box's own handles.
        if (Math.abs(edge.x - main.x) < 0.05 || Math.abs(edge.x - main.x - main.w) < 0.05) { return; }
        var div = document.createElement("div");
        div.className = "divider col";
        div.setAttribute("data-row", index);
        div.setAttribute("data-edge", String(k));
        div.title = "列の境目（ドラッグで移動）";
        div.style.left = (100 * edge.x / width) + "%";
        div.style.top = (100 * main.y / height) + "%";
        div.style.height = (100 * main.h / height) + "%";
        canvas.appendChild(div);
      });
      for (var r = 1; rows > 1 && r < rows && rows <= 200; r += 1) {
        var line = document.createElement("div");
        line.className = "divider row";
        line.setAttribute("data-row", index);
        line.setAttribute("data-divider-row", String(r));
        line.title = "行の境目（ドラッグで行の高さを変える）";
        line.style.top = (100 * (main.y + r * main.h / rows) / height) + "%";
        line.style.left = (100 * main.x / width) + "%";
        line.style.width = (100 * main.w / width) + "%";
        canvas.appendChild(line);
      }
    }

    // --- drawing a row's boxes -----------------------------------------------------------------

    function drawParts(tr) {
      var index = tr.getAttribute("data-row");
      canvas.querySelectorAll('.part[data-row="' + index + '"], .divider[data-row="' + index + '"]').forEach(function (d) {
        canvas.removeChild(d);
      });
      if (!boxes[index] || field(tr, "delete").checked) { return; }
      var main = boxOf(tr);
      var chosen = !!sel && sel.index === index;
      detail.parts(tr, main).forEach(function (part) {
        var div = document.createElement("div");
        div.className = "part";
        div.setAttribute("data-row", index);
        div.appendChild(document.createElement("span")).textContent = part.label || "";
        if (chosen && part.path) {
          // Only the selected field's own boxes take the mouse: the others lie
          // under a new field that is being drawn.
          div.classList.add("active");
          div.setAttribute("data-path", JSON.stringify(part.path));
          if (isSelected(index, part.path)) { div.classList.add("selected"); addHandles(div); }
        }
        place(div, part.box);
        canvas.appendChild(div);
      });
      if (chosen && field(tr, "type").value === "table") { drawDividers(tr, index, main); }
    }

    function describe() {
      if (!status) { return; }
      var tr = sel ? row(sel.index) : null;
      var b = tr ? (sel.path ? detail.partAt(tr, sel.path) : boxOf(tr)) : null;
      if (!whole(b)) { status.textContent = ""; return; }
      var what = field(tr, "name").value + (sel.path ? " の " + partLabel(tr, sel.path) : "");
      status.textContent = "選択中: " + what + "（左 " + b.x + "・上 " + b.y + "・幅 " + b.w + "・高さ " + b.h + " mm）";
    }

    function partLabel(tr, path) {
      var found = detail.parts(tr, boxOf(tr)).filter(function (p) { return JSON.stringify(p.path) === JSON.stringify(path); })[0];
      return found ? found.label || "枠" : "枠";
    }

    function sync(tr) {
      var div = boxes[tr.getAttribute("data-row")];
      var deleted = field(tr, "delete").checked;
      tr.classList.toggle("deleted", deleted);
      if (!div) { return; }
      place(div, boxOf(tr));
      div.querySelector("span").textContent = field(tr, "name").value || "（名前なし）";
      div.classList.toggle("deleted", deleted);
      drawParts(tr);
      if (sel && sel.index === tr.getAttribute("data-row")) { describe(); }
    }

    function select(index, path) {
      var before = sel ? row(sel.index) : null;
      sel = index === null ? null : { index: String(index), path: path || null };
      var chosen = row(index);
      Object.keys(boxes).forEach(function (k) {
        boxes[k].classList.toggle("selected", !!sel && k === sel.index && !sel.path);
        boxes[k].classList.toggle("owner", !!sel && k === sel.index && !!sel.path);
      });
      tbody.querySelectorAll("tr[data-row]").forEach(function (tr) {
        tr.classList.toggle("selected", !!sel && tr.getAttribute("data-row") === sel.index);
      });
      if (before && before !== chosen) { drawParts(before); }
      if (chosen) { drawParts(chosen); }
      describe();
      if (detail && chosen && detail.current() !== chosen) { detail.show(chosen); }
    }

    function write(tr, b) {
      KEYS.forEach(function (k) { field(tr, k).value = String(round(b[k])); });
      sync(tr);
    }

    // --- undo ---------------------------------------------------------------------------------------

    // Everything the page sends about each row, as one string.
    function state() {
      var out = [];
      tbody.querySelectorAll("tr[data-row]").forEach(function (tr) {
        var r = { index: tr.getAttribute("data-row") };
        SAVED.forEach(function (k) { r[k] = field(tr, k).value; });
        r.required = field(tr, "required").checked;
        r.deleted = field(tr, "delete").checked;
        out.push(r);
      });
      return JSON.stringify(out);
    }

    // A change is finished (a gesture, a key, a value taken): the state before it is kept.
    function commit() {
      var now = state();
      if (now === last) { return; }
      history.push(last);
      if (history.length > HISTORY) { history.shift(); }
      last = now;
      if (undoButton) { undoButton.disabled = false; }
    }

    function removeRow(tr) {
      var index = tr.getAttribute("data-row");
      canvas.querySelectorAll('[data-row="' + index + '"]').forEach(function (d) { canvas.removeChild(d); });
      delete boxes[index];
      tbody.removeChild(tr);
      if (sel && sel.index === index) { sel = null; }
    }

    function undo() {
      if (!history.length) { return; }
      last = history.pop();
      var kept = {};
      JSON.parse(last).forEach(function (r) { kept[r.index] = r; });
      var shown = detail.current();
      tbody.querySelectorAll("tr[data-row]").forEach(function (tr) {
        var r = kept[tr.getAttribute("data-row")];
        if (!r) { removeRow(tr); return; } // a field drawn since
        SAVED.forEach(function (k) { field(tr, k).value = r[k]; });
        field(tr, "required").checked = r.required;
        field(tr, "delete").checked = r.deleted;
        sync(tr);
      });
      if (sel && sel.path && !detail.partAt(row(sel.index), sel.path)) { sel.path = null; }
      select(sel ? sel.index : null, sel ? sel.path : null);
      detail.show(shown && shown.parentNode ? shown : null, detail.mode());
      if (undoButton) { undoButton.disabled = !history.length; }
    }

    // --- rows --------------------------------------------------------------------------------------

    function attach(tr) {
      if (tr.getAttribute("data-page") === page) {
        var div = document.createElement("div");
        div.className = "box";
        div.setAttribute("data-row", tr.getAttribute("data-row"));
        div.appendChild(document.createElement("span"));
        addHandles(div);
        canvas.appendChild(div);
        boxes[tr.getAttribute("data-row")] = div;
      }
      tr.addEventListener("input", function () { sync(tr); });
      tr.addEventListener("change", function (event) {
        if (event.target === field(tr, "type")) {
          detail.put(tr, detail.get(tr)); // keys the new type does not take are dropped
          detail.show(tr);
        }
        sync(tr);
      });
      tr.addEventListener("focusin", function () {
        if (!sel || sel.index !== tr.getAttribute("data-row")) { select(tr.getAttribute("data-row")); }
      });
      sync(tr);
    }

    function nextIndex() {
      var top = -1;
      tbody.querySelectorAll("tr[data-row]").forEach(function (tr) {
        top = Math.max(top, parseInt(tr.getAttribute("data-row"), 10));
      });
      return top + 1;
    }

    function freeName() {
      var used = {};
      tbody.querySelectorAll('input[name^="name_"]').forEach(function (el) { used[el.value] = true; });
      var n = 1;
      while (used["field_" + n]) { n += 1; }
      return "field_" + n;
    }

    function addRow(b) {
      var index = nextIndex();
      var holder = document.createElement("tbody");
      holder.innerHTML = blank.innerHTML.split("__i__").join(String(index));
      var tr = holder.querySelector("tr");
      tbody.appendChild(tr);
      field(tr, "name").value = freeName();
      field(tr, "label").value = "新しい項目";
      attach(tr);
      var snapped = {};
      KEYS.forEach(function (k) { snapped[k] = snap(b[k]); });
      write(tr, snapped);
      select(index);
      field(tr, "name").focus();
      field(tr, "name").select();
    }

    // --- the mouse ---------------------------------------------------------------------------------

    function point(event) {
      var r = canvas.getBoundingClientRect();
      return {
        x: clamp((event.clientX - r.left) / r.width * width, 0, width),
        y: clamp((event.clientY - r.top) / r.height * height, 0, height)
      };
    }

    function closest(node, selector) { return node && node.closest ? node.closest(selector) : null; }

    function grab(event, start) {
      var handle = closest(event.target, ".handle");
      var dir = handle ? handle.getAttribute("data-dir") : "";
      var divider = closest(event.target, ".divider");
      var part = closest(event.target, ".part.active");
      var hit = closest(event.target, ".box");
      var drawingPart = detail.mode() !== "new" ? detail.current() : null;
      if (divider) {
        var owner = row(divider.getAttribute("data-row"));
        var extra = detail.get(owner);
        var columns = (extra.columns || []).map(function (c) { return { x: c.x, w: c.w }; });
        return {
          kind: "divider", tr: owner, start: start, box: boxOf(owner), columns: columns,
          edge: divider.hasAttribute("data-edge") ? columnEdges(columns)[parseInt(divider.getAttribute("data-edge"), 10)] : null,
          line: parseInt(divider.getAttribute("data-divider-row") || "0", 10), rows: parseInt(extra.rows, 10)
        };
      }
      if (part) {
        var path = JSON.parse(part.getAttribute("data-path"));
        var tr = row(part.getAttribute("data-row"));
        select(part.getAttribute("data-row"), path);
        return { kind: "part", dir: dir, tr: tr, path: path, start: start, box: detail.partAt(tr, path) };
      }
      if (hit && !drawingPart) {
        var mine = row(hit.getAttribute("data-row"));
        select(hit.getAttribute("data-row"));
        return { kind: "box", dir: dir, tr: mine, start: start, box: boxOf(mine), extra: detail.get(mine) };
      }
      return null;
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) { return; }
      canvas.focus({ preventScroll: true }); // the arrow keys then move what was picked
      var start = point(event);
      drag = grab(event, start);
      if (!drag) {
        // A new field, or (with 描くもの chosen) a box of the selected field's own.
        var part = detail.mode() !== "new" ? detail.current() : null;
        var div = document.createElement("div");
        div.className = part ? "part drawing" : "box drawing";
        div.appendChild(document.createElement("span"));
        canvas.appendChild(div);
        drag = { kind: "draw", start: start, div: div, box: null, part: part, what: detail.mode() };
      }
      canvas.setPointerCapture(event.pointerId);
      event.preventDefault();
    });

    function dragDivider(d, dx, dy) {
      var b = d.box;
      if (d.edge) {
        var e = d.edge;
        var cols = d.columns.map(function (c) { return { x: c.x, w: c.w }; });
        var lo = e.left >= 0 ? cols[e.left].x + MIN_MM : 0;
        var hi = e.right >= 0 ? cols[e.right].x + cols[e.right].w - MIN_MM : width;
        var x = round(clamp(e.x + dx, lo, hi));
        if (e.left >= 0) { cols[e.left].w = round(x - cols[e.left].x); }
        if (e.right >= 0) { cols[e.right].w = round(cols[e.right].x + cols[e.right].w - x); cols[e.right].x = x; }
        detail.setColumns(d.tr, cols);
      } else if (d.line > 0 && d.rows > 0) {
        // Rows are one height (rows × height = the outer box): the line sets it.
        var each = clamp((b.h * d.line / d.rows + dy) / d.line, MIN_MM, (height - b.y) / d.rows);
        write(d.tr, { x: b.x, y: b.y, w: b.w, h: round(each * d.rows) });
      }
    }

    canvas.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var p = point(event);
      var s = drag.start;
      var b = drag.box;
      if (drag.kind === "draw") {
        drag.box = { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) };
        place(drag.div, drag.box);
        return;
      }
      var dx = snap(p.x - s.x);
      var dy = snap(p.y - s.y);
      if (drag.kind === "divider") {
        dragDivider(drag, dx, dy);
      } else if (!whole(b)) {
        return;
      } else if (drag.kind === "part") {
        detail.setPart(drag.tr, drag.path, drag.dir ? resized(b, drag.dir, dx, dy) : moved(b, dx, dy));
      } else if (drag.dir) {
        var r = resized(b, drag.dir, dx, dy);
        detail.fit(drag.tr, drag.extra, b, r);
        write(drag.tr, r);
      } else {
        var m = moved(b, dx, dy);
        detail.shift(drag.tr, drag.extra, m.x - b.x, m.y - b.y);
        write(drag.tr, m);
      }
      describe();
    });

    function finish() {
      if (drag && drag.kind !== "draw" && detail.current() === drag.tr) { detail.show(drag.tr, detail.mode()); }
      if (drag && drag.kind === "draw") {
        canvas.removeChild(drag.div);
        var ok = drag.box && drag.box.w >= MIN_MM / 2 && drag.box.h >= MIN_MM / 2;
        if (ok && drag.part) {
          var snapped = {};
          KEYS.forEach(function (k) { snapped[k] = snap(drag.box[k]); });
          detail.drawn(drag.part, snapped, drag.what);
        } else if (ok && drag.box.w >= MIN_MM && drag.box.h >= MIN_MM) {
          addRow(drag.box);
        }
      }
      drag = null;
      commit();
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", function () {
      if (drag && drag.kind === "draw") { canvas.removeChild(drag.div); }
      drag = null;
      commit();
    });

    // --- the keyboard ------------------------------------------------------------------------------

    function nudge(tr, dx, dy, grow) {
      if (sel.path) {
        var pb = detail.partAt(tr, sel.path);
        if (pb) { detail.setPart(tr, sel.path, grow ? resized(pb, "se", dx, dy) : moved(pb, dx, dy)); }
        return;
      }
      var b = boxOf(tr);
      if (!whole(b)) { return; }
      var extra = detail.get(tr);
      if (grow) {
        var r = resized(b, "se", dx, dy);
        detail.fit(tr, extra, b, r);
        write(tr, r);
      } else {
        var m = moved(b, dx, dy);
        detail.shift(tr, extra, m.x - b.x, m.y - b.y);
        write(tr, m);
      }
    }

    canvas.addEventListener("keydown", function (event) {
      var tr = sel ? row(sel.index) : null;
      // Only a box shown on this page, and not one marked for deletion, is nudged.
      if (!tr || !boxes[sel.index] || field(tr, "delete").checked) { return; }
      // Esc: from a part back to its field, from a field to nothing (its
      // handles then no longer take a drag that starts beside it).
      if (event.key === "Escape") { select(sel.path ? sel.index : null); event.preventDefault(); return; }
      var arrow = ARROWS[event.key];
      if (!arrow || event.altKey) { return; }
      var step = event.shiftKey ? BIG_STEP_MM : STEP_MM;
      nudge(tr, arrow[0] * step, arrow[1] * step, event.ctrlKey || event.metaKey);
      event.preventDefault(); // the page does not scroll
      if (detail.current() === tr) { detail.show(tr, detail.mode()); }
      describe();
      commit();
    });

    document.addEventListener("keydown", function (event) {
      if (!(event.ctrlKey || event.metaKey) || event.shiftKey || event.altKey || String(event.key).toLowerCase() !== "z") { return; }
      // In a text box Ctrl+Z takes back typing, as everywhere.
      if (closest(event.target, "textarea, select, input:not([type=checkbox])")) { return; }
      event.preventDefault();
      undo();
    });
    if (undoButton) { undoButton.addEventListener("click", undo); }

    detail.setUp({
      changed: function (tr) { drawParts(tr); if (sel && sel.index === tr.getAttribute("data-row")) { describe(); } },
      committed: commit,
      // While 描くもの names a part, a drag inside the field draws it: the
      // field's handles are hidden so that they do not take the drag.
      modeChanged: function (mode) { canvas.classList.toggle("drawing-parts", mode !== "new"); },
      boxOf: boxOf,
      writeBox: function (tr, b) { write(tr, b); }
    });
    tbody.querySelectorAll("tr[data-row]").forEach(attach);
    tbody.addEventListener("change", commit);
    last = state();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("canvas");
    if (canvas && document.getElementById("field-rows")) { setUp(canvas); }
  });
})();
