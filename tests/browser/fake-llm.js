// A stand-in LLM API for the dashboard's browser test: every request is
// refused with 400 and an error message holding markup, so a worker turns
// the job into a dead letter whose error text is "<script>...". The port
// goes to the file given as the first argument.
"use strict";
const http = require("http");
const fs = require("fs");

const MESSAGE = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\"> refused";
const srv = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(400, { "Content-Type": "application/json", "request-id": "req_fake" });
    res.end(JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: MESSAGE } }));
  });
});
srv.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(srv.address().port)));
