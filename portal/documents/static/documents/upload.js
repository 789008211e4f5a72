/* Uploads with progress: forms marked data-upload send each chosen (or dropped) file
 * with its own XMLHttpRequest and show a progress bar per file. Without this script
 * the same form posts as a plain multipart form, and the server answers with a page.
 *
 * data-field    the name of the file field ("files" or "file")
 * data-refresh  ids of page regions to fetch again once the uploads are done
 */
(function () {
  "use strict";
  if (!window.FormData || !window.XMLHttpRequest || !window.fetch) return;

  function text(el, value) {
    el.textContent = value;
    return el;
  }

  function refreshRegions(ids) {
    if (!ids.length) return Promise.resolve();
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ids.forEach(function (id) {
          var current = document.getElementById(id);
          var next = fresh.getElementById(id);
          if (current && next) current.replaceWith(document.importNode(next, true));
        });
      })
      .catch(function () {
        /* A reload shows the same; the live stream brings later changes. */
      });
  }

  function sendOne(form, file, list) {
    var item = document.createElement("li");
    var name = text(document.createElement("span"), file.name);
    name.className = "upload-name";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    var status = text(document.createElement("span"), "0%");
    status.className = "upload-status";
    item.append(name, bar, status);
    list.appendChild(item);

    var data = new FormData();
    form.querySelectorAll("input[type=hidden], select").forEach(function (field) {
      if (field.name) data.append(field.name, field.value);
    });
    data.append(form.getAttribute("data-field") || "files", file, file.name);

    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (!event.lengthComputable) return;
        var percent = Math.round((event.loaded / event.total) * 100);
        bar.value = percent;
        status.textContent = percent + "%";
      });
      xhr.addEventListener("load", function () {
        var result = null;
        try {
          result = JSON.parse(xhr.responseText).files[0];
        } catch (e) {
          result = null;
        }
        bar.value = 100;
        if (result && result.ok) {
          item.className = "upload-ok";
          text(status, result.message);
        } else {
          item.className = "upload-error";
          status.setAttribute("role", "alert");
          text(status, (result && result.error) || form.getAttribute("data-text-failed"));
        }
        resolve(result && result.ok);
      });
      xhr.addEventListener("error", function () {
        item.className = "upload-error";
        status.setAttribute("role", "alert");
        text(status, form.getAttribute("data-text-interrupted"));
        resolve(false);
      });
      xhr.send(data);
    });
  }

  function sendAll(form, files) {
    var list = form.querySelector("[data-upload-progress]");
    var button = form.querySelector("button[type=submit]");
    var input = form.querySelector("input[type=file]");
    if (!files.length) {
      if (input) input.focus();
      return;
    }
    if (button) button.disabled = true;
    form.setAttribute("aria-busy", "true");
    list.textContent = "";
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () {
        return sendOne(form, file, list);
      });
    });
    chain
      .then(function () {
        var ids = (form.getAttribute("data-refresh") || "").split(/\s+/).filter(Boolean);
        return refreshRegions(ids);
      })
      .then(function () {
        if (input) input.value = "";
        if (button) button.disabled = false;
        form.removeAttribute("aria-busy");
        form.dispatchEvent(new CustomEvent("portal:uploaded", { bubbles: true }));
      });
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector("[data-drop-zone]");
    var hint = form.querySelector("[data-drop-hint]");
    if (hint) hint.hidden = false;

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendAll(form, input ? input.files : []);
    });

    if (!zone) return;
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () {
        zone.classList.remove("dragging");
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer ? event.dataTransfer.files : [];
      if (input && !input.multiple && files.length > 1) files = [files[0]];
      sendAll(form, files);
    });
  });
})();
