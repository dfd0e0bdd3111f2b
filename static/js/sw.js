// Keeps the buyer's payment instructions readable offline: buyers often switch to their
// e-wallet app on a weak signal and come back to copy the account number again.
"use strict";
const CACHE = "gomflow-pay-v1";
const PAY_PAGE = /^\/s\/[^/]+\/pay\/$/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(["/static/css/app.css", "/static/js/pay.js"])));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const isPayPage = PAY_PAGE.test(url.pathname);
  const isAsset = url.pathname.startsWith("/static/");
  if (!isPayPage && !isAsset) return;
  // Network first, so instructions are fresh when there is signal; the last copy otherwise.
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((cached) => cached || Response.error())),
  );
});
