// Transcript editor: ▶ plays one segment of the recording (the browser fetches
// only the bytes it needs, with Range requests); "分割" sends the cursor
// position of the segment's text; every save sends the seconds since the
// page was opened, which the server bounds and records as editing time.
"use strict";

(function () {
  var form = document.getElementById("transcript-form");
  if (!form) { return; }
  var opened = Date.now();
  var audio = document.getElementById("recording");
  var stopAt = null;
  var playing = null;

  function highlight(item) {
    if (playing) { playing.classList.remove("playing"); }
    playing = item;
    if (item) { item.classList.add("playing"); }
  }

  if (audio) {
    audio.addEventListener("timeupdate", function () {
      if (stopAt !== null && audio.currentTime >= stopAt) {
        audio.pause();
        stopAt = null;
        highlight(null);
      }
    });
    Array.prototype.forEach.call(form.querySelectorAll("button.play"), function (button) {
      button.addEventListener("click", function () {
        audio.currentTime = parseFloat(button.dataset.start) || 0;
        stopAt = parseFloat(button.dataset.end) || null;
        highlight(button.closest(".segment"));
        var started = audio.play();
        if (started && started.catch) { started.catch(function () { highlight(null); }); }
      });
    });
  }

  Array.prototype.forEach.call(form.querySelectorAll("button.split"), function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.text);
      var at = text ? text.selectionStart : 0;
      if (text && (at === 0 || at >= text.value.length)) { at = Math.floor(text.value.length / 2); }
      document.getElementById("split-at").value = String(at);
    });
  });

  form.addEventListener("submit", function () {
    document.getElementById("seconds-spent").value = ((Date.now() - opened) / 1000).toFixed(1);
  });
})();
