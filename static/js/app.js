/* Loaded on every page (defer). No inline script anywhere: the CSP is script-src 'self'.
   1. Registers the service worker (/sw.js) and checks for a new version on each load.
   2. When the browser reports no connection, says so on the page: what is shown may be
      the copy kept from the last visit. */
(function () {
  "use strict";
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).then(function (reg) {
      reg.update();
    }).catch(function () { /* no worker: the site works as before */ });
  }
  function offlineBanner() {
    var banner = document.getElementById("offline-banner");
    if (banner) banner.hidden = navigator.onLine;
  }
  window.addEventListener("online", offlineBanner);
  window.addEventListener("offline", offlineBanner);
  document.addEventListener("DOMContentLoaded", offlineBanner);
})();
