// OCR review screen: keyboard first. Enter confirms the field (as shown or as
// typed) and moves to the next; Enter on the last field, or the button,
// sends every decision. The time from page load to sending goes with it.
"use strict";

(function () {
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

    // A date's 西暦 box: Enter decides the field and moves on, as in the 和暦 box.
    form.querySelectorAll("input.review-seireki").forEach(function (box) {
      box.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing) { return; }
        event.preventDefault();
        var item = box.closest("[data-review-item]");
        var main = item ? item.querySelector("input.review-value") : null;
        var index = inputs.indexOf(main);
        if (main) { mark(main); }
        if (index >= 0 && index + 1 < inputs.length) {
          focus(inputs[index + 1]);
        } else if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          form.submit();
        }
      });
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
