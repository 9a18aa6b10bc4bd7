/**
 * `Expect: 100-continue` answered late (RFC 9110 §10.1.1): the interim `100 Continue` is written only when a
 * handler first reads the request body, so everything decided before that — authentication, the path's
 * canonical form and name limits, the method, an XML body's declared `Content-Length`, `If` and lock checks, an
 * unavailable upstream — is answered with its final status while the body is still on the client. Node writes
 * 100 itself, before any of those checks, unless the server handles `checkContinue` (Node docs, `http.Server`
 * event `'checkContinue'`); {@link handleExpectContinue} does.
 *
 * A final answer sent without a 100 leaves the body unread, so Node closes the connection after it
 * (`Connection: close`): the client may or may not send the body next (§10.1.1), and reading it as the next
 * request would be wrong either way.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Makes `server` answer `Expect: 100-continue` lazily: each such request is handed to the ordinary `'request'`
 * listeners (Fastify's), with its body stream set to write `100 Continue` on the first read
 * ({@link continueOnFirstRead}).
 *
 * @param server - the HTTP/1.1 server Fastify listens with (`app.server`)
 */
export function handleExpectContinue(server: Server): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    continueOnFirstRead(req, res);
    server.emit('request', req, res);
  });
}

/**
 * Writes `100 Continue` when `req`'s body is first asked for (its `_read`, which a Readable calls on the first
 * `read()`, `pipe()`, `resume()` or `for await`), once, and only while no final response has started: Node
 * resumes an unread body after the response to discard it, and a 100 then would follow the final status.
 *
 * @param req - a request that carried `Expect: 100-continue`
 * @param res - its response
 */
export function continueOnFirstRead(req: IncomingMessage, res: ServerResponse): void {
  const read = req._read;
  req._read = function (this: IncomingMessage, size: number) {
    req._read = read;
    if (!res.headersSent && !res.writableEnded) res.writeContinue();
    return read.call(this, size);
  };
}
