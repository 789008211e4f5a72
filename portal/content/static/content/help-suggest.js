/*
 * Help suggestions as the user types. Any page can use it, with no script of its own:
 *
 *   <input data-help-suggest="/pages/suggest/" data-help-suggest-target="tips">
 *   <div id="tips" aria-live="polite"></div>
 *
 * The endpoint answers {label, results: [{title, url, summary}]}; the list is
 * built with textContent, never innerHTML.
 */
(function () {
  "use strict";

  function attach(input) {
    var box = document.getElementById(input.getAttribute("data-help-suggest-target"));
    var endpoint = input.getAttribute("data-help-suggest");
    var timer = null;
    var controller = null;
    var last = "";
    if (!box || !endpoint) return;

    function show(data) {
      box.replaceChildren();
      if (!data.results || !data.results.length) return;
      var label = document.createElement("p");
      label.textContent = data.label;
      var list = document.createElement("ul");
      data.results.forEach(function (result) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = result.url;
        link.textContent = result.title;
        item.appendChild(link);
        if (result.summary) {
          var summary = document.createElement("small");
          summary.textContent = result.summary;
          item.appendChild(summary);
        }
        list.appendChild(item);
      });
      box.append(label, list);
    }

    function lookUp() {
      var query = input.value.trim();
      if (query === last) return;
      last = query;
      if (controller) controller.abort();
      if (query.length < 2) {
        box.replaceChildren();
        return;
      }
      controller = new AbortController();
      var url = new URL(endpoint, window.location.href);
      url.searchParams.set("q", query);
      fetch(url, { headers: { Accept: "application/json" }, signal: controller.signal })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(show)
        .catch(function () { /* aborted by newer typing, or offline: keep quiet */ });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, 250);
    });
  }

  document.querySelectorAll("[data-help-suggest]").forEach(attach);
})();
