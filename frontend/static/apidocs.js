// Swagger UI on /docs, from files seedlab serves itself: no CDN, no validator badge (it would
// send the spec to an outside service), and the session's CSRF token on state-changing calls.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle !== "function") return;
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.seedlabSwagger = SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    withCredentials: true,
    requestInterceptor: function (request) {
      if (meta && meta.content && !/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) {
        request.headers["X-CSRF-Token"] = meta.content;
      }
      return request;
    },
  });
})();
