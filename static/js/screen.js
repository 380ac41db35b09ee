/* The check-in screen shows a code that changes every minute. Instead of <meta refresh>
   (which yanks the page away from screen-reader and keyboard users), fetch the page again
   when the code is due to change and swap in the new code card. */
(function () {
  "use strict";
  var card = document.getElementById("checkin-screen");
  if (!card) return;
  document.documentElement.classList.add("js");
  function schedule(seconds) {
    window.setTimeout(refresh, Math.max(5, seconds) * 1000);
  }
  function refresh() {
    fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("checkin-screen");
        if (fresh) {
          card.replaceWith(fresh);
          card = fresh;
          schedule(parseInt(fresh.getAttribute("data-refresh"), 10) || 30);
        }
      })
      .catch(function () { schedule(15); });
  }
  schedule(parseInt(card.getAttribute("data-refresh"), 10) || 30);
})();
