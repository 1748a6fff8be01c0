// OCR review screen: keyboard first. Enter confirms the field (as shown or as
// typed) and moves to the next; Enter on the last field, or the button,
// sends every decision. The time from page load to sending goes with it.
// A choice's options are buttons that fill its box; an era date's 元号・年・
// 月・日 boxes write the 和暦 into its box and show the day in 西暦 (ISO).
"use strict";

(function () {
  // First day of each era, as jobs/wareki.py has them; the server checks again.
  var ERAS = [["明治", 1868, 10, 23], ["大正", 1912, 7, 30], ["昭和", 1926, 12, 25], ["平成", 1989, 1, 8], ["令和", 2019, 5, 1]];

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function utc(y, m, d) { return Date.UTC(y, m - 1, d); }

  // The ISO day of an 和暦 date, or "" when it does not exist (not in its era, no such day).
  function isoOf(era, year, month, day) {
    var at = -1;
    ERAS.forEach(function (e, i) { if (e[0] === era) { at = i; } });
    var y = year === "元" ? 1 : parseInt(year, 10);
    var m = parseInt(month, 10);
    var d = parseInt(day, 10);
    if (at < 0 || !(y >= 1) || !(m >= 1 && m <= 12) || !(d >= 1 && d <= 31)) { return ""; }
    var full = ERAS[at][1] + y - 1;
    var when = new Date(utc(full, m, d));
    if (when.getUTCMonth() !== m - 1) { return ""; }
    var next = ERAS[at + 1];
    if (when < utc(ERAS[at][1], ERAS[at][2], ERAS[at][3]) || (next && when >= utc(next[1], next[2], next[3]))) { return ""; }
    return full + "-" + pad(m) + "-" + pad(d);
  }

  function setUpPicks(item, main) {
    var group = item.querySelector(".option-picks");
    if (!group) { return; }
    var most = parseInt(group.getAttribute("data-most"), 10) || 1;
    var buttons = Array.prototype.slice.call(group.querySelectorAll("button.pick"));
    function chosen() { return main.value.split(/[、,，・\s]+/).filter(function (v) { return v; }); }
    function show() {
      var now = chosen();
      buttons.forEach(function (b) {
        var v = b.getAttribute("data-value");
        b.classList.toggle("chosen", v ? now.indexOf(v) >= 0 : now.length === 0);
        b.setAttribute("aria-pressed", b.classList.contains("chosen") ? "true" : "false");
      });
    }
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        var v = b.getAttribute("data-value");
        if (most > 1 && v) {
          var now = chosen();
          var at = now.indexOf(v);
          if (at >= 0) { now.splice(at, 1); } else { now.push(v); }
          var order = buttons.map(function (x) { return x.getAttribute("data-value"); });
          main.value = order.filter(function (o) { return o && now.indexOf(o) >= 0; }).join("、");
        } else {
          main.value = v;
        }
        show();
        main.focus();
      });
    });
    main.addEventListener("input", show);
    show();
  }

  function setUpEra(item, main, advance) {
    var box = item.querySelector("[data-era-parts]");
    if (!box) { return; }
    var era = box.querySelector(".era-era");
    var parts = ["year", "month", "day"].map(function (k) { return box.querySelector(".era-" + k); });
    var iso = box.querySelector(".era-iso");
    var seireki = item.querySelector("input.review-seireki");
    function compose() {
      var values = parts.map(function (p) { return p.value.trim().replace(/^0+(?=[0-9])/, ""); });
      if (!era.value || values.some(function (v) { return !v; })) { iso.textContent = ""; return; }
      main.value = era.value + values[0] + "年" + values[1] + "月" + values[2] + "日";
      iso.textContent = isoOf(era.value, values[0], values[1], values[2]) || "（この元号にない日付）";
      if (seireki) { seireki.value = ""; } // the 和暦 box decides now
    }
    [era].concat(parts).forEach(function (p) {
      p.addEventListener("input", compose);
      p.addEventListener("change", compose);
      p.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing) { return; }
        event.preventDefault();
        compose();
        advance(main);
      });
    });
  }

  function setUp(form) {
    var started = window.performance ? window.performance.now() : Date.now();
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input.review-value"));
    var counter = document.getElementById("review-done");
    var sent = false;

    function now() { return window.performance ? window.performance.now() : Date.now(); }

    function mark(input) {
      var item = input.closest("[data-review-item]");
      if (!item || item.classList.contains("done")) { return; }
      item.classList.add("done");
      var badge = item.querySelector(".review-mark");
      if (badge) { badge.hidden = false; }
      if (counter) { counter.textContent = String(form.querySelectorAll("[data-review-item].done").length); }
    }

    function focus(input) {
      input.focus();
      input.select();
      var item = input.closest("[data-review-item]");
      if (item && item.scrollIntoView) { item.scrollIntoView({ block: "center" }); }
    }

    inputs.forEach(function (input, index) {
      input.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing) { return; }
        event.preventDefault();
        if (event.shiftKey) {
          if (index > 0) { focus(inputs[index - 1]); }
          return;
        }
        mark(input);
        if (index + 1 < inputs.length) {
          focus(inputs[index + 1]);
        } else if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          form.submit();
        }
      });
      input.addEventListener("focus", function () {
        form.querySelectorAll("[data-review-item].current").forEach(function (el) {
          el.classList.remove("current");
        });
        var item = input.closest("[data-review-item]");
        if (item) { item.classList.add("current"); }
      });
    });

    // Enter in a field's other boxes decides the field and moves on, as in its main box.
    function advance(main) {
      var index = inputs.indexOf(main);
      if (main) { mark(main); }
      if (index >= 0 && index + 1 < inputs.length) {
        focus(inputs[index + 1]);
      } else if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    }

    // A date's 西暦 box.
    form.querySelectorAll("input.review-seireki").forEach(function (box) {
      box.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing) { return; }
        event.preventDefault();
        var item = box.closest("[data-review-item]");
        advance(item ? item.querySelector("input.review-value") : null);
      });
    });

    inputs.forEach(function (main) {
      var item = main.closest("[data-review-item]");
      if (!item) { return; }
      setUpPicks(item, main);
      setUpEra(item, main, advance);
    });

    form.addEventListener("submit", function (event) {
      if (sent) { event.preventDefault(); return; }
      sent = true;
      var seconds = Math.max(0, (now() - started) / 1000);
      document.getElementById("seconds-spent").value = seconds.toFixed(1);
      var button = document.getElementById("review-submit");
      if (button) { button.disabled = true; }
    });

    if (inputs.length) { focus(inputs[0]); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("review-form");
    if (form) { setUp(form); }
  });
})();
