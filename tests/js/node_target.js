// tests/js/node_target.js — a bundle built for Node.js: require at load.
var path = require("path");
function render() { return path.sep; }
