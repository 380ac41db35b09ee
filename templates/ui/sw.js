/* Fufen service worker (rendered by portal/ui/views.py; version {{ version }}).
   - The shell (CSS, icons, manifest, the offline page) is precached per version.
   - Pages always come from the network first: a deploy is visible on the next load, and
     a page is only ever taken from the cache when the network is unreachable.
   - The pages a volunteer needs at the activity (home, my activities, an activity and its
     check-in, my vouchers) are kept after each successful load, so they read offline.
   - A new version (any static file or template changed) installs at once, takes over and
     deletes the previous caches. Logging out deletes the kept pages. */
"use strict";
const VERSION = "{{ version }}";
const SHELL_CACHE = "fufen-shell-" + VERSION;
const PAGE_CACHE = "fufen-pages-" + VERSION;
const SHELL = {{ shell | list | tojson }};
const OFFLINE_PAGES = [{% for p in offline_pages %}new RegExp({{ p | tojson }}){% if not loop.last %}, {% endif %}{% endfor %}];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL.map((u) => new Request(u, {cache: "reload"}))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("fufen-") && k !== SHELL_CACHE && k !== PAGE_CACHE)
                                      .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function keepable(url) {
  return url.origin === self.location.origin && OFFLINE_PAGES.some((re) => re.test(url.pathname));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // Logging out (or switching account) must not leave someone's pages on the phone.
    if (url.pathname.startsWith("/accounts/logout")) {
      event.waitUntil(caches.delete(PAGE_CACHE));
    }
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).then((response) => {
        if (response.ok && !response.redirected && keepable(url)) {
          const copy = response.clone();
          caches.open(PAGE_CACHE).then((cache) => cache.put(url.pathname + url.search, copy));
        }
        return response;
      }).catch(() =>
        caches.open(PAGE_CACHE)
          .then((cache) => cache.match(url.pathname + url.search))
          .then((hit) => hit || caches.match("/offline"))
      )
    );
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    // Static files: from this version's cache, else the network (then kept).
    event.respondWith(
      caches.open(SHELL_CACHE).then((cache) =>
        cache.match(request).then((hit) => hit || fetch(request).then((response) => {
          if (response.ok) cache.put(request, response.clone());
          return response;
        }))
      )
    );
  }
});
