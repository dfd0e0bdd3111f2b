// Copy buttons and the payment countdown on the pay page (no inline script: the CSP forbids it).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  }
  const countdown = document.querySelector(".countdown");
  if (!countdown) return;
  const deadline = new Date(countdown.dataset.deadline);
  const tick = () => {
    const left = deadline - new Date();
    if (left <= 0) { countdown.textContent = "the payment deadline has passed"; return; }
    const days = Math.floor(left / 86400000);
    const hours = Math.floor((left % 86400000) / 3600000);
    const minutes = Math.floor((left % 3600000) / 60000);
    countdown.textContent = `${days} d ${hours} h ${minutes} min left`;
  };
  tick();
  setInterval(tick, 30000);
});
