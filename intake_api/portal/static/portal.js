// デジラボ ジョブ窓口: live progress, upload progress, confirmations.
// Everything here is optional: each page works without JavaScript.
"use strict";

(function () {
  var POLL_MS = 2000;

  function pollJobs() {
    var holders = document.querySelectorAll("[data-poll]");
    var ids = [];
    var reload = false;
    holders.forEach(function (el) {
      (el.getAttribute("data-poll") || "").split(",").forEach(function (id) {
        if (id) { ids.push(id); }
      });
      if (el.hasAttribute("data-reload-when-done")) { reload = true; }
    });
    if (!ids.length) { return; }
    var pending = ids.slice();

    function tick() {
      fetch("/portal/api/jobs?ids=" + encodeURIComponent(pending.join(",")), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.ok ? r.json() : { jobs: [] }; }).then(function (data) {
        var finished = false;
        data.jobs.forEach(function (job) {
          document.querySelectorAll('[data-job="' + job.id + '"]').forEach(function (cell) {
            var bar = cell.querySelector("progress");
            var pct = cell.querySelector(".pct");
            if (bar) { bar.value = job.progress; }
            if (pct) { pct.textContent = Math.round(job.progress * 100) + "%"; }
          });
          document.querySelectorAll('[data-state-for="' + job.id + '"]').forEach(function (el) {
            el.textContent = job.state_label;
            el.className = "state state-" + job.state;
          });
          document.querySelectorAll('[data-message-for="' + job.id + '"]').forEach(function (el) {
            el.textContent = job.progress_message;
          });
          if (job.finished) {
            finished = true;
            pending = pending.filter(function (id) { return id !== job.id; });
          }
        });
        if (finished && reload) { window.location.reload(); return; }
        if (pending.length) { window.setTimeout(tick, POLL_MS); }
      }).catch(function () { window.setTimeout(tick, POLL_MS * 3); });
    }
    window.setTimeout(tick, POLL_MS);
  }

  function uploadWithProgress() {
    var form = document.getElementById("job-form");
    if (!form || !window.FormData) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = form.querySelector(".upload-status");
      var bar = document.getElementById("upload-progress");
      var text = document.getElementById("upload-text");
      var button = form.querySelector("button[type=submit]");
      status.hidden = false;
      button.disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "fetch");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = e.loaded / e.total;
          text.textContent = "送信中… " + Math.round(100 * e.loaded / e.total) + "%";
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 200) {
          var answer = JSON.parse(xhr.responseText);
          window.location.assign(answer.url);
          return;
        }
        // The server answered with the form and its error: show that page.
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        text.textContent = "送信できませんでした。通信状態を確認して、もう一度お試しください。";
      });
      xhr.send(new FormData(form));
    });
  }

  function confirmations() {
    document.querySelectorAll("form.confirm").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm") || "よろしいですか？")) {
          event.preventDefault();
        }
      });
    });
  }

  // Fields that only matter while a checkbox is on (話者の人数 with
  // 話者を区別する): hidden and disabled (so not sent) while it is off.
  function dependentFields() {
    document.querySelectorAll("[data-shown-with]").forEach(function (group) {
      var form = group.closest("form");
      var box = form && form.querySelector('input[type=checkbox][name="' + group.getAttribute("data-shown-with") + '"]');
      if (!box) { return; }
      function sync() {
        group.hidden = !box.checked;
        group.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !box.checked; });
      }
      box.addEventListener("change", sync);
      sync();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    pollJobs();
    uploadWithProgress();
    confirmations();
    dependentFields();
  });
})();
