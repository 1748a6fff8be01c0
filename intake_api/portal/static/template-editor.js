// Template box editor: drag on the reference page to draw a new field's box,
// drag a box to move it, drag its corner to resize it. The table beside the
// page holds the numbers (mm from the top-left corner) that are sent; the
// boxes and the table follow each other. A field's own option, part and
// column boxes (template-detail.js) are shown inside it and move with it.
"use strict";

(function () {
  var GRID_MM = 0.5;
  var MIN_MM = 2;
  var KEYS = ["x", "y", "w", "h"];

  function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }
  function snap(v) { return Math.round(v / GRID_MM) * GRID_MM; }
  function num(el) { var v = parseFloat(String(el ? el.value : "").replace(",", ".")); return isFinite(v) ? v : NaN; }

  function setUp(canvas) {
    var width = parseFloat(canvas.getAttribute("data-width-mm"));
    var height = parseFloat(canvas.getAttribute("data-height-mm"));
    var page = canvas.getAttribute("data-page");
    var tbody = document.getElementById("field-rows");
    var blank = document.getElementById("new-row");
    var boxes = {};
    var drag = null;
    var detail = window.TemplateDetail;

    function field(tr, key) { return tr.querySelector('[name="' + key + "_" + tr.getAttribute("data-row") + '"]'); }
    function row(index) { return tbody.querySelector('tr[data-row="' + index + '"]'); }
    function boxOf(tr) {
      var b = {};
      KEYS.forEach(function (k) { b[k] = num(field(tr, k)); });
      return b;
    }

    function place(div, b) {
      var ok = KEYS.every(function (k) { return isFinite(b[k]); });
      div.hidden = !ok;
      if (!ok) { return; }
      div.style.left = (100 * b.x / width) + "%";
      div.style.top = (100 * b.y / height) + "%";
      div.style.width = (100 * b.w / width) + "%";
      div.style.height = (100 * b.h / height) + "%";
    }

    function drawParts(tr) {
      var index = tr.getAttribute("data-row");
      canvas.querySelectorAll('.part[data-row="' + index + '"]').forEach(function (d) { canvas.removeChild(d); });
      if (!boxes[index] || field(tr, "delete").checked) { return; }
      detail.parts(tr, boxOf(tr)).forEach(function (part) {
        var div = document.createElement("div");
        div.className = "part";
        div.setAttribute("data-row", index);
        div.appendChild(document.createElement("span")).textContent = part[1] || "";
        place(div, part[0]);
        canvas.appendChild(div);
      });
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
    }

    function select(index) {
      var chosen = row(index);
      Object.keys(boxes).forEach(function (k) { boxes[k].classList.toggle("selected", k === String(index)); });
      tbody.querySelectorAll("tr[data-row]").forEach(function (tr) {
        tr.classList.toggle("selected", tr.getAttribute("data-row") === String(index));
      });
      if (detail && chosen && detail.current() !== chosen) { detail.show(chosen); }
    }

    function write(tr, b) {
      KEYS.forEach(function (k) { field(tr, k).value = String(snap(b[k])); });
      sync(tr);
    }

    function attach(tr) {
      if (tr.getAttribute("data-page") === page) {
        var div = document.createElement("div");
        div.className = "box";
        div.setAttribute("data-row", tr.getAttribute("data-row"));
        div.appendChild(document.createElement("span"));
        var handle = document.createElement("div");
        handle.className = "handle";
        div.appendChild(handle);
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
      tr.addEventListener("focusin", function () { select(tr.getAttribute("data-row")); });
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
      write(tr, b);
      select(index);
      field(tr, "name").focus();
      field(tr, "name").select();
    }

    function point(event) {
      var r = canvas.getBoundingClientRect();
      return {
        x: clamp((event.clientX - r.left) / r.width * width, 0, width),
        y: clamp((event.clientY - r.top) / r.height * height, 0, height)
      };
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) { return; }
      var start = point(event);
      var hit = event.target.closest ? event.target.closest(".box") : null;
      var part = detail.mode() !== "new" ? detail.current() : null;
      if (hit && !part) {
        var tr = row(hit.getAttribute("data-row"));
        drag = {
          mode: event.target.classList.contains("handle") ? "resize" : "move",
          tr: tr, start: start, box: boxOf(tr), extra: detail.get(tr)
        };
        select(hit.getAttribute("data-row"));
      } else {
        // A new field, or (with 描くもの chosen) a box of the selected field's own.
        var div = document.createElement("div");
        div.className = part ? "part drawing" : "box drawing";
        div.appendChild(document.createElement("span"));
        canvas.appendChild(div);
        drag = { mode: "draw", start: start, div: div, box: null, part: part, what: detail.mode() };
      }
      canvas.setPointerCapture(event.pointerId);
      event.preventDefault();
    });

    canvas.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var p = point(event);
      var s = drag.start;
      var b = drag.box;
      if (drag.mode === "draw") {
        drag.box = { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) };
        place(drag.div, drag.box);
      } else if (drag.mode === "move") {
        var moved = {
          x: snap(clamp(b.x + p.x - s.x, 0, width - b.w)), y: snap(clamp(b.y + p.y - s.y, 0, height - b.h)), w: b.w, h: b.h
        };
        detail.shift(drag.tr, drag.extra, moved.x - b.x, moved.y - b.y);
        write(drag.tr, moved);
      } else {
        write(drag.tr, {
          x: b.x, y: b.y, w: clamp(p.x - b.x, MIN_MM, width - b.x), h: clamp(p.y - b.y, MIN_MM, height - b.y)
        });
      }
    });

    function finish() {
      if (drag && drag.mode === "move" && detail.current() === drag.tr) { detail.show(drag.tr); }
      if (drag && drag.mode === "draw") {
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
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", function () {
      if (drag && drag.mode === "draw") { canvas.removeChild(drag.div); }
      drag = null;
    });

    detail.setUp({
      changed: function (tr) { drawParts(tr); },
      boxOf: boxOf,
      writeBox: function (tr, b) { write(tr, b); }
    });
    tbody.querySelectorAll("tr[data-row]").forEach(attach);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("canvas");
    if (canvas && document.getElementById("field-rows")) { setUp(canvas); }
  });
})();
