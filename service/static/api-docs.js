// Starts Swagger UI on the API reference page. Kept out of the HTML so that a
// Content-Security-Policy without 'unsafe-inline' still allows the page.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.specUrl, dom_id: "#swagger-ui" });
});
