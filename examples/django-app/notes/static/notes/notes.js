// Collected into STATIC_ROOT (/static) when the image is built (the Dockerfile runs collectstatic),
// under a content-hashed name (notes.<12 hex>.js) that home.html links to. Loaded with `defer`:
// marks the page once the script has run.
document.body.classList.add("loaded");
