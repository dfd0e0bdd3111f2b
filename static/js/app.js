// Registers the service worker that keeps payment instructions available offline.
"use strict";
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // Offline support is a convenience; the pages work without it.
    });
  });
}
