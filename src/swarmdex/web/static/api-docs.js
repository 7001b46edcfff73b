// Starts Swagger UI on /api/docs (a file, not an inline script: the site's
// Content-Security-Policy runs scripts from the site only).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    deepLinking: true,
    // No badge from the public validator: the page talks to this site only.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
