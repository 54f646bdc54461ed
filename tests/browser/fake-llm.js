// A stand-in LLM API for the dashboard's browser test: every request is
// refused with 400 and an error message holding markup, so a worker turns
// the job into a dead letter whose error text is "<script>...". A request
// whose prompt holds [fake:markup] is answered instead (200, a Messages API
// reply, not streamed) with a Markdown text holding markup, for the review
// test. The port goes to the file given as the first argument.
"use strict";
const http = require("http");
const fs = require("fs");

const MESSAGE = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\"> refused";
const TEXT = "# A flagged article\n\nSome **bold** words, then " +
  "<script>window.__xss = 3</script><img src=x onerror=\"window.__xss = 4\"> as text.\n\n- one\n- two\n";
const srv = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    if (body.includes("[fake:markup]")) {
      res.writeHead(200, { "Content-Type": "application/json", "request-id": "req_fake_ok" });
      res.end(JSON.stringify({ id: "msg_fake", type: "message", role: "assistant", model: "fake",
        content: [{ type: "text", text: TEXT }], stop_reason: "end_turn", stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 30 } }));
      return;
    }
    res.writeHead(400, { "Content-Type": "application/json", "request-id": "req_fake" });
    res.end(JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: MESSAGE } }));
  });
});
srv.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(srv.address().port)));
