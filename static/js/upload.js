// Proof upload: drag-and-drop, file picker or camera; size and type checked before sending;
// a progress bar while it uploads; the server's own message when it refuses the file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.upload");
  if (!form) return;
  const allowed = ["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "application/pdf"];
  const maxBytes = Number(form.dataset.maxBytes);
  const progress = form.querySelector("progress");
  const message = form.querySelector(".upload-message");
  const zone = form.querySelector("[data-dropzone]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  const say = (text, isError) => {
    message.textContent = text;
    message.classList.toggle("error", Boolean(isError));
  };

  const send = (file) => {
    if (!file) return;
    // HEIC from some phones arrives without a type; the server sniffs the bytes anyway.
    if (file.type && !allowed.includes(file.type)) {
      say("This file type is not accepted. Upload a PNG, JPEG, WebP or HEIC screenshot, or a PDF.", true);
      return;
    }
    if (file.size > maxBytes) {
      say(`This file is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${maxBytes / 1048576} MB.`, true);
      return;
    }
    if (file.size === 0) {
      say("This file is empty.", true);
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("PUT", form.dataset.api);
    request.setRequestHeader("X-CSRFToken", csrf);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    request.addEventListener("load", () => {
      progress.hidden = true;
      if (request.status >= 200 && request.status < 300) {
        say("Uploaded. We are reading your screenshot…", false);
        window.location.assign(form.dataset.done);
        return;
      }
      let text = `The upload failed (HTTP ${request.status}).`;
      try {
        const data = JSON.parse(request.responseText);
        text = (data.error && data.error.message) || data.detail || text;
      } catch (error) { /* keep the generic text */ }
      say(text, true);
    });
    request.addEventListener("error", () => {
      progress.hidden = true;
      say("The connection dropped. Check your signal and try again.", true);
    });
    progress.value = 0;
    progress.hidden = false;
    say("Uploading…", false);
    request.send(body);
  };

  for (const input of form.querySelectorAll("input[type=file]")) {
    input.addEventListener("change", () => send(input.files[0]));
  }
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    send(event.dataTransfer.files[0]);
  });
});
