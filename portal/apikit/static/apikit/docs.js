// Starts Swagger UI on the API reference page. A file, not an inline script: the CSP allows no inline code.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    validatorUrl: null,
    withCredentials: true,
    // "Try it out" from a signed-in browser uses the session: changes need the CSRF token.
    requestInterceptor: function (request) {
      var method = (request.method || "GET").toUpperCase();
      if (["GET", "HEAD", "OPTIONS"].indexOf(method) === -1) {
        var token = cookie(root.getAttribute("data-csrf-cookie") || "csrftoken");
        if (token) {
          request.headers["X-CSRFToken"] = token;
        }
      }
      return request;
    },
  });
})();
