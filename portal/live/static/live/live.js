/* Live updates: one EventSource per page on the portal's stream.
 *
 * Regions of a page that should follow changes carry
 *   id="..." data-live-topics="service_request:SR-2026-000123 service_request:*"
 * When an event arrives whose topic matches (a trailing * matches a prefix),
 * the page is fetched again and each matching region is replaced by its new
 * version, so the server renders every change with the same templates and the
 * same access rules as a normal page load. Elements with data-live-unread show
 * the unread notification count; data.announce of an event is read out to
 * screen readers through the #live-announcer region.
 */
(function () {
  "use strict";
  var body = document.body;
  var streamUrl = body.getAttribute("data-live-url");
  if (!streamUrl || !window.EventSource || !window.fetch) return;

  var seen = new Set();
  var pending = new Set();
  var timer = null;

  function topicMatches(wanted, topic) {
    return wanted.split(/\s+/).some(function (w) {
      if (!w) return false;
      if (w.charAt(w.length - 1) === "*") return topic.indexOf(w.slice(0, -1)) === 0;
      return w === topic;
    });
  }

  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (region && text) region.textContent = text;
  }

  function setUnread(count) {
    document.querySelectorAll("[data-live-unread]").forEach(function (el) {
      el.textContent = String(count);
      el.hidden = count === 0;
    });
  }

  function refresh() {
    timer = null;
    var ids = Array.from(pending);
    pending.clear();
    fetch(window.location.href, {
      credentials: "same-origin",
      headers: { "X-Portal-Live": "refresh" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("refresh failed: " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ids.forEach(function (id) {
          var current = document.getElementById(id);
          var next = fresh.getElementById(id);
          if (current && next) {
            current.replaceWith(document.importNode(next, true));
          }
        });
        document.dispatchEvent(new CustomEvent("portal:live-refreshed", { detail: ids }));
      })
      .catch(function () {
        /* The next event or a reload brings the page up to date. */
      });
  }

  function handle(message) {
    document.dispatchEvent(new CustomEvent("portal:live", { detail: message }));
    var data = message.data || {};
    if (message.kind === "notifications.changed" && typeof data.unread === "number") {
      setUnread(data.unread);
    }
    if (data.announce) announce(data.announce);
    document.querySelectorAll("[data-live-topics]").forEach(function (el) {
      if (el.id && topicMatches(el.getAttribute("data-live-topics"), message.topic)) {
        pending.add(el.id);
      }
    });
    if (pending.size && timer === null) timer = window.setTimeout(refresh, 150);
  }

  var since = body.getAttribute("data-live-since") || "0";
  var source = new EventSource(streamUrl + "?last_event_id=" + encodeURIComponent(since));
  source.addEventListener("open", function () {
    body.setAttribute("data-live-state", "connected");
  });
  source.addEventListener("error", function () {
    body.setAttribute("data-live-state", "reconnecting");
  });
  source.addEventListener("message", function (event) {
    var message;
    try {
      message = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (seen.has(message.id)) return; /* a replay after reconnecting may repeat one */
    seen.add(message.id);
    handle(message);
  });
  source.addEventListener("reload", function () {
    /* Too much was missed to replay: start afresh. */
    window.location.reload();
  });
})();
