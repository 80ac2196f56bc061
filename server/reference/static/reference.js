// Starts Swagger UI on the document named by the page (data-spec, relative to the page).
// A classic script: swagger-ui-bundle.js defines window.SwaggerUIBundle.
(function () {
  "use strict";
  var root = document.getElementById("reference");
  var spec = new URL(root.getAttribute("data-spec"), document.baseURI).href;
  window.ui = window.SwaggerUIBundle({
    url: spec,
    domNode: root,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayOperationId: true,
    tryItOutEnabled: false,
    validatorUrl: null, // the default sends the document to validator.swagger.io
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
