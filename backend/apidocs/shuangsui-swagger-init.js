// Starts Swagger UI on /api/docs from a file, not an inline script (the page's CSP allows no inline code).
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var config = {
    url: container.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui-container",
    validatorUrl: null, // never send the contract to an outside validator
  };
  var extra = JSON.parse(container.getAttribute("data-config") || "{}");
  for (var key in extra) {
    if (Object.prototype.hasOwnProperty.call(extra, key)) config[key] = extra[key];
  }
  window.ui = SwaggerUIBundle(config);
})();
